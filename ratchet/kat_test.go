package ratchet

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/cryptotest"
	"time"
)

// katPath holds the vectors of the current protocol version; the file name
// carries the version so that vectors of another version are never read as
// these.
var katPath = filepath.Join("testdata", fmt.Sprintf("vectors-v%d.json", Version))

var update = flag.Bool("update", false, "rewrite the known-answer vectors in testdata/")

// katRand is the deterministic random stream of the vectors:
// SHAKE256(label), read in order.
func katRand(label string) *sha3.SHAKE {
	s := sha3.NewSHAKE256()
	s.Write([]byte(label))
	return s
}

func katSeed(first byte) [32]byte {
	var s [32]byte
	for i := range s {
		s[i] = first + byte(i)
	}
	return s
}

type katMessage struct {
	From      string `json:"from"` // "initiator" or "responder"
	Plaintext string `json:"plaintext"`
	AD        string `json:"ad"` // hex
	Message   string `json:"message"`
}

type katHandshake struct {
	Msg1           string `json:"msg1"`
	Msg2           string `json:"msg2"`
	Msg3           string `json:"msg3"`
	Msg4           string `json:"msg4"`
	Continued      bool   `json:"continued"`
	InitiatorState string `json:"initiator_state"` // MarshalBinary after Finish
	ResponderState string `json:"responder_state"` // MarshalBinary after Accept
}

type katVectors struct {
	Comment           string       `json:"comment"`
	Version           int          `json:"protocol_version"`
	GoGlobalRandom    uint64       `json:"go_global_random_seed"`
	InitiatorSeed     string       `json:"initiator_seed"`
	ResponderSeed     string       `json:"responder_seed"`
	InitiatorIdentity string       `json:"initiator_identity"`
	ResponderIdentity string       `json:"responder_identity"`
	InitiatorRand     string       `json:"initiator_rand"`
	ResponderRand     string       `json:"responder_rand"`
	First             katHandshake `json:"first_handshake"`
	Conversation      []katMessage `json:"conversation"`
	Second            katHandshake `json:"second_handshake"` // responder dials back, chaining to the first epoch
	After             []katMessage `json:"conversation_after_second"`
}

const katComment = "Sotto ratchet known-answer vectors (docs/PROTOCOL.md, Part 1). " +
	"All hex. Each side draws its explicit randomness from SHAKE256(label) in call order. " +
	"Go 1.26 draws the X-Wing (HPKE) and ML-KEM encapsulation randomness from crypto/rand internally; " +
	"the vectors were made with testing/cryptotest.SetGlobalRandom(go_global_random_seed), so another " +
	"implementation checks the decapsulating side (everything given msg2 and the answer messages) exactly."

func runHandshake(t *testing.T, ri, rr *sha3.SHAKE, ia, ib [32]byte, pi, pr *State) (katHandshake, *State, *State) {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(ib[:]).Public().(ed25519.PublicKey)
	hi, err := NewInitiator(ri, pub, pi)
	if err != nil {
		t.Fatal(err)
	}
	hr, _ := NewResponder(rr)
	var k katHandshake
	m1, err := hi.Hello()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := hr.Reply(m1, &ib)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := hi.Authenticate(m2, &ia)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hr.ReadAuth(m3); err != nil {
		t.Fatal(err)
	}
	m4, sr, err := hr.Accept(pr)
	if err != nil {
		t.Fatal(err)
	}
	si, err := hi.Finish(m4)
	if err != nil {
		t.Fatal(err)
	}
	k.Msg1, k.Msg2, k.Msg3, k.Msg4 = hex.EncodeToString(m1), hex.EncodeToString(m2), hex.EncodeToString(m3), hex.EncodeToString(m4)
	k.Continued = hi.Continued()
	k.InitiatorState = hex.EncodeToString(marshal(t, si))
	k.ResponderState = hex.EncodeToString(marshal(t, sr))
	return k, si, sr
}

// katScript is the fixed conversation: who sends, in order. It crosses
// chains of one and of several messages, a skipped message, and a whole
// post-quantum round: the initiator's key in pqEKChunks messages, the
// responder's encapsulation and ciphertext in pqCTChunks, the
// initiator's decapsulation and the chain that mixes the secret and starts
// the next round (TestKnownAnswers checks that it does).
var katScript = []int{1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0}

func converse(t *testing.T, st [2]*State, rnd [2]*sha3.SHAKE, tag string) []katMessage {
	t.Helper()
	names := [2]string{"initiator", "responder"}
	var out []katMessage
	var held []katMessage // message 3 of each run is delivered last (a skip)
	now := time.Unix(1_800_000_000, 0)
	for i, from := range katScript {
		pt := fmt.Sprintf("%s message %d from the %s", tag, i, names[from])
		ad := []byte(fmt.Sprintf("ad %d", i))
		m, err := st[from].Encrypt(rnd[from], []byte(pt), ad)
		if err != nil {
			t.Fatal(err)
		}
		km := katMessage{From: names[from], Plaintext: pt, AD: hex.EncodeToString(ad), Message: hex.EncodeToString(m)}
		out = append(out, km)
		if i == 3 {
			held = append(held, km)
			continue
		}
		got, err := st[1-from].Decrypt(now, m, ad)
		if err != nil || string(got) != pt {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	for _, km := range held {
		m, _ := hex.DecodeString(km.Message)
		ad, _ := hex.DecodeString(km.AD)
		to := 1
		if km.From == "responder" {
			to = 0
		}
		if got, err := st[to].Decrypt(now, m, ad); err != nil || string(got) != km.Plaintext {
			t.Fatalf("held message: %v", err)
		}
	}
	return out
}

func makeVectors(t *testing.T) katVectors {
	const goSeed = 1
	cryptotest.SetGlobalRandom(t, goSeed)
	ia, ib := katSeed(0x00), katSeed(0x80)
	v := katVectors{
		Comment:           katComment,
		Version:           Version,
		GoGlobalRandom:    goSeed,
		InitiatorSeed:     hex.EncodeToString(ia[:]),
		ResponderSeed:     hex.EncodeToString(ib[:]),
		InitiatorIdentity: hex.EncodeToString(ed25519.NewKeyFromSeed(ia[:]).Public().(ed25519.PublicKey)),
		ResponderIdentity: hex.EncodeToString(ed25519.NewKeyFromSeed(ib[:]).Public().(ed25519.PublicKey)),
		InitiatorRand:     "SHAKE256(\"sotto kat initiator\")",
		ResponderRand:     "SHAKE256(\"sotto kat responder\")",
	}
	ri, rr := katRand("sotto kat initiator"), katRand("sotto kat responder")
	var si, sr *State
	v.First, si, sr = runHandshake(t, ri, rr, ia, ib, nil, nil)
	v.Conversation = converse(t, [2]*State{si, sr}, [2]*sha3.SHAKE{ri, rr}, "first")
	if e := si.epochs[0]; e.pq.round < 2 {
		t.Fatalf("the conversation of the vectors did not complete a post-quantum round (round %d)", e.pq.round)
	}
	// The responder dials back: it is the initiator of the second handshake.
	var s2r, s2i *State
	v.Second, s2r, s2i = runHandshake(t, rr, ri, ib, ia, sr, si)
	v.After = converse(t, [2]*State{s2i, s2r}, [2]*sha3.SHAKE{ri, rr}, "second")
	return v
}

// TestKnownAnswers regenerates the vectors from fixed randomness and
// compares them byte for byte with testdata/vectors-v2.json (go test
// -update rewrites the file).
func TestKnownAnswers(t *testing.T) {
	v := makeVectors(t)
	path := katPath
	if *update {
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want katVectors
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if want.Version != Version {
		t.Fatalf("%s holds vectors of version %d", katPath, want.Version)
	}
	if !v.Second.Continued || v.First.Continued {
		t.Fatal("continuity flags wrong")
	}
	rv, rw := reflect.ValueOf(v), reflect.ValueOf(want)
	for i := range rv.NumField() {
		if !reflect.DeepEqual(rv.Field(i).Interface(), rw.Field(i).Interface()) {
			t.Errorf("vector field %s differs from testdata", rv.Type().Field(i).Name)
		}
	}
}

// TestVectorsDecrypt checks the stored vectors without regenerating them:
// the stored states parse and re-serialise to the same bytes, and the
// messages that need no new randomness at the receiver (those before the
// receiver's first DH step) decrypt from the stored states to the stored
// plaintexts.
func TestVectorsDecrypt(t *testing.T) {
	b, err := os.ReadFile(katPath)
	if err != nil {
		t.Fatal(err)
	}
	var v katVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	load := func(h string) *State {
		raw, _ := hex.DecodeString(h)
		var s State
		if err := s.UnmarshalBinary(raw); err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(marshal(t, &s)) != h {
			t.Fatal("stored state does not round-trip")
		}
		return &s
	}
	for _, run := range []struct {
		hs   katHandshake
		msgs []katMessage
		swap bool
		n    int
	}{{v.First, v.Conversation, false, 3}, {v.Second, v.After, true, 1}} {
		st := map[string]*State{"initiator": load(run.hs.InitiatorState), "responder": load(run.hs.ResponderState)}
		if run.swap { // the responder of the first run initiated the second
			st = map[string]*State{"responder": load(run.hs.InitiatorState), "initiator": load(run.hs.ResponderState)}
		}
		// First run: the responder's first chain, then the initiator's
		// first (the first chunks of its ML-KEM key). Second run (roles
		// swapped): the new initiator's first chain; the next message
		// needs its sending step.
		for _, m := range run.msgs[:run.n] {
			to := "responder"
			if m.From == "responder" {
				to = "initiator"
			}
			raw, _ := hex.DecodeString(m.Message)
			ad, _ := hex.DecodeString(m.AD)
			pt, err := st[to].Decrypt(time.Unix(1_800_000_000, 0), raw, ad)
			if err != nil || string(pt) != m.Plaintext {
				t.Fatalf("vector message %q: %v", m.Plaintext, err)
			}
		}
	}
}

// TestLibsignalChainKey re-derives libsignal's chain-key known answer
// (rust/protocol/src/ratchet/keys.rs, test_chain_key_derivation): KDF_CK is
// the same function, and Signal's message keys are HKDF-SHA-256 of our
// message key with info "WhisperMessageKeys".
func TestLibsignalChainKey(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var ck [KeySize]byte
	copy(ck[:], h("8ab72d6f4cc5ac0d387eaf463378ddb28edd07385b1cb01250c715982e7ad48f"))
	next, mk := kdfCK(&ck)
	if hex.EncodeToString(next[:]) != "28e8f8fee54b801eef7c5cfb2f17f32c7b334485bbb70fac6ec10342a246d15d" {
		t.Fatalf("next chain key %x", next)
	}
	okm, err := hkdf.Key(sha256.New, mk[:], nil, "WhisperMessageKeys", 80)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(okm[:32]); got != "bf51e9d75e0e31031051f82a2491ffc084fa298b7793bd9db620056febf45217" {
		t.Fatalf("cipher key %s", got)
	}
	if got := hex.EncodeToString(okm[32:64]); got != "c6c77d6a73a354337a56435e34607dfe48e3ace14e77314dc6abc172e7a7030b" {
		t.Fatalf("mac key %s", got)
	}
}
