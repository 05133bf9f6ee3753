package kdf

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	xscrypt "golang.org/x/crypto/scrypt"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC7914 checks the scrypt test vectors of RFC 7914, section 12 (the
// fourth, N = 2^20 and 1 GiB, only without -short).
func TestRFC7914(t *testing.T) {
	vectors := []struct {
		pass, salt string
		N, r, p    int
		want       string
	}{
		{"", "", 16, 1, 1, "77 d6 57 62 38 65 7b 20 3b 19 ca 42 c1 8a 04 97 f1 6b 48 44 e3 07 4a e8 df df fa 3f ed e2 14 42 fc d0 06 9d ed 09 48 f8 32 6a 75 3a 0f c8 1f 17 e8 d3 e0 fb 2e 0d 36 28 cf 35 e2 0c 38 d1 89 06"},
		{"password", "NaCl", 1024, 8, 16, "fd ba be 1c 9d 34 72 00 78 56 e7 19 0d 01 e9 fe 7c 6a d7 cb c8 23 78 30 e7 73 76 63 4b 37 31 62 2e af 30 d9 2e 22 a3 88 6f f1 09 27 9d 98 30 da c7 27 af b9 4a 83 ee 6d 83 60 cb df a2 cc 06 40"},
		{"pleaseletmein", "SodiumChloride", 16384, 8, 1, "70 23 bd cb 3a fd 73 48 46 1c 06 cd 81 fd 38 eb fd a8 fb ba 90 4f 8e 3e a9 b5 43 f6 54 5d a1 f2 d5 43 29 55 61 3f 0f cf 62 d4 97 05 24 2a 9a f9 e6 1e 85 dc 0d 65 1e 40 df cf 01 7b 45 57 58 87"},
		{"pleaseletmein", "SodiumChloride", 1048576, 8, 1, "21 01 cb 9b 6a 51 1a ae ad db be 09 cf 70 f8 81 ec 56 8d 57 4a 2f fd 4d ab e5 ee 98 20 ad aa 47 8e 56 fd 8f 4b a5 d0 9f fa 1c 6d 92 7c 40 f4 c3 37 30 40 49 e8 a9 52 fb cb f4 5c 6f a7 7a 41 a4"},
	}
	for _, v := range vectors {
		if v.N > 1<<14 && testing.Short() {
			t.Logf("N=%d skipped with -short", v.N)
			continue
		}
		want := unhex(t, v.want)
		got, err := Scrypt([]byte(v.pass), []byte(v.salt), v.N, v.r, v.p, len(want))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("scrypt(%q, %q, %d, %d, %d) = %x, want %x", v.pass, v.salt, v.N, v.r, v.p, got, want)
		}
	}
}

// TestPBKDF2 checks the one-iteration PBKDF2-HMAC-SHA-256 vector of RFC
// 7914, section 11, and compares with crypto/pbkdf2 on random inputs,
// including keys longer than a SHA-256 block (hashed first by HMAC).
func TestPBKDF2(t *testing.T) {
	var s hmacState
	s.init([]byte("passwd"))
	got := make([]byte, 64)
	s.pbkdf2([]byte("salt"), got)
	want := unhex(t, "55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05 f9 41 85 21 6d de 04 65 e6 8b 9d 57 c2 0d ac bc 49 ca 9c cc f1 79 b6 45 99 16 64 b3 9d 77 ef 31 7c 71 b8 45 b1 e3 0b d5 09 11 20 41 d3 a1 97 83")
	if !bytes.Equal(got, want) {
		t.Fatalf("PBKDF2(passwd, salt, 1, 64) = %x, want %x", got, want)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		key := make([]byte, rng.IntN(200))
		salt := make([]byte, rng.IntN(300))
		fill(rng, key)
		fill(rng, salt)
		n := 1 + rng.IntN(200)
		var s hmacState
		s.init(key)
		got := make([]byte, n)
		s.pbkdf2(salt, got)
		want, err := pbkdf2.Key(sha256.New, string(key), salt, 1, n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("key %x salt %x len %d: got %x, want %x", key, salt, n, got, want)
		}
		s.wipe()
		if s != (hmacState{}) {
			t.Fatal("wipe left state behind")
		}
	}
}

// TestSHA256 compares the package's SHA-256 with crypto/sha256 for every
// length around the block and padding boundaries, written in random pieces.
func TestSHA256(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 400 {
		msg := make([]byte, n)
		fill(rng, msg)
		var d digest
		d.reset()
		for rest := msg; len(rest) > 0; {
			k := min(len(rest), rng.IntN(80))
			d.write(rest[:k])
			rest = rest[k:]
		}
		var got [hashSize]byte
		d.sum(&got)
		if want := sha256.Sum256(msg); got != want {
			t.Fatalf("length %d: got %x, want %x", n, got, want)
		}
	}
}

// TestMatchesXCrypto compares Scrypt with golang.org/x/crypto/scrypt on random
// passwords, salts and small parameters.
func TestMatchesXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 40 {
		pass := make([]byte, rng.IntN(150))
		salt := make([]byte, rng.IntN(100))
		fill(rng, pass)
		fill(rng, salt)
		N, r, p, n := 2<<rng.IntN(8), 1+rng.IntN(8), 1+rng.IntN(3), 1+rng.IntN(100)
		got, err := Scrypt(pass, salt, N, r, p, n)
		if err != nil {
			t.Fatal(err)
		}
		want, err := xscrypt.Key(pass, salt, N, r, p, n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("pass %x salt %x N=%d r=%d p=%d: got %x, want %x", pass, salt, N, r, p, got, want)
		}
	}
}

// TestParameters checks that bad parameters are errors, as x/crypto's are.
func TestParameters(t *testing.T) {
	for _, c := range []struct{ N, r, p, n int }{
		{0, 8, 1, 32}, {1, 8, 1, 32}, {3, 8, 1, 32}, {1024, 0, 1, 32}, {1024, 8, 0, 32},
		{1024, 8, 1, 0}, {1024, 1 << 29, 2, 32}, {1 << 60, 8, 1, 32},
	} {
		if _, err := Scrypt([]byte("p"), []byte("s"), c.N, c.r, c.p, c.n); err == nil {
			t.Errorf("N=%d r=%d p=%d len=%d: no error", c.N, c.r, c.p, c.n)
		}
	}
}

// TestPasswordNotAliased checks that Scrypt leaves its inputs as they were
// (it only reads the password).
func TestPasswordNotAliased(t *testing.T) {
	pass, salt := []byte("correct horse battery staple"), []byte("salt")
	p0, s0 := bytes.Clone(pass), bytes.Clone(salt)
	if _, err := Scrypt(pass, salt, 16, 8, 1, 32); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pass, p0) || !bytes.Equal(salt, s0) {
		t.Fatal("Scrypt modified its inputs")
	}
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// BenchmarkScrypt is one derivation at the vault's top calibrated work factor
// (2^19, r=8, p=1: 512 MiB); BenchmarkXCrypto is x/crypto's, for comparison.
func BenchmarkScrypt(b *testing.B) {
	for b.Loop() {
		if _, err := Scrypt([]byte("correct horse"), []byte("salt"), 1<<19, 8, 1, 32); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkXCrypto(b *testing.B) {
	for b.Loop() {
		if _, err := xscrypt.Key([]byte("correct horse"), []byte("salt"), 1<<19, 8, 1, 32); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMemoryReturned checks that V (64 MiB here) is neither left in the
// process (VmRSS) nor taken from the Go heap (HeapSys) once Scrypt returns:
// an idle client must not sit on the unlock's hundreds of MiB.
func TestMemoryReturned(t *testing.T) {
	const N, r = 1 << 16, 8 // V is 128·N·r bytes: 64 MiB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rss0 := vmRSS(t)
	k, err := Scrypt([]byte("correct horse"), []byte("salt"), N, r, 1, 32)
	if err != nil {
		t.Fatal(err)
	}
	rss1 := vmRSS(t)
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapSys) - int64(before.HeapSys); grew > 16<<20 {
		t.Errorf("the Go heap grew by %d MiB for a 64 MiB derivation: V is on the heap", grew>>20)
	}
	if grew := rss1 - rss0; grew > 16<<20 {
		t.Errorf("VmRSS grew by %d MiB after a 64 MiB derivation: V was not returned", grew>>20)
	}
	t.Logf("VmRSS %d MiB before, %d MiB after; HeapSys %d MiB before, %d MiB after", rss0>>20, rss1>>20, before.HeapSys>>20, after.HeapSys>>20)
	runtime.KeepAlive(k)
}

// vmRSS is this process's resident set size in bytes.
func vmRSS(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
