package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSecret(t *testing.T) {
	src := []byte("0123456789abcdef0123456789abcdef")
	want := bytes.Clone(src)
	s, err := NewSecret(src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, make([]byte, len(src))) {
		t.Fatal("NewSecret did not wipe its source")
	}
	if s.Size() != len(want) {
		t.Fatal("Size")
	}
	var got []byte
	must(t, s.Open(func(b []byte) error { got = bytes.Clone(b); return nil }))
	if !bytes.Equal(got, want) {
		t.Fatal("Open gave other bytes")
	}
	sentinel := errors.New("from fn")
	if err := s.Open(func([]byte) error { return sentinel }); err != sentinel {
		t.Fatalf("Open does not return fn's error: %v", err)
	}
	s.Destroy()
	if err := s.Open(func([]byte) error { return nil }); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("Open after Destroy: %v", err)
	}
	if _, err := NewSecret(nil); err == nil {
		t.Fatal("empty secret accepted")
	}
}

func TestOpenSecretsPacks(t *testing.T) {
	var ss []*Secret
	for i := range 20 {
		s, err := NewSecret(bytes.Repeat([]byte{byte(i + 1)}, 32))
		must(t, err)
		ss = append(ss, s)
	}
	r, err := RandomSecret(64)
	must(t, err)
	ss = append(ss, r)
	err = OpenSecrets(func(bs [][]byte) error {
		if len(bs) != 21 {
			t.Fatalf("%d slices", len(bs))
		}
		for i, b := range bs[:20] {
			if !bytes.Equal(b, bytes.Repeat([]byte{byte(i + 1)}, 32)) {
				t.Fatalf("secret %d garbled", i)
			}
		}
		if len(bs[20]) != 64 || bytes.Equal(bs[20], make([]byte, 64)) {
			t.Fatal("random secret")
		}
		return nil
	}, ss...)
	must(t, err)
}

func TestOpenSlotsBounded(t *testing.T) {
	s, _ := NewSecret([]byte("k"))
	release := make(chan struct{})
	var held sync.WaitGroup
	var done sync.WaitGroup
	for range MaxOpenSecrets {
		held.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			s.Open(func([]byte) error { held.Done(); <-release; return nil })
		}()
	}
	held.Wait()
	start := time.Now()
	err := s.Open(func([]byte) error { return nil })
	if !errors.Is(err, ErrLockedMemory) || time.Since(start) < openWait {
		t.Fatalf("an open beyond MaxOpenSecrets: %v after %v", err, time.Since(start))
	}
	// One that waits gets in when a slot frees.
	got := make(chan error)
	go func() { got <- s.Open(func([]byte) error { return nil }) }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	done.Wait()
}

func TestPassphrase(t *testing.T) {
	src := []byte("hunter2")
	p, err := NewPassphrase(src)
	must(t, err)
	if !bytes.Equal(src, make([]byte, 7)) {
		t.Fatal("NewPassphrase did not wipe its source")
	}
	if eq, err := p.Equal(pass(t, "hunter2")); err != nil || !eq {
		t.Fatal("Equal: same passphrase differs")
	}
	if eq, _ := p.Equal(pass(t, "hunter3")); eq {
		t.Fatal("Equal: different passphrases equal")
	}
	if _, err := NewPassphrase(nil); !errors.Is(err, ErrEmptyPassphrase) {
		t.Fatal(err)
	}
	if _, err := NewPassphrase(make([]byte, MaxPassphrase+1)); err == nil {
		t.Fatal("oversized passphrase accepted")
	}
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), mode)
		os.Chmod(p, mode)
		return p
	}
	for _, c := range []struct{ name, content string }{{"lf", "hunter2\n"}, {"crlf", "hunter2\r\n"}, {"none", "hunter2"}} {
		q, err := PassphraseFromFile(file(c.name, c.content, 0o600))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if eq, _ := q.Equal(p); !eq {
			t.Fatalf("%s: passphrase from file differs", c.name)
		}
	}
	bad := []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"open", "hunter2\n", 0o644, "chmod 600"},
		{"two-lines", "hunter2\nsecond\n", 0o600, "more than one line"},
		{"big", strings.Repeat("x", MaxPassphrase+10), 0o600, "larger than"},
		{"empty", "", 0o600, "empty"},
		{"only-newline", "\n", 0o600, "empty"},
	}
	for _, c := range bad {
		_, err := PassphraseFromFile(file(c.name, c.content, c.mode))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (want %q)", c.name, err, c.want)
		}
	}
	if _, err := PassphraseFromFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file")
	}
}
