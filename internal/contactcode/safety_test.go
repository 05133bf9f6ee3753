package contactcode

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// party is what a contact code carries: an identity key and a client-auth key.
type party struct {
	id   ed25519.PublicKey
	auth [32]byte
}

func (p *party) half() string { return SafetyHalf(p.id, &p.auth) }

// detParty makes the n-th party of a deterministic sequence (no need for
// real Ed25519 points: the code is defined for any 32 bytes).
func detParty(label string, n int) *party {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s %d id", label, n)))
	p := &party{id: ed25519.PublicKey(h[:])}
	p.auth = sha256.Sum256([]byte(fmt.Sprintf("%s %d auth", label, n)))
	return p
}

func safety(a, b *party) string { return Safety(a.id, &a.auth, b.id, &b.auth) }

var safetyShape = regexp.MustCompile(`^[0-9]{5}( [0-9]{5}){11}$`)

// groupsOf returns the groups of one party's half in a displayed code: its
// positions are the even or the odd groups.
func groupsOf(code string, even bool) string {
	g := strings.Fields(code)
	var b strings.Builder
	for i := range g {
		if (i%2 == 0) == even {
			b.WriteString(g[i])
		}
	}
	return b.String()
}

// Issue 14 item 1: the safety code is 60 digits in 12 groups, the same on
// both screens, and made of one half per party.
func TestSafetyShape(t *testing.T) {
	a, b := detParty("a", 0), detParty("b", 0)
	x, y := safety(a, b), safety(b, a)
	if x != y {
		t.Fatalf("order matters: %q vs %q", x, y)
	}
	if !safetyShape.MatchString(x) {
		t.Fatalf("shape %q: want 12 groups of 5 digits", x)
	}
	if n := len(NormalSafety(x)); n < 60 {
		t.Fatalf("%d digits, want at least 60", n)
	}
	ha, hb := a.half(), b.half()
	if len(ha) != 30 || len(hb) != 30 {
		t.Fatalf("halves of %d and %d digits, want 30", len(ha), len(hb))
	}
	lo, hi := min(ha, hb), max(ha, hb)
	if groupsOf(x, true) != lo || groupsOf(x, false) != hi {
		t.Fatalf("code %q does not interleave the halves %s and %s", x, lo, hi)
	}
}

// Issue 14 item 1: the client-auth key is bound into the code (a swapped
// client-auth key used to pass every check and silently defeat restricted
// discovery), and so is every bit of the identity key.
func TestSafetyBindsBothKeys(t *testing.T) {
	a, b := detParty("a", 1), detParty("b", 1)
	want := safety(a, b)
	for _, i := range []int{0, 17, 31} {
		for _, bit := range []byte{0x01, 0x80} {
			m := *b
			m.auth[i] ^= bit
			if safety(a, &m) == want {
				t.Fatalf("flipping bit %#x of byte %d of the client-auth key leaves the code unchanged", bit, i)
			}
			m = *b
			m.id = bytes.Clone(b.id)
			m.id[i] ^= bit
			if safety(a, &m) == want {
				t.Fatalf("flipping bit %#x of byte %d of the identity key leaves the code unchanged", bit, i)
			}
		}
	}
}

// Issue 14 item 1: each party's half depends on that party only, and stays
// on the screen whoever the other party is.
func TestSafetyHalfIsPerParty(t *testing.T) {
	a := detParty("a", 2)
	ha := a.half()
	for n := range 8 {
		o := detParty("other", n)
		code := safety(a, o)
		if groupsOf(code, true) != ha && groupsOf(code, false) != ha {
			t.Fatalf("a's half %s is not in the code %q with party %d", ha, code, n)
		}
		if o.half() == ha {
			t.Fatal("two parties share a half")
		}
	}
}

// The v1 construction (4749c9d): one 20-digit hash over both identity keys,
// kept here as the control of the attack below.
func safetyV1(a, b ed25519.PublicKey, iterations int) string {
	lo, hi := a, b
	if bytes.Compare(lo, hi) > 0 {
		lo, hi = hi, lo
	}
	h := sha512.New()
	h.Write([]byte("sotto safety code\x01"))
	h.Write(lo)
	h.Write(hi)
	sum := h.Sum(nil)
	for i := 1; i < iterations; i++ {
		h.Reset()
		h.Write(sum)
		h.Write(lo)
		h.Write(hi)
		sum = h.Sum(sum[:0])
	}
	var g []string
	for j := range 4 {
		var buf [8]byte
		copy(buf[3:], sum[5*j:5*j+5])
		g = append(g, fmt.Sprintf("%05d", binary.BigEndian.Uint64(buf[:])%100000))
	}
	return strings.Join(g, " ")
}

// Issue 14 item 1: the man in the middle's birthday search. Mallory swaps
// both contact codes: alice sees the code of (alice, X), bob the code of
// (Y, bob), for keys X, Y of his choice, and he wins when the two screens
// agree. Against v1 (one hash of both keys) he tabulates both sides and
// looks for a collision: 2^33 tries per side for the 20 digits. The test
// runs that search, scaled down to a 5-digit window (and one iteration, which
// changes the cost, not the odds), against v1: the control, it finds a
// match among 1000 keys. Then against the real code, with every strategy:
// whatever X and Y, alice's screen still carries alice's own half and bob's
// screen bob's, so the screens agree only if Y's half equals alice's and
// X's equals bob's: second preimages.
func TestSafetyMITMNeedsSecondPreimage(t *testing.T) {
	alice, bob := detParty("alice", 0), detParty("bob", 0)

	// Control: v1 falls to the birthday search on its first group.
	seen := map[string]bool{}
	for i := range 1000 {
		seen[safetyV1(alice.id, detParty("mallory", i).id, 1)[:5]] = true
	}
	found := false
	for i := range 1000 {
		if seen[safetyV1(detParty("mallory", i).id, bob.id, 1)[:5]] {
			found = true
			break
		}
	}
	if !found {
		t.Fatal("control: the birthday search found no v1 match; the test lost its power")
	}

	// v2: tabulate alice's screens; no screen of bob's matches one, and
	// every screen keeps its victim's half.
	const pool = 64
	ha, hb := alice.half(), bob.half()
	halves := make([]string, pool)
	screensA := map[string]bool{}
	for i := range halves {
		halves[i] = detParty("mallory", i).half()
		code := interleave(ha, halves[i])
		if groupsOf(code, true) != ha && groupsOf(code, false) != ha {
			t.Fatalf("alice's half left her screen with key %d", i)
		}
		screensA[code] = true
	}
	for i := range halves {
		code := interleave(halves[i], hb)
		if screensA[code] {
			t.Fatalf("key %d matches alice's screen on bob's", i)
		}
		if groupsOf(code, true) != hb && groupsOf(code, false) != hb {
			t.Fatalf("bob's half left his screen with key %d", i)
		}
	}
	// The only way to make the screens agree is to trade halves: Y must
	// have alice's half and X bob's. Every key of the pool lacks them.
	for i, h := range halves {
		if h == ha || h == hb {
			t.Fatalf("key %d has a victim's half", i)
		}
	}
	// And the lazy comparison: Mallory grinds his half to sort first on
	// both screens (the smallest of the pool), so that the first group of
	// each screen is his; the second group is still alice's own on her
	// screen and bob's own on his.
	best := 0
	for i, h := range halves {
		if h < halves[best] {
			best = i
		}
	}
	if m := halves[best]; m < ha && m < hb {
		sa, sb := strings.Fields(interleave(ha, m)), strings.Fields(interleave(m, hb))
		if sa[0] != sb[0] {
			t.Fatal("the attacker's own group differs")
		}
		if sa[1] != ha[:5] || sb[1] != hb[:5] {
			t.Fatalf("the second group is not the victim's own: %s %s", sa[1], sb[1])
		}
	} else {
		t.Fatal("the pool has no half smaller than both victims'; pick other labels")
	}
}

func TestSafetyEqual(t *testing.T) {
	a, b := detParty("a", 3), detParty("b", 3)
	code := safety(a, b)
	digits := NormalSafety(code)
	for _, typed := range []string{code, digits, " " + code + "\n", digits[:30] + "\n" + digits[30:], strings.ReplaceAll(code, " ", "\t")} {
		if !SafetyEqual(code, typed) {
			t.Fatalf("%q does not match", typed)
		}
	}
	for _, typed := range []string{"", "   ", digits[:59], digits + "0", digits[:59] + "x", safety(a, detParty("c", 3))} {
		if SafetyEqual(code, typed) {
			t.Fatalf("%q matches", typed)
		}
	}
}

// The example of docs/PROTOCOL.md §2.3: the identity of the contact-code
// example (Ed25519 seed 32 bytes 0x01, AUTH 32 bytes 0x02) and the one whose
// seed is 32 bytes 0x03 and AUTH 32 bytes 0x04.
func TestSafetyDocExample(t *testing.T) {
	one := &party{id: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey)}
	copy(one.auth[:], bytes.Repeat([]byte{2}, 32))
	two := &party{id: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32)).Public().(ed25519.PublicKey)}
	copy(two.auth[:], bytes.Repeat([]byte{4}, 32))
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    half of the first:  " + one.half() + "\n",
		"    half of the second: " + two.half() + "\n",
		"    safety code:        " + safety(one, two) + "\n",
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/PROTOCOL.md §2.3 lacks the line %q", want)
		}
	}
}

func BenchmarkSafety(b *testing.B) {
	x, y := detParty("a", 0), detParty("b", 0)
	for b.Loop() {
		safety(x, y)
	}
}
