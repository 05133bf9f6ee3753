package vault

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"filippo.io/age"

	"github.com/sottochat/sotto/vault/format"
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

// TestOpenKeyFileWrittenByAge checks that the vault's own decryption of the
// key file's payload opens a key file that age itself encrypted with a
// passphrase (age -p), and refuses it with the wrong passphrase or a
// flipped payload byte.
func TestOpenKeyFileWrittenByAge(t *testing.T) {
	k, err := newVaultKey()
	must(t, err)
	defer k.secret.Destroy()
	var plain []byte
	must(t, k.secret.Open(func(b []byte) error {
		plain, err = format.MarshalKeyFile(b[32:])
		return err
	}))
	r, err := age.NewScryptRecipient("correct horse")
	must(t, err)
	r.SetWorkFactor(10)
	var enc bytes.Buffer
	w, err := age.Encrypt(&enc, r)
	must(t, err)
	_, err = w.Write(plain)
	must(t, err)
	must(t, w.Close())

	k2, logN, err := openKeyFile(enc.Bytes(), pass(t, "correct horse"), 20)
	must(t, err)
	defer k2.secret.Destroy()
	if logN != 10 {
		t.Errorf("work factor %d, want 10", logN)
	}
	must(t, OpenSecrets(func(bs [][]byte) error {
		if !bytes.Equal(bs[0], bs[1]) {
			t.Error("the key age encrypted is not the key the vault decrypted")
		}
		return nil
	}, k.secret, k2.secret))

	if _, _, err := openKeyFile(enc.Bytes(), pass(t, "wrong horse"), 20); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v", err)
	}
	bad := bytes.Clone(enc.Bytes())
	bad[len(bad)-20] ^= 1
	var fe *FileError
	if _, _, err := openKeyFile(bad, pass(t, "correct horse"), 20); !errors.As(err, &fe) || !errors.Is(err, ErrDamaged) {
		t.Errorf("flipped payload byte: %v", err)
	}
}
