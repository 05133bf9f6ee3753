package headless

import "github.com/sottochat/sotto"

// Shown (docs/headless.md, "Disappearing messages"): a script has no screen,
// so a received disappearing text counts as shown when headless hands it
// over, in a "message" event or a "messages" reply. Its clock starts then
// (sotto.Engine.MarkShown), and the expires_at written is the started one.
// A text written while no one reads headless's output waits, as on a locked
// screen, for at most its timer plus sotto.UnshownGrace.

// shown starts the clock of the text a MessageEvent carries, just before it
// is written, and returns the event with its expiry.
func shown(e Engine, ev sotto.Event) sotto.Event {
	me, ok := ev.(sotto.MessageEvent)
	if !ok || !me.Message.Unshown {
		return ev
	}
	m := me.Message
	started, err := e.MarkShown(m.Identity, m.Contact, m.ID)
	if err == nil && len(started) == 1 {
		me.Message = started[0]
	}
	return me
}

// shownList starts the clocks of the unshown texts of a "messages" reply.
func shownList(e Engine, identity, contact string, ms []sotto.Message) []sotto.Message {
	var ids []sotto.MessageID
	for _, m := range ms {
		if m.Unshown {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 0 {
		return ms
	}
	started, err := e.MarkShown(identity, contact, ids...)
	if err != nil {
		return ms
	}
	byID := make(map[sotto.MessageID]sotto.Message, len(started))
	for _, m := range started {
		byID[m.ID] = m
	}
	for i, m := range ms {
		if s, ok := byID[m.ID]; ok {
			ms[i] = s
		}
	}
	return ms
}
