package mailbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sottochat/sotto/vault"
)

// Options configure Open.
type Options struct {
	Now   func() time.Time // nil: time.Now
	Rand  io.Reader        // nil: crypto/rand
	Logf  func(format string, args ...any)
	Vault *vault.Options
	// Timing, for tests, shortens the stream deadlines; zero: DefaultTiming.
	Timing Timing
}

// Timing holds the server's stream deadlines.
type Timing struct {
	Hello time.Duration // from accept to a complete first request
	Idle  time.Duration // between requests (a watcher pings)
	Frame time.Duration // a frame, once its first byte arrived; and each write
}

// DefaultTiming is used when Options.Timing is zero.
var DefaultTiming = Timing{Hello: 30 * time.Second, Idle: 180 * time.Second, Frame: 60 * time.Second}

// Connection limits per published service.
const (
	maxConnsService = 32
	maxConnsAdmin   = 4
	maxConnsIntake  = 16
	// Deposits per relation: a token bucket of depositBurst refilled at
	// depositRate per second (the quotas bound the storage; this bounds
	// the disk writes a hostile depositor can cause).
	depositRate  = 20
	depositBurst = 500
)

// The profile directory of a mailbox.
const (
	VaultSubdir = "vault"
	TorSubdir   = "tor"
	// ControlSocket is the local socket 'sotto mailbox code' and 'sotto
	// panic' use to reach a running mailbox.
	ControlSocket = "control.sock"
)

// Init creates a mailbox profile in dir: a vault locked by pass holding the
// configuration and the key of the pairing service.
func Init(dir string, pass *vault.Passphrase, cfg Config, vo *vault.Options) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("mailbox: creating the profile directory: %w", err)
	}
	vdir := filepath.Join(dir, VaultSubdir)
	if _, err := os.Stat(vdir); err == nil {
		return ErrExists
	}
	v, err := vault.Create(vdir, pass, vo)
	if err != nil {
		return err
	}
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		v.Close()
		return err
	}
	err = v.Put(kindAdmin, keySingle, seed)
	clear(seed)
	if err == nil {
		err = v.Put(kindConfig, keySingle, cfg.marshal())
	}
	if cerr := v.Close(); err == nil {
		err = cerr
	}
	return err
}

// IsMailbox reports whether dir holds a mailbox profile's vault (it does
// not open it).
func IsMailbox(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, VaultSubdir))
	return err == nil
}

// Mailbox is an open mailbox profile. Serve runs it.
type Mailbox struct {
	dir string
	v   *vault.Vault
	st  *store
	o   Options

	mu      sync.Mutex
	net     Network
	ctx     context.Context
	pubs    map[string]Service // "admin", a service ID, "intake." + a service ID
	conns   map[string]int
	svcCtx  map[*service]context.CancelFunc
	svcCtxs map[*service]context.Context
	watch   map[*conn]bool
	closed  bool
	wg      sync.WaitGroup
	tick    chan struct{}
	ready   chan struct{} // closed when Serve has published every service
}

// Open unlocks the mailbox profile in dir.
func Open(dir string, pass *vault.Passphrase, o Options) (*Mailbox, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Timing == (Timing{}) {
		o.Timing = DefaultTiming
	}
	vdir := filepath.Join(dir, VaultSubdir)
	if _, err := os.Stat(vdir); errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoMailbox
	}
	v, err := vault.Open(vdir, pass, o.Vault)
	if err != nil {
		return nil, err
	}
	st, err := openStore(v, o.Now, o.Rand)
	if err != nil {
		v.Close()
		return nil, err
	}
	if err := st.dropOrphans(); err != nil {
		st.wipe()
		v.Close()
		return nil, err
	}
	return &Mailbox{dir: dir, v: v, st: st, o: o, pubs: map[string]Service{}, conns: map[string]int{},
		svcCtx: map[*service]context.CancelFunc{}, svcCtxs: map[*service]context.Context{}, watch: map[*conn]bool{}, tick: make(chan struct{}, 1),
		ready: make(chan struct{})}, nil
}

// Ready is closed once Serve has published every service.
func (m *Mailbox) Ready() <-chan struct{} { return m.ready }

// Stats returns counts of what the mailbox holds.
func (m *Mailbox) Stats() Stats { return m.st.stats() }

// NewCode makes a one-time pairing code and, when the mailbox is serving,
// authorises its key on the pairing service at once.
func (m *Mailbox) NewCode(ctx context.Context) (*PairingCode, error) {
	c, err := m.st.newCode()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	serving := m.net != nil && !m.closed
	m.mu.Unlock()
	if serving {
		if err := m.publishAdmin(ctx); err != nil {
			m.o.Logf("pairing service: %v", err)
		}
	}
	return c, nil
}

// Close stops serving (if Serve runs, cancel its context first), wipes the
// keys in memory and closes the vault.
func (m *Mailbox) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.closed = true
	m.mu.Unlock()
	m.wg.Wait()
	m.st.wipe()
	return m.v.Close()
}

// Serve publishes the mailbox's onion services and serves them until ctx
// is done. It returns nil then, or an error if it could not start.
func (m *Mailbox) Serve(ctx context.Context, n Network) error {
	if ctx == nil {
		return errors.New("mailbox: nil context")
	}
	m.mu.Lock()
	if m.closed || m.net != nil {
		m.mu.Unlock()
		return ErrClosed
	}
	m.net, m.ctx = n, ctx
	m.mu.Unlock()
	for _, sv := range m.st.services() {
		if err := m.publishService(ctx, sv); err != nil {
			m.stopAll()
			return err
		}
	}
	if err := m.publishAdmin(ctx); err != nil {
		m.stopAll()
		return err
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.expiryLoop(ctx)
	}()
	close(m.ready)
	<-ctx.Done()
	m.stopAll()
	return nil
}

func (m *Mailbox) stopAll() {
	m.mu.Lock()
	pubs := m.pubs
	m.pubs = map[string]Service{}
	for _, cancel := range m.svcCtx {
		cancel()
	}
	m.mu.Unlock()
	for _, p := range pubs {
		p.Close()
	}
	m.wg.Wait()
}

// publishAdmin publishes, updates or withdraws the pairing service so that
// exactly the outstanding codes' keys can reach it.
func (m *Mailbox) publishAdmin(ctx context.Context) error {
	keys := m.st.adminKeys()
	m.mu.Lock()
	p := m.pubs["admin"]
	m.mu.Unlock()
	if len(keys) == 0 {
		if p != nil {
			m.mu.Lock()
			delete(m.pubs, "admin")
			m.mu.Unlock()
			p.Close()
		}
		return nil
	}
	if p != nil {
		return p.SetClientAuth(ctx, keys)
	}
	svc, err := m.net.Publish(ctx, keyFunc(m.st.admin), keys, false)
	if err != nil {
		return fmt.Errorf("mailbox: publishing the pairing service: %w", err)
	}
	m.mu.Lock()
	if m.pubs["admin"] != nil || m.closed {
		m.mu.Unlock()
		svc.Close()
		return nil
	}
	m.pubs["admin"] = svc
	m.mu.Unlock()
	m.acceptLoop(svc, "admin", nil)
	return nil
}

// publishService publishes an identity's service and, if it has one, its
// intake service.
func (m *Mailbox) publishService(ctx context.Context, sv *service) error {
	m.mu.Lock()
	sctx, cancel := context.WithCancel(m.ctx)
	m.svcCtx[sv] = cancel
	m.svcCtxs[sv] = sctx
	m.mu.Unlock()
	svc, err := m.net.Publish(ctx, keyFunc(sv.key), m.st.clientKeys(sv), false)
	if err != nil {
		return fmt.Errorf("mailbox: publishing a service: %w", err)
	}
	m.mu.Lock()
	m.pubs[sv.id] = svc
	m.mu.Unlock()
	m.acceptLoop(svc, "svc", sv)
	context.AfterFunc(sctx, func() { svc.Close() })
	if sv.intake != nil {
		isvc, err := m.net.Publish(ctx, keyFunc(sv.intake), nil, true)
		if err != nil {
			return fmt.Errorf("mailbox: publishing an intake service: %w", err)
		}
		m.mu.Lock()
		m.pubs["intake."+sv.id] = isvc
		m.mu.Unlock()
		m.acceptLoop(isvc, "intake", sv)
		context.AfterFunc(sctx, func() { isvc.Close() })
	}
	return nil
}

// updateAuth republishes the client-auth keys of a service.
func (m *Mailbox) updateAuth(ctx context.Context, sv *service) {
	m.mu.Lock()
	p := m.pubs[sv.id]
	m.mu.Unlock()
	if p == nil {
		return
	}
	if err := p.SetClientAuth(ctx, m.st.clientKeys(sv)); err != nil {
		m.o.Logf("updating a service's client authorization: %v", err)
	}
}

// withdraw takes an unpaired service offline and ends its streams.
func (m *Mailbox) withdraw(sv *service) {
	m.mu.Lock()
	cancel := m.svcCtx[sv]
	delete(m.svcCtx, sv)
	delete(m.svcCtxs, sv)
	p, ip := m.pubs[sv.id], m.pubs["intake."+sv.id]
	delete(m.pubs, sv.id)
	delete(m.pubs, "intake."+sv.id)
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	for _, s := range []Service{p, ip} {
		if s != nil {
			s.Close()
		}
	}
}

func (m *Mailbox) acceptLoop(svc Service, kind string, sv *service) {
	limit := maxConnsService
	key := kind
	switch kind {
	case "admin":
		limit = maxConnsAdmin
	case "intake":
		limit = maxConnsIntake
		key = "intake." + sv.id
	default:
		key = sv.id
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			c, err := svc.Accept()
			if err != nil {
				return
			}
			m.mu.Lock()
			busy := m.conns[key] >= limit || m.closed
			if !busy {
				m.conns[key]++
			}
			m.mu.Unlock()
			if busy {
				c.Close()
				continue
			}
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				defer func() {
					m.mu.Lock()
					m.conns[key]--
					m.mu.Unlock()
				}()
				m.serveConn(kind, sv, c)
			}()
		}
	}()
}

func (m *Mailbox) expiryLoop(ctx context.Context) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		touched, err := m.st.expire()
		if err != nil {
			m.o.Logf("expiry: %v", err)
		}
		for _, r := range touched {
			m.notify(r, true)
			m.notify(r, false)
		}
		wait := time.Minute
		if next := m.st.nextExpiry(); !next.IsZero() {
			if d := next.Sub(m.o.Now()); d < wait {
				wait = max(d, 0) + 100*time.Millisecond
			}
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.tick:
			if !t.Stop() {
				<-t.C
			}
		}
	}
}

// notify wakes the watchers that collect from r's queue toward the owner
// (toOwner) or toward its contact.
func (m *Mailbox) notify(r *relation, toOwner bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range m.watch {
		if c.sv != r.s {
			continue
		}
		if toOwner && c.role == RoleOwner || !toOwner && c.role == RoleContact && c.rel == r {
			select {
			case c.notify <- struct{}{}:
			default:
			}
		}
	}
}

// ---- one stream ----

type conn struct {
	m      *Mailbox
	nc     net.Conn
	kind   string
	sv     *service
	role   Role
	rel    *relation // RoleContact
	out    chan []byte
	notify chan struct{}
	done   chan struct{}
}

func (m *Mailbox) serveConn(kind string, sv *service, nc net.Conn) {
	defer nc.Close()
	t := m.o.Timing
	nc.SetDeadline(time.Now().Add(t.Hello))
	if err := ReadPreamble(nc); err != nil {
		return
	}
	if _, err := nc.Write(Preamble()); err != nil {
		return
	}
	c := &conn{m: m, nc: nc, kind: kind, sv: sv, out: make(chan []byte, 16), notify: make(chan struct{}, 1),
		done: make(chan struct{})}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	defer func() {
		close(c.done)
		<-writerDone
		m.mu.Lock()
		delete(m.watch, c)
		m.mu.Unlock()
	}()
	// The stream ends with the mailbox, or with its service when unpaired.
	m.mu.Lock()
	ctx := m.ctx
	if sv != nil {
		ctx = m.svcCtxs[sv]
	}
	m.mu.Unlock()
	if ctx == nil {
		return // unpaired meanwhile
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	var buf []byte
	first, buf, err := ReadFrame(nc, buf)
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			c.reply(&Msg{Op: OpError, Code: CodeMalformed})
		}
		return
	}
	if !c.first(first) {
		return
	}
	for {
		var req *Msg
		req, buf, err = readTimed(nc, t.Idle, t.Frame, buf)
		if err != nil {
			if errors.Is(err, ErrMalformed) {
				c.reply(&Msg{Op: OpError, Code: CodeMalformed})
			}
			return
		}
		if !c.handle(req) {
			return
		}
	}
}

// readTimed reads a frame that may take idle to start and frame to finish
// once its first byte arrived: a peer that stalls mid-frame is dropped.
func readTimed(nc net.Conn, idle, frame time.Duration, buf []byte) (*Msg, []byte, error) {
	nc.SetReadDeadline(time.Now().Add(idle))
	var first [1]byte
	if _, err := io.ReadFull(nc, first[:]); err != nil {
		return nil, buf, err
	}
	nc.SetReadDeadline(time.Now().Add(frame))
	return ReadFrame(io.MultiReader(bytes.NewReader(first[:]), nc), buf)
}

func (c *conn) writeLoop() {
	t := c.m.o.Timing
	for {
		select {
		case b := <-c.out:
			c.nc.SetWriteDeadline(time.Now().Add(t.Frame))
			if _, err := c.nc.Write(b); err != nil {
				c.nc.Close()
				c.drain()
				return
			}
		case <-c.notify:
			b, _ := AppendFrame(nil, &Msg{Op: OpNotify})
			c.nc.SetWriteDeadline(time.Now().Add(t.Frame))
			if _, err := c.nc.Write(b); err != nil {
				c.nc.Close()
				c.drain()
				return
			}
		case <-c.done:
			for {
				select {
				case b := <-c.out:
					c.nc.SetWriteDeadline(time.Now().Add(t.Frame))
					if _, err := c.nc.Write(b); err != nil {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// drain discards what the reader still queues after a write failed.
func (c *conn) drain() {
	for {
		select {
		case <-c.out:
		case <-c.done:
			return
		}
	}
}

func (c *conn) reply(m *Msg) bool {
	b, err := AppendFrame(nil, m)
	if err != nil {
		return false
	}
	select {
	case c.out <- b:
		return true
	case <-c.done:
		return false
	}
}

func (c *conn) fail(code Code) bool { return c.reply(&Msg{Op: OpError, Code: code}) }

// first handles the first request of a stream; false ends the stream.
func (c *conn) first(req *Msg) bool {
	m, st := c.m, c.m.st
	switch {
	case c.kind == "admin" && req.Op == OpPair:
		sv, err := st.pair(&req.Secret, &req.Auth, &req.Token, req.Flags&1 != 0)
		clear(req.Secret[:])
		clear(req.Token[:])
		if err != nil {
			c.fail(codeOf(err))
			return false
		}
		m.mu.Lock()
		_, published := m.svcCtx[sv]
		ctx := m.ctx
		m.mu.Unlock()
		if !published {
			if err := m.publishService(ctx, sv); err != nil {
				m.o.Logf("pairing: %v", err)
				c.fail(CodeBusy)
				return false
			}
			m.o.Logf("paired an identity (%d served)", len(st.services()))
		}
		if err := m.publishAdmin(ctx); err != nil {
			m.o.Logf("pairing service: %v", err)
		}
		rep := &Msg{Op: OpPaired}
		copy(rep.Service[:], sv.pub)
		if sv.intakePub != nil {
			copy(rep.Intake[:], sv.intakePub)
		}
		c.reply(rep)
		return false
	case c.kind == "intake" && req.Op == OpIntakeKey:
		c.reply(&Msg{Op: OpBundle, Bundle: st.bundle(c.sv)})
		return false
	case c.kind == "intake" && req.Op == OpIntake:
		if err := st.intake(c.sv, req.TokenHash, req.Blob); err != nil {
			c.fail(codeOf(err))
			return false
		}
		m.o.Logf("intake: a sealed contact request")
		for _, r := range st.relationsOf(c.sv) {
			if r.rec.TokenHash == req.TokenHash {
				m.notify(r, true)
			}
		}
		c.reply(&Msg{Op: OpOK})
		return false
	case req.Op == OpHello && c.kind != "admin":
		ok := false
		if req.Role == RoleOwner && c.kind == "svc" {
			ok = st.owner(&req.Token) == c.sv
			c.role = RoleOwner
		} else if req.Role == RoleContact {
			r := st.contact(&req.Token)
			// A relation of this service: owned ones on the service,
			// a stranger's reply queue on the intake service.
			ok = r != nil && r.s == c.sv && r.rec.Intake == (c.kind == "intake")
			c.role, c.rel = RoleContact, r
		}
		clear(req.Token[:])
		if !ok {
			c.fail(CodeDenied)
			return false
		}
		return c.reply(&Msg{Op: OpOK})
	case isRequest(req.Op):
		c.fail(CodeDenied)
		return false
	}
	c.fail(CodeMalformed)
	return false
}

// handle serves one request of an authenticated stream; false ends it.
func (c *conn) handle(req *Msg) bool {
	m, st := c.m, c.m.st
	owner := c.role == RoleOwner
	// The relation a request names: the owner names it, a contact has one.
	relOf := func() *relation {
		if owner {
			return st.relation(c.sv, req.Rel)
		}
		if req.Rel != ([RelLen]byte{}) {
			return nil
		}
		return c.rel
	}
	switch req.Op {
	case OpPing:
		return c.reply(&Msg{Op: OpPong, Sequence: req.Sequence})
	case OpStatus:
		var r *relation
		if !owner {
			r = c.rel
		}
		return c.reply(&Msg{Op: OpCounts, Counts: st.counts(c.sv, r)})
	case OpWatch:
		m.mu.Lock()
		m.watch[c] = true
		m.mu.Unlock()
		return c.reply(&Msg{Op: OpOK})
	case OpDeposit:
		r := relOf()
		if r == nil || !owner && r.rec.Intake {
			return c.fail(CodeDenied) // a stranger only collects its reply
		}
		if !st.allowDeposit(r) {
			return c.fail(CodeBusy)
		}
		id, err := st.deposit(r, !owner, req.TTL, req.Blob)
		if err != nil {
			return c.fail(codeOf(err))
		}
		m.notify(r, !owner)
		return c.reply(&Msg{Op: OpOK, Item: id})
	case OpCollect:
		var rs []*relation
		if owner && req.Rel == ([RelLen]byte{}) {
			rs = st.relationsOf(c.sv)
		} else if r := relOf(); r != nil {
			rs = []*relation{r}
		} else {
			return c.fail(CodeDenied)
		}
		items, remaining, err := st.collect(rs, owner, int(req.Max))
		if err != nil {
			return c.fail(codeOf(err))
		}
		for _, it := range items {
			if !c.reply(&Msg{Op: OpItem, Rel: it.rel, Item: it.id, Kind: it.kind, Blob: it.blob, Count: it.count}) {
				return false
			}
		}
		return c.reply(&Msg{Op: OpDone, Value: uint32(remaining)})
	case OpDelete:
		r := relOf()
		if r == nil {
			return c.fail(CodeDenied)
		}
		n, err := st.remove(r, owner, req.IDs)
		if err != nil {
			return c.fail(codeOf(err))
		}
		return c.reply(&Msg{Op: OpOK, Value: uint32(n)})
	}
	if !owner {
		return c.fail(CodeDenied)
	}
	switch req.Op {
	case OpAdd:
		if err := st.addRel(c.sv, req.Rel, req.TokenHash, req.Auth); err != nil {
			return c.fail(codeOf(err))
		}
		m.updateAuth(m.ctx, c.sv)
		return c.reply(&Msg{Op: OpOK})
	case OpRemove:
		r := st.relation(c.sv, req.Rel)
		if err := st.removeRel(c.sv, req.Rel); err != nil {
			return c.fail(codeOf(err))
		}
		if r != nil && !r.rec.Intake {
			m.updateAuth(m.ctx, c.sv)
		}
		m.dropWatchers(r)
		return c.reply(&Msg{Op: OpOK})
	case OpSetIntake:
		if err := st.setBundle(c.sv, req.Bundle); err != nil {
			return c.fail(codeOf(err))
		}
		return c.reply(&Msg{Op: OpOK})
	case OpUnpair:
		if err := st.unpair(c.sv); err != nil {
			return c.fail(codeOf(err))
		}
		m.o.Logf("unpaired an identity (%d served)", len(st.services()))
		c.reply(&Msg{Op: OpOK})
		// Let the reply go out before the service's streams are cut.
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			time.Sleep(200 * time.Millisecond)
			m.withdraw(c.sv)
		}()
		return false
	}
	return c.fail(CodeMalformed)
}

// dropWatchers forgets the contact streams of a removed relation.
func (m *Mailbox) dropWatchers(r *relation) {
	if r == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range m.watch {
		if c.rel == r {
			delete(m.watch, c)
			c.nc.Close()
		}
	}
}
