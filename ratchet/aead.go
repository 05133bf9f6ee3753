package ratchet

import (
	"crypto/cipher"
	"reflect"

	"golang.org/x/crypto/chacha20poly1305"
)

// xAEAD is one XChaCha20-Poly1305 instance of golang.org/x/crypto, reused
// for many keys: the key is written into the instance just before a Seal or
// an Open and zeroed just after.
//
// x/crypto's NewX allocates a heap object holding a copy of the key at every
// call, and there is no way to re-key or wipe it. Inside runtime/secret.Do
// that allocation costs far more than a small object should (the runtime
// registers every one of them, to zero it when it is freed), and its copy of
// the key stays readable until the garbage collector frees it; a message
// made four of them. Here the one copy of the key outside this package's own
// arrays is zeroed as soon as the operation returns.
//
// The instance is x/crypto's own, so Seal and Open are its code (assembly on
// amd64); what this relies on is the instance's layout, a struct whose only
// field is the 32-byte key, which newXAEAD checks through reflection. If a
// version of x/crypto changes it, key is nil and every operation makes a new
// instance with NewX, as before (slower, not wrong);
// TestXAEADReusesInstance fails so that the change is seen.
type xAEAD struct {
	a   cipher.AEAD
	key *[KeySize]byte // a's key; nil: use NewX for every operation
}

func newXAEAD() xAEAD {
	var zero [KeySize]byte
	a, err := chacha20poly1305.NewX(zero[:])
	if err != nil {
		return xAEAD{}
	}
	v := reflect.ValueOf(a)
	t := v.Type()
	if t.Kind() != reflect.Pointer {
		return xAEAD{}
	}
	st := t.Elem()
	if st.Kind() != reflect.Struct || st.PkgPath() != "golang.org/x/crypto/chacha20poly1305" ||
		st.Size() != KeySize || st.NumField() != 1 ||
		st.Field(0).Name != "key" || st.Field(0).Offset != 0 || st.Field(0).Type != reflect.TypeFor[[KeySize]byte]() {
		return xAEAD{}
	}
	return xAEAD{a: a, key: (*[KeySize]byte)(v.UnsafePointer())}
}

// seal appends to dst the encryption of pt under key (aead.Seal).
func (x *xAEAD) seal(key *[KeySize]byte, dst, nonce, pt, ad []byte) []byte {
	if x.key == nil {
		a, _ := chacha20poly1305.NewX(key[:])
		return a.Seal(dst, nonce, pt, ad)
	}
	*x.key = *key
	defer clear(x.key[:])
	return x.a.Seal(dst, nonce, pt, ad)
}

// open appends to dst the decryption of ct under key (aead.Open).
func (x *xAEAD) open(key *[KeySize]byte, dst, nonce, ct, ad []byte) ([]byte, error) {
	if x.key == nil {
		a, _ := chacha20poly1305.NewX(key[:])
		return a.Open(dst, nonce, ct, ad)
	}
	*x.key = *key
	defer clear(x.key[:])
	return x.a.Open(dst, nonce, ct, ad)
}
