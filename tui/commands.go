package tui

import (
	"context"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/sottochat/sotto"
)

// Messages produced by commands. Update reacts to them; only commands do I/O.
type (
	profileCheckedMsg struct {
		exists bool
		err    error
	}
	openedMsg struct {
		eng Engine
		err error
	}
	unlockedMsg     struct{ err error }
	eventMsg        struct{ ev sotto.Event }
	eventsClosedMsg struct{}
	tickMsg         time.Time
	identitiesMsg   struct {
		list  []sotto.IdentityInfo
		stats map[string]idStats
	}
	// convsMsg is every conversation of every identity.
	convsMsg struct {
		list []sotto.ContactInfo
		open map[string]bool
		err  error
	}
	contactsMsg struct {
		identity string
		list     []sotto.ContactInfo
		err      error
	}
	messagesMsg struct {
		identity, contact string
		list              []sotto.Message
		err               error
	}
	cardMsg struct {
		identity, card string
		err            error
	}
	safetyMsg struct {
		identity, contact, code string
		err                     error
	}
	requestsMsg struct {
		identity string
		list     []sotto.Request
		err      error
	}
	// doneMsg reports an action's result: info is shown on success.
	doneMsg struct {
		info string
		err  error
		then page // page to go to on success; pageNone to stay
	}
	// sentMsg reports a send: of parts were to go, sent went; on an error
	// unsent is the text that did not go (without part marks).
	sentMsg struct {
		identity, contact string
		id                sotto.MessageID
		err               error
		unsent            string
		sent, of          int
	}
	panicDoneMsg struct{ err error }
	navMsg       struct{ to page }
	// errMsg is an error to show in the status line.
	errMsg struct{ err error }
	// infoMsg is a notice to show in the status line.
	infoMsg string
)

func nav(to page) tea.Cmd { return func() tea.Msg { return navMsg{to} } }

// info shows a notice in the status line.
func info(s string) tea.Cmd { return func() tea.Msg { return infoMsg(s) } }

func waitEvent(ch <-chan sotto.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsClosedMsg{}
		}
		return eventMsg{ev}
	}
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func checkProfile(p Profile) tea.Cmd {
	return func() tea.Msg {
		ok, err := p.Exists()
		return profileCheckedMsg{ok, err}
	}
}

// createProfile creates the profile with one copy of the passphrase and
// opens it with the other; both are wiped by the callee.
func createProfile(ctx context.Context, p Profile, a, b []byte) tea.Cmd {
	return func() tea.Msg {
		if err := p.Init(ctx, a); err != nil {
			clear(b)
			return openedMsg{err: err}
		}
		e, err := p.Open(ctx, b)
		return openedMsg{e, err}
	}
}

func openProfile(ctx context.Context, p Profile, pass []byte) tea.Cmd {
	return func() tea.Msg {
		e, err := p.Open(ctx, pass)
		return openedMsg{e, err}
	}
}

func checkPassphrase(p Profile, e Engine, pass []byte) tea.Cmd {
	return func() tea.Msg { return unlockedMsg{p.CheckPassphrase(e, pass)} }
}

// idStats sums up an identity's contacts for the identities screen.
type idStats struct {
	contacts, connected, unread int
}

func loadIdentities(e Engine) tea.Cmd {
	return func() tea.Msg {
		ids := e.Identities()
		stats := make(map[string]idStats, len(ids))
		for _, id := range ids {
			cs, err := e.Contacts(id.Name)
			if err != nil {
				continue // burnt meanwhile: the next event reloads
			}
			var st idStats
			for _, c := range cs {
				st.contacts++
				st.unread += c.Unread
				if c.Online {
					st.connected++
				}
			}
			stats[id.Name] = st
		}
		return identitiesMsg{ids, stats}
	}
}

func loadConversations(e Engine) tea.Cmd {
	return func() tea.Msg {
		var all []sotto.ContactInfo
		open := map[string]bool{}
		for _, id := range e.Identities() {
			open[id.Name] = id.Open
			cs, err := e.Contacts(id.Name)
			if err != nil {
				continue // burnt meanwhile: the next event reloads
			}
			all = append(all, cs...)
		}
		return convsMsg{list: all, open: open}
	}
}

func loadContacts(e Engine, identity string) tea.Cmd {
	return func() tea.Msg {
		l, err := e.Contacts(identity)
		return contactsMsg{identity, l, err}
	}
}

func loadMessages(e Engine, identity, contact string) tea.Cmd {
	return func() tea.Msg {
		l, err := e.Messages(identity, contact)
		return messagesMsg{identity, contact, l, err}
	}
}

func markRead(e Engine, identity, contact string) tea.Cmd {
	return func() tea.Msg {
		if err := e.MarkRead(identity, contact); err != nil {
			return errMsg{err}
		}
		return nil
	}
}

func loadCard(e Engine, identity string) tea.Cmd {
	return func() tea.Msg {
		c, err := e.Card(identity)
		return cardMsg{identity, c, err}
	}
}

func loadSafety(e Engine, identity, contact string) tea.Cmd {
	return func() tea.Msg {
		c, err := e.SafetyCode(identity, contact)
		return safetyMsg{identity, contact, c, err}
	}
}

func loadRequests(e Engine, identity string) tea.Cmd {
	return func() tea.Msg {
		l, err := e.Requests(identity)
		return requestsMsg{identity, l, err}
	}
}

// do runs an action and reports it with a doneMsg.
func do(info string, then page, f func() error) tea.Cmd {
	return func() tea.Msg {
		if err := f(); err != nil {
			return doneMsg{err: err}
		}
		return doneMsg{info: info, then: then}
	}
}

func wipeProfile(p Profile, e Engine) tea.Cmd {
	return func() tea.Msg { return panicDoneMsg{p.Panic(e)} }
}
