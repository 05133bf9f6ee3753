package ratchet

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

type asyncParty struct {
	seed [32]byte
	pub  ed25519.PublicKey
}

func newAsyncParty(t *testing.T) asyncParty {
	var p asyncParty
	rand.Read(p.seed[:])
	p.pub = ed25519.NewKeyFromSeed(p.seed[:]).Public().(ed25519.PublicKey)
	return p
}

func intakeKeys(t *testing.T) (seed [IntakeSeedSize]byte, pub []byte) {
	rand.Read(seed[:])
	pub, err := IntakePublicKey(&seed)
	if err != nil {
		t.Fatal(err)
	}
	return seed, pub
}

// TestAsyncHandshake: message 1 sealed to an offline responder, the states
// kept serialised in between (as in a vault), message 2 whenever, and the
// double ratchet running both ways in the resulting epoch.
func TestAsyncHandshake(t *testing.T) {
	src, jrn := newAsyncParty(t), newAsyncParty(t)
	iseed, ipub := intakeKeys(t)
	payload := []byte("a contact request with a first text")
	msg1, ini, err := SealFirst(rand.Reader, &src.seed, jrn.pub, ipub, payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg1) != AsyncMsg1Overhead+len(payload) {
		t.Fatalf("message 1 is %d bytes", len(msg1))
	}
	if bytes.Contains(msg1, src.pub) || bytes.Contains(msg1, payload) {
		t.Fatal("message 1 shows the initiator's identity or the payload")
	}
	ib, err := ini.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ini.Wipe()
	peer, got, resp, err := OpenFirst(&jrn.seed, &iseed, msg1)
	if err != nil {
		t.Fatal(err)
	}
	if !peer.Equal(src.pub) || !bytes.Equal(got, payload) {
		t.Fatalf("responder read %x, %q", peer, got)
	}
	rb, err := resp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	resp.Wipe()
	// Days later, from the vault.
	resp, err = UnmarshalAsyncResponder(rb)
	if err != nil {
		t.Fatal(err)
	}
	msg2, jst, err := resp.AnswerFirst(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg2) != AsyncMsg2Size {
		t.Fatalf("message 2 is %d bytes", len(msg2))
	}
	ini, err = UnmarshalAsyncInitiator(ib)
	if err != nil {
		t.Fatal(err)
	}
	// A damaged answer fails and leaves the initiator able to read the real one.
	bad := bytes.Clone(msg2)
	bad[len(bad)-1] ^= 1
	if _, err := ini.FinishFirst(bad, &src.seed); !errors.Is(err, ErrHandshake) {
		t.Fatalf("damaged message 2: %v", err)
	}
	sst, err := ini.FinishFirst(msg2, &src.seed)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ad := []byte("ad")
	// The responder writes first (its reply), then both ways, several turns.
	for i := range 6 {
		from, to := jst, sst
		if i%2 == 1 {
			from, to = sst, jst
		}
		pt := []byte{byte(i), 'x'}
		ct, err := from.Encrypt(rand.Reader, pt, ad)
		if err != nil {
			t.Fatal(i, err)
		}
		back, err := to.Decrypt(now, ct, ad)
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("turn %d: %v", i, err)
		}
	}
	if !sst.Peer().Equal(jrn.pub) || !jst.Peer().Equal(src.pub) {
		t.Fatal("states name the wrong peers")
	}
	if _, err := ini.FinishFirst(msg2, &src.seed); err == nil {
		t.Fatal("a finished initiator finished again")
	}
}

func TestAsyncHandshakeRefusals(t *testing.T) {
	src, jrn, other := newAsyncParty(t), newAsyncParty(t), newAsyncParty(t)
	iseed, ipub := intakeKeys(t)
	oseed, _ := intakeKeys(t)
	msg1, _, err := SealFirst(rand.Reader, &src.seed, jrn.pub, ipub, []byte("p"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := OpenFirst(&jrn.seed, &oseed, msg1); !errors.Is(err, ErrHandshake) {
		t.Fatalf("another intake key: %v", err)
	}
	if _, _, _, err := OpenFirst(&other.seed, &iseed, msg1); !errors.Is(err, ErrHandshake) {
		t.Fatalf("another identity: %v", err)
	}
	for _, i := range []int{0, 1, 40, 1300, 2400, 2420, len(msg1) - 1} {
		bad := bytes.Clone(msg1)
		bad[i] ^= 0x40
		if _, _, _, err := OpenFirst(&jrn.seed, &iseed, bad); !errors.Is(err, ErrHandshake) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	for _, n := range []int{0, 1, AsyncMsg1Overhead - 1} {
		if _, _, _, err := OpenFirst(&jrn.seed, &iseed, msg1[:n]); !errors.Is(err, ErrHandshake) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	// To oneself: refused.
	if _, _, err := SealFirst(rand.Reader, &src.seed, src.pub, ipub, nil); err == nil {
		t.Fatal("a first message to oneself")
	}
	// States that do not decode.
	if _, err := UnmarshalAsyncInitiator([]byte{1, 2, 3}); !errors.Is(err, ErrAsyncState) {
		t.Fatal(err)
	}
	if _, err := UnmarshalAsyncResponder(nil); !errors.Is(err, ErrAsyncState) {
		t.Fatal(err)
	}
}
