package ratchet

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/sottochat/sotto/internal/erase"
)

// keyRecord remembers secrets without holding them: each is stored XORed
// with a random mask, so that the test's own memory never contains one.
type keyRecord struct {
	mask [KeySize]byte
	keys map[uint64][][KeySize]byte // by the first 8 bytes of the masked key
	n    int
}

func newKeyRecord() *keyRecord {
	r := &keyRecord{keys: map[uint64][][KeySize]byte{}}
	rand.Read(r.mask[:])
	return r
}

// add records every secret of s. It runs inside erase.Do so that its
// stack, which held the keys unmasked, is erased.
func (r *keyRecord) add(s *State) {
	erase.Do(func() {
		for _, e := range s.epochs {
			ks := []*[KeySize]byte{&e.resume, &e.rk, &e.dhs.priv, &e.cks, &e.ckr, &e.hks, &e.hkr, &e.nhks, &e.nhkr}
			if e.pq.hasSecret {
				ks = append(ks, &e.pq.buf.secret)
			}
			for _, k := range ks {
				if *k == ([KeySize]byte{}) {
					continue
				}
				var m [KeySize]byte
				for i := range m {
					m[i] = k[i] ^ r.mask[i]
				}
				p := binary.LittleEndian.Uint64(m[:8])
				dup := false
				for _, x := range r.keys[p] {
					dup = dup || x == m
				}
				if !dup {
					r.keys[p] = append(r.keys[p], m)
					r.n++
				}
			}
		}
	})
}

// scan counts the recorded keys found anywhere in this process's writable
// memory (heap, goroutine stacks, data), read through /proc/self/mem. Under
// the race detector, whose shadow memory is hundreds of megabytes, only the
// mappings that hold the Go heap (where goroutine stacks live too) are read.
func (r *keyRecord) scan(t *testing.T) int {
	t.Helper()
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skipf("cannot read this process's memory map: %v", err)
	}
	defer maps.Close()
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Skipf("cannot read this process's memory: %v", err)
	}
	defer mem.Close()
	var m0 uint64 = binary.LittleEndian.Uint64(r.mask[:8])
	// A table of the first two bytes of the keys filters almost every
	// offset before the map is consulted.
	var first [1 << 16]bool
	for _, cs := range r.keys {
		for _, c := range cs {
			first[uint16(c[0]^r.mask[0])|uint16(c[1]^r.mask[1])<<8] = true
		}
	}
	found := 0
	sc := bufio.NewScanner(maps)
	buf := make([]byte, 1<<20)
	small := new([64]byte)
	heap := []uint64{uint64(uintptr(unsafe.Pointer(&buf[0]))), uint64(uintptr(unsafe.Pointer(small)))}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasPrefix(f[1], "rw") || len(f) >= 6 && strings.HasPrefix(f[5], "[v") {
			continue // not writable, or [vvar]/[vsyscall]
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if raceEnabled && !slices.ContainsFunc(heap, func(p uint64) bool { return a <= p && p < b }) {
			continue
		}
		for off := a; off < b; off += uint64(len(buf)) - KeySize {
			n, _ := mem.ReadAt(buf[:min(uint64(len(buf)), b-off)], int64(off))
			for i := 0; i+KeySize <= n; i++ {
				if !first[uint16(buf[i])|uint16(buf[i+1])<<8] {
					continue
				}
				v := binary.LittleEndian.Uint64(buf[i:]) ^ m0
				cands, ok := r.keys[v]
				if !ok {
					continue
				}
				for _, c := range cands {
					match := true
					for j := 8; j < KeySize && match; j++ {
						match = buf[i+j]^r.mask[j] == c[j]
					}
					if match {
						found++
					}
				}
			}
			if n < KeySize {
				break
			}
		}
	}
	clear(buf)
	return found
}

// TestNoKeyResidue runs handshakes and a conversation that crosses a
// post-quantum round, records every root, chain, header and ratchet key
// and continuity secret the States held on the way, wipes and drops the
// States and then looks for those keys in all of the process's memory.
// Built with GOEXPERIMENT=runtimesecret (linux/amd64, arm64), none may be
// left: the package's own copies are wiped, and the copies the libraries it
// calls make (AEAD instances, ML-KEM keys) were allocated inside erase.Do
// and are zeroed once collected. Without it the test reports the count.
func TestNoKeyResidue(t *testing.T) {
	rec := newKeyRecord()
	func() {
		a, b := newParty(t), newParty(t)
		sa, sb := handshake(t, a, b, nil, nil)
		rec.add(sa)
		rec.add(sb)
		now := time.Now()
		from, to := sa, sb
		for i := range 2 * (pqEKChunks + pqCTChunks + 2) {
			m, err := from.Encrypt(rand.Reader, []byte(fmt.Sprint("message ", i)), nil)
			if err != nil {
				t.Fatal(err)
			}
			rec.add(from)
			pt, err := to.Decrypt(now, m, nil)
			if err != nil {
				t.Fatal(err)
			}
			clear(pt)
			rec.add(to)
			from, to = to, from
		}
		b1, _ := sa.MarshalBinary()
		var again State
		if err := again.UnmarshalBinary(b1); err != nil {
			t.Fatal(err)
		}
		clear(b1)
		na, nb := handshake(t, a, b, &again, sb)
		rec.add(na)
		rec.add(nb)
		for _, s := range []*State{sa, sb, &again, na, nb} {
			s.Wipe()
		}
	}()
	erase.Collect()
	erase.Collect()
	found := rec.scan(t)
	if !erase.Enabled {
		t.Skipf("built without runtime/secret: %d of %d keys still in memory", found, rec.n)
	}
	if found != 0 {
		t.Fatalf("%d copies of the %d keys are still in memory", found, rec.n)
	}
	t.Logf("none of %d keys left in memory", rec.n)
}
