package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
	"unsafe"

	"filippo.io/age"
	"github.com/awnumar/memguard"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/vault/format"
	"github.com/sottochat/sotto/vault/internal/kdf"
)

// Spec constants of age's scrypt recipient stanza (age-encryption.org/v1).
const (
	scryptLabel    = "age-encryption.org/v1/scrypt" // salt prefix
	scryptSaltSize = 16                             // random salt bytes
	fileKeySize    = 16                             // age file key
)

// Work factors (log2 of scrypt's N, r=8 p=1; memory is 2^logN KiB).
const (
	// DefaultMaxWorkFactor is the largest work factor Open accepts unless
	// Options.MaxWorkFactor says otherwise: 2^20 needs 1 GiB and a few
	// seconds. A hostile key file asking for more is refused before any work.
	DefaultMaxWorkFactor = 20
	minCalibrated        = 15
	maxCalibrated        = 19 // 512 MiB while unlocking: small VMs must cope
	unlockTarget         = time.Second
	keyFileName          = "vault.key"
	maxKeyFile           = 16 << 10
)

// nameKeyInfo labels the derivation of the file-name key from the identity.
const nameKeyInfo = "sotto vault file names v1"

// scryptRecipient and scryptIdentity produce and read age's standard scrypt
// stanza, taking the passphrase from locked memory (age's own types copy it
// into an ordinary string). They derive with kdf.Scrypt, which leaves no
// copy of the passphrase anywhere (x/crypto/scrypt leaves two strings and
// crypto/hmac's pads per derivation; see package kdf).
type scryptRecipient struct {
	pass *Passphrase
	logN int
}

func (r *scryptRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	salt := make([]byte, scryptSaltSize)
	rand.Read(salt)
	var wrapped []byte
	err := r.pass.open(func(p []byte) error {
		k, err := kdf.Scrypt(p, append([]byte(scryptLabel), salt...), 1<<r.logN, 8, 1, chacha20poly1305.KeySize)
		if err != nil {
			return err
		}
		defer memguard.WipeBytes(k)
		aead, err := chacha20poly1305.New(k)
		if err != nil {
			return err
		}
		wrapped = aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), fileKey, nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []*age.Stanza{{
		Type: "scrypt",
		Args: []string{base64.RawStdEncoding.EncodeToString(salt), strconv.Itoa(r.logN)},
		Body: wrapped,
	}}, nil
}

// WrapWithLabels gives a random label, as age does, so that an scrypt
// stanza is always alone in its file.
func (r *scryptRecipient) WrapWithLabels(fileKey []byte) ([]*age.Stanza, []string, error) {
	s, err := r.Wrap(fileKey)
	var l [16]byte
	rand.Read(l[:])
	return s, []string{hex.EncodeToString(l[:])}, err
}

type scryptIdentity struct {
	pass    *Passphrase
	maxLogN int
	logN    int // the file's work factor, once seen
}

var digits = regexp.MustCompile(`^[1-9][0-9]?$`)

func (i *scryptIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	if len(stanzas) != 1 || stanzas[0].Type != "scrypt" {
		return nil, errors.New("not a passphrase-encrypted key file")
	}
	s := stanzas[0]
	if len(s.Args) != 2 || !digits.MatchString(s.Args[1]) || len(s.Body) != fileKeySize+chacha20poly1305.Overhead {
		return nil, errors.New("malformed scrypt stanza")
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(s.Args[0])
	if err != nil || len(salt) != scryptSaltSize {
		return nil, errors.New("malformed scrypt salt")
	}
	logN, _ := strconv.Atoi(s.Args[1])
	if logN > i.maxLogN || logN > 30 {
		return nil, fmt.Errorf("%w: 2^%d (the limit is 2^%d): refusing to run it, the file may be hostile", ErrWorkFactor, logN, i.maxLogN)
	}
	i.logN = logN
	var fileKey []byte
	err = i.pass.open(func(p []byte) error {
		k, err := kdf.Scrypt(p, append([]byte(scryptLabel), salt...), 1<<logN, 8, 1, chacha20poly1305.KeySize)
		if err != nil {
			return err
		}
		defer memguard.WipeBytes(k)
		aead, _ := chacha20poly1305.New(k)
		fileKey, err = aead.Open(nil, make([]byte, chacha20poly1305.NonceSize), s.Body, nil)
		if err != nil {
			return ErrWrongPassphrase
		}
		return nil
	})
	return fileKey, err
}

// calibrate picks the work factor that takes about a second here.
func calibrate() int {
	const probe = 12
	// The fastest of three runs: the machine's speed, not its load.
	d := time.Duration(math.MaxInt64)
	for range 3 {
		start := time.Now()
		kdf.Scrypt([]byte("calibration"), []byte("calibration salt"), 1<<probe, 8, 1, 32)
		d = min(d, time.Since(start))
	}
	if d <= 0 {
		d = time.Microsecond
	}
	n := probe + int(math.Round(math.Log2(float64(unlockTarget)/float64(d))))
	return min(max(n, minCalibrated), maxCalibrated)
}

// vaultKey is the unlocked vault key: the secret packs the 32-byte file-name
// key and the age identity string; the recipient is public.
type vaultKey struct {
	secret    *Secret
	recipient age.Recipient
}

// newVaultKey generates a fresh post-quantum age identity. age's generated
// identity and the intermediate buffers of its String method are allocated
// inside erase.Do, which zeroes them once freed.
func newVaultKey() (k *vaultKey, err error) {
	erase.Do(func() {
		id, gerr := age.GenerateHybridIdentity()
		if gerr != nil {
			err = fmt.Errorf("vault: generating the vault key: %w", gerr)
			return
		}
		s := id.String()
		defer wipeString(s)
		k, err = packKeyLocked(unsafe.Slice(unsafe.StringData(s), len(s)))
	})
	return k, err
}

// packKey builds a vaultKey from an identity string (in locked memory or
// about to be wiped by the caller). age's parse (bech32 lower-cases the
// string into new ones) runs inside erase.Do.
func packKey(identity []byte) (k *vaultKey, err error) {
	erase.Do(func() { k, err = packKeyLocked(identity) })
	return k, err
}

func packKeyLocked(identity []byte) (*vaultKey, error) {
	var lb *memguard.LockedBuffer
	if err := allocLocked(pagesFor(32+len(identity)), func() { lb = memguard.NewBuffer(32 + len(identity)) }); err != nil {
		return nil, err
	}
	defer lb.Destroy()
	b := lb.Bytes()
	// Straight into locked memory; crypto/hkdf would leave the identity's
	// last partial SHA-256 block and the PRK in its own state.
	if err := kdf.HKDF(b[:32], identity, nil, nameKeyInfo); err != nil {
		return nil, err
	}
	copy(b[32:], identity)
	id, err := age.ParseHybridIdentity(unsafe.String(&b[32], len(identity)))
	if err != nil {
		return nil, errors.New("vault: the vault key is malformed")
	}
	rcpt := id.Recipient()
	sec, err := NewSecret(b) // wipes b
	if err != nil {
		return nil, err
	}
	return &vaultKey{secret: sec, recipient: rcpt}, nil
}

// wipeString zeroes a string's bytes. Only for strings built at run time
// (never literals), whose memory is ordinary heap.
func wipeString(s string) {
	if len(s) > 0 {
		memguard.WipeBytes(unsafe.Slice(unsafe.StringData(s), len(s)))
	}
}

// withIdentity opens the vault key and calls fn with the age identity. The
// identity's expanded private key lives in ordinary memory while fn runs
// (age's types): keep fn short.
//
// The parse and fn run inside erase.Do: what age allocates (the
// lower-cased key, the expanded private keys, its file keys and stream
// buffers) is zeroed once freed.
func (k *vaultKey) withIdentity(fn func(id age.Identity, nameKey []byte) error) (err error) {
	erase.Do(func() {
		err = k.secret.Open(func(b []byte) error {
			id, err := age.ParseHybridIdentity(unsafe.String(&b[32], len(b)-32))
			if err != nil {
				return errors.New("vault: the vault key is malformed")
			}
			return fn(id, b[:32])
		})
	})
	return err
}

// sealKeyFile encrypts the key file plaintext for identity under pass,
// inside erase.Do (see openKeyFile).
func sealKeyFile(k *vaultKey, pass *Passphrase, logN int) (ct []byte, err error) {
	erase.Do(func() { ct, err = sealKeyFileLocked(k, pass, logN) })
	return ct, err
}

func sealKeyFileLocked(k *vaultKey, pass *Passphrase, logN int) ([]byte, error) {
	var out bytes.Buffer
	err := k.secret.Open(func(b []byte) error {
		plain, err := format.MarshalKeyFile(b[32:])
		if err != nil {
			return err
		}
		defer memguard.WipeBytes(plain)
		w, err := age.Encrypt(&out, &scryptRecipient{pass: pass, logN: logN})
		if err != nil {
			return err
		}
		if _, err := w.Write(plain); err != nil {
			return err
		}
		return w.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("vault: sealing the key file: %w", err)
	}
	return out.Bytes(), nil
}

// openKeyFile decrypts a key file with pass. It returns the key and the
// file's work factor. It runs inside erase.Do, scrypt included (its loops
// call functions, so the goroutine can still be preempted): what age and
// chacha20poly1305 allocate from the passphrase-derived key, the file key
// and the header's MAC key is zeroed once freed.
func openKeyFile(data []byte, pass *Passphrase, maxLogN int) (k *vaultKey, logN int, err error) {
	erase.Do(func() { k, logN, err = openKeyFileLocked(data, pass, maxLogN) })
	return k, logN, err
}

func openKeyFileLocked(data []byte, pass *Passphrase, maxLogN int) (*vaultKey, int, error) {
	si := &scryptIdentity{pass: pass, maxLogN: maxLogN}
	var lb *memguard.LockedBuffer
	if err := allocLocked(1, func() { lb = memguard.NewBuffer(pageSize) }); err != nil {
		return nil, 0, err
	}
	defer lb.Destroy()
	n, err := decryptKeyFile(data, si, lb.Bytes())
	if err != nil {
		if errors.Is(err, ErrWrongPassphrase) || errors.Is(err, ErrWorkFactor) || errors.Is(err, ErrEmptyPassphrase) || errors.Is(err, ErrLockedMemory) {
			return nil, 0, err
		}
		return nil, 0, &FileError{Name: keyFileName, Err: fmt.Errorf("%w: %v", ErrDamaged, err)}
	}
	id, err := format.ParseKeyFile(lb.Bytes()[:n])
	if err != nil {
		return nil, 0, &FileError{Name: keyFileName, Err: fmt.Errorf("%w: %v", ErrDamaged, err)}
	}
	k, err := packKeyLocked(id)
	if err != nil {
		return nil, 0, err
	}
	return k, si.logN, nil
}

// Age's payload (age-encryption.org/v1): a 16-byte nonce, then chunks of
// at most 64 KiB, each sealed with ChaCha20-Poly1305 under
// HKDF-SHA-256(file key, nonce, "payload"), its 12-byte nonce an 11-byte
// counter and a last-chunk flag.
const (
	payloadNonceSize = 16
	payloadChunkSize = 64 << 10
)

// decryptKeyFile does what age.Decrypt does for the key file, a one-chunk
// age file, but decrypts straight into buf (the last 32 bytes of which hold
// the stream key): age's stream reader would leave two copies of the
// plaintext, the vault key, in buffers nobody can wipe (its chunk buffer
// and a 64 KiB slice per chunk). It returns the plaintext's length. The
// header is age's to parse and authenticate (age.ExtractHeader,
// age.DecryptHeader: the same code age.Decrypt runs).
func decryptKeyFile(data []byte, si *scryptIdentity, buf []byte) (int, error) {
	if len(data) > maxKeyFile {
		return 0, errors.New("too large")
	}
	hdr, err := age.ExtractHeader(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	if !bytes.HasPrefix(data, hdr) {
		return 0, errors.New("header not in age's canonical form")
	}
	fileKey, err := age.DecryptHeader(hdr, si)
	if err != nil {
		return 0, err
	}
	defer memguard.WipeBytes(fileKey)
	payload := data[len(hdr):]
	if len(payload) < payloadNonceSize {
		return 0, errors.New("payload truncated")
	}
	nonce, ct := payload[:payloadNonceSize], payload[payloadNonceSize:]
	key := buf[len(buf)-chacha20poly1305.KeySize:]
	out := buf[: 0 : len(buf)-chacha20poly1305.KeySize]
	// One chunk, marked last, and not empty; anything else is no key
	// file this code (or age) writes.
	if len(ct) <= chacha20poly1305.Overhead || len(ct) > payloadChunkSize+chacha20poly1305.Overhead {
		return 0, errors.New("payload is not one chunk")
	}
	if len(ct)-chacha20poly1305.Overhead > cap(out) {
		return 0, errors.New("too large")
	}
	if err := kdf.HKDF(key, fileKey, nonce, "payload"); err != nil {
		return 0, err
	}
	defer memguard.WipeBytes(key)
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return 0, err
	}
	var cn [chacha20poly1305.NonceSize]byte
	cn[len(cn)-1] = 1 // last chunk
	pt, err := aead.Open(out, cn[:], ct, nil)
	if err != nil {
		return 0, errors.New("payload fails authentication")
	}
	if len(pt) > 0 && &pt[0] != &buf[0] {
		// Open appends in place when out has room, which was checked.
		memguard.WipeBytes(pt)
		return 0, errors.New("internal error: the key file was decrypted outside locked memory")
	}
	return len(pt), nil
}

func errOr(err error, s string) error {
	if err != nil {
		return err
	}
	return errors.New(s)
}
