package onion

import (
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strconv"
)

// The control commands Sotto sends, each with one fixed spelling
// (docs/tor-control.md lists them for onion-grater):
//
//	ADD_ONION ED25519-V3:<base64 expanded key> Flags=DiscardPK,MaxStreamsCloseCircuit[,V3Auth] MaxStreams=N [PoWDefensesEnabled=1 PoWQueueRate=R PoWQueueBurst=B] Port=443,<target> [ClientAuthV3=<base32>]...
//	DEL_ONION <address>
//	ONION_CLIENT_AUTH_ADD <address> x25519:<base64 private key>
//	ONION_CLIENT_AUTH_REMOVE <address>
//	HSFETCH <address>

// VirtualPort is the port of every Sotto onion service.
const VirtualPort = 443

// Onion service limits.
const (
	defaultMaxStreams = 32
	maxMaxStreams     = 65535
	// maxClientAuth bounds a restricted service's client list: every entry
	// costs descriptor space (tor's limit is a descriptor of 50 KB).
	maxClientAuth = 200
	// PoW queue settings (tor's defaults for HiddenServicePoWQueueRate and
	// ...Burst).
	powQueueRate  = 250
	powQueueBurst = 2500
)

var (
	b64           = base64.StdEncoding
	clientAuthB32 = base32.StdEncoding.WithPadding(base32.NoPadding)
)

// expandKey writes tor's 64-byte expanded Ed25519 secret key for seed into
// out: SHA-512(seed) with the scalar half clamped (RFC 8032 5.1.5), as tor's
// ed25519_secret_key_from_seed does.
func expandKey(seed *[32]byte, out *[64]byte) {
	h := sha512.Sum512(seed[:])
	copy(out[:], h[:])
	wipe(h[:])
	out[0] &= 248
	out[31] &= 127
	out[31] |= 64
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// addOnionArgs are the non-secret parts of ADD_ONION.
type addOnionArgs struct {
	target     string // "unix:/path" or "127.0.0.1:port"
	maxStreams int
	pow        bool
	clientAuth [][32]byte // empty = no V3Auth
}

// checkToken rejects anything that could end a control command or change
// its shape: CR, LF, NUL, other control bytes, space, and '%'.
func checkToken(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrBadConfig, what)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '%' {
			return fmt.Errorf("%w: %s contains a control character, space or %%", ErrBadConfig, what)
		}
	}
	return nil
}

// buildAddOnion returns the ADD_ONION line in a fresh buffer the caller
// wipes. The key goes in base64 from key into the buffer directly.
func buildAddOnion(key *[64]byte, a addOnionArgs) ([]byte, error) {
	if err := checkToken("service target", a.target); err != nil {
		return nil, err
	}
	if a.maxStreams < 1 || a.maxStreams > maxMaxStreams {
		return nil, fmt.Errorf("%w: MaxStreams must be 1-%d", ErrBadConfig, maxMaxStreams)
	}
	if len(a.clientAuth) > maxClientAuth {
		return nil, fmt.Errorf("%w: at most %d client-auth keys per service", ErrBadConfig, maxClientAuth)
	}
	n := 512 + len(a.clientAuth)*70 + len(a.target)
	cmd := make([]byte, 0, n)
	cmd = append(cmd, "ADD_ONION ED25519-V3:"...)
	start := len(cmd)
	cmd = cmd[:start+b64.EncodedLen(len(key))]
	b64.Encode(cmd[start:], key[:])
	cmd = append(cmd, " Flags=DiscardPK,MaxStreamsCloseCircuit"...)
	if len(a.clientAuth) > 0 {
		cmd = append(cmd, ",V3Auth"...)
	}
	cmd = append(cmd, " MaxStreams="...)
	cmd = strconv.AppendInt(cmd, int64(a.maxStreams), 10)
	if a.pow {
		cmd = append(cmd, " PoWDefensesEnabled=1 PoWQueueRate="...)
		cmd = strconv.AppendInt(cmd, powQueueRate, 10)
		cmd = append(cmd, " PoWQueueBurst="...)
		cmd = strconv.AppendInt(cmd, powQueueBurst, 10)
	}
	cmd = append(cmd, " Port="...)
	cmd = strconv.AppendInt(cmd, VirtualPort, 10)
	cmd = append(cmd, ',')
	cmd = append(cmd, a.target...)
	for i := range a.clientAuth {
		cmd = append(cmd, " ClientAuthV3="...)
		cmd = append(cmd, clientAuthB32.EncodeToString(a.clientAuth[i][:])...)
	}
	if len(cmd) > n {
		// append reallocated: a copy of the key may be left in the old
		// buffer. The capacity above is sized so this cannot happen.
		panic("onion: ADD_ONION buffer estimate too small")
	}
	return cmd, nil
}

// buildClientAuthAdd returns ONION_CLIENT_AUTH_ADD for addr with the x25519
// private key; never Flags=Permanent (tor would write the key to disk).
func buildClientAuthAdd(addr string, priv *[32]byte) ([]byte, error) {
	if err := checkToken("onion address", addr); err != nil {
		return nil, err
	}
	n := 64 + len(addr) + b64.EncodedLen(32)
	cmd := make([]byte, 0, n)
	cmd = append(cmd, "ONION_CLIENT_AUTH_ADD "...)
	cmd = append(cmd, addr...)
	cmd = append(cmd, " x25519:"...)
	start := len(cmd)
	cmd = cmd[:start+b64.EncodedLen(32)]
	b64.Encode(cmd[start:], priv[:])
	return cmd, nil
}

func cmdClientAuthRemove(addr string) string { return "ONION_CLIENT_AUTH_REMOVE " + addr }

func cmdDelOnion(addr string) string { return "DEL_ONION " + addr }

func cmdHSFetch(addr string) string { return "HSFETCH " + addr }
