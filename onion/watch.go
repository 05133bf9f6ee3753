package onion

import (
	"context"
	"errors"
	"time"

	"github.com/sottochat/sotto/onion/torctl"
)

// An external tor can restart, or be reconfigured, without our control
// connection ending: a filter in between (Whonix's onion-grater) reconnects
// to the new tor by itself and keeps our connection. That tor has forgotten
// our onion services and client-auth keys. Sotto notices in two ways:
//
//   - every externalCheck, and at once when the bootstrap goes back or
//     reaches 100 % again, it asks which onion services its connection owns
//     (GETINFO onions/current, one line each);
//   - when one it published is missing it treats tor as restarted: the Restarted
//     event, every client-auth key registered again, the missing services
//     published again, and tor's bootstrap state read again (the filter may
//     have subscribed us to the new tor's events after its bootstrap).
//
// A service whose last publication failed (already reported) is tried
// again at each check, quietly. A filter that refuses onions/current leaves
// the bootstrap as the only sign; the profile in contrib/onion-grater
// allows it.

// externalCheck is how often an external tor is asked for its onions. A
// variable for tests.
var externalCheck = 15 * time.Second

// check asks watch to look at tor's onions now (it never blocks).
func (g *generation) check() {
	if g.recheck == nil {
		return
	}
	select {
	case g.recheck <- struct{}{}:
	default:
	}
}

// startWatch runs watch for g when tor is external.
func (t *Tor) startWatch(g *generation) {
	if t.plan != nil {
		return
	}
	t.wg.Add(1)
	go t.watch(g)
}

func (t *Tor) watch(g *generation) {
	defer t.wg.Done()
	tick := time.NewTicker(externalCheck)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-g.recheck:
		case <-g.down:
			return
		case <-t.closing:
			return
		}
		t.checkOnions(g)
	}
}

// checkOnions compares tor's onion services with ours and publishes the
// missing ones again.
func (t *Tor) checkOnions(g *generation) {
	ctx, cancel := context.WithTimeout(t.life, 30*time.Second)
	defer cancel()
	t.pubMu.Lock()
	defer t.pubMu.Unlock()
	if g.noOnions {
		return
	}
	t.mu.Lock()
	svcs := t.serviceList()
	t.mu.Unlock()
	if len(svcs) == 0 {
		return
	}
	v, err := g.c.getinfo(ctx, "onions/current")
	if err != nil {
		if errors.Is(err, ErrControl) {
			g.noOnions = true // refused: the bootstrap is all we have
		}
		return
	}
	have, err := torctl.ParseOnions(v)
	if err != nil {
		return
	}
	var missing, failed []*Service
	for _, s := range svcs {
		switch published, closed := s.state(); {
		case closed || have[s.addr]:
		case published:
			missing = append(missing, s)
		default:
			failed = append(failed, s) // its last publication failed (and said so)
		}
	}
	for _, s := range failed {
		_ = s.add(ctx, g.c) // again, quietly
	}
	if len(missing) == 0 {
		return
	}
	t.mu.Lock()
	t.progress = 0
	select {
	case <-t.ready:
		t.ready = make(chan struct{})
	default:
	}
	t.mu.Unlock()
	g.c.forgetAuth()
	t.emit(Event{Kind: Restarted})
	for _, s := range missing {
		if s.setOnline(false) {
			t.emit(Event{Kind: ServiceOffline, Service: s.addr})
		}
	}
	t.republish(ctx, g, missing)
	if v, err := g.c.getinfo(ctx, "status/bootstrap-phase"); err == nil {
		if b, err := torctl.ParseBootstrap(v); err == nil {
			t.onBootstrap(g, b)
		}
	}
}

// clientAuthShared records and reports a contact's onion whose client-auth
// key tor held for someone else too.
func (t *Tor) clientAuthShared(addr string) {
	t.mu.Lock()
	t.sharedAuth[addr] = true
	t.mu.Unlock()
	t.emit(Event{Kind: ClientAuthShared, Onion: addr})
}

func (s *Service) state() (published, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.published, s.closed
}
