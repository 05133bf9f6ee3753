package onion

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/sottochat/sotto/onion/torctl"
)

// KeyFunc lends a 32-byte secret (an Ed25519 seed, or an x25519 private
// key) to use for the duration of the call. onion never keeps the bytes: it
// wipes every copy it makes, and may call the function again (to re-publish
// after tor restarted).
type KeyFunc func(use func(seed *[32]byte) error) error

// ServiceConfig configures Publish.
type ServiceConfig struct {
	// Key opens the identity's Ed25519 seed briefly.
	Key KeyFunc
	// ClientAuth are the x25519 client-auth public keys allowed to fetch
	// the descriptor (restricted discovery). Ignored when Open is set.
	ClientAuth [][32]byte
	// Open publishes without client authorization (a tip line); proof-of-
	// work defence is then always on.
	Open bool
	// PoW turns on tor's onion-service proof-of-work defence.
	PoW bool
	// MaxStreams bounds the streams of one rendezvous circuit (default 32);
	// a circuit that exceeds it is closed.
	MaxStreams int
}

// Service is one published onion service (one identity).
type Service struct {
	t    *Tor
	addr string
	ln   net.Listener
	sock string // unix socket path to remove, or ""

	mu     sync.Mutex
	cfg    ServiceConfig // ClientAuth copied
	nobody [32]byte      // client-auth public key of a restricted service with no contacts yet (its private key is discarded)
	online bool
	closed bool
	// published: the last ADD_ONION succeeded (tor should list it).
	published bool
}

// Publish publishes an ephemeral v3 onion service for the identity whose
// seed sc.Key lends. tor gets the key over the control connection from
// memory (ADD_ONION, Flags=DiscardPK); nothing is written to disk. Inbound
// streams arrive on Accept. Online reports when the descriptor is uploaded.
func (t *Tor) Publish(ctx context.Context, sc ServiceConfig) (*Service, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrBadConfig)
	}
	if sc.Key == nil {
		return nil, fmt.Errorf("%w: service without a key", ErrBadConfig)
	}
	if sc.MaxStreams == 0 {
		sc.MaxStreams = defaultMaxStreams
	}
	if sc.MaxStreams < 1 || sc.MaxStreams > maxMaxStreams {
		return nil, fmt.Errorf("%w: MaxStreams must be 1-%d", ErrBadConfig, maxMaxStreams)
	}
	if len(sc.ClientAuth) > MaxClientAuth && !sc.Open {
		return nil, tooManyClients(len(sc.ClientAuth))
	}
	sc.ClientAuth = append([][32]byte(nil), sc.ClientAuth...)
	var addr string
	err := sc.Key(func(seed *[32]byte) error {
		if seed == nil {
			return errors.New("nil seed")
		}
		priv := ed25519.NewKeyFromSeed(seed[:])
		addr = AddressFromPublicKey(priv.Public().(ed25519.PublicKey))
		wipe(priv)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: cannot open the identity key", ErrBadConfig)
	}
	g, err := t.current()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if _, dup := t.services[addr]; dup {
		t.mu.Unlock()
		return nil, fmt.Errorf("%w: this identity is already published", ErrBadConfig)
	}
	t.mu.Unlock()
	s := &Service{t: t, addr: addr, cfg: sc}
	var priv [32]byte
	if _, err := rand.Read(priv[:]); err != nil {
		return nil, err
	}
	s.nobody, err = x25519Public(&priv)
	wipe(priv[:])
	if err != nil {
		return nil, err
	}
	if err := s.listen(g); err != nil {
		return nil, err
	}
	// Under pubMu from here: a check of tor's onions (watch) must not see
	// this service listed before tor has it, nor after a failed ADD_ONION
	// (it would publish it again, quietly, a service whose Publish said
	// it failed).
	t.pubMu.Lock()
	t.mu.Lock()
	if _, dup := t.services[addr]; dup || t.closed {
		t.mu.Unlock()
		t.pubMu.Unlock()
		s.closeListener()
		return nil, fmt.Errorf("%w: this identity is already published or tor is closed", ErrBadConfig)
	}
	t.services[addr] = s
	t.mu.Unlock()
	if err := s.add(ctx, g.c); err != nil {
		t.mu.Lock()
		delete(t.services, addr)
		t.mu.Unlock()
		t.pubMu.Unlock()
		s.closeListener()
		return nil, err
	}
	t.pubMu.Unlock()
	return s, nil
}

// listen opens the listener tor forwards the virtual port to: a unix socket
// in the data directory when the path fits (launch mode), else loopback TCP.
func (s *Service) listen(g *generation) error {
	t := s.t
	if t.plan != nil {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		path := filepath.Join(t.plan.dataDir, serviceSocketPrefix+hex.EncodeToString(rnd[:])+".sock")
		if unixPathOK(path) {
			ln, err := net.Listen("unix", path)
			if err == nil {
				_ = os.Chmod(path, 0o600)
				s.ln, s.sock = ln, path
				return nil
			}
		}
	}
	host, base := "127.0.0.1", 0
	if e := t.cfg.External; e != nil {
		base = e.ServicePortBase
		switch {
		case e.ServiceHost != "":
			host = e.ServiceHost
		case e.ControlNetwork == "tcp":
			// The address tor (or onion-grater, as {client-address})
			// sees us at: the local end of the control connection.
			if a, ok := g.c.localAddr().(*net.TCPAddr); ok {
				host = a.IP.String()
			}
		}
	}
	var ln net.Listener
	var err error
	if base == 0 {
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	} else {
		for p := base; p < base+servicePortRange && p <= 65535; p++ {
			if ln, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p))); err == nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%w: cannot open the service's listener: %v", ErrTorUnavailable, scrubNetErr(err))
	}
	s.ln = ln
	return nil
}

func (s *Service) target() string {
	if s.sock != "" {
		return "unix:" + s.sock
	}
	return s.ln.Addr().String()
}

// add sends ADD_ONION for the service on c.
func (s *Service) add(ctx context.Context, c *ctrl) (err error) {
	defer func() {
		s.mu.Lock()
		s.published = err == nil
		s.mu.Unlock()
	}()
	cfg, args, err := s.args()
	if err != nil {
		return err
	}
	if err := c.probeAddOnion(ctx, args); err != nil {
		return err
	}
	var cmd []byte
	err = cfg.Key(func(seed *[32]byte) error {
		var ek [64]byte
		expandKey(seed, &ek)
		var err error
		cmd, err = buildAddOnion(&ek, args)
		wipe(ek[:])
		return err
	})
	if err != nil {
		if errors.Is(err, ErrBadConfig) {
			return err
		}
		return fmt.Errorf("%w: cannot open the identity key", ErrBadConfig)
	}
	rep, err := c.do(ctx, cmd)
	wipe(cmd)
	if err != nil {
		return fmt.Errorf("onion: publishing the service failed: %w", err)
	}
	kv, err := addOnionReply(rep)
	if err != nil {
		return err
	}
	if kv != s.addr {
		// Tor derived another address from the key we sent: withdraw it.
		_, _ = c.do(ctx, []byte(cmdDelOnion(kv)))
		return fmt.Errorf("%w: tor published an unexpected address", ErrControl)
	}
	return nil
}

// args returns the service's configuration and the non-secret parts of its
// ADD_ONION, or ErrClosed.
func (s *Service) args() (ServiceConfig, addOnionArgs, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ServiceConfig{}, addOnionArgs{}, ErrClosed
	}
	cfg := s.cfg
	args := addOnionArgs{target: s.target(), maxStreams: cfg.MaxStreams, pow: cfg.PoW || cfg.Open}
	if !cfg.Open {
		args.clientAuth = cfg.ClientAuth
		if len(args.clientAuth) == 0 {
			// Restricted with no contacts yet: encrypt the descriptor to a
			// key nobody holds, so the service is invisible to everyone.
			args.clientAuth = [][32]byte{s.nobody}
		}
	}
	return cfg, args, nil
}

// addOnionReply returns the ServiceID of an ADD_ONION reply.
func addOnionReply(rep *torctl.Reply) (string, error) {
	for _, l := range rep.Lines {
		if id, ok := strings.CutPrefix(l.Text, "ServiceID="); ok {
			if len(id) != AddressLen {
				break
			}
			return id, nil
		}
	}
	return "", fmt.Errorf("%w: ADD_ONION reply without a service id", ErrControl)
}

func x25519Public(priv *[32]byte) ([32]byte, error) {
	var pub [32]byte
	k, err := ecdh.X25519().NewPrivateKey(priv[:])
	if err != nil {
		return pub, err
	}
	copy(pub[:], k.PublicKey().Bytes())
	return pub, nil
}

// Addr is the service's 56-character onion address, without ".onion".
func (s *Service) Addr() string { return s.addr }

// Accept returns the next inbound stream. The remote is anonymous: its
// address says nothing about the peer.
func (s *Service) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed || errors.Is(err, net.ErrClosed) {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("onion: accept: %v", scrubNetErr(err))
	}
	return c, nil
}

// Online reports whether the service's descriptor has been uploaded since it
// was last (re)published.
func (s *Service) Online() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.online
}

func (s *Service) setOnline(v bool) (changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed && v {
		return false
	}
	changed = s.online != v
	s.online = v
	return changed
}

// SetClientAuth replaces the list of client-auth keys and re-publishes the
// service (tor cannot change an ephemeral service's clients in place: the
// service is withdrawn and added again, and is offline until the new
// descriptor is uploaded).
func (s *Service) SetClientAuth(ctx context.Context, keys [][32]byte) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context", ErrBadConfig)
	}
	if len(keys) > MaxClientAuth {
		return tooManyClients(len(keys))
	}
	g, err := s.t.current()
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.cfg.ClientAuth = append([][32]byte(nil), keys...)
	s.mu.Unlock()
	s.t.pubMu.Lock()
	defer s.t.pubMu.Unlock()
	// A filter that refuses the new form refuses it before the service
	// is withdrawn: it stays online with its old clients.
	if _, args, err := s.args(); err != nil {
		return err
	} else if err := g.c.probeAddOnion(ctx, args); err != nil {
		return err
	}
	if _, err := g.c.do(ctx, []byte(cmdDelOnion(s.addr))); err != nil {
		return err
	}
	if s.setOnline(false) {
		s.t.emit(Event{Kind: ServiceOffline, Service: s.addr})
	}
	return s.add(ctx, g.c)
}

// Close withdraws the service (DEL_ONION) and closes its listener.
//
// It waits for a publication of the service in progress (SetClientAuth,
// the re-publication after tor restarted, the watch's check of tor's
// onions) to end: each checks that the service is open and then sends
// ADD_ONION, and a DEL_ONION sent between the two was undone by that
// ADD_ONION, leaving an identity taken offline or burned published until
// the control connection closed. Under pubMu, the publication sees the
// service closed, or Close's DEL_ONION comes after its ADD_ONION.
func (s *Service) Close() error {
	s.t.pubMu.Lock()
	defer s.t.pubMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	wasOnline := s.online
	s.online = false
	s.mu.Unlock()
	t := s.t
	t.mu.Lock()
	delete(t.services, s.addr)
	g := t.gen
	t.mu.Unlock()
	var err error
	select {
	case <-g.down:
	default:
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		_, err = g.c.do(ctx, []byte(cmdDelOnion(s.addr)))
		cancel()
	}
	s.closeListener()
	if wasOnline {
		t.emit(Event{Kind: ServiceOffline, Service: s.addr})
	}
	return err
}

func (s *Service) closeListener() {
	_ = s.ln.Close()
	if s.sock != "" {
		_ = os.Remove(s.sock)
	}
}

// AddClientAuth registers, in tor's memory only (never Flags=Permanent),
// the x25519 client-auth private key lent by priv for the onion service
// onionAddr, so Dial can fetch its restricted descriptor. It is registered
// again if tor restarts.
func (t *Tor) AddClientAuth(ctx context.Context, onionAddr string, priv KeyFunc) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context", ErrBadConfig)
	}
	if priv == nil {
		return fmt.Errorf("%w: nil client-auth key", ErrBadConfig)
	}
	addr, err := normAddress(onionAddr)
	if err != nil {
		return err
	}
	g, err := t.current()
	if err != nil {
		return err
	}
	if err := addClientAuth(ctx, g.c, addr, priv); err != nil {
		return err
	}
	t.mu.Lock()
	t.clientAuth[addr] = priv
	t.mu.Unlock()
	return nil
}

func addClientAuth(ctx context.Context, c *ctrl, addr string, priv KeyFunc) error {
	if err := c.probeClientAuth(ctx); err != nil {
		return err
	}
	var cmd []byte
	err := priv(func(k *[32]byte) error {
		if k == nil {
			return errors.New("nil key")
		}
		var err error
		cmd, err = buildClientAuthAdd(addr, k)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: cannot open the client-auth key", ErrBadConfig)
	}
	rep, err := c.do(ctx, cmd)
	wipe(cmd)
	if err != nil {
		return fmt.Errorf("onion: registering client authorization for %s failed: %w", Abbrev(addr), err)
	}
	c.noteAuth(addr, rep.Code)
	return nil
}

// RemoveClientAuth forgets the client-auth key for onionAddr.
func (t *Tor) RemoveClientAuth(ctx context.Context, onionAddr string) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context", ErrBadConfig)
	}
	addr, err := normAddress(onionAddr)
	if err != nil {
		return err
	}
	t.mu.Lock()
	delete(t.clientAuth, addr)
	t.mu.Unlock()
	g, err := t.current()
	if err != nil {
		return err
	}
	if _, err := g.c.do(ctx, []byte(cmdClientAuthRemove(addr))); err != nil {
		return fmt.Errorf("onion: removing client authorization for %s failed: %w", Abbrev(addr), err)
	}
	return nil
}

// normAddress validates an onion address and returns it in tor's form:
// lower case, without ".onion".
func normAddress(s string) (string, error) {
	pub, err := ParseAddress(s)
	if err != nil {
		return "", err
	}
	return AddressFromPublicKey(pub), nil
}
