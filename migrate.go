package sotto

// dropOldStateLocked handles a contact's stored ratchet State from an
// earlier protocol version, which the current ratchet cannot use
// (docs/PROTOCOL.md, section 1.10). It is discarded, not reused: the next
// connection runs a first handshake, as between new contacts. The
// contact's Confirmed mark goes with it, so that the first handshake's
// lack of continuity is not reported as a rollback (the contact discards
// its old State too). Queued messages stay in the outbox and are sent in
// the new session. The contact record is saved before the State is
// deleted: a crash in between leaves the old State, handled again at the
// next start.
func (e *Engine) dropOldStateLocked(c *contact, b []byte) error {
	clear(b)
	if c.rec.Confirmed {
		c.rec.Confirmed = false
		if err := e.saveContactLocked(c); err != nil {
			return err
		}
	}
	if err := c.id.st.Delete(kindRatchet, c.key); err != nil {
		return err
	}
	e.cfg.logf("%s <-> %s: keys of an earlier protocol version discarded; the next connection starts afresh", c.id.name, c.rec.Petname)
	return nil
}
