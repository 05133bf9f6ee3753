package sotto

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sottochat/sotto/internal/contactcode"
	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/internal/record"
	"github.com/sottochat/sotto/internal/suggest"
	"github.com/sottochat/sotto/onion"
	"github.com/sottochat/sotto/vault"
)

// timing holds the protocol's timeouts; tests shorten them.
type timing struct {
	Keepalive      time.Duration // send a keep-alive after this long without sending
	Idle           time.Duration // drop a connection after this long without receiving
	Handshake      time.Duration // the whole handshake, from dial to hello
	Frame          time.Duration // a frame, once its first byte arrived
	BackoffMin     time.Duration // first retry delay of a failed dial
	BackoffMax     time.Duration // largest retry delay
	OfflineMin     time.Duration // first delay once a contact is offline (dialgate.go); 0: BackoffMax
	OfflineMax     time.Duration // largest such delay while tor finds no descriptor for the contact
	UnreachableMax time.Duration // largest such delay while it finds one; 0: OfflineMax
	WakeAllGap     time.Duration // least time between two wakes of every dialer of an identity (wakeDialersLocked)
}

var defaultTiming = timing{
	Keepalive:  60 * time.Second,
	Idle:       180 * time.Second,
	Handshake:  90 * time.Second,
	Frame:      60 * time.Second,
	BackoffMin: 5 * time.Second,
	BackoffMax: 10 * time.Minute,
	// An offline contact dials us when it comes online, and we dial it
	// when we do: these re-dials are a safety net (dialgate.go). Their
	// waits are drawn from [d/2, d]: the first 15-30 min after a contact
	// is found offline, then 30-60 min, 1-2 h, and 2-4 h from then on
	// while it has no descriptor (tor re-asks an HSDir for a missing one
	// at most every 15 min anyway); 30-60 min while it has one.
	OfflineMin:     30 * time.Minute,
	OfflineMax:     4 * time.Hour,
	UnreachableMax: time.Hour,
	// The two signs of being reachable again (tor built circuits again,
	// our descriptor re-published) come seconds to a minute apart: one
	// wake of every dialer serves both.
	WakeAllGap: time.Minute,
}

// engineConfig is everything the engine is built from.
type engineConfig struct {
	disk      store // the vault; nil means memory only
	net       network
	suite     suite
	newSecret func([]byte) (secretBox, error) // takes and wipes its argument
	newLocked func(n int) (lockedBuf, error)  // a writable locked buffer; nil: states stay in enclaves (livestate.go)
	now       func() time.Time
	rand      io.Reader
	timing    timing
	logf      func(format string, args ...any)
	closeFn   func() error // closes what Open started (tor, vault)
	torStatus func() TorStatus
	pass      func(*vault.Passphrase) error // checks the profile's passphrase
	hardening error                         // what vault.Harden could not do
}

// Engine is an open profile: its identities, contacts and conversations, the
// onion services and connections that carry them, and the event stream.
// All methods are safe for concurrent use.
type Engine struct {
	cfg  engineConfig
	mem  *memStore // ephemeral identities and no-history conversations
	ev   *eventQueue
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	started bool                 // the network is up: identities go online as they are created
	ids     map[string]*identity // by name
	expiry  expiryHeap
	tick    chan struct{} // wakes the expiry goroutine
	tor     TorStatus

	maxUnread int // bound on a conversation's unread incoming messages (maxUnread; tests lower it)

	mbt mbTiming // delivery through mailboxes (mailbox.go; zero: the defaults, tests shorten them)

	files *fileEngine // file transfers (files.go); guarded by mu

	probe atomic.Pointer[probe] // benchmarks only (probe.go)

	dials *dialGate // dials waiting on tor at once (dialgate.go)
}

type identity struct {
	key       string // storage key: random, reveals nothing
	name      string
	ephemeral bool
	open      bool
	pub       ed25519.PublicKey
	onion     string
	authPub   [32]byte
	keys      secretBox // Ed25519 seed (32) || x25519 client-auth private key (32)
	st        store
	svc       service
	online    bool
	contacts  map[string]*contact // by petname
	byPub     map[string]*contact // by string(public key)
	requests  map[string]*request // by request ID
	reqTimes  []time.Time         // recent contact requests, for the rate limit
	inflight  int                 // inbound connections still in their handshake
	wg        sync.WaitGroup      // its accept loop, inbound connections and dialers
	ctx       context.Context
	cancel    context.CancelFunc
	removed   bool
	mb        *ownMailbox // its mailbox (mailbox.go); nil: none paired
	wokeAll   time.Time   // when its dialers were last all started or woken (wakeDialersLocked)
}

func (id *identity) local() *localKeys {
	return &localKeys{Pub: id.pub, Seed: id.seed}
}

// seed opens the identity's Ed25519 seed for use. use runs inside
// erase.Do: whatever it derives from the seed (SHA-512(seed) for tor's
// expanded key or the handshake's X25519 key, library key structs) is
// erased from the stack when it returns and zeroed on the heap once freed,
// even when the calling goroutine lives on.
func (id *identity) seed(use func(seed *[32]byte) error) (err error) {
	erase.Do(func() {
		err = id.keys.Open(func(b []byte) error {
			var s [32]byte
			copy(s[:], b[:32])
			defer clear(s[:])
			return use(&s)
		})
	})
	return err
}

// authPriv opens the identity's x25519 client-auth key for use, inside
// erase.Do as seed does.
func (id *identity) authPriv(use func(priv *[32]byte) error) (err error) {
	erase.Do(func() {
		err = id.keys.Open(func(b []byte) error {
			var s [32]byte
			copy(s[:], b[32:64])
			defer clear(s[:])
			return use(&s)
		})
	})
	return err
}

func (id *identity) info() IdentityInfo {
	return IdentityInfo{Name: id.name, Onion: id.onion, Ephemeral: id.ephemeral, Open: id.open, Online: id.online}
}

// newEngine builds an engine from its parts and loads the stored identities.
func newEngine(cfg engineConfig) (*Engine, error) {
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.rand == nil {
		cfg.rand = rand.Reader
	}
	if cfg.logf == nil {
		cfg.logf = func(string, ...any) {}
	}
	if cfg.timing == (timing{}) {
		cfg.timing = defaultTiming
	}
	e := &Engine{
		cfg:  cfg,
		mem:  newMemStore(),
		ev:   newEventQueue(maxQueuedEvents),
		ids:  map[string]*identity{},
		tick: make(chan struct{}, 1),

		maxUnread: maxUnread,
		dials:     newDialGate(maxDialsAtOnce, maxUrgentExtra, maxDeliverExtra),
	}
	if cfg.disk == nil {
		e.cfg.disk = e.mem
	}
	e.ctx, e.stop = context.WithCancel(context.Background())
	// Loading decodes identity keys, contacts and conversations: inside
	// erase.Do, and what it leaves unreachable is zeroed at once.
	var err error
	erase.Do(func() { err = e.load() })
	erase.Collect()
	if err != nil {
		e.wipeMemory()
		return nil, err
	}
	if cfg.hardening != nil {
		e.ev.emit(ErrorEvent{Err: fmt.Errorf("%w: %v", ErrHardening, cfg.hardening)})
	}
	e.wg.Add(2)
	// Every goroutine of the engine runs inside erase.Do (secret.go).
	go func() { defer e.wg.Done(); erase.Do(func() { e.ev.run(e.ctx.Done()) }) }()
	go func() { defer e.wg.Done(); erase.Do(e.expiryLoop) }()
	return e, nil
}

// start publishes every identity and starts its contacts' dialers.
func (e *Engine) start() {
	if e.cfg.net == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.started = true
	for _, id := range e.ids {
		e.startIdentityLocked(id)
	}
}

// Events returns the event stream. It is closed by Close.
func (e *Engine) Events() <-chan Event { return e.ev.out }

// TorStatus returns the tor daemon's state.
func (e *Engine) TorStatus() TorStatus {
	if e.cfg.torStatus != nil {
		return e.cfg.torStatus()
	}
	if e.cfg.net == nil {
		return TorStatus{State: TorDown, Err: "offline"}
	}
	return TorStatus{State: TorReady, Percent: 100}
}

// Close stops every connection, onion service and goroutine, wipes the keys
// in memory, closes the vault and the event channel. It waits for every
// goroutine the engine started.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	e.closed = true
	ids := make([]*identity, 0, len(e.ids))
	for _, id := range e.ids {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	for _, id := range ids {
		e.stopIdentity(id)
	}
	e.stop()
	e.wg.Wait()
	e.mu.Lock()
	for _, id := range ids {
		for _, c := range id.contacts {
			e.flushStateLocked(c)
		}
	}
	flushErr := flushStore(e.cfg.disk)
	e.wipeMemory()
	e.mu.Unlock()
	err := flushErr
	if e.cfg.closeFn != nil {
		err = errors.Join(err, e.cfg.closeFn())
	}
	return err
}

func (e *Engine) wipeMemory() {
	for _, id := range e.ids {
		e.wipeIdentityLocked(id)
	}
	e.ids = map[string]*identity{}
	e.mem.wipe()
}

func (e *Engine) wipeIdentityLocked(id *identity) {
	for _, c := range id.contacts {
		c.wipe()
	}
	if id.keys != nil {
		id.keys.Destroy()
	}
}

func (e *Engine) checkOpen() error {
	if e.closed {
		return ErrClosed
	}
	return nil
}

func (e *Engine) randomID() MessageID {
	var id MessageID
	if _, err := io.ReadFull(e.cfg.rand, id[:]); err != nil {
		panic("sotto: the system's random source failed")
	}
	return id
}

func (e *Engine) randomKey() string {
	var b [8]byte
	if _, err := io.ReadFull(e.cfg.rand, b[:]); err != nil {
		panic("sotto: the system's random source failed")
	}
	return hex.EncodeToString(b[:])
}

// ---- loading ----

func (e *Engine) load() error {
	keys, err := e.cfg.disk.Keys(kindIdentity)
	if err != nil {
		return fmt.Errorf("sotto: reading identities: %w", err)
	}
	for _, k := range keys {
		b, err := e.cfg.disk.Get(kindIdentity, k)
		if err != nil {
			return fmt.Errorf("sotto: reading an identity: %w", err)
		}
		id, err := e.identityFromRecord(k, b, e.cfg.disk) // wipes b
		if err != nil {
			return err
		}
		if err := e.loadContacts(id); err != nil {
			return err
		}
		if err := e.loadRequests(id); err != nil {
			return err
		}
		if err := e.loadMailboxLocked(id); err != nil {
			return err
		}
		e.ids[id.name] = id
	}
	return e.loadFiles()
}

// identityFromRecord builds an identity from its stored record (the binary
// layout of record.ParseIdentity) and wipes b, whatever happens: the keys go
// from b straight into a secretBox, with no decoded copy.
func (e *Engine) identityFromRecord(key string, b []byte, st store) (*identity, error) {
	defer clear(b)
	name, open, keys, err := record.ParseIdentity(b)
	if err != nil {
		return nil, fmt.Errorf("sotto: reading an identity: %w", err)
	}
	return e.newIdentityFromKeys(key, name, open, false, keys[:32], keys[32:], st)
}

// newIdentityFromKeys builds an identity; seed and auth are copied into a
// secretBox and the caller wipes them. It runs inside erase.Do:
// crypto/ed25519 keeps the seed and SHA-512(seed) in a private key struct,
// and crypto/ecdh the client-auth key in its own, both on the heap where
// only the runtime can zero them.
func (e *Engine) newIdentityFromKeys(key, name string, open, ephemeral bool, seed, auth []byte, st store) (id *identity, err error) {
	erase.Do(func() { id, err = e.newIdentityFromKeysLocked(key, name, open, ephemeral, seed, auth, st) })
	return id, err
}

func (e *Engine) newIdentityFromKeysLocked(key, name string, open, ephemeral bool, seed, auth []byte, st store) (*identity, error) {
	priv := ed25519.NewKeyFromSeed(seed)
	pub := append(ed25519.PublicKey(nil), priv.Public().(ed25519.PublicKey)...)
	clear(priv)
	ap, err := clientAuthPublic(auth)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 64)
	copy(buf, seed)
	copy(buf[32:], auth)
	box, err := e.cfg.newSecret(buf) // wipes buf
	if err != nil {
		return nil, fmt.Errorf("sotto: keeping keys in locked memory: %w", err)
	}
	id := &identity{
		key: key, name: name, open: open, ephemeral: ephemeral,
		pub: pub, onion: onion.AddressFromPublicKey(pub), keys: box, st: st,
		contacts: map[string]*contact{}, byPub: map[string]*contact{}, requests: map[string]*request{},
	}
	id.authPub = ap
	return id, nil
}

// clientAuthPublic returns the x25519 public key of a client-auth private
// key (crypto/ecdh, as everywhere else in Sotto).
func clientAuthPublic(priv []byte) ([32]byte, error) {
	var pub [32]byte
	k, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return pub, errors.New("sotto: bad client-auth key")
	}
	copy(pub[:], k.PublicKey().Bytes())
	return pub, nil
}

// ---- identities ----

const (
	kindIdentity = "identity"
	kindContact  = "contact"
	kindRatchet  = "ratchet"
	kindRequest  = "request"
)

// Identities lists the local identities, sorted by name.
func (e *Engine) Identities() []IdentityInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]IdentityInfo, 0, len(e.ids))
	for _, id := range e.ids {
		out = append(out, id.info())
	}
	sortBy(out, func(a IdentityInfo) string { return a.Name })
	return out
}

// IdentityOptions are the choices made when an identity is created.
type IdentityOptions struct {
	Ephemeral bool // memory only: never written to disk, gone at Close
	Open      bool // open mode: accepts contact requests from strangers (a tip line)
}

// NewIdentity creates an identity with fresh keys and, unless the engine is
// offline, puts its onion service online.
func (e *Engine) NewIdentity(ctx context.Context, name string, o IdentityOptions) (IdentityInfo, error) {
	if ctx == nil {
		return IdentityInfo{}, ErrNilContext
	}
	if !record.ValidName(name) {
		return IdentityInfo{}, fmt.Errorf("%w: an identity name is 1 to %d printable characters", ErrBadName, record.MaxName)
	}
	seed := make([]byte, 32)
	auth := make([]byte, 32)
	defer clear(seed)
	defer clear(auth)
	if _, err := io.ReadFull(e.cfg.rand, seed); err != nil {
		return IdentityInfo{}, err
	}
	if _, err := io.ReadFull(e.cfg.rand, auth); err != nil {
		return IdentityInfo{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.checkOpen(); err != nil {
		return IdentityInfo{}, err
	}
	if _, ok := e.ids[name]; ok {
		return IdentityInfo{}, ErrIdentityExists
	}
	st := e.cfg.disk
	if o.Ephemeral {
		st = e.mem
	}
	id, err := e.newIdentityFromKeys(e.randomKey(), name, o.Open, o.Ephemeral, seed, auth, st)
	if err != nil {
		return IdentityInfo{}, err
	}
	if !o.Ephemeral {
		b, err := record.MarshalIdentity(name, o.Open, seed, auth)
		if err == nil {
			err = st.Put(kindIdentity, id.key, b)
			clear(b)
		}
		if err != nil {
			id.keys.Destroy()
			return IdentityInfo{}, fmt.Errorf("sotto: saving the identity: %w", err)
		}
	}
	e.ids[name] = id
	if e.started {
		e.startIdentityLocked(id)
	}
	return id.info(), nil
}

// BurnIdentity destroys an identity: its onion service goes offline, its
// connections close, and its keys, contacts, conversations, outbox and
// requests are deleted from memory and the vault.
func (e *Engine) BurnIdentity(ctx context.Context, name string) error {
	if ctx == nil {
		return ErrNilContext
	}
	e.mu.Lock()
	if err := e.checkOpen(); err != nil {
		e.mu.Unlock()
		return err
	}
	id, ok := e.ids[name]
	if !ok {
		e.mu.Unlock()
		return ErrUnknownIdentity
	}
	delete(e.ids, name)
	var onions []string
	for _, c := range id.contacts {
		onions = append(onions, c.onion)
	}
	e.mu.Unlock()
	e.stopIdentity(id)
	if e.cfg.net != nil {
		for _, o := range onions {
			_ = e.cfg.net.Deauthorize(ctx, o) // our client-auth key for it leaves tor's memory
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, c := range id.contacts {
		keep(e.deleteContactDataLocked(c))
	}
	for rid := range id.requests {
		keep(id.st.Delete(kindRequest, id.key+"."+rid))
	}
	keep(e.burnMailboxLocked(ctx, id)) // its mailbox (mailbox.go)
	keep(id.st.Delete(kindIdentity, id.key))
	e.wipeIdentityLocked(id)
	e.ev.emit(IdentityEvent{Identity: name, Onion: id.onion, Online: false})
	if firstErr != nil {
		return fmt.Errorf("sotto: burning the identity: %w", firstErr)
	}
	return nil
}

// Card returns the identity's contact code (one line; see CheckCode).
func (e *Engine) Card(identity string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id, ok := e.ids[identity]
	if !ok {
		return "", ErrUnknownIdentity
	}
	if tip, ok := e.tipCardLocked(id); ok {
		return tip, nil // an open identity with a mailbox intake (tipline.go)
	}
	c := contactcode.Code{ID: id.pub, Auth: id.authPub}
	return c.String(), nil
}

func (e *Engine) identityLocked(name string) (*identity, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	id, ok := e.ids[name]
	if !ok {
		return nil, ErrUnknownIdentity
	}
	return id, nil
}

func (e *Engine) contactLocked(identity, petname string) (*identity, *contact, error) {
	id, err := e.identityLocked(identity)
	if err != nil {
		return nil, nil, err
	}
	c, ok := id.contacts[petname]
	if !ok {
		return id, nil, unknownContact(id, petname)
	}
	return id, c, nil
}

// unknownContact is the error for a petname id has no contact by, with the
// contact it probably meant, if one is obvious (internal/suggest). Only the
// message suggests: the caller fails, nothing is done with that contact.
func unknownContact(id *identity, petname string) error {
	names := make([]string, 0, len(id.contacts))
	for name, c := range id.contacts {
		if !c.removed {
			names = append(names, name)
		}
	}
	s, _ := suggest.Name(petname, names)
	return &UnknownContactError{Name: petname, Suggestion: s}
}

func sortBy[T any](s []T, key func(T) string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && strings.Compare(key(s[j-1]), key(s[j])) > 0; j-- {
			s[j-1], s[j] = s[j], s[j-1]
		}
	}
}
