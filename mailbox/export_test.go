package mailbox

// Expire runs one expiry pass now (the tests' clocks jump).
func Expire(m *Mailbox) {
	touched, _ := m.st.expire()
	for _, r := range touched {
		m.notify(r, true)
		m.notify(r, false)
	}
}
