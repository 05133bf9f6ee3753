package ratchet

import (
	"encoding/binary"

	"github.com/sottochat/sotto/ratchet/wire"
	"golang.org/x/crypto/chacha20poly1305"
)

// Header flags (see package wire).
const (
	flagEK = wire.FlagEK
	flagCT = wire.FlagCT
)

// wireMessage is a parsed ratchet message with the byte ranges the AEADs
// bind.
type wireMessage struct {
	prefix []byte // version || sealed_len: associated data of the header
	nonce  []byte // header nonce, also the salt of the message keys
	encHdr []byte // sealed header (with tag)
	sealed []byte // nonce || enc_header, bound into the body's associated data
	body   []byte
}

func parseMessage(m []byte) (*wireMessage, bool) {
	p, err := wire.ParseMessage(m)
	if err != nil {
		return nil, false
	}
	return &wireMessage{
		prefix: m[:wire.PrefixSize],
		nonce:  p.Nonce,
		encHdr: p.EncHeader,
		sealed: m[wire.PrefixSize : wire.PrefixSize+len(p.Nonce)+len(p.EncHeader)],
		body:   p.Body,
	}, true
}

// openHeader tries to decrypt the header with hk.
func (w *wireMessage) openHeader(hk *[KeySize]byte) (*wire.Header, bool) {
	a, _ := chacha20poly1305.NewX(hk[:])
	pt, err := a.Open(nil, w.nonce, w.encHdr, w.prefix)
	if err != nil {
		return nil, false
	}
	h, err := wire.ParseHeader(pt)
	return h, err == nil
}

// openBody decrypts the body with the single-use message key mk and the
// message's random nonce.
func (w *wireMessage) openBody(mk *[KeySize]byte, ad []byte) ([]byte, bool) {
	a, _ := chacha20poly1305.NewX(mk[:])
	pt, err := a.Open(nil, w.nonce, w.body, bodyAD(ad, w.prefix, w.sealed))
	if err != nil {
		return nil, false
	}
	return pt, true
}

// bodyAD is the associated data of a message body: the length of the
// caller's associated data (u32), that data, then the message prefix and
// sealed header (Signal's ENCRYPT(mk, plaintext, CONCAT(AD, enc_header))).
func bodyAD(ad, prefix, sealed []byte) []byte {
	b := make([]byte, 0, 4+len(ad)+len(prefix)+len(sealed))
	b = binary.BigEndian.AppendUint32(b, uint32(len(ad)))
	b = append(b, ad...)
	b = append(b, prefix...)
	b = append(b, sealed...)
	return b
}
