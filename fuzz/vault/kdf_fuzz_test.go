package vaultfuzz

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"testing"

	"golang.org/x/crypto/scrypt"

	"github.com/sottochat/sotto/fuzz/fuzzcheck"
	"github.com/sottochat/sotto/vault/kdftest"
)

// The vault derives its keys with its own scrypt, HMAC and HKDF
// (vault/internal/kdf), written so that no copy of the passphrase or of a
// key is left in memory. These targets check them, byte for byte and error
// for error, against golang.org/x/crypto/scrypt, crypto/hmac and
// crypto/hkdf on inputs the fuzzer chooses.

// scryptParams maps fuzzer bytes to scrypt parameters small enough to run
// thousands of times a second, bad values included: n is log2 N (0, and N
// that is not a power of two when odd is set, must be refused by both), r
// 0..8, p 0..4, keyLen 0..299.
func scryptParams(logN, r, p uint8, keyLen uint16, odd bool) (int, int, int, int) {
	N := 1 << (logN % 11)
	if odd {
		N = int(logN)
	}
	return N, int(r % 9), int(p % 5), int(keyLen % 300)
}

func FuzzScryptDifferential(f *testing.F) {
	// RFC 7914 section 12's first vector's parameters, and the age stanza's
	// shape (r=8, p=1, 32-byte key) at small N.
	f.Add([]byte(""), []byte(""), uint8(4), uint8(1), uint8(1), uint16(64), false)
	f.Add([]byte("password"), []byte("NaCl"), uint8(10), uint8(8), uint8(4), uint16(64), false)
	f.Add([]byte("correct horse"), []byte("age-encryption.org/v1/scrypt0123456789abcdef"), uint8(6), uint8(8), uint8(1), uint16(32), false)
	f.Add([]byte("x"), []byte("y"), uint8(6), uint8(1), uint8(1), uint16(32), true)
	f.Add([]byte("x"), []byte("y"), uint8(0), uint8(0), uint8(0), uint16(0), false)
	fuzzcheck.RequireSeeds(f, 5)
	f.Fuzz(func(t *testing.T, password, salt []byte, logN, r, p uint8, keyLen uint16, odd bool) {
		N, r2, p2, kl := scryptParams(logN, r, p, keyLen, odd)
		want, werr := xScrypt(password, salt, N, r2, p2, kl)
		got, gerr := kdftest.Scrypt(password, salt, N, r2, p2, kl)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("scrypt(N=%d r=%d p=%d len=%d): x/crypto error %v, vault error %v", N, r2, p2, kl, werr, gerr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("scrypt(N=%d r=%d p=%d len=%d) = %x, x/crypto gives %x", N, r2, p2, kl, got, want)
		}
	})
}

// xScrypt is x/crypto's scrypt.Key, with its panic on a zero key length
// (inside x/crypto/pbkdf2) turned into an error: the vault's scrypt refuses
// that with an error, which is what the target asks for.
func xScrypt(password, salt []byte, N, r, p, keyLen int) (k []byte, err error) {
	defer func() {
		if e := recover(); e != nil {
			k, err = nil, fmt.Errorf("x/crypto panicked: %v", e)
		}
	}()
	return scrypt.Key(password, salt, N, r, p, keyLen)
}

func FuzzHMACDifferential(f *testing.F) {
	f.Add([]byte("key"), []byte("The quick brown fox jumps over the lazy dog"), []byte(""))
	f.Add([]byte(""), []byte(""), []byte(""))
	f.Add(bytes.Repeat([]byte{0xaa}, 131), []byte("Test Using Larger Than Block-Size Key"), []byte(" - Hash Key First"))
	fuzzcheck.RequireSeeds(f, 3)
	f.Fuzz(func(t *testing.T, key, a, b []byte) {
		m := hmac.New(sha256.New, key)
		m.Write(a)
		m.Write(b)
		want := m.Sum(nil)
		got := kdftest.HMAC(key, a, b)
		if !bytes.Equal(got[:], want) {
			t.Fatalf("HMAC = %x, crypto/hmac gives %x", got, want)
		}
	})
}

func FuzzHKDFDifferential(f *testing.F) {
	// RFC 5869 A.1's inputs, and the vault's own file-name key info.
	f.Add(bytes.Repeat([]byte{0x0b}, 22), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9", uint16(42))
	f.Add([]byte("vault key"), []byte(nil), "sotto vault file names v1", uint16(32))
	f.Add([]byte(""), []byte(""), "", uint16(0))
	f.Add([]byte("s"), []byte("t"), "too long", uint16(255*32+1))
	fuzzcheck.RequireSeeds(f, 4)
	f.Fuzz(func(t *testing.T, secret, salt []byte, info string, n uint16) {
		size := int(n) % (255*32 + 2)
		want, werr := hkdf.Key(sha256.New, secret, salt, info, size)
		got := make([]byte, size)
		gerr := kdftest.HKDF(got, secret, salt, info)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("HKDF(%d bytes): crypto/hkdf error %v, vault error %v", size, werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("HKDF(%d bytes) = %x, crypto/hkdf gives %x", size, got, want)
		}
	})
}
