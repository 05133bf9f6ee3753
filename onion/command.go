package onion

import (
	"crypto/ecdh"
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
	// PoW queue settings (tor's defaults for HiddenServicePoWQueueRate and
	// ...Burst).
	powQueueRate  = 250
	powQueueBurst = 2500
)

// MaxCommandLine is the longest control-port command Sotto sends, in bytes
// before the CRLF. Whonix's and Tails' control-port filter, onion-grater,
// closes the connection without a reply on a line whose bytes before the LF
// are more than its MAX_LINESIZE of 10240 (the CR counts), so 10239 is the
// longest line that passes it (contrib/onion-grater's test sends both).
const MaxCommandLine = 10239

// The parts of the longest ADD_ONION (see buildAddOnion), for MaxClientAuth.
const (
	addOnionHead    = "ADD_ONION ED25519-V3:"
	addOnionFlags   = " Flags=DiscardPK,MaxStreamsCloseCircuit,V3Auth"
	addOnionStreams = " MaxStreams=65535"
	addOnionPoW     = " PoWDefensesEnabled=1 PoWQueueRate=250 PoWQueueBurst=2500"
	addOnionPort    = " Port=443,"
	clientAuthArg   = " ClientAuthV3="
	// maxTargetLen bounds the service target: "unix:" and a socket path of
	// at most maxUnixPath bytes, or "[IPv6]:port" (47 bytes).
	maxTargetLen = len("unix:") + maxUnixPath
	// addOnionFixed is the longest ADD_ONION without its ClientAuthV3
	// arguments: the key is 64 bytes in base64 (88 characters).
	addOnionFixed = len(addOnionHead) + 88 + len(addOnionFlags) + len(addOnionStreams) + len(addOnionPoW) + len(addOnionPort) + maxTargetLen
	// clientAuthLen is one " ClientAuthV3=<52 base32>".
	clientAuthLen = len(clientAuthArg) + 52
)

// MaxClientAuth is the most client-auth keys (contacts) one restricted
// onion service can have: as many as fit in one ADD_ONION of at most
// MaxCommandLine bytes with every option at its longest, so that the
// command passes onion-grater however the service is set up. Each also
// costs descriptor space, well within tor's 50 KB.
const MaxClientAuth = (MaxCommandLine - addOnionFixed) / clientAuthLen

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
	if len(a.clientAuth) > MaxClientAuth {
		return nil, tooManyClients(len(a.clientAuth))
	}
	for i := range a.clientAuth {
		if err := CheckClientAuthKey(&a.clientAuth[i]); err != nil {
			return nil, err
		}
	}
	if len(a.target) > maxTargetLen {
		return nil, fmt.Errorf("%w: service target longer than %d bytes", ErrBadConfig, maxTargetLen)
	}
	n := 512 + len(a.clientAuth)*70 + len(a.target)
	cmd := make([]byte, 0, n)
	cmd = append(cmd, addOnionHead...)
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
		cmd = append(cmd, clientAuthArg...)
		cmd = append(cmd, clientAuthB32.EncodeToString(a.clientAuth[i][:])...)
	}
	if len(cmd) > n {
		// append reallocated: a copy of the key may be left in the old
		// buffer. The capacity above is sized so this cannot happen.
		panic("onion: ADD_ONION buffer estimate too small")
	}
	if len(cmd) > MaxCommandLine {
		// Cannot happen within the limits checked above; a filter would
		// drop the line (and tor never see it), so it is never sent.
		wipe(cmd)
		return nil, fmt.Errorf("%w: ADD_ONION of %d bytes is longer than %d", ErrBadConfig, len(cmd), MaxCommandLine)
	}
	return cmd, nil
}

// lowOrderProbe is a fixed X25519 private key for CheckClientAuthKey: any
// clamped scalar multiplies a point of small order to zero.
var lowOrderProbe = sha512.Sum512_256([]byte("sotto: client-auth key check"))

// CheckClientAuthKey reports whether pub can be one of a restricted
// service's client-auth keys: an X25519 public key that is not all zero and
// not of small order. tor 0.4.9.11 aborts on an assertion when it builds the
// descriptor of a service with an all-zero client key (hs_descriptor.c,
// hs_desc_build_authorized_client): one such key in a contact code would
// crash the tor that publishes the identity, on Whonix the Gateway's tor
// that every Workstation uses. A key of small order gives a shared secret
// of zero. Both are refused, with ErrBadConfig.
func CheckClientAuthKey(pub *[32]byte) error {
	k, err := ecdh.X25519().NewPublicKey(pub[:])
	if err == nil {
		var probe *ecdh.PrivateKey
		if probe, err = ecdh.X25519().NewPrivateKey(lowOrderProbe[:]); err == nil {
			var shared []byte
			shared, err = probe.ECDH(k)
			wipe(shared)
		}
	}
	if err != nil {
		return fmt.Errorf("%w: a client-auth key is all zero or of small order (not a usable X25519 key)", ErrBadConfig)
	}
	return nil
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

// tooManyClients is the error for a restricted service with n client-auth
// keys, more than MaxClientAuth.
func tooManyClients(n int) error {
	return fmt.Errorf("%w: %d contacts; one identity can have at most %d (tor's control command carrying them would be longer than the %d bytes a control-port filter such as Whonix's onion-grater passes)", ErrTooManyClients, n, MaxClientAuth, MaxCommandLine)
}

func cmdClientAuthRemove(addr string) string { return "ONION_CLIENT_AUTH_REMOVE " + addr }

func cmdDelOnion(addr string) string { return "DEL_ONION " + addr }

func cmdHSFetch(addr string) string { return "HSFETCH " + addr }
