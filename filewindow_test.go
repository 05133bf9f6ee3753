package sotto

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/sottochat/sotto/files"
)

// TestFileResendAfterChurnBounded: alice's session is cut each time she
// has half a segment or more beyond bob's durable offset (lost, and sent
// again by the next session). After each such break her window shrinks
// (it halves, down to one segment: filewindow.go), so a connection that
// keeps breaking costs about a segment or two per session, not a whole
// window; the file still arrives intact, and what alice sent again is no
// more than the windows in force at the breaks. (memnet's pipe holds
// nothing, so here less than a window is ever in flight; over Tor, whose
// circuits buffer, a whole one can be.)
func TestFileResendAfterChurnBounded(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	ctx := context.Background()
	b.e.SetFileLimits(FileLimits{MaxSize: 1 << 30, AutoAccept: 1 << 30})
	const size = 12 * files.SegmentSize
	path, data := randomFile(t, size)
	fi, err := a.e.SendFile(ctx, "alice", "bob", path, SendFileOptions{KeepMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	type cut struct{ inFlight, win, after uint64 }
	var cuts []cut
	const maxCuts = 5
	stop := make(chan struct{})
	sabDone := make(chan struct{})
	go func() { // the saboteur
		defer close(sabDone)
		for len(cuts) < maxCuts {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			a.e.mu.Lock()
			tr := a.e.fx().byID[fi.ID]
			if tr != nil && tr.sess != nil && tr.sent < tr.rec.Size && tr.sent >= tr.acked+files.SegmentSize/2 {
				inFlight, cutsBefore, sentAtBreak := tr.sent-tr.acked, tr.lastCut, tr.sent
				s := tr.sess
				s.close()
				// The writer has stopped sending (the session is
				// closed); closeFilesLocked runs when its reader ends.
				a.e.mu.Unlock()
				for {
					time.Sleep(time.Millisecond)
					a.e.mu.Lock()
					if tr.sess != s {
						break
					}
					a.e.mu.Unlock()
				}
				// The window at the break and just after it, as
				// lostSession set them: acknowledgements read before the
				// old reader ended, or on the next session before this
				// loop looked (a loaded machine), move tr.window() on.
				if tr.lastCut.n == cutsBefore.n {
					// No cut is right only if the old reader, before it
					// ended, read acknowledgements of everything sent
					// (frames already in the pipe): then nothing was in
					// flight when lostSession ran, and this was no break.
					if tr.acked < sentAtBreak {
						t.Errorf("the session ended with %d bytes in flight (%d acknowledged of %d sent) and the window was not halved", inFlight, tr.acked, sentAtBreak)
					}
					a.e.mu.Unlock()
					continue
				}
				cuts = append(cuts, cut{inFlight, tr.lastCut.before, tr.lastCut.after})
			}
			a.e.mu.Unlock()
		}
	}()
	got := waitFile[FileReceivedEvent](b, "received", fi.ID)
	close(stop)
	<-sabDone
	if got.File.SHA256 != sha256.Sum256(data) {
		t.Fatal("the file arrived damaged")
	}
	d := waitFile[FileDeliveredEvent](a, "delivered", fi.ID)
	resent := uint64(d.File.Sent - d.File.Size)
	var bound uint64
	for i, c := range cuts {
		t.Logf("break %d: %.1f MiB in flight, window %d MiB, then %d MiB", i+1, float64(c.inFlight)/(1<<20), c.win>>20, c.after>>20)
		bound += c.win
		if c.after < minWindow || c.after >= c.win && c.win > minWindow {
			t.Errorf("break %d: the window went from %d to %d bytes: it did not shrink", i+1, c.win, c.after)
		}
	}
	t.Logf("%d breaks; alice sent %.1f MiB again (the windows at the breaks: %d MiB)", len(cuts), float64(resent)/(1<<20), bound>>20)
	if len(cuts) < 3 {
		t.Fatalf("only %d breaks with data in flight", len(cuts))
	}
	if resent > bound {
		t.Errorf("alice sent %d bytes again, more than the windows at the breaks (%d)", resent, bound)
	}
}
