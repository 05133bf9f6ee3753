package sotto

import "github.com/sottochat/sotto/files"

// The sender's window after session churn.
//
// A sender may have files.Window (16 MiB) beyond the receiver's durable
// offset; a session that ends loses whatever of that the receiver had not
// committed, and the next session sends it again from that offset. On a
// connection that keeps breaking (a flaky Tor circuit, a laptop moving
// between networks) a full window lost per session is most of what moves:
// a transfer could spend its time sending the same 16 MiB again and again.
// So, as TCP does after a loss, a session that ended with data in flight
// halves the transfer's window, down to a segment and a chunk (the least that lets
// the receiver commit and acknowledge: it acknowledges whole segments),
// and each acknowledgement that follows gives a segment back, up to
// files.Window. What a new session sends again is then at most the window
// at the time the previous one broke: a whole window only for the first
// break, a segment or two each while the breaks go on. The window lives in
// memory: a restart begins at files.Window again.

// minWindow is the smallest window: one segment, the unit the receiver
// acknowledges, and a chunk: chunks do not end on segment boundaries, and a
// window that ended at one would stop the sender short of the chunk that
// completes the segment, which the receiver waits for before it
// acknowledges.
const minWindow = files.SegmentSize + files.ChunkSize

// windowCut records a halving: the window before and after it, and how
// many there have been (for tests and --debug; it lives in memory).
type windowCut struct {
	before, after uint64
	n             int
}

func (t *transfer) window() uint64 {
	if t.win == 0 {
		return files.Window
	}
	return t.win
}

// lostSession: the session sending t ended. If it had sent beyond the
// receiver's durable offset, that is lost and the window halves.
func (t *transfer) lostSession() {
	if t.sent > t.acked {
		before := t.window()
		t.win = max(minWindow, before/2)
		t.lastCut = windowCut{before, t.window(), t.lastCut.n + 1}
	}
}

// growWindow: an acknowledgement came; the window grows by a segment.
func (t *transfer) growWindow() {
	if t.win != 0 {
		t.win = min(files.Window, t.win+files.SegmentSize)
		if t.win == files.Window {
			t.win = 0
		}
	}
}
