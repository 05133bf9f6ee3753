package ratchet

import (
	"encoding/binary"
	"sync"

	"github.com/sottochat/sotto/ratchet/wire"
)

// wireMessage is a parsed ratchet message with the byte ranges the AEADs
// bind.
type wireMessage struct {
	prefix []byte // version: associated data of the header
	nonce  []byte // nonce of the header and the body
	encHdr []byte // sealed header (with tag)
	sealed []byte // nonce || enc_header, bound into the body's associated data
	body   []byte

	// scr, when set, receives opened headers and the body's associated
	// data instead of fresh allocations.
	scr *scratch
}

func parseMessage(m []byte) (wireMessage, bool) {
	var p wire.Message
	if p.Unmarshal(m) != nil {
		return wireMessage{}, false
	}
	return wireMessage{
		prefix: m[:wire.PrefixSize],
		nonce:  p.Nonce,
		encHdr: p.EncHeader,
		sealed: m[wire.PrefixSize : wire.PrefixSize+len(p.Nonce)+len(p.EncHeader)],
		body:   p.Body,
	}, true
}

// openHeader tries to decrypt the header with hk.
func (w *wireMessage) openHeader(hk *[KeySize]byte) (wire.Header, bool) {
	var dst []byte
	if w.scr != nil {
		dst = w.scr.hdr[:0]
		w.scr.hdrUsed = max(w.scr.hdrUsed, len(w.encHdr))
	}
	x := w.aead()
	pt, err := x.open(hk, dst, w.nonce, w.encHdr, w.prefix)
	if err != nil {
		return wire.Header{}, false
	}
	var h wire.Header
	if h.Unmarshal(pt) != nil {
		return wire.Header{}, false
	}
	return h, true
}

// openBody decrypts the body with the single-use message key mk and the
// message's random nonce. The plaintext is a new slice of its exact size.
func (w *wireMessage) openBody(mk *[KeySize]byte, ad []byte) ([]byte, bool) {
	var dst []byte
	if w.scr != nil {
		dst = w.scr.adBuf(ad, w.sealed)
	}
	bad := bodyAD(dst, ad, w.prefix, w.sealed)
	defer wipe(bad)
	x := w.aead()
	pt, err := x.open(mk, nil, w.nonce, w.body, bad)
	if err != nil {
		return nil, false
	}
	return pt, true
}

// aead is the scratch's AEAD instance, or without a scratch one that makes
// a new instance per operation.
func (w *wireMessage) aead() xAEAD {
	if w.scr != nil {
		return w.scr.aead
	}
	return xAEAD{}
}

// bodyAD appends to dst the associated data of a message body: the length of
// the caller's associated data (u32), that data, then the message prefix and
// sealed header (Signal's ENCRYPT(mk, plaintext, CONCAT(AD, enc_header))).
func bodyAD(dst, ad, prefix, sealed []byte) []byte {
	b := dst
	if n := 4 + len(ad) + len(prefix) + len(sealed); cap(b)-len(b) < n {
		b = make([]byte, len(b), len(b)+n)
		copy(b, dst)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(ad)))
	b = append(b, ad...)
	b = append(b, prefix...)
	b = append(b, sealed...)
	return b
}

// scratch holds the buffers Encrypt and Decrypt reuse between calls: a
// decrypted header and a body's associated data, and the XChaCha20-Poly1305
// instance of the headers and bodies. They hold no key between operations
// (the instance's key is zeroed after each, see xAEAD), but a header names
// the chain it belongs to, so the buffers are wiped before they go back to
// the pool.
type scratch struct {
	aead xAEAD

	hdr [wire.MaxHeaderSize]byte
	// ad fits the associated data of any message whose caller-supplied
	// associated data is at most 256 bytes; longer ones get a fresh slice.
	ad [4 + 256 + wire.PrefixSize + wire.NonceSize + wire.MaxHeaderSize + wire.TagSize]byte

	// High-water marks of what was written, so that putScratch wipes only
	// those bytes.
	hdrUsed, adUsed int
}

// adBuf returns the empty associated-data buffer for a body whose AD is
// built from ad and sealed (see bodyAD), and counts the bytes it will take.
func (s *scratch) adBuf(ad, sealed []byte) []byte {
	s.adUsed = max(s.adUsed, min(4+len(ad)+wire.PrefixSize+len(sealed), len(s.ad)))
	return s.ad[:0]
}

var scratchPool = sync.Pool{New: func() any { return &scratch{aead: newXAEAD()} }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	s.wipe()
	scratchPool.Put(s)
}

// wipe zeroes the bytes of s that were used.
func (s *scratch) wipe() {
	clear(s.hdr[:min(s.hdrUsed, len(s.hdr))])
	clear(s.ad[:s.adUsed])
	s.hdrUsed, s.adUsed = 0, 0
}
