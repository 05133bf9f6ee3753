package tui

import (
	tea "github.com/charmbracelet/bubbletea"
	"github.com/sottochat/sotto"
)

// The recipient's disappearing clock (docs/PROTOCOL.md §2.9) starts when a
// received text is first shown: the chat screen tells the engine
// (Engine.MarkShown) about the unshown texts it has just put in the visible
// part of the conversation. Only the active, unlocked screen gets the
// messages and events that lead here (Model.Update), so a text that arrives
// behind the lock screen or in another conversation keeps waiting.

// shownMsg carries the texts whose clocks MarkShown started.
type shownMsg struct {
	identity, contact string
	started           []sotto.Message
	err               error
}

func markShown(e Engine, identity, contact string, ids []sotto.MessageID) tea.Cmd {
	return func() tea.Msg {
		started, err := e.MarkShown(identity, contact, ids...)
		return shownMsg{identity, contact, started, err}
	}
}

// visibleUnshown lists the unshown received texts with at least one row in
// the view: the same selection as window.
func (c *chatScreen) visibleUnshown() []sotto.MessageID {
	var ids []sotto.MessageID
	h, bottom := c.listHeight(), 0
	for i := len(c.msgs) - 1; i >= 0 && bottom < c.scroll+h; i-- {
		m := &c.msgs[i]
		n := c.height(m)
		if n == 0 {
			continue
		}
		top := bottom + n
		if top > c.scroll && m.Unshown && m.Dir == sotto.Incoming {
			ids = append(ids, m.ID)
		}
		bottom = top
	}
	return ids
}

// showVisible starts the clocks of the unshown texts now on screen.
func (c *chatScreen) showVisible() tea.Cmd {
	if c.s.eng == nil || c.w <= 0 || c.h <= 0 {
		return nil
	}
	ids := c.visibleUnshown()
	if len(ids) == 0 {
		return nil
	}
	return markShown(c.s.eng, c.s.identity, c.s.contact.Name, ids)
}

// onShown takes the started clocks into the messages on screen.
func (c *chatScreen) onShown(msg shownMsg) tea.Cmd {
	if msg.err != nil {
		return func() tea.Msg { return errMsg{msg.err} }
	}
	if !c.mine(msg.identity, msg.contact) {
		return nil
	}
	for _, s := range msg.started {
		for i := range c.msgs {
			if c.msgs[i].ID == s.ID {
				c.msgs[i].Unshown, c.msgs[i].ExpiresAt = false, s.ExpiresAt
			}
		}
	}
	return nil
}
