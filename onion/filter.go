package onion

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
)

// A control-port filter between Sotto and an external tor (Whonix's and
// Tails' onion-grater) logs every line it refuses, in full, and with its
// --debug option every line. Two things keep Sotto's keys out of what it
// refuses:
//
//   - Each form of a key-bearing command (ADD_ONION with its flags, number
//     of client-auth keys and target; ONION_CLIENT_AUTH_ADD) is sent first
//     on each control connection with throwaway keys: a random service key
//     and random client-auth keys, or a random onion address and key. If
//     the filter refuses it, the real command is never sent and the error
//     (ErrFiltered) says to install Sotto's profile; the filter's log holds
//     only the throwaway keys. If it passes, the throwaway service is
//     withdrawn at once (DEL_ONION) and the throwaway key removed.
//   - No line is longer than MaxCommandLine, which onion-grater drops
//     without logging.
//
// What a filter logs of the lines it passes (all of them with --debug) is
// beyond Sotto's reach: docs/tor-control.md and SECURITY.md say so.

// probeAddOnion checks, with throwaway keys, that the form of ADD_ONION
// that a carries gets through to tor. Only an external tor is probed.
func (c *ctrl) probeAddOnion(ctx context.Context, a addOnionArgs) error {
	if !c.probe {
		return nil
	}
	// The form: everything but the key values and the target's port
	// number (filters match a port as digits).
	host := a.target
	if h, _, err := net.SplitHostPort(a.target); err == nil {
		host = h
	}
	form := fmt.Sprintf("ADD_ONION pow=%v keys=%d streams=%d host=%s", a.pow, len(a.clientAuth), a.maxStreams, host)
	c.probeMu.Lock()
	defer c.probeMu.Unlock()
	if c.wasProbed(form) {
		return nil
	}
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return err
	}
	var ek [64]byte
	expandKey(&seed, &ek)
	wipe(seed[:])
	fake := a
	if len(a.clientAuth) > 0 {
		fake.clientAuth = make([][32]byte, len(a.clientAuth))
		for i := range fake.clientAuth {
			if _, err := rand.Read(fake.clientAuth[i][:]); err != nil {
				return err
			}
		}
	}
	cmd, err := buildAddOnion(&ek, fake)
	wipe(ek[:])
	if err != nil {
		return err
	}
	rep, err := c.do(ctx, cmd)
	if err != nil {
		return filtered("ADD_ONION", "the identity's key", err)
	}
	if id, err := addOnionReply(rep); err == nil {
		_, _ = c.do(ctx, []byte(cmdDelOnion(id)))
	}
	c.markProbed(form)
	return nil
}

// probeClientAuth checks, with a random onion address and key, that
// ONION_CLIENT_AUTH_ADD gets through to tor, and removes that key again.
func (c *ctrl) probeClientAuth(ctx context.Context) error {
	const form = "ONION_CLIENT_AUTH_ADD"
	if !c.probe {
		return nil
	}
	c.probeMu.Lock()
	defer c.probeMu.Unlock()
	if c.wasProbed(form) {
		return nil
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	addr := AddressFromPublicKey(pub)
	var priv [32]byte
	if _, err := rand.Read(priv[:]); err != nil {
		return err
	}
	cmd, err := buildClientAuthAdd(addr, &priv)
	wipe(priv[:])
	if err != nil {
		return err
	}
	_, err = c.do(ctx, cmd)
	wipe(cmd)
	if err != nil {
		return filtered("ONION_CLIENT_AUTH_ADD", "the contact's client-authorization key", err)
	}
	_, _ = c.do(ctx, []byte(cmdClientAuthRemove(addr)))
	c.markProbed(form)
	return nil
}

// filtered turns a refused probe into an error saying what to do; other
// failures (the connection) pass through.
func filtered(cmd, what string, err error) error {
	if !errors.Is(err, ErrControl) {
		return err
	}
	return fmt.Errorf("%w: tor's control port refused %s in the form Sotto sends (%v), so %s was not sent; a control-port filter such as Whonix's onion-grater needs Sotto's profile (contrib/onion-grater/40_sotto.yml, see docs/tor-control.md)", ErrFiltered, cmd, err, what)
}

func (c *ctrl) wasProbed(form string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.probed[form]
}

func (c *ctrl) markProbed(form string) {
	c.mu.Lock()
	c.probed[form] = true
	c.mu.Unlock()
}

// Tor keeps one client-auth key per onion address for all its controllers.
// Two Sotto processes (two Whonix-Workstations behind one gateway) with the
// same contact therefore replace each other's key, and one removing it
// (closing, or removing the contact) removes it for both. tor answers
// ONION_CLIENT_AUTH_ADD with 251 ("Client for onion existed and replaced")
// when it held a key already: on a connection that had not registered one
// for that onion itself, that key was someone else's (or a Sotto session's
// that ended without removing it).
const replyClientAuthReplaced = 251

// noteAuth records that this connection registered a key for addr and
// reports a key tor held before that was not ours.
func (c *ctrl) noteAuth(addr string, code int) {
	c.mu.Lock()
	first := !c.authAdded[addr]
	c.authAdded[addr] = true
	shared := c.onShared
	c.mu.Unlock()
	if first && code == replyClientAuthReplaced && shared != nil {
		shared(addr)
	}
}

// forgetAuth is for a tor that lost every key (it restarted behind a filter
// that kept our connection): the next registration of each is a first one.
func (c *ctrl) forgetAuth() {
	c.mu.Lock()
	c.authAdded = map[string]bool{}
	c.probed = map[string]bool{}
	c.mu.Unlock()
}
