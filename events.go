package sotto

import (
	"errors"
	"sync"
)

// The event stream.
//
// Events are delivered on the channel returned by [Engine.Events] in the order
// the engine produced them. The engine never blocks on a slow reader: events
// wait in a queue of at most maxQueuedEvents. If the reader falls that far
// behind, the oldest queued events are dropped and one ErrorEvent wrapping
// [ErrEventsDropped] is queued in their place, so the reader knows to re-read
// the state it shows (Identities, Contacts, Messages, Requests). Nothing is
// lost from the engine's own state when an event is dropped.

// maxQueuedEvents bounds the event queue.
const maxQueuedEvents = 4096

// ErrEventsDropped is wrapped by the ErrorEvent that replaces events dropped
// because the reader of [Engine.Events] fell behind.
var ErrEventsDropped = errors.New("sotto: the event reader fell behind and events were dropped; re-read the state")

type eventQueue struct {
	mu      sync.Mutex
	q       []Event
	max     int
	dropped bool
	closed  bool
	wake    chan struct{}
	out     chan Event
	done    chan struct{}
}

func newEventQueue(max int) *eventQueue {
	return &eventQueue{max: max, wake: make(chan struct{}, 1), out: make(chan Event), done: make(chan struct{})}
}

// emit queues an event; it never blocks.
func (q *eventQueue) emit(ev Event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	if len(q.q) >= q.max {
		// Drop the oldest half at once so a stalled reader does not make
		// every emit copy; one marker stays at the front of what is left.
		n := len(q.q) / 2
		for _, old := range q.q[:n] {
			if isDropMarker(old) {
				q.dropped = false
			}
		}
		clear(q.q[:n])
		rest := q.q[n:]
		if !q.dropped {
			q.q = append(append(make([]Event, 0, q.max+1), ErrorEvent{Err: ErrEventsDropped}), rest...)
			q.dropped = true
		} else {
			q.q = append(q.q[:0], rest...)
		}
	}
	q.q = append(q.q, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run moves events to the channel until stop is closed; it then closes the channel.
func (q *eventQueue) run(stop <-chan struct{}) {
	defer close(q.done)
	defer close(q.out)
	for {
		q.mu.Lock()
		var ev Event
		if len(q.q) > 0 {
			ev = q.q[0]
			q.q[0] = nil
			q.q = q.q[1:]
			if isDropMarker(ev) {
				q.dropped = false
			}
		}
		q.mu.Unlock()
		if ev == nil {
			select {
			case <-q.wake:
				continue
			case <-stop:
				q.close()
				return
			}
		}
		select {
		case q.out <- ev:
		case <-stop:
			q.close()
			return
		}
	}
}

func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	clear(q.q)
	q.q = nil
	q.mu.Unlock()
}

// dropMessage removes queued events about a message that has expired, so
// that its text does not linger in the queue.
func (q *eventQueue) dropMessage(id MessageID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	kept := q.q[:0]
	for _, ev := range q.q {
		if me, ok := ev.(MessageEvent); ok && me.Message.ID == id {
			continue
		}
		kept = append(kept, ev)
	}
	clear(q.q[len(kept):])
	q.q = kept
}

func isDropMarker(ev Event) bool {
	ee, ok := ev.(ErrorEvent)
	return ok && errors.Is(ee.Err, ErrEventsDropped)
}
