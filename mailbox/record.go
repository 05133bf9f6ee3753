package mailbox

import (
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// The mailbox's records in its vault, each a fixed binary layout (so that a
// service key goes from the vault's buffer to an enclave without decoder
// copies). Every decoder rejects trailing bytes and out-of-range values:
// the vault authenticates what it returns, but a record from an older or
// newer sotto must fail loudly, not be half-read.

const recVersion = 1

// Config is a mailbox's limits, chosen at 'sotto mailbox init' and kept in
// its vault.
type Config struct {
	MaxAge     time.Duration // an uncollected blob is deleted after this long
	QuotaBytes int64         // all queues together
	QuotaItems int           // all queues together
	QueueBytes int64         // one queue
	QueueItems int           // one queue
}

// Limits of Config values.
const (
	MinMaxAge        = time.Hour
	MaxMaxAge        = 90 * 24 * time.Hour
	DefaultMaxAge    = 14 * 24 * time.Hour
	MinQuotaBytes    = 1 << 20
	DefaultQuota     = 1 << 30
	DefaultQuotaItem = 200000
	DefaultQueueByte = 16 << 20
	DefaultQueueItem = 2000
	maxQuotaItems    = 10000000
)

// DefaultConfig is the configuration of a new mailbox.
func DefaultConfig() Config {
	return Config{MaxAge: DefaultMaxAge, QuotaBytes: DefaultQuota, QuotaItems: DefaultQuotaItem,
		QueueBytes: DefaultQueueByte, QueueItems: DefaultQueueItem}
}

// Check reports whether c is usable.
func (c Config) Check() error {
	switch {
	case c.MaxAge < MinMaxAge || c.MaxAge > MaxMaxAge:
		return configErr("the maximum age must be between 1 hour and 90 days")
	case c.QuotaBytes < MinQuotaBytes:
		return configErr("the quota must be at least 1 MiB")
	case c.QuotaItems < 1 || c.QuotaItems > maxQuotaItems:
		return configErr("the item quota must be between 1 and 10000000")
	case c.QueueBytes < MaxBlob || c.QueueBytes > c.QuotaBytes:
		return configErr("a queue's byte quota must be between 32 KiB and the total quota")
	case c.QueueItems < 1 || c.QueueItems > c.QuotaItems:
		return configErr("a queue's item quota must be between 1 and the total item quota")
	}
	return nil
}

func (c Config) marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint8(recVersion)
	b.AddUint64(uint64(c.MaxAge / time.Second))
	b.AddUint64(uint64(c.QuotaBytes))
	b.AddUint32(uint32(c.QuotaItems))
	b.AddUint64(uint64(c.QueueBytes))
	b.AddUint32(uint32(c.QueueItems))
	return b.BytesOrPanic()
}

func parseConfig(p []byte) (Config, error) {
	s := cryptobyte.String(p)
	var v uint8
	var age, qb, qqb uint64
	var qi, qqi uint32
	if !s.ReadUint8(&v) || v != recVersion || !s.ReadUint64(&age) || !s.ReadUint64(&qb) || !s.ReadUint32(&qi) ||
		!s.ReadUint64(&qqb) || !s.ReadUint32(&qqi) || !s.Empty() || age > uint64(MaxMaxAge/time.Second) ||
		qb > 1<<50 || qqb > 1<<50 {
		return Config{}, errDamaged
	}
	c := Config{MaxAge: time.Duration(age) * time.Second, QuotaBytes: int64(qb), QuotaItems: int(qi),
		QueueBytes: int64(qqb), QueueItems: int(qqi)}
	if c.Check() != nil {
		return Config{}, errDamaged
	}
	return c, nil
}

// svcRec is one paired identity's mailbox service.
type svcRec struct {
	Seed      [32]byte // Ed25519 seed of the service (secret)
	OwnerAuth [32]byte // the owner's client-auth public key
	OwnerHash [32]byte // SHA-256 of the owner token
	CodeHash  [32]byte // SHA-256 of the pairing secret it was created with
	Intake    [32]byte // Ed25519 seed of its intake service (secret); zero: none
	Created   int64
	Bundle    []byte // the signed intake bundle the owner set (may be empty)
}

func (r *svcRec) marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint8(recVersion)
	b.AddBytes(r.Seed[:])
	b.AddBytes(r.OwnerAuth[:])
	b.AddBytes(r.OwnerHash[:])
	b.AddBytes(r.CodeHash[:])
	b.AddBytes(r.Intake[:])
	b.AddUint64(uint64(r.Created))
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.Bundle) })
	return b.BytesOrPanic()
}

func parseSvc(p []byte) (*svcRec, error) {
	s := cryptobyte.String(p)
	r := &svcRec{}
	var v uint8
	var created uint64
	var bundle cryptobyte.String
	if !s.ReadUint8(&v) || v != recVersion || !s.CopyBytes(r.Seed[:]) || !s.CopyBytes(r.OwnerAuth[:]) ||
		!s.CopyBytes(r.OwnerHash[:]) || !s.CopyBytes(r.CodeHash[:]) || !s.CopyBytes(r.Intake[:]) ||
		!s.ReadUint64(&created) || !s.ReadUint16LengthPrefixed(&bundle) || len(bundle) > MaxIntakeBundle || !s.Empty() {
		r.wipe()
		return nil, errDamaged
	}
	r.Created = int64(created)
	r.Bundle = append([]byte(nil), bundle...)
	return r, nil
}

func (r *svcRec) wipe() {
	clear(r.Seed[:])
	clear(r.Intake[:])
}

// relRec is one relation (a contact's queue pair, or a stranger's reply
// queue created by an intake).
type relRec struct {
	TokenHash [32]byte // SHA-256 of the contact (or reply) token
	Auth      [32]byte // the contact's client-auth public key; zero for an intake relation
	Intake    bool     // created by a stranger's intake, not by the owner
	Created   int64
	ExpiredIn uint32 // blobs of the in-queue deleted at their delete-by time, not yet reported
	ExpOut    uint32 // the same for the out-queue
}

func (r *relRec) marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint8(recVersion)
	b.AddBytes(r.TokenHash[:])
	b.AddBytes(r.Auth[:])
	var f uint8
	if r.Intake {
		f = 1
	}
	b.AddUint8(f)
	b.AddUint64(uint64(r.Created))
	b.AddUint32(r.ExpiredIn)
	b.AddUint32(r.ExpOut)
	return b.BytesOrPanic()
}

func parseRel(p []byte) (*relRec, error) {
	s := cryptobyte.String(p)
	r := &relRec{}
	var v, f uint8
	var created uint64
	if !s.ReadUint8(&v) || v != recVersion || !s.CopyBytes(r.TokenHash[:]) || !s.CopyBytes(r.Auth[:]) ||
		!s.ReadUint8(&f) || f > 1 || !s.ReadUint64(&created) || !s.ReadUint32(&r.ExpiredIn) ||
		!s.ReadUint32(&r.ExpOut) || !s.Empty() {
		return nil, errDamaged
	}
	r.Intake = f == 1
	r.Created = int64(created)
	return r, nil
}

// codeRec is a pairing code: the mailbox keeps only the hash of its secret
// and the public half of its client-auth key. A used code stays until it
// expires, naming the owner token that used it, so that the same owner can
// retry a pairing whose reply it lost.
type codeRec struct {
	SecretHash [32]byte
	AuthPub    [32]byte
	Expires    int64
	Used       bool
	OwnerHash  [32]byte // the owner token that used it
}

func (r *codeRec) marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint8(recVersion)
	b.AddBytes(r.SecretHash[:])
	b.AddBytes(r.AuthPub[:])
	b.AddUint64(uint64(r.Expires))
	var u uint8
	if r.Used {
		u = 1
	}
	b.AddUint8(u)
	b.AddBytes(r.OwnerHash[:])
	return b.BytesOrPanic()
}

func parseCodeRec(p []byte) (*codeRec, error) {
	s := cryptobyte.String(p)
	r := &codeRec{}
	var v, u uint8
	var exp uint64
	if !s.ReadUint8(&v) || v != recVersion || !s.CopyBytes(r.SecretHash[:]) || !s.CopyBytes(r.AuthPub[:]) ||
		!s.ReadUint64(&exp) || !s.ReadUint8(&u) || u > 1 || !s.CopyBytes(r.OwnerHash[:]) || !s.Empty() {
		return nil, errDamaged
	}
	r.Expires = int64(exp)
	r.Used = u == 1
	return r, nil
}

// itemHead is the header stored before each blob in a queue's log.
const itemHead = 16

func marshalItem(at, deleteBy int64, blob []byte) []byte {
	var b cryptobyte.Builder
	b.AddUint64(uint64(at))
	b.AddUint64(uint64(deleteBy))
	b.AddBytes(blob)
	return b.BytesOrPanic()
}

func parseItem(p []byte) (at, deleteBy int64, blob []byte, err error) {
	s := cryptobyte.String(p)
	var a, d uint64
	if !s.ReadUint64(&a) || !s.ReadUint64(&d) || !isBlobSize(len(s)) || a > 1<<62 || d > 1<<62 {
		return 0, 0, nil, errDamaged
	}
	return int64(a), int64(d), []byte(s), nil
}
