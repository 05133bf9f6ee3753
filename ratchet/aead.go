package ratchet

import (
	"crypto/cipher"
	"reflect"

	"golang.org/x/crypto/chacha20poly1305"
)

// xAEAD is one XChaCha20-Poly1305 instance of golang.org/x/crypto (or,
// with chacha set, one ChaCha20-Poly1305 instance: the handshake's), reused
// for many keys: the key is written into the instance just before a Seal or
// an Open and zeroed just after.
//
// x/crypto's NewX and New allocate a heap object holding a copy of the key
// at every call, and there is no way to re-key or wipe it. Inside
// runtime/secret.Do that allocation costs far more than a small object
// should (the runtime registers every one of them, to zero it when it is
// freed), and its copy of the key stays readable until the garbage
// collector frees it; a message made four of them. Here the one copy of the
// key outside this package's own arrays is zeroed as soon as the operation
// returns.
//
// The instance is x/crypto's own, so Seal and Open are its code (assembly on
// amd64); what this relies on is the instance's layout, a struct whose only
// field is the 32-byte key, which newXAEAD checks through reflection. If a
// version of x/crypto changes it, key is nil and every operation makes a new
// instance with NewX or New, as before (slower, not wrong);
// TestXAEADReusesInstance fails so that the change is seen.
type xAEAD struct {
	a      cipher.AEAD
	key    *[KeySize]byte // a's key; nil: a new instance for every operation
	chacha bool           // ChaCha20-Poly1305 (12-byte nonce), not XChaCha20-Poly1305
}

// newXAEAD returns an XChaCha20-Poly1305 instance to reuse.
func newXAEAD() xAEAD { return reusable(false) }

// newChaChaAEAD returns a ChaCha20-Poly1305 instance to reuse.
func newChaChaAEAD() xAEAD { return reusable(true) }

func reusable(chacha bool) xAEAD {
	x := xAEAD{chacha: chacha}
	var zero [KeySize]byte
	a, err := x.instance(&zero)
	if err != nil {
		return x
	}
	v := reflect.ValueOf(a)
	t := v.Type()
	if t.Kind() != reflect.Pointer {
		return x
	}
	st := t.Elem()
	if st.Kind() != reflect.Struct || st.PkgPath() != "golang.org/x/crypto/chacha20poly1305" ||
		st.Size() != KeySize || st.NumField() != 1 ||
		st.Field(0).Name != "key" || st.Field(0).Offset != 0 || st.Field(0).Type != reflect.TypeFor[[KeySize]byte]() {
		return x
	}
	x.a, x.key = a, (*[KeySize]byte)(v.UnsafePointer())
	return x
}

// instance is a new x/crypto instance with the key.
func (x *xAEAD) instance(key *[KeySize]byte) (cipher.AEAD, error) {
	if x.chacha {
		return chacha20poly1305.New(key[:])
	}
	return chacha20poly1305.NewX(key[:])
}

// seal appends to dst the encryption of pt under key (aead.Seal).
func (x *xAEAD) seal(key *[KeySize]byte, dst, nonce, pt, ad []byte) []byte {
	if x.key == nil {
		a, _ := x.instance(key)
		return a.Seal(dst, nonce, pt, ad)
	}
	*x.key = *key
	defer clear(x.key[:])
	return x.a.Seal(dst, nonce, pt, ad)
}

// open appends to dst the decryption of ct under key (aead.Open).
func (x *xAEAD) open(key *[KeySize]byte, dst, nonce, ct, ad []byte) ([]byte, error) {
	if x.key == nil {
		a, _ := x.instance(key)
		return a.Open(dst, nonce, ct, ad)
	}
	*x.key = *key
	defer clear(x.key[:])
	return x.a.Open(dst, nonce, ct, ad)
}
