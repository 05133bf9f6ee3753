package mailbox

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/curve25519"

	"github.com/sottochat/sotto/vault"
)

// The queue store: every service, relation, pairing code and blob the
// mailbox keeps, in its vault (docs/PROTOCOL.md §3.3). Everything in memory
// is an index (IDs, sizes, times); blobs are read from the vault when
// collected. Each change is durable in the vault before the call returns,
// so a reply that says "stored" or "deleted" survives a crash at any
// instant.

// Vault kinds and names.
const (
	kindConfig = "mb.config"
	kindAdmin  = "mb.admin"
	kindCode   = "mb.code"
	kindSvc    = "mb.svc"
	kindRel    = "mb.rel"
	keySingle  = "1"
)

// Bounds on what pairing and strangers can make the mailbox hold.
const (
	// CodeLifetime is how long a pairing code can be used.
	CodeLifetime = 24 * time.Hour
	// MaxCodes bounds the pairing codes outstanding at once.
	MaxCodes = 8
	// MaxServices bounds the identities one mailbox serves.
	MaxServices = 32
	// MaxRelations bounds the relations of one service: tor allows 200
	// client-authorization keys per service, and the owner has one.
	MaxRelations = 199
	// IntakeRateN new sealed requests per IntakeRateEvery, per intake
	// service, and at most IntakePending waiting (as Part 2 §2.7).
	IntakeRateN     = 10
	IntakeRateEvery = 10 * time.Minute
	IntakePending   = 100
)

// expiredMark is the first half of an item ID that reports expired blobs;
// the second half is their count.
var expiredMark = [4]byte{0xff, 0xff, 0xff, 0xff}

type itemMeta struct {
	id       [ItemLen]byte
	size     int
	at       int64 // deposited, Unix seconds
	deleteBy int64 // 0: none
}

type queue struct {
	log   string
	items []itemMeta
	bytes int64
}

type service struct {
	id        string
	key       *vault.Secret // Ed25519 seed
	pub       ed25519.PublicKey
	intake    *vault.Secret // Ed25519 seed of the intake service; nil: none
	intakePub ed25519.PublicKey
	rec       svcRec // seeds cleared
	rels      map[[RelLen]byte]*relation
	intakes   []time.Time // recent intakes, for the rate limit
	gone      bool
}

type relation struct {
	s       *service
	id      [RelLen]byte
	rec     relRec
	in, out queue // in: contact to owner; out: owner to contact

	bucket float64   // deposits allowed now (a token bucket)
	last   time.Time // when bucket was last refilled
}

func (r *relation) key() string { return r.s.id + "." + hex.EncodeToString(r.id[:]) }

type code struct {
	key string
	rec codeRec
}

type store struct {
	v    *vault.Vault
	now  func() time.Time
	rand io.Reader
	cfg  Config

	mu       sync.Mutex
	admin    *vault.Secret
	adminPub ed25519.PublicKey
	codes    map[string]*code
	svcs     map[string]*service
	byOwner  map[[KeyLen]byte]*service
	byToken  map[[KeyLen]byte]*relation
	items    int
	bytes    int64
}

func hashToken(t *[TokenLen]byte) [KeyLen]byte { return sha256.Sum256(t[:]) }

// HashToken is what a relation is added with and an intake names: the
// SHA-256 of the token that will use it. The mailbox keeps only hashes.
func HashToken(t *[TokenLen]byte) [KeyLen]byte { return hashToken(t) }

// openStore loads the index from v.
func openStore(v *vault.Vault, now func() time.Time, rnd io.Reader) (*store, error) {
	s := &store{v: v, now: now, rand: rnd, codes: map[string]*code{}, svcs: map[string]*service{},
		byOwner: map[[KeyLen]byte]*service{}, byToken: map[[KeyLen]byte]*relation{}}
	b, err := v.Get(kindConfig, keySingle)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, ErrNotMailbox
	}
	if err != nil {
		return nil, err
	}
	if s.cfg, err = parseConfig(b); err != nil {
		return nil, err
	}
	seed, err := v.Get(kindAdmin, keySingle)
	if err != nil || len(seed) != 32 {
		return nil, errDamaged
	}
	s.adminPub = pubOf(seed)
	if s.admin, err = vault.NewSecret(seed); err != nil {
		return nil, err
	}
	if err := s.load(); err != nil {
		s.wipe()
		return nil, err
	}
	return s, nil
}

func pubOf(seed []byte) ed25519.PublicKey {
	priv := ed25519.NewKeyFromSeed(seed)
	pub := append(ed25519.PublicKey(nil), priv[32:]...)
	clear(priv)
	return pub
}

func (s *store) load() error {
	keys, err := s.v.Keys(kindCode)
	if err != nil {
		return err
	}
	for _, k := range keys {
		b, err := s.v.Get(kindCode, k)
		if err != nil {
			return err
		}
		r, err := parseCodeRec(b)
		if err != nil {
			return fmt.Errorf("%w (a pairing code)", err)
		}
		s.codes[k] = &code{key: k, rec: *r}
	}
	keys, err = s.v.Keys(kindSvc)
	if err != nil {
		return err
	}
	for _, k := range keys {
		b, err := s.v.Get(kindSvc, k)
		if err != nil {
			return err
		}
		r, err := parseSvc(b)
		clear(b)
		if err != nil {
			return fmt.Errorf("%w (a service)", err)
		}
		sv, err := s.newService(k, r)
		r.wipe()
		if err != nil {
			return err
		}
		s.svcs[k] = sv
		s.byOwner[sv.rec.OwnerHash] = sv
	}
	keys, err = s.v.Keys(kindRel)
	if err != nil {
		return err
	}
	for _, k := range keys {
		svcID, relHex, ok := strings.Cut(k, ".")
		sv := s.svcs[svcID]
		raw, herr := hex.DecodeString(relHex)
		if !ok || sv == nil || herr != nil || len(raw) != RelLen {
			return fmt.Errorf("%w (a relation of no service)", errDamaged)
		}
		b, err := s.v.Get(kindRel, k)
		if err != nil {
			return err
		}
		rr, err := parseRel(b)
		if err != nil {
			return fmt.Errorf("%w (a relation)", err)
		}
		r := s.newRelation(sv, [RelLen]byte(raw), rr)
		for _, q := range []*queue{&r.in, &r.out} {
			if err := s.loadQueue(q); err != nil {
				return err
			}
		}
		sv.rels[r.id] = r
		s.byToken[r.rec.TokenHash] = r
	}
	return nil
}

func (s *store) loadQueue(q *queue) error {
	es, err := s.v.Entries(q.log)
	if err != nil {
		return err
	}
	for _, e := range es {
		raw, err := hex.DecodeString(e.ID)
		if err != nil || len(raw) != ItemLen {
			return fmt.Errorf("%w (an item id)", errDamaged)
		}
		at, del, blob, err := parseItem(e.Value)
		if err != nil {
			return err
		}
		q.items = append(q.items, itemMeta{id: [ItemLen]byte(raw), size: len(blob), at: at, deleteBy: del})
		q.bytes += int64(len(blob))
		s.items++
		s.bytes += int64(len(blob))
	}
	return nil
}

// newService builds a service from its record; it copies the seeds into
// enclaves and leaves r's seeds for the caller to wipe.
func (s *store) newService(id string, r *svcRec) (*service, error) {
	sv := &service{id: id, rels: map[[RelLen]byte]*relation{}, rec: *r}
	clear(sv.rec.Seed[:])
	clear(sv.rec.Intake[:])
	sv.pub = pubOf(r.Seed[:])
	var err error
	if sv.key, err = vault.NewSecret(bytes.Clone(r.Seed[:])); err != nil {
		return nil, err
	}
	if r.Intake != ([32]byte{}) {
		sv.intakePub = pubOf(r.Intake[:])
		if sv.intake, err = vault.NewSecret(bytes.Clone(r.Intake[:])); err != nil {
			sv.key.Destroy()
			return nil, err
		}
	}
	return sv, nil
}

func (s *store) newRelation(sv *service, id [RelLen]byte, rr *relRec) *relation {
	r := &relation{s: sv, id: id, rec: *rr}
	base := "q." + r.key()
	r.in.log, r.out.log = base+".i", base+".o"
	return r
}

func (s *store) wipe() {
	if s.admin != nil {
		s.admin.Destroy()
	}
	for _, sv := range s.svcs {
		sv.destroy()
	}
}

func (sv *service) destroy() {
	if sv.key != nil {
		sv.key.Destroy()
	}
	if sv.intake != nil {
		sv.intake.Destroy()
	}
}

// ---- pairing ----

// newCode makes a one-time pairing code: a fresh client-auth key pair for
// the admin service (the mailbox keeps only the public half) and a secret
// (the mailbox keeps only its hash).
func (s *store) newCode() (*PairingCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropStaleCodesLocked()
	unused := 0
	for _, c := range s.codes {
		if !c.rec.Used {
			unused++
		}
	}
	if unused >= MaxCodes {
		return nil, ErrTooManyCodes
	}
	c := &PairingCode{Admin: s.adminPub}
	if _, err := io.ReadFull(s.rand, c.Auth[:]); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(s.rand, c.Secret[:]); err != nil {
		return nil, err
	}
	pub, err := curve25519.X25519(c.Auth[:], curve25519.Basepoint)
	if err != nil {
		return nil, err
	}
	cr := codeRec{SecretHash: sha256.Sum256(c.Secret[:]), Expires: s.now().Add(CodeLifetime).Unix()}
	copy(cr.AuthPub[:], pub)
	key := hex.EncodeToString(cr.SecretHash[:8])
	if err := s.v.Put(kindCode, key, cr.marshal()); err != nil {
		c.Wipe()
		return nil, err
	}
	s.codes[key] = &code{key: key, rec: cr}
	return c, nil
}

func (s *store) dropStaleCodesLocked() {
	now := s.now().Unix()
	for k, c := range s.codes {
		if c.rec.Expires <= now {
			if s.v.Delete(kindCode, k) == nil {
				delete(s.codes, k)
			}
		}
	}
}

// adminKeys lists the client-auth keys of the codes not yet expired (used
// ones too: their owner may retry).
func (s *store) adminKeys() [][32]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	var out [][32]byte
	for _, c := range s.codes {
		if c.rec.Expires > now {
			out = append(out, c.rec.AuthPub)
		}
	}
	return out
}

// pair creates the service of a new identity. It is idempotent: the same
// secret and owner token again (a reply that was lost) return the same
// service; any other use of a used, expired or unknown code is CodeDenied.
func (s *store) pair(secret *[SecretLen]byte, ownerAuth *[32]byte, ownerToken *[TokenLen]byte, intake bool) (*service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := sha256.Sum256(secret[:])
	oh := hashToken(ownerToken)
	key := hex.EncodeToString(sh[:8])
	c := s.codes[key]
	if c == nil || c.rec.SecretHash != sh || c.rec.Expires <= s.now().Unix() {
		return nil, refuse(CodeDenied)
	}
	if sv := s.byOwner[oh]; sv != nil {
		// A retry finds its service (even if a crash came before the code
		// was marked used); an owner token cannot be used twice.
		if sv.rec.CodeHash == sh && sv.rec.OwnerAuth == *ownerAuth {
			return sv, s.markUsedLocked(c, oh)
		}
		return nil, refuse(CodeDenied)
	}
	if c.rec.Used {
		return nil, refuse(CodeDenied)
	}
	if len(s.svcs) >= MaxServices {
		return nil, refuse(CodeFull)
	}
	r := &svcRec{OwnerAuth: *ownerAuth, OwnerHash: oh, CodeHash: sh, Created: s.now().Unix()}
	defer r.wipe()
	if _, err := io.ReadFull(s.rand, r.Seed[:]); err != nil {
		return nil, err
	}
	if intake {
		if _, err := io.ReadFull(s.rand, r.Intake[:]); err != nil {
			return nil, err
		}
	}
	id := s.randomHex(8)
	b := r.marshal()
	err := s.v.Put(kindSvc, id, b)
	clear(b)
	if err != nil {
		return nil, refuse(CodeStorage)
	}
	sv, err := s.newService(id, r)
	if err != nil {
		return nil, err
	}
	s.svcs[id] = sv
	s.byOwner[oh] = sv
	return sv, s.markUsedLocked(c, oh)
}

func (s *store) markUsedLocked(c *code, oh [KeyLen]byte) error {
	if c.rec.Used {
		return nil
	}
	rec := c.rec
	rec.Used, rec.OwnerHash = true, oh
	if err := s.v.Put(kindCode, c.key, rec.marshal()); err != nil {
		return refuse(CodeStorage)
	}
	c.rec = rec
	return nil
}

func (s *store) randomHex(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic("mailbox: the system's random source failed")
	}
	return hex.EncodeToString(b)
}

// ---- authentication ----

func (s *store) owner(token *[TokenLen]byte) *service {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.byOwner[hashToken(token)]
	if sv == nil || sv.gone {
		return nil
	}
	return sv
}

func (s *store) contact(token *[TokenLen]byte) *relation {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byToken[hashToken(token)]
	if r == nil || r.s.gone {
		return nil
	}
	return r
}

// clientKeys lists the client-auth keys of a service: its owner's and its
// relations' (intake relations have none).
func (s *store) clientKeys(sv *service) [][32]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := [][32]byte{sv.rec.OwnerAuth}
	for _, r := range sv.rels {
		if r.rec.Auth != ([32]byte{}) {
			out = append(out, r.rec.Auth)
		}
	}
	return out
}

// ---- relations ----

// addRel adds a relation; the same relation with the same credentials again
// is a success (a retry), with others CodeConflict.
func (s *store) addRel(sv *service, id [RelLen]byte, tokenHash, auth [KeyLen]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sv.gone {
		return refuse(CodeGone)
	}
	if r := sv.rels[id]; r != nil {
		if r.rec.TokenHash == tokenHash && r.rec.Auth == auth && !r.rec.Intake {
			return nil
		}
		return refuse(CodeConflict)
	}
	if s.byToken[tokenHash] != nil || id == ([RelLen]byte{}) {
		return refuse(CodeConflict)
	}
	if s.ownedRelations(sv) >= MaxRelations {
		return refuse(CodeFull)
	}
	rr := &relRec{TokenHash: tokenHash, Auth: auth, Created: s.now().Unix()}
	r := s.newRelation(sv, id, rr)
	if err := s.v.Put(kindRel, r.key(), rr.marshal()); err != nil {
		return refuse(CodeStorage)
	}
	sv.rels[id] = r
	s.byToken[tokenHash] = r
	return nil
}

func (s *store) ownedRelations(sv *service) int {
	n := 0
	for _, r := range sv.rels {
		if !r.rec.Intake {
			n++
		}
	}
	return n
}

// removeRel deletes a relation with its queues (idempotent).
func (s *store) removeRel(sv *service, id [RelLen]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := sv.rels[id]
	if r == nil {
		return nil
	}
	return s.removeRelLocked(r)
}

func (s *store) removeRelLocked(r *relation) error {
	// The record goes first: a crash after it leaves logs that nothing
	// refers to, which Open's clean-up removes; never a relation whose
	// blobs are half gone.
	if err := s.v.Delete(kindRel, r.key()); err != nil {
		return refuse(CodeStorage)
	}
	delete(r.s.rels, r.id)
	delete(s.byToken, r.rec.TokenHash)
	for _, q := range []*queue{&r.in, &r.out} {
		s.items -= len(q.items)
		s.bytes -= q.bytes
		q.items, q.bytes = nil, 0
		if err := s.v.DropLog(q.log); err != nil {
			return refuse(CodeStorage)
		}
	}
	return nil
}

// unpair wipes a service: its relations, queues and keys.
func (s *store) unpair(sv *service) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range sv.rels {
		if err := s.removeRelLocked(r); err != nil {
			return err
		}
	}
	if err := s.v.Delete(kindSvc, sv.id); err != nil {
		return refuse(CodeStorage)
	}
	sv.gone = true
	delete(s.svcs, sv.id)
	delete(s.byOwner, sv.rec.OwnerHash)
	sv.destroy()
	return nil
}

// dropOrphans deletes queue logs of relations that no longer exist (a
// crash inside removeRel or unpair).
func (s *store) dropOrphans() error {
	logs, err := s.v.Logs()
	if err != nil {
		return err
	}
	s.mu.Lock()
	live := map[string]bool{}
	for _, sv := range s.svcs {
		for _, r := range sv.rels {
			live[r.in.log], live[r.out.log] = true, true
		}
	}
	s.mu.Unlock()
	for _, l := range logs {
		if strings.HasPrefix(l, "q.") && !live[l] {
			if err := s.v.DropLog(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- deposits and collections ----

// deposit stores a blob in q after checking the quotas. ttl > 0 sets its
// delete-by time.
func (s *store) deposit(r *relation, toOwner bool, ttl uint32, blob []byte) ([ItemLen]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var id [ItemLen]byte
	if r.s.gone || r.s.rels[r.id] != r {
		return id, refuse(CodeDenied)
	}
	q := &r.out
	if toOwner {
		q = &r.in
	}
	n := int64(len(blob))
	if len(q.items) >= s.cfg.QueueItems || q.bytes+n > s.cfg.QueueBytes ||
		s.items >= s.cfg.QuotaItems || s.bytes+n > s.cfg.QuotaBytes {
		return id, refuse(CodeFull)
	}
	if _, err := io.ReadFull(s.rand, id[:]); err != nil {
		return id, err
	}
	if [4]byte(id[:4]) == expiredMark {
		id[0] = 0
	}
	now := s.now().Unix()
	var del int64
	if ttl > 0 {
		del = now + int64(ttl)
	}
	v := marshalItem(now, del, blob)
	if err := s.v.Append(q.log, hex.EncodeToString(id[:]), v); err != nil {
		return id, refuse(CodeStorage)
	}
	q.items = append(q.items, itemMeta{id: id, size: len(blob), at: now, deleteBy: del})
	q.bytes += n
	s.items++
	s.bytes += n
	return id, nil
}

// item is one collected item.
type item struct {
	rel   [RelLen]byte
	id    [ItemLen]byte
	kind  uint8
	blob  []byte
	count uint32
}

// collect returns up to max items of the queues named (oldest first in each
// queue), and how many more wait. A queue's expired-blob report comes first.
func (s *store) collect(qs []*relation, toOwner bool, max int) ([]item, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []item
	remaining := 0
	for _, r := range qs {
		if r.s.gone || r.s.rels[r.id] != r {
			continue
		}
		q, exp := &r.out, r.rec.ExpOut
		if toOwner {
			q, exp = &r.in, r.rec.ExpiredIn
		}
		if exp > 0 {
			if len(out) < max {
				var id [ItemLen]byte
				copy(id[:4], expiredMark[:])
				binary.BigEndian.PutUint32(id[4:], exp)
				out = append(out, item{rel: r.id, id: id, kind: ItemExpired, count: exp})
			} else {
				remaining++
			}
		}
		want := max - len(out)
		if want <= 0 {
			remaining += len(q.items)
			continue
		}
		if len(q.items) == 0 {
			continue
		}
		es, err := s.v.Entries(q.log)
		if err != nil {
			return nil, 0, refuse(CodeStorage)
		}
		byID := map[string][]byte{}
		for _, e := range es {
			byID[e.ID] = e.Value
		}
		for i, it := range q.items {
			if i >= want {
				remaining += len(q.items) - i
				break
			}
			v, ok := byID[hex.EncodeToString(it.id[:])]
			if !ok {
				return nil, 0, refuse(CodeStorage)
			}
			_, _, blob, err := parseItem(v)
			if err != nil {
				return nil, 0, refuse(CodeStorage)
			}
			out = append(out, item{rel: r.id, id: it.id, kind: ItemBlob, blob: blob})
		}
	}
	return out, remaining, nil
}

// remove deletes items of the queue the caller collects from; it returns how
// many it deleted. Unknown IDs are ignored (a retry).
func (s *store) remove(r *relation, toOwner bool, ids [][ItemLen]byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.s.gone || r.s.rels[r.id] != r {
		return 0, refuse(CodeDenied)
	}
	q := &r.out
	expP := &r.rec.ExpOut
	if toOwner {
		q, expP = &r.in, &r.rec.ExpiredIn
	}
	drop := map[[ItemLen]byte]bool{}
	n := 0
	for _, id := range ids {
		if [4]byte(id[:4]) == expiredMark {
			c := binary.BigEndian.Uint32(id[4:])
			if c > 0 && *expP > 0 {
				old := *expP
				*expP -= min(c, *expP)
				if err := s.v.Put(kindRel, r.key(), r.rec.marshal()); err != nil {
					*expP = old
					return n, refuse(CodeStorage)
				}
				n++
			}
			continue
		}
		drop[id] = true
	}
	if len(drop) == 0 {
		return n, nil
	}
	var names []string
	kept := q.items[:0:0]
	var freed int64
	for _, it := range q.items {
		if drop[it.id] {
			names = append(names, hex.EncodeToString(it.id[:]))
			freed += int64(it.size)
			continue
		}
		kept = append(kept, it)
	}
	if len(names) == 0 {
		return n, nil
	}
	if _, err := s.v.Remove(q.log, names...); err != nil {
		return n, refuse(CodeStorage)
	}
	s.items -= len(q.items) - len(kept)
	s.bytes -= freed
	q.bytes -= freed
	q.items = kept
	return n + len(names), nil
}

// counts reports what waits for the caller: toOwner for the owner (every
// relation of the service), else for one relation's contact.
func (s *store) counts(sv *service, r *relation) Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Counts{MaxAge: uint32(s.cfg.MaxAge / time.Second)}
	add := func(r *relation, owner bool) {
		in, out := &r.out, &r.in
		if owner {
			in, out = &r.in, &r.out
		}
		c.Relations++
		c.In += uint32(len(in.items))
		c.Out += uint32(len(out.items))
		c.Bytes += uint64(in.bytes + out.bytes)
	}
	if r != nil {
		add(r, false)
		return c
	}
	for _, r := range sv.rels {
		add(r, true)
	}
	return c
}

// setBundle stores the signed intake bundle of a service.
func (s *store) setBundle(sv *service, bundle []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sv.gone {
		return refuse(CodeGone)
	}
	if sv.intake == nil {
		return refuse(CodeDenied)
	}
	rec := sv.rec
	rec.Bundle = bytes.Clone(bundle)
	var b []byte
	err := sv.key.Open(func(seed []byte) error {
		return sv.intake.Open(func(iseed []byte) error {
			copy(rec.Seed[:], seed)
			copy(rec.Intake[:], iseed)
			b = rec.marshal()
			return nil
		})
	})
	rec.wipe()
	if err != nil {
		return err
	}
	err = s.v.Put(kindSvc, sv.id, b)
	clear(b)
	if err != nil {
		return refuse(CodeStorage)
	}
	sv.rec.Bundle = rec.Bundle
	return nil
}

func (s *store) bundle(sv *service) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(sv.rec.Bundle)
}

// intake stores a stranger's sealed contact request: a new intake relation
// whose reply token hash is th, with the blob in its in-queue. Rate limited
// and capped per service.
func (s *store) intake(sv *service, th [KeyLen]byte, blob []byte) error {
	s.mu.Lock()
	if sv.gone || sv.intake == nil || len(sv.rec.Bundle) == 0 {
		s.mu.Unlock()
		return refuse(CodeDenied)
	}
	if s.byToken[th] != nil {
		s.mu.Unlock()
		return refuse(CodeConflict)
	}
	pending := len(sv.rels) - s.ownedRelations(sv)
	if pending >= IntakePending {
		s.mu.Unlock()
		return refuse(CodeFull)
	}
	now := s.now()
	recent := sv.intakes[:0]
	for _, t := range sv.intakes {
		if now.Sub(t) < IntakeRateEvery {
			recent = append(recent, t)
		}
	}
	sv.intakes = recent
	if len(sv.intakes) >= IntakeRateN {
		s.mu.Unlock()
		return refuse(CodeBusy)
	}
	sv.intakes = append(sv.intakes, now)
	var id [RelLen]byte
	if _, err := io.ReadFull(s.rand, id[:]); err != nil {
		s.mu.Unlock()
		return err
	}
	rr := &relRec{TokenHash: th, Intake: true, Created: now.Unix()}
	r := s.newRelation(sv, id, rr)
	if err := s.v.Put(kindRel, r.key(), rr.marshal()); err != nil {
		s.mu.Unlock()
		return refuse(CodeStorage)
	}
	sv.rels[id] = r
	s.byToken[th] = r
	s.mu.Unlock()
	if _, err := s.deposit(r, true, 0, blob); err != nil {
		s.mu.Lock()
		s.removeRelLocked(r)
		s.mu.Unlock()
		return err
	}
	return nil
}

// ---- expiry ----

// expire deletes every blob past its delete-by time or the maximum age,
// and intake relations older than the maximum age. It returns the
// relations whose collectors should hear of it (for watch).
func (s *store) expire() ([]*relation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	oldest := now - int64(s.cfg.MaxAge/time.Second)
	var touched []*relation
	var firstErr error
	for _, sv := range s.svcs {
		for _, r := range sv.rels {
			if r.rec.Intake && r.rec.Created <= oldest {
				if err := s.removeRelLocked(r); err != nil && firstErr == nil {
					firstErr = err
				}
				continue
			}
			changed := false
			for _, side := range []bool{true, false} {
				q, expP := &r.out, &r.rec.ExpOut
				if side {
					q, expP = &r.in, &r.rec.ExpiredIn
				}
				var names []string
				var byTimer uint32
				kept := q.items[:0:0]
				var freed int64
				for _, it := range q.items {
					switch {
					case it.deleteBy != 0 && it.deleteBy <= now:
						byTimer++
					case it.at <= oldest:
					default:
						kept = append(kept, it)
						continue
					}
					names = append(names, hex.EncodeToString(it.id[:]))
					freed += int64(it.size)
				}
				if len(names) == 0 {
					continue
				}
				if _, err := s.v.Remove(q.log, names...); err != nil {
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				s.items -= len(q.items) - len(kept)
				s.bytes -= freed
				q.bytes -= freed
				q.items = kept
				if byTimer > 0 {
					*expP += byTimer
					changed = true
				}
			}
			if changed {
				if err := s.v.Put(kindRel, r.key(), r.rec.marshal()); err != nil && firstErr == nil {
					firstErr = err
				}
				touched = append(touched, r)
			}
		}
	}
	return touched, firstErr
}

// nextExpiry is the earliest time expire has work to do (zero: none).
func (s *store) nextExpiry() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next int64
	consider := func(t int64) {
		if t > 0 && (next == 0 || t < next) {
			next = t
		}
	}
	age := int64(s.cfg.MaxAge / time.Second)
	for _, sv := range s.svcs {
		for _, r := range sv.rels {
			if r.rec.Intake {
				consider(r.rec.Created + age)
			}
			for _, q := range []*queue{&r.in, &r.out} {
				for _, it := range q.items {
					consider(it.deleteBy)
					consider(it.at + age)
				}
			}
		}
	}
	if next == 0 {
		return time.Time{}
	}
	return time.Unix(next, 0)
}

// Stats is what 'sotto mailbox status' shows: counts only, nothing that
// names an identity or a contact.
type Stats struct {
	Services     int
	Relations    int
	Intakes      int // sealed contact requests waiting
	Items        int
	ForOwners    int // items waiting for the owners (deposited by contacts, intake requests)
	ForContacts  int // items waiting for the contacts (the owners' replies)
	Bytes        int64
	Codes        int // pairing codes outstanding
	Config       Config
	OldestItemAt time.Time
}

func (s *store) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Services: len(s.svcs), Items: s.items, Bytes: s.bytes, Config: s.cfg}
	for _, c := range s.codes {
		if !c.rec.Used {
			st.Codes++
		}
	}
	var oldest int64
	for _, sv := range s.svcs {
		for _, r := range sv.rels {
			if r.rec.Intake {
				st.Intakes++
			} else {
				st.Relations++
			}
			st.ForOwners += len(r.in.items)
			st.ForContacts += len(r.out.items)
			for _, q := range []*queue{&r.in, &r.out} {
				if len(q.items) > 0 && (oldest == 0 || q.items[0].at < oldest) {
					oldest = q.items[0].at
				}
			}
		}
	}
	if oldest != 0 {
		st.OldestItemAt = time.Unix(oldest, 0)
	}
	return st
}

// services lists the services, sorted by ID.
func (s *store) services() []*service {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*service, 0, len(s.svcs))
	for _, sv := range s.svcs {
		out = append(out, sv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// relationsOf lists a service's relations, sorted by ID.
func (s *store) relationsOf(sv *service) []*relation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*relation, 0, len(sv.rels))
	for _, r := range sv.rels {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].id[:], out[j].id[:]) < 0 })
	return out
}

func (s *store) relation(sv *service, id [RelLen]byte) *relation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sv.rels[id]
}

// allowDeposit is the relation's token bucket for deposits (real time).
func (s *store) allowDeposit(r *relation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if r.last.IsZero() {
		r.bucket = depositBurst
	} else {
		r.bucket = min(depositBurst, r.bucket+now.Sub(r.last).Seconds()*depositRate)
	}
	r.last = now
	if r.bucket < 1 {
		return false
	}
	r.bucket--
	return true
}

// keyFunc lends a 32-byte secret held in an enclave.
func keyFunc(s *vault.Secret) KeyFunc {
	return func(use func(seed *[32]byte) error) error {
		return s.Open(func(b []byte) error {
			var k [32]byte
			copy(k[:], b)
			defer clear(k[:])
			return use(&k)
		})
	}
}
