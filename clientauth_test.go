package sotto

import (
	"encoding/hex"
	"testing"
)

// TestClientAuthPublicRFC7748 checks the client-auth public key against
// RFC 7748's X25519 vector (section 6.1, Alice's key pair).
func TestClientAuthPublicRFC7748(t *testing.T) {
	priv, _ := hex.DecodeString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	want := "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
	pub, err := clientAuthPublic(priv)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(pub[:]); got != want {
		t.Fatalf("public key %s, want %s", got, want)
	}
	if _, err := clientAuthPublic(priv[:31]); err == nil {
		t.Fatal("a 31-byte key was accepted")
	}
}
