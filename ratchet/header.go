package ratchet

import (
	"encoding/binary"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
)

// Header flags.
const (
	flagEK = 0x01 // the header carries an ML-KEM-768 encapsulation key (offer)
	flagCT = 0x02 // the header carries an ML-KEM-768 ciphertext (answer)

	headerFixedSize = PublicKeySize + 4 + 4 + 1 // dh || pn || n || flags
	prefixSize      = 1 + 2                     // version || header length
)

// header is the plaintext header of a ratchet message:
// dh(32) || pn(u32) || n(u32) || flags(u8) || [ek(1184)] || [ct(1088)].
type header struct {
	dh    [PublicKeySize]byte
	pn, n uint32
	flags byte
	ek    []byte
	ct    []byte
}

func (h *header) marshal() []byte {
	b := make([]byte, 0, headerFixedSize+len(h.ek)+len(h.ct))
	b = append(b, h.dh[:]...)
	b = binary.BigEndian.AppendUint32(b, h.pn)
	b = binary.BigEndian.AppendUint32(b, h.n)
	b = append(b, h.flags)
	b = append(b, h.ek...)
	b = append(b, h.ct...)
	return b
}

// parseHeader parses a decrypted header; any trailing or missing byte fails.
func parseHeader(b []byte) (*header, bool) {
	s := cryptobyte.String(b)
	h := new(header)
	var dh []byte
	if !s.ReadBytes(&dh, PublicKeySize) || !s.ReadUint32(&h.pn) || !s.ReadUint32(&h.n) || !s.ReadUint8(&h.flags) {
		return nil, false
	}
	copy(h.dh[:], dh)
	if h.flags&^(flagEK|flagCT) != 0 {
		return nil, false
	}
	if h.flags&flagEK != 0 && !s.ReadBytes(&h.ek, mlkemEncapsulationKeySize) {
		return nil, false
	}
	if h.flags&flagCT != 0 && !s.ReadBytes(&h.ct, mlkemCiphertextSize) {
		return nil, false
	}
	if !s.Empty() {
		return nil, false
	}
	return h, true
}

// wireMessage is a ratchet message split into its parts:
// version(1) || header_len(u16) || nonce(24) || enc_header || body.
type wireMessage struct {
	prefix []byte // version || header_len: associated data of the header
	nonce  []byte // header nonce, also the salt of the message keys
	encHdr []byte // sealed header (with tag)
	sealed []byte // nonce || enc_header, bound into the body's associated data
	body   []byte
}

func parseMessage(m []byte) (*wireMessage, bool) {
	if len(m) > MaxMessageSize {
		return nil, false
	}
	s := cryptobyte.String(m)
	var v uint8
	var sealed cryptobyte.String
	if !s.ReadUint8(&v) || v != Version || !s.ReadUint16LengthPrefixed(&sealed) {
		return nil, false
	}
	if len(sealed) < headerNonceSize+headerFixedSize+tagSize || len(s) < tagSize {
		return nil, false
	}
	return &wireMessage{
		prefix: m[:prefixSize],
		nonce:  sealed[:headerNonceSize],
		encHdr: sealed[headerNonceSize:],
		sealed: sealed,
		body:   s,
	}, true
}

// openHeader tries to decrypt the header with hk.
func (w *wireMessage) openHeader(hk *[KeySize]byte) (*header, bool) {
	a, _ := chacha20poly1305.NewX(hk[:])
	pt, err := a.Open(nil, w.nonce, w.encHdr, w.prefix)
	if err != nil {
		return nil, false
	}
	return parseHeader(pt)
}

// openBody decrypts the body with the message key mk.
func (w *wireMessage) openBody(mk *[KeySize]byte, ad []byte) ([]byte, bool) {
	key, nonce := messageKeys(mk, w.nonce)
	defer wipe(key[:])
	a, _ := chacha20poly1305.New(key[:])
	pt, err := a.Open(nil, nonce[:], w.body, bodyAD(ad, w.prefix, w.sealed))
	if err != nil {
		return nil, false
	}
	return pt, true
}

// bodyAD is the associated data of a message body: the caller's associated
// data, then the message prefix and sealed header (Signal's
// ENCRYPT(mk, plaintext, CONCAT(AD, enc_header))).
func bodyAD(ad, prefix, sealed []byte) []byte {
	b := make([]byte, 0, 4+len(ad)+len(prefix)+len(sealed))
	b = binary.BigEndian.AppendUint32(b, uint32(len(ad)))
	b = append(b, ad...)
	b = append(b, prefix...)
	b = append(b, sealed...)
	return b
}
