package sotto

import (
	"errors"
	"runtime"
	"testing"
	"time"
)

// A reader that stops reading never blocks the engine; when it comes back
// it finds the newest events and one ErrEventsDropped in place of the rest.
func TestEventQueueNeverBlocks(t *testing.T) {
	q := newEventQueue(64)
	stop := make(chan struct{})
	go q.run(stop)
	done := make(chan struct{})
	go func() {
		for i := range 10000 {
			q.emit(SentEvent{ID: MessageID{byte(i), byte(i >> 8)}})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("emit blocked on a reader that does not read")
	}
	var got []Event
loop:
	for {
		select {
		case ev := <-q.out:
			got = append(got, ev)
		case <-time.After(200 * time.Millisecond):
			break loop
		}
	}
	// Half the queue is dropped at a time: between half and all of it remain,
	// plus the marker (and the one event the pump may have held).
	if len(got) < 32 || len(got) > 64+2 {
		t.Fatalf("%d events after the reader came back", len(got))
	}
	dropped := 0
	for _, ev := range got {
		if ee, ok := ev.(ErrorEvent); ok && errors.Is(ee.Err, ErrEventsDropped) {
			dropped++
		}
	}
	// One marker per episode of dropping; the pump may already hold the
	// first marker when a later overflow queues another.
	if dropped < 1 || dropped > 2 {
		t.Fatalf("%d drop markers", dropped)
	}
	last := got[len(got)-1].(SentEvent)
	if last.ID != (MessageID{byte(9999 & 0xff), byte(9999 >> 8)}) {
		t.Fatal("the newest event is not last")
	}
	close(stop)
	<-q.done
	if _, ok := <-q.out; ok {
		t.Fatal("channel not closed")
	}
}

// Close waits for every goroutine the engine started.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	chat(t, a, "alice", "bob", b, "bob", "alice", "x")
	a.close()
	b.close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left (had %d):\n%s", g, before, buf[:runtime.Stack(buf, true)])
	}
}
