package sotto

import (
	"context"
	"crypto/rand"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/sottochat/sotto/internal/contactcode"
)

var safetyShape = regexp.MustCompile(`^[0-9]{5}( [0-9]{5}){11}$`)

// Issue 14 item 1, as the user meets it: the safety code is 60 digits in 12
// groups of five, the same on both screens, and a contact code whose
// client-auth key was swapped (by someone who wants to defeat restricted
// discovery) gives another code. On 4749c9d it was 20 digits and ignored the
// client-auth key.
func TestSafetyCodeCoversClientAuth(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	sa, err := a.e.SafetyCode("alice", "bob")
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := b.e.SafetyCode("bob", "alice")
	if sa != sb {
		t.Fatalf("codes differ: %q vs %q", sa, sb)
	}
	if !safetyShape.MatchString(sa) {
		t.Fatalf("safety code %q: want 12 groups of five digits", sa)
	}

	// Mallory hands alice bob's code with his own client-auth key.
	card, _ := b.e.Card("bob")
	cc, err := contactcode.Parse(card)
	if err != nil {
		t.Fatal(err)
	}
	rand.Read(cc.Auth[:])
	ctx := context.Background()
	if err := a.e.RemoveContact(ctx, "alice", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.e.AddContact(ctx, "alice", "bob", cc.String()); err != nil {
		t.Fatal(err)
	}
	swapped, _ := a.e.SafetyCode("alice", "bob")
	if swapped == sb {
		t.Fatal("a swapped client-auth key gives the same safety code")
	}
}

func TestVerifyCode(t *testing.T) {
	n := newMemNet()
	a, b := startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	code, _ := b.e.SafetyCode("bob", "alice")
	digits := strings.ReplaceAll(code, " ", "")
	wrong := digits[:59] + string("1234567890"[digits[59]-'0'])
	if err := a.e.VerifyCode("alice", "bob", wrong); !errors.Is(err, ErrSafetyMismatch) {
		t.Fatalf("a wrong code: %v", err)
	}
	if contactInfo(t, a, "alice", "bob").Verified {
		t.Fatal("verified with a wrong code")
	}
	if err := a.e.VerifyCode("alice", "bob", "\n"+digits[:31]+"\n "+digits[31:]+"\t"); err != nil {
		t.Fatalf("the code as read out, regrouped: %v", err)
	}
	if !contactInfo(t, a, "alice", "bob").Verified {
		t.Fatal("not verified")
	}
	if !SameSafetyCode(code, digits) || SameSafetyCode(code, wrong) {
		t.Fatal("SameSafetyCode")
	}
}

// Issue 14 (the new safety code): a contact verified under the old code is
// unverified on the first open after the upgrade, and the user is told
// once, in the conversation.
func TestVerifiedContactsReverifyAfterUpgrade(t *testing.T) {
	n := newMemNet()
	a, b, c := startPeer(t, n, nil), startPeer(t, n, nil), startPeer(t, n, nil)
	mustID(t, a, "alice", IdentityOptions{})
	mustID(t, b, "bob", IdentityOptions{})
	mustID(t, c, "carol", IdentityOptions{})
	befriend(t, a, "alice", "alice", b, "bob", "bob")
	befriend(t, a, "alice", "alice", c, "carol", "carol")
	// bob was verified by a version that wrote no safety_v (1).
	a.e.mu.Lock()
	old := a.e.ids["alice"].contacts["bob"]
	old.rec.Verified, old.rec.SafetyV = true, 0
	if err := a.e.saveContactLocked(old); err != nil {
		a.e.mu.Unlock()
		t.Fatal(err)
	}
	a.e.mu.Unlock()
	// carol was verified by this version.
	if err := a.e.Verify("alice", "carol"); err != nil {
		t.Fatal(err)
	}
	disk := a.disk
	a.close()

	a = startPeer(t, n, disk)
	ev := a.wait("the re-verify notice", func(ev Event) bool {
		m, ok := ev.(MessageEvent)
		return ok && m.Message.Kind == NoticeMessage && m.Message.Notice == NoticeReverify
	})
	if m := ev.(MessageEvent).Message; m.Contact != "bob" || m.Dir != System || !strings.Contains(m.Text, "compare it again") {
		t.Fatalf("notice %+v", m)
	}
	if contactInfo(t, a, "alice", "bob").Verified {
		t.Fatal("a contact verified under the old code is still verified")
	}
	if !contactInfo(t, a, "alice", "carol").Verified {
		t.Fatal("a contact verified under the new code lost it")
	}
	if lines, _ := notices(messagesOf(t, a, "alice", "carol"), NoticeReverify); lines != 0 {
		t.Fatal("carol got a notice")
	}
	a.close()

	// Once: the next open says nothing more.
	a = startPeer(t, n, disk)
	if lines, _ := notices(messagesOf(t, a, "alice", "bob"), NoticeReverify); lines != 1 {
		t.Fatalf("%d notices after two opens, want 1", lines)
	}
	code, _ := a.e.SafetyCode("alice", "bob")
	if err := a.e.VerifyCode("alice", "bob", code); err != nil {
		t.Fatal(err)
	}
	a.close()
	a = startPeer(t, n, disk)
	if !contactInfo(t, a, "alice", "bob").Verified {
		t.Fatal("verified again, then lost it on open")
	}
}
