package onion

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/internal/spawn"
	"github.com/sottochat/sotto/onion/torctl"
)

// Config configures Start.
type Config struct {
	// DataDir is the launched tor's data directory, inside the profile;
	// created with mode 0700. Unused in external mode.
	DataDir string
	// TorPath is the tor binary; default "tor" on PATH.
	TorPath string
	// Network is a torrc fragment joining a private network (the contents
	// of --network FILE); "" = the real Tor network. Only options that join
	// a network are accepted.
	Network string
	// Bridges are bridge lines; obfs4 runs /usr/bin/obfs4proxy.
	Bridges []string
	// External, when non-nil, uses a running tor (see ExternalFromEnv)
	// instead of launching one.
	External *External
	// Debug makes the launched tor log notices to DataDir/tor.log
	// (SafeLogging stays on).
	Debug bool
	// Events, if set, receives events in order from one goroutine of the
	// Tor; it must not block.
	Events func(Event)
}

// EventKind says what an Event reports.
type EventKind int

const (
	Bootstrap      EventKind = iota + 1 // Progress and Summary of tor's bootstrap
	Ready                               // bootstrap reached 100 %
	Died                                // tor died or the control connection was lost (Err)
	Restarted                           // tor is back (Bootstrap and Ready follow); services are re-published
	ServiceOnline                       // Service's descriptor was uploaded: reachable
	ServiceOffline                      // Service withdrawn, or tor died
	// ClientAuthShared: tor already held a client-auth key for the
	// contact's onion (Onion) that this Tor had not registered: another
	// program or Whonix-Workstation using the same tor has that contact
	// too, and tor keeps one key per onion, so each replaces the other's
	// (see docs/tor-control.md). Close leaves that key in tor.
	ClientAuthShared
	// NetworkUp: tor built a circuit after a time it could not (tor's
	// STATUS_CLIENT CIRCUIT_ESTABLISHED): its network was disabled, the
	// clock jumped (the machine slept) or its directory information went
	// stale, and it works again. The first one of a tor comes with its
	// bootstrap, around Ready. Contacts that came online meanwhile could not
	// reach our services: a caller dials them again.
	NetworkUp
)

func (k EventKind) String() string {
	switch k {
	case Bootstrap:
		return "bootstrap"
	case Ready:
		return "ready"
	case Died:
		return "died"
	case Restarted:
		return "restarted"
	case ServiceOnline:
		return "service-online"
	case ServiceOffline:
		return "service-offline"
	case ClientAuthShared:
		return "client-auth-shared"
	case NetworkUp:
		return "network-up"
	}
	return "unknown"
}

// Event is something that happened to tor or a service.
type Event struct {
	Kind     EventKind
	Progress int    // Bootstrap, Ready: 0-100
	Summary  string // Bootstrap: tor's words
	Service  string // ServiceOnline/Offline: the local service's onion address
	Onion    string // ClientAuthShared: the contact's onion address
	Err      error  // Died; ServiceOffline when re-publishing after a restart failed
}

// Supervision timings.
const (
	restartBackoffMin = 1 * time.Second
	restartBackoffMax = 60 * time.Second
	launchTimeout     = 60 * time.Second // tor start to authenticated control
	shutdownWait      = 5 * time.Second
	maxTorOutput      = 4 << 10 // bytes of tor's stdout kept for error messages
)

// Tor is a running tor, launched by Sotto or external, with the onion
// services published through it. Its methods are safe for concurrent use.
type Tor struct {
	cfg    Config
	plan   *launchPlan // nil in external mode
	isoKey [32]byte    // keys the SOCKS isolation credentials

	closing  chan struct{}
	life     context.Context // cancelled by Close
	stopLife context.CancelFunc
	wg       sync.WaitGroup
	evq      chan Event

	mu         sync.Mutex
	closed     bool
	gen        *generation
	progress   int
	ready      chan struct{} // closed at 100 % of the current generation
	services   map[string]*Service
	clientAuth map[string]KeyFunc
	descWait   map[string][]chan string // HS_DESC RECEIVED/FAILED waiters by address
	// isoGen counts, per (from, to) pair, the times Dial moved the pair to
	// new circuits (after a stall or a window of failed introductions); it
	// is part of the pair's SOCKS credentials (see dialStallTimeout).
	isoGen map[string]uint32
	// sharedAuth are the contacts' onions whose client-auth key tor held
	// for someone else too (ClientAuthShared): Close does not remove them.
	sharedAuth map[string]bool

	// pubMu serialises the changes to tor's set of onion services
	// (publishing, re-publishing with new clients, restoring after tor
	// restarted, withdrawing), so that a check of that set never races
	// one and a withdrawal is never undone. Taken before mu.
	pubMu sync.Mutex
}

// generation is one life of tor: a process (launch mode) and a control
// connection.
type generation struct {
	c         *ctrl
	proc      *exec.Cmd
	output    *tailBuffer
	exited    chan struct{}   // launch mode: process has exited
	down      <-chan struct{} // closed when this generation is dead
	socksNet  string
	socksAddr string
	// recheck asks watch (external mode) to check tor's onions now.
	recheck chan struct{}
	// noOnions: the control port (a filter) refuses GETINFO onions/current.
	noOnions bool
}

// Check validates the configuration without starting anything: the data
// directory path, the network fragment, the bridge lines, the external
// endpoints. Errors wrap ErrBadConfig and say what to fix.
func (c *Config) Check() error {
	if c.External != nil {
		return c.External.validate()
	}
	_, err := newLaunchPlan(c, 1)
	return err
}

// Start launches tor (or attaches to cfg.External), configures it and
// enables its network. It returns once tor is controllable; WaitReady waits
// for the bootstrap. ctx bounds only the start: the Tor lives until Close.
func Start(ctx context.Context, cfg Config) (*Tor, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrBadConfig)
	}
	t := &Tor{
		cfg:        cfg,
		closing:    make(chan struct{}),
		evq:        make(chan Event, 1024),
		ready:      make(chan struct{}),
		services:   make(map[string]*Service),
		clientAuth: make(map[string]KeyFunc),
		descWait:   make(map[string][]chan string),
		isoGen:     make(map[string]uint32),
		sharedAuth: make(map[string]bool),
	}
	if _, err := rand.Read(t.isoKey[:]); err != nil {
		return nil, err
	}
	t.life, t.stopLife = context.WithCancel(context.Background())
	if cfg.External != nil {
		if err := cfg.External.validate(); err != nil {
			return nil, err
		}
	} else {
		if t.cfg.TorPath == "" {
			t.cfg.TorPath = "tor"
		}
		plan, err := newLaunchPlan(&t.cfg, os.Getpid())
		if err != nil {
			return nil, err
		}
		t.plan = plan
	}
	g, err := t.connect(ctx)
	if err != nil {
		t.stopLife()
		return nil, err
	}
	t.gen = g
	t.wg.Add(2)
	go t.dispatch()
	// supervise re-publishes services and client authorizations (keys) on a
	// new tor: inside erase.Do (internal/erase, threat T22).
	go erase.Do(func() { t.supervise(g) })
	t.startEvents(g)
	t.startWatch(g)
	return t, nil
}

// connect brings up one generation: launch (or dial) and configure.
func (t *Tor) connect(ctx context.Context) (*generation, error) {
	var g *generation
	var err error
	if t.plan != nil {
		g, err = t.launch(ctx)
	} else {
		g, err = t.attach(ctx)
	}
	if err != nil {
		return nil, err
	}
	g.recheck = make(chan struct{}, 1)
	g.c.probe = t.plan == nil
	g.c.onShared = t.clientAuthShared
	if err := t.configure(ctx, g); err != nil {
		g.kill()
		return nil, err
	}
	return g, nil
}

func (t *Tor) attach(ctx context.Context) (*generation, error) {
	e := t.cfg.External
	c, err := dialCtrl(ctx, ctrlEndpoint{network: e.ControlNetwork, address: e.ControlAddress, password: e.Password, cookieFile: e.CookieFile})
	if err != nil {
		return nil, err
	}
	g := &generation{c: c, down: c.done, socksNet: e.SocksNetwork, socksAddr: e.SocksAddress}
	return g, nil
}

// launch writes the torrc and starts tor as our child, its output kept in a
// small buffer (never on our stdout), then connects to its control port.
func (t *Tor) launch(ctx context.Context) (*generation, error) {
	p := t.plan
	if err := os.MkdirAll(p.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: cannot create tor's data directory: %v", ErrTorUnavailable, err)
	}
	if err := os.Chmod(p.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: tor's data directory: %v", ErrTorUnavailable, err)
	}
	torrc := filepath.Join(p.dataDir, torrcName)
	if err := os.WriteFile(torrc, p.torrc(), 0o600); err != nil {
		return nil, fmt.Errorf("%w: cannot write torrc: %v", ErrTorUnavailable, err)
	}
	for _, stale := range []string{controlSocketName, socksSocketName, controlPortFileName} {
		_ = os.Remove(filepath.Join(p.dataDir, stale))
	}
	out := &tailBuffer{max: maxTorOutput}
	cmd := exec.Command(t.cfg.TorPath, "-f", torrc, "--defaults-torrc", os.DevNull, "--ignore-missing-torrc")
	cmd.Dir = p.dataDir
	cmd.Stdin = nil
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Env = []string{"HOME=" + p.dataDir, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = childAttr()
	// Forked from a thread that never exits: Pdeathsig follows the
	// forking thread, not the process (internal/spawn).
	if err := spawn.Start(cmd); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("%w: tor is not installed (install the tor package, or pass its path)", ErrTorUnavailable)
		}
		return nil, fmt.Errorf("%w: cannot start tor: %v", ErrTorUnavailable, err)
	}
	down := make(chan struct{})
	g := &generation{proc: cmd, output: out, exited: make(chan struct{}), down: down}
	go func() {
		_ = cmd.Wait()
		close(g.exited)
	}()
	ctx, cancel := context.WithTimeout(ctx, launchTimeout)
	defer cancel()
	ep, err := waitControl(ctx, p, g)
	if err == nil {
		g.c, err = dialStartingCtrl(ctx, ep, g)
	}
	if err != nil {
		g.kill()
		return nil, err
	}
	go func() {
		// One generation ends when either side goes: kill the process if
		// the control connection is lost, drop the connection if tor exits.
		select {
		case <-g.exited:
			g.c.close()
		case <-g.c.done:
			// tor owns nothing without its controller (TAKEOWNERSHIP)
			// and exits by itself; kill it if it does not.
			select {
			case <-g.exited:
			case <-time.After(shutdownWait):
				g.kill()
			}
		}
		<-g.exited
		close(down)
	}()
	if p.socksSocket != "" {
		g.socksNet, g.socksAddr = "unix", p.socksSocket
	}
	return g, nil
}

// waitControl waits for the launched tor's control socket (or port file).
func waitControl(ctx context.Context, p *launchPlan, g *generation) (ctrlEndpoint, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.controlSocket != "" {
			if fi, err := os.Stat(p.controlSocket); err == nil && fi.Mode()&os.ModeSocket != 0 {
				return ctrlEndpoint{network: "unix", address: p.controlSocket}, nil
			}
		} else if b, err := os.ReadFile(filepath.Join(p.dataDir, controlPortFileName)); err == nil && strings.HasSuffix(string(b), "\n") {
			addr, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "PORT=")
			if host, _, err := net.SplitHostPort(addr); ok && err == nil && isIPLiteral(host) {
				return ctrlEndpoint{network: "tcp", address: addr}, nil
			}
		}
		select {
		case <-g.exited:
			return ctrlEndpoint{}, fmt.Errorf("%w: tor exited at start: %s", ErrTorUnavailable, g.output.lastError())
		case <-ctx.Done():
			return ctrlEndpoint{}, fmt.Errorf("%w: tor did not open its control port: %v", ErrTorUnavailable, ctx.Err())
		case <-tick.C:
		}
	}
}

// dialStartingCtrl dials the control port of a tor that is starting. tor
// creates its control socket before it listens on it, so a dial in between is
// refused: that is retried while tor runs and ctx allows.
func dialStartingCtrl(ctx context.Context, ep ctrlEndpoint, g *generation) (*ctrl, error) {
	for {
		c, err := dialCtrl(ctx, ep)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			return c, err
		}
		select {
		case <-g.exited:
			return nil, fmt.Errorf("%w: tor exited at start: %s", ErrTorUnavailable, g.output.lastError())
		case <-ctx.Done():
			return nil, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// configure checks the version, takes ownership, subscribes to events,
// finds the SOCKS port and enables the network.
func (t *Tor) configure(ctx context.Context, g *generation) error {
	v, err := g.c.getinfo(ctx, "version")
	if err != nil {
		return err
	}
	if err := checkTorVersion(v); err != nil {
		return err
	}
	if t.plan != nil {
		if _, err := g.c.do(ctx, []byte("TAKEOWNERSHIP")); err != nil {
			return err
		}
	}
	if _, err := g.c.do(ctx, []byte(cmdSetEvents)); err != nil {
		return err
	}
	if g.socksAddr == "" {
		v, err := g.c.getinfo(ctx, "net/listeners/socks")
		if err != nil {
			return err
		}
		ls, err := torctl.ParseListeners(v)
		if err != nil || len(ls) == 0 {
			return fmt.Errorf("%w: tor reports no SOCKS listener", ErrTorUnavailable)
		}
		g.socksNet, g.socksAddr = "tcp", ls[0]
		if a, ok := strings.CutPrefix(ls[0], "unix:"); ok {
			g.socksNet, g.socksAddr = "unix", a
		}
	}
	if t.plan != nil {
		if _, err := g.c.do(ctx, []byte("SETCONF DisableNetwork=0")); err != nil {
			return err
		}
	}
	return nil
}

// cmdSetEvents is the one event subscription Sotto makes.
const cmdSetEvents = "SETEVENTS STATUS_CLIENT HS_DESC"

func (g *generation) kill() {
	if g.c != nil {
		g.c.close()
	}
	if g.proc != nil && g.proc.Process != nil {
		_ = g.proc.Process.Kill()
		<-g.exited
	}
}

// startEvents reads one generation's events and the initial bootstrap state.
func (t *Tor) startEvents(g *generation) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		ctx, cancel := context.WithTimeout(t.life, 10*time.Second)
		if v, err := g.c.getinfo(ctx, "status/bootstrap-phase"); err == nil {
			if b, err := torctl.ParseBootstrap(v); err == nil {
				t.onBootstrap(g, b)
			}
		}
		cancel()
		for {
			select {
			case ev := <-g.c.events:
				t.onEvent(g, ev)
			case <-g.c.done:
				return
			}
		}
	}()
}

func (t *Tor) onEvent(g *generation, ev torctl.Event) {
	switch ev.Type {
	case "STATUS_CLIENT":
		if b, err := torctl.ParseBootstrap(ev.Rest); err == nil {
			t.onBootstrap(g, b)
		} else if torctl.CircuitEstablished(ev.Rest) {
			t.emit(Event{Kind: NetworkUp})
		}
	case "HS_DESC":
		d, err := torctl.ParseHSDesc(ev.Rest)
		if err != nil {
			return
		}
		if d.Action == "RECEIVED" || d.Action == "FAILED" {
			t.mu.Lock()
			for _, w := range t.descWait[d.Address] {
				select {
				case w <- d.Action:
				default:
				}
			}
			t.mu.Unlock()
			return
		}
		if d.Action != "UPLOADED" {
			return
		}
		t.mu.Lock()
		s := t.services[d.Address]
		t.mu.Unlock()
		if s != nil && s.setOnline(true) {
			t.emit(Event{Kind: ServiceOnline, Service: s.addr})
		}
	}
}

func (t *Tor) onBootstrap(g *generation, b torctl.Bootstrap) {
	t.mu.Lock()
	if t.gen != g && t.gen != nil {
		t.mu.Unlock()
		return
	}
	changed := b.Progress != t.progress
	if b.Progress < t.progress && t.plan == nil {
		// An external tor whose bootstrap went back: restarted or
		// reconfigured behind a filter that kept our connection (see
		// watch). Not ready until it is back at 100 %.
		select {
		case <-t.ready:
			t.ready = make(chan struct{})
		default:
		}
		g.check()
	}
	t.progress = b.Progress
	nowReady := false
	if b.Progress == 100 {
		select {
		case <-t.ready:
		default:
			close(t.ready)
			nowReady = true
		}
	}
	t.mu.Unlock()
	if changed || b.Severe {
		t.emit(Event{Kind: Bootstrap, Progress: b.Progress, Summary: truncate(b.Summary, 200)})
	}
	if nowReady {
		t.emit(Event{Kind: Ready, Progress: 100})
		g.check()
	}
}

func (t *Tor) emit(e Event) {
	select {
	case t.evq <- e:
	case <-t.closing:
	}
}

func (t *Tor) dispatch() {
	defer t.wg.Done()
	for {
		select {
		case e := <-t.evq:
			if t.cfg.Events != nil {
				t.cfg.Events(e)
			}
		case <-t.closing:
			return
		}
	}
}

// supervise notices tor's death and brings it back with backoff, then
// restores client authorizations and services. It never falls back to
// anything but tor.
func (t *Tor) supervise(g *generation) {
	defer t.wg.Done()
	for {
		select {
		case <-g.down:
		case <-t.closing:
			return
		}
		t.mu.Lock()
		t.progress = 0
		t.ready = make(chan struct{})
		svcs := t.serviceList()
		t.mu.Unlock()
		why := fmt.Errorf("%w: tor stopped", ErrTorUnavailable)
		if g.output != nil {
			if l := g.output.lastError(); l != "" {
				why = fmt.Errorf("%w: tor stopped: %s", ErrTorUnavailable, l)
			}
		}
		t.emit(Event{Kind: Died, Err: why})
		for _, s := range svcs {
			if s.setOnline(false) {
				t.emit(Event{Kind: ServiceOffline, Service: s.addr})
			}
		}
		backoff := restartBackoffMin
		for {
			select {
			case <-time.After(backoff):
			case <-t.closing:
				return
			}
			ctx, cancel := context.WithTimeout(t.life, launchTimeout)
			ng, err := t.connect(ctx)
			cancel()
			if err == nil {
				g = ng
				break
			}
			if errors.Is(err, ErrTorTooOld) || errors.Is(err, ErrBadConfig) {
				t.emit(Event{Kind: Died, Err: err})
			}
			backoff = min(backoff*2, restartBackoffMax)
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			g.kill()
			return
		}
		t.gen = g
		t.mu.Unlock()
		// Restarted comes before this generation's Bootstrap and Ready
		// events, so a UI showing "restarting" ends on "ready".
		t.emit(Event{Kind: Restarted})
		t.startEvents(g)
		t.startWatch(g)
		t.restore(g)
	}
}

// restore re-registers client authorizations and re-publishes services on a
// new generation. A service that cannot be re-published gets a
// ServiceOffline event with the error; a client authorization that failed
// is registered again by the next Dial that needs it.
func (t *Tor) restore(g *generation) {
	ctx, cancel := context.WithTimeout(t.life, 30*time.Second)
	defer cancel()
	t.pubMu.Lock()
	defer t.pubMu.Unlock()
	t.mu.Lock()
	svcs := t.serviceList()
	t.mu.Unlock()
	t.republish(ctx, g, svcs)
}

// republish registers every client authorization again and publishes svcs
// on g. The caller holds pubMu.
func (t *Tor) republish(ctx context.Context, g *generation, svcs []*Service) {
	t.mu.Lock()
	auths := make(map[string]KeyFunc, len(t.clientAuth))
	for a, k := range t.clientAuth {
		auths[a] = k
	}
	t.mu.Unlock()
	for addr, k := range auths {
		_ = addClientAuth(ctx, g.c, addr, k)
	}
	for _, s := range svcs {
		if err := s.add(ctx, g.c); err != nil && !errors.Is(err, ErrClosed) {
			t.emit(Event{Kind: ServiceOffline, Service: s.addr, Err: err})
		}
	}
}

func (t *Tor) serviceList() []*Service {
	out := make([]*Service, 0, len(t.services))
	for _, s := range t.services {
		out = append(out, s)
	}
	return out
}

// current returns the live generation, or ErrTorUnavailable.
func (t *Tor) current() (*generation, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	g := t.gen
	select {
	case <-g.down:
		return nil, fmt.Errorf("%w: tor is restarting", ErrTorUnavailable)
	default:
	}
	return g, nil
}

// WaitReady waits until tor's bootstrap reaches 100 %.
func (t *Tor) WaitReady(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context", ErrBadConfig)
	}
	for {
		t.mu.Lock()
		ready, closed := t.ready, t.closed
		t.mu.Unlock()
		if closed {
			return ErrClosed
		}
		select {
		case <-ready:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("%w: bootstrap not finished: %v", ErrTorUnavailable, ctx.Err())
		case <-t.closing:
			return ErrClosed
		}
	}
}

// Progress returns the last bootstrap percentage.
func (t *Tor) Progress() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.progress
}

// Close withdraws every service, forgets client authorizations, and stops a
// launched tor (an external one keeps running). It waits for Tor's
// goroutines.
func (t *Tor) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	svcs := t.serviceList()
	auths := make([]string, 0, len(t.clientAuth))
	for a := range t.clientAuth {
		if !t.sharedAuth[a] {
			auths = append(auths, a)
		}
	}
	g := t.gen
	t.mu.Unlock()
	for _, s := range svcs {
		_ = s.Close()
	}
	if t.plan == nil {
		// An external tor lives on: remove what we registered in it.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for _, a := range auths {
			_, _ = g.c.do(ctx, []byte(cmdClientAuthRemove(a)))
		}
		cancel()
	}
	close(t.closing)
	t.stopLife()
	g.c.close()
	if g.proc != nil {
		select {
		case <-g.exited:
		case <-time.After(shutdownWait):
			g.kill()
		}
	}
	t.wg.Wait()
	return nil
}

// tailBuffer keeps the last max bytes written to it (tor's stdout).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = append([]byte(nil), w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

// lastError returns tor's last [err] or [warn] line, cleaned and shortened.
func (w *tailBuffer) lastError() string {
	if w == nil {
		return ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Tor's last error is often "Reading config failed--see warnings
	// above": give the warning before it too.
	var msgs []string
	lines := strings.Split(string(w.b), "\n")
	for i := len(lines) - 1; i >= 0 && len(msgs) < 2; i-- {
		for _, sev := range []string{"[err] ", "[warn] "} {
			if _, msg, ok := strings.Cut(lines[i], sev); ok && !strings.Contains(msg, "running Tor as root") {
				msgs = append([]string{truncate(msg, 200)}, msgs...)
			}
		}
	}
	if len(msgs) == 0 {
		return "no message (run with debug to see tor's log)"
	}
	return strings.Join(msgs, "; ")
}

// pid returns the launched tor's process id (tests).
func (t *Tor) pid() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen == nil || t.gen.proc == nil || t.gen.proc.Process == nil {
		return 0
	}
	return t.gen.proc.Process.Pid
}
