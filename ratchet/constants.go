package ratchet

import (
	"crypto/mlkem"
	"time"

	"github.com/sottochat/sotto/ratchet/wire"
)

// Protocol constants. Changing any of them changes the wire format or the key
// schedule and needs a new [Version].
const (
	// Version is the protocol version: the first byte of handshake message 1
	// and of every ratchet message, and mixed into the handshake transcript.
	// Version 1 (before issue 14) is not spoken any more; see
	// docs/PROTOCOL.md, section 1.10.
	Version = 2

	// protocolName initialises the handshake transcript hash h and chaining
	// key ck (h = ck = SHA-256(protocolName)).
	protocolName = "Sotto-v2 XK-hybrid X25519 MLKEM768X25519 ChaCha20Poly1305 SHA256"

	// KeySize is the size of every symmetric key, chain key and X25519 value.
	KeySize = 32
	// PublicKeySize is the size of an Ed25519 identity key or X25519 public key.
	PublicKeySize = 32
	// epochIDSize is the size of an epoch identifier (public, random-looking).
	epochIDSize = 16
	// tagSize is the size of a ChaCha20-Poly1305 tag.
	tagSize = 16
	// proofSize is the size of a continuity proof: a truncated HMAC-SHA-256
	// under an epoch's continuity secret (messages 3 and 4).
	proofSize = 16
	// headerNonceSize is the size of an XChaCha20-Poly1305 nonce, drawn from
	// the caller's randomness for every message.
	headerNonceSize = 24

	// xwingPublicKeySize is the size of an MLKEM768-X25519 (X-Wing)
	// encapsulation key: ML-KEM-768 (1184) || X25519 (32).
	xwingPublicKeySize = 1216
	// xwingCiphertextSize is the size of an X-Wing encapsulation
	// (HPKE enc): ML-KEM-768 ciphertext (1088) || X25519 ephemeral (32).
	xwingCiphertextSize = 1120
	// xwingSeedSize is the size of an X-Wing private key seed.
	xwingSeedSize = 32

	// mlkemEncapsulationKeySize is the size of an ML-KEM-768 encapsulation key.
	mlkemEncapsulationKeySize = mlkem.EncapsulationKeySize768
	// mlkemCiphertextSize is the size of an ML-KEM-768 ciphertext.
	mlkemCiphertextSize = mlkem.CiphertextSize768
	// mlkemSeedSize is the size of an ML-KEM-768 decapsulation key seed (d || z).
	mlkemSeedSize = 64

	// pqChunkSize is the size of the post-quantum chunk in every message
	// header; an encapsulation key travels in pqEKChunks of them, a
	// ciphertext in pqCTChunks.
	pqChunkSize = wire.ChunkSize
	pqEKChunks  = wire.EKChunks
	pqCTChunks  = wire.CTChunks
)

// Domain-separation labels (HKDF info strings and HPKE contexts). See
// docs/PROTOCOL.md, Part 1.
const (
	labelMixKey         = "sotto v2 handshake mix key"
	labelXWingInfo      = "sotto v2 handshake x-wing"
	labelXWingExport    = "sotto v2 handshake x-wing secret"
	labelEpochKeys      = "sotto v2 epoch keys"
	labelRootKDF        = "sotto v2 root kdf"
	labelProofInitiator = "sotto v2 continuity initiator"
	labelProofResponder = "sotto v2 continuity responder"
)

// KDF_CK inputs, as in Signal's Double Ratchet specification section 5.2:
// message key = HMAC-SHA-256(ck, 0x01), next chain key = HMAC-SHA-256(ck, 0x02).
const (
	ckMessageByte = 0x01
	ckChainByte   = 0x02
)

// Implementation limits. They bound what a peer (or a corrupt state) can make
// us store or compute; they are not part of the key schedule.
const (
	// MaxSkip is the largest number of message keys one message may make us
	// skip in one receiving chain (Signal's MAX_SKIP).
	MaxSkip = 1000
	// MaxSkippedKeys bounds the skipped message keys kept in one State.
	MaxSkippedKeys = 2000
	// maxSkippedChains bounds the chains with skipped keys per epoch, which
	// bounds trial decryptions of a header.
	maxSkippedChains = 16
	// MaxSkippedAge is how long a skipped message key is kept: after that it
	// is destroyed and the message it belonged to can no longer be decrypted.
	MaxSkippedAge = 24 * time.Hour
	// MaxEpochs is how many epochs (one per completed handshake) a State
	// keeps; older ones are destroyed.
	MaxEpochs = 4
	// MaxMessageSize bounds a ratchet message (header and body).
	MaxMessageSize = wire.MaxMessageSize
	// Overhead is what Encrypt adds to a plaintext: every message is
	// exactly len(plaintext) + Overhead bytes long.
	Overhead = wire.Overhead
	// MaxPlaintextSize bounds a plaintext passed to Encrypt.
	MaxPlaintextSize = MaxMessageSize - 4096
)
