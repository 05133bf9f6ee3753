package vault_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sottochat/sotto/vault"
)

func Example() {
	tmp, _ := os.MkdirTemp("", "vault-example-")
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "profile")

	// Production code reads the passphrase with vault.ReadPassphrase and
	// leaves Options nil (the KDF is then calibrated to about a second).
	p, _ := vault.NewPassphrase([]byte("correct horse battery staple"))
	opts := &vault.Options{UnsafeWorkFactor: 10}

	v, err := vault.Create(dir, p, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	v.Put("contact", "alice", []byte("alice's contact code"))
	v.Append("alice", "id-1", []byte("hello"))
	v.Append("alice", "id-2", []byte("are you there?"))
	v.Remove("alice", "id-1")
	v.Close()

	v, err = vault.Open(dir, p, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	card, _ := v.Get("contact", "alice")
	entries, _ := v.Entries("alice")
	fmt.Printf("%s\n", card)
	for _, e := range entries {
		fmt.Printf("%s: %s\n", e.ID, e.Value)
	}

	// A second process would get vault.ErrLocked here.
	_, err = vault.Open(dir, p, opts)
	fmt.Println(errors.Is(err, vault.ErrLocked))
	v.Close()

	wrong, _ := vault.NewPassphrase([]byte("wrong"))
	_, err = vault.Open(dir, wrong, opts)
	fmt.Println(err)
	// Output:
	// alice's contact code
	// id-2: are you there?
	// true
	// vault: wrong passphrase
}
