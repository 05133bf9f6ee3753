package vault

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// TestNamesUnchanged checks that the file-name key and file names, now
// derived with package kdf, are the ones crypto/hkdf and crypto/hmac gave:
// vaults created before the change must still find their files.
func TestNamesUnchanged(t *testing.T) {
	k, err := newVaultKey()
	must(t, err)
	defer k.secret.Destroy()
	must(t, k.secret.Open(func(b []byte) error {
		want, err := hkdf.Key(sha256.New, b[32:], nil, nameKeyInfo, 32)
		must(t, err)
		if !bytes.Equal(b[:32], want) {
			t.Errorf("file-name key %x, crypto/hkdf gives %x", b[:32], want)
		}
		for _, parts := range [][][]byte{
			{[]byte("shard"), u32(7)},
			{[]byte("record"), []byte("identity"), []byte("alice")},
			{[]byte("segment"), []byte("log"), u32(0)},
			{},
		} {
			m := hmac.New(sha256.New, b[:32])
			for _, p := range parts {
				m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p))))
				m.Write(p)
			}
			if got, want := name(b[:32], parts...), hex.EncodeToString(m.Sum(nil)[:16]); got != want {
				t.Errorf("name(%q) = %s, crypto/hmac gives %s", parts, got, want)
			}
		}
		return nil
	}))
}
