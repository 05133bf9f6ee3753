package vault

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	xscrypt "golang.org/x/crypto/scrypt"

	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/vault/internal/kdf"
)

// TestKDFLeavesNoPassphrase unlocks a vault in a child process, then reads
// the child's whole memory (/proc/PID/mem) and looks for the passphrase and
// for the passphrase XORed with HMAC's pads (0x36, 0x5c: what an HMAC keyed
// by it holds). The child reads the passphrase from a file straight into
// locked memory, as the client does with --passphrase-file, so the only way
// the bytes could reach ordinary memory is the unlock path.
//
// The same child, deriving with golang.org/x/crypto/scrypt instead
// (VAULT_KDF=xcrypto), is the control: the scan must find the copies that
// x/crypto/pbkdf2's string(password) leaves, or its silence about the
// vault's path proves nothing. That child turns its garbage collector off
// before deriving, so that those copies stay in place until the scan
// whatever the machine's load (a collection frees them, and freed memory
// may be reused or returned to the kernel at any time). A buffer the child
// keeps on its heap is a second control.
//
// Both lengths are checked: up to a SHA-256 block (64 bytes) HMAC uses the
// passphrase as its key; a longer one is hashed first, and passes whole
// through the hash's block buffer.
func TestKDFLeavesNoPassphrase(t *testing.T) {
	for _, n := range []int{24, 60} {
		t.Run(fmt.Sprintf("%d-byte passphrase", 4+2*n), func(t *testing.T) { testKDFMemory(t, n) })
	}
}

func testKDFMemory(t *testing.T, n int) {
	exe, err := os.Executable()
	must(t, err)
	tmp := t.TempDir()
	raw := make([]byte, n)
	rand.Read(raw)
	secret := []byte("kdf-" + hex.EncodeToString(raw))
	dir := filepath.Join(tmp, "vault")
	v, err := Create(dir, pass(t, string(secret)), &Options{UnsafeWorkFactor: 12})
	must(t, err)
	must(t, v.Close())
	pwFile := filepath.Join(tmp, "pw")
	must(t, os.WriteFile(pwFile, append(bytes.Clone(secret), '\n'), 0o600))
	rand.Read(raw)
	control := []byte("control-" + hex.EncodeToString(raw))
	ctlFile := filepath.Join(tmp, "control")
	must(t, os.WriteFile(ctlFile, control, 0o600))

	// The vault key as the key file holds it (the key file is decrypted
	// straight into locked memory: none may be found), as age's bech32
	// parser lower-cases it (reported: that copy remains, see doc.go, "What
	// Go cannot erase"), and the file-name key derived from it (none).
	data, err := os.ReadFile(filepath.Join(dir, keyFileName))
	must(t, err)
	k, _, err := openKeyFile(data, pass(t, string(secret)), 30)
	must(t, err)
	var identity, nameKey []byte
	must(t, k.secret.Open(func(b []byte) error {
		identity, nameKey = bytes.Clone(b[32:]), bytes.Clone(b[:32])
		return nil
	}))
	k.secret.Destroy()
	keyNeedles := map[string][]byte{
		"vault key (as stored)":           identity,
		"vault key (lower case)":          bytes.ToLower(identity),
		"vault key (data part, 40 chars)": bytes.ToLower(identity[len(identityPrefixForTest) : len(identityPrefixForTest)+40]),
		"file-name key":                   nameKey,
	}
	needles := map[string][]byte{
		"passphrase":           secret,
		"passphrase XOR ipad":  xorAll(secret, 0x36),
		"passphrase XOR opad":  xorAll(secret, 0x5c),
		"control: heap buffer": control,
	}
	for k, v := range keyNeedles {
		needles[k] = v
	}
	for _, mode := range []string{"xcrypto", "vault"} {
		t.Run(mode, func(t *testing.T) {
			found := scanChild(t, exe, mode, dir, pwFile, ctlFile, needles)
			if found["control: heap buffer"] == 0 {
				t.Fatal("control: the child's heap buffer was not found: the scan does not see the heap")
			}
			switch mode {
			case "xcrypto":
				if found["passphrase"] == 0 {
					t.Fatal("control: x/crypto/scrypt's string copies of the passphrase were not found: the scan would miss a leak")
				}
				t.Logf("control: x/crypto/scrypt leaves %d copies of the passphrase, %d XOR ipad, %d XOR opad",
					found["passphrase"], found["passphrase XOR ipad"], found["passphrase XOR opad"])
			case "vault":
				must := []string{"passphrase", "passphrase XOR ipad", "passphrase XOR opad", "file-name key", "vault key (as stored)"}
				if erase.Enabled {
					// age's parse of the vault key runs inside erase.Do:
					// its lower-case copies are zeroed once freed.
					must = append(must, "vault key (lower case)", "vault key (data part, 40 chars)")
				}
				for _, k := range must {
					if found[k] != 0 {
						t.Errorf("%s: %d copies in the memory of a process that unlocked a vault", k, found[k])
					}
				}
				for _, k := range sortedNeedles(keyNeedles) {
					t.Logf("%s: %d copies", k, found[k])
				}
			}
		})
	}
}

func xorAll(b []byte, c byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[i] ^ c
	}
	return out
}

// scanChild runs TestKDFChild in mode, waits until it has unlocked and
// dropped the passphrase, and counts each needle in its memory.
func scanChild(t *testing.T, exe, mode, dir, pwFile, ctlFile string, needles map[string][]byte) map[string]int {
	cmd := child(t, exe, "TestKDFChild", "VAULT_CHILD=kdf", "VAULT_KDF="+mode, "VAULT_DIR="+dir, "VAULT_PW="+pwFile, "VAULT_CTL="+ctlFile)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = cmd.Stdout
	must(t, cmd.Start())
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
	}()
	ready := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(&out, sc.Text())
			if sc.Text() == "KDF-CHILD-READY" {
				ready <- nil
				io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- fmt.Errorf("child ended before it was ready")
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			t.Fatalf("%v:\n%s", err, out.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("child not ready after 2 minutes:\n%s", out.String())
	}
	found, read, skipped, err := scanMemory(cmd.Process.Pid, needles)
	if err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	t.Logf("read %d MiB of the child's memory (skipped %d mappings over 1 GiB: the race detector's shadow, which holds no data)", read>>20, skipped)
	return found
}

// scanMemory counts each needle in every readable mapping of pid (a needle
// across two chunks is found: chunks overlap). Mappings over 1 GiB are the
// race detector's shadow memory, not data: skipped and counted.
func scanMemory(pid int, needles map[string][]byte) (found map[string]int, read int64, skipped int, err error) {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, 0, 0, err
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return nil, 0, 0, err
	}
	defer mem.Close()
	found = map[string]int{}
	const chunk, overlap = 4 << 20, 4096
	buf := make([]byte, chunk+overlap)
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[1][0] != 'r' || (len(f) >= 6 && (f[5] == "[vvar]" || f[5] == "[vsyscall]" || f[5] == "[vvar_vclock]")) {
			continue
		}
		a, b, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(a, 16, 64)
		end, err2 := strconv.ParseUint(b, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if end-start > 1<<30 {
			skipped++
			continue
		}
		for off := start; off < end; off += chunk {
			n := min(end-off, chunk+overlap)
			b := buf[:n]
			for p := uint64(0); p < n; p += 4096 { // page by page: guard pages fail alone
				if m, _ := mem.ReadAt(b[p:min(p+4096, n)], int64(off+p)); m == 0 {
					clear(b[p:min(p+4096, n)])
				}
			}
			read += int64(min(n, chunk))
			for name, nd := range needles {
				for i := 0; ; {
					j := bytes.Index(b[i:], nd)
					if j < 0 || i+j >= chunk {
						break
					}
					found[name]++
					i += j + 1
				}
			}
		}
	}
	return found, read, skipped, nil
}

// TestKDFChild is the child of TestKDFLeavesNoPassphrase.
func TestKDFChild(t *testing.T) {
	if os.Getenv("VAULT_CHILD") != "kdf" {
		t.Skip("child of TestKDFLeavesNoPassphrase")
	}
	control, err := os.ReadFile(os.Getenv("VAULT_CTL"))
	must(t, err)
	p, err := PassphraseFromFile(os.Getenv("VAULT_PW"))
	must(t, err)
	mode := os.Getenv("VAULT_KDF")
	switch mode {
	case "xcrypto":
		// The control's copies are x/crypto's garbage: unreachable once
		// Key returns, so a collection frees them, and freed memory is
		// reused, or handed back to the kernel by the scavenger (it then
		// reads as zeros), at a moment that depends on the load. With the
		// collector off from here to the scan nothing is freed, so the
		// copies certainly exist when the parent looks for them.
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(math.MaxInt64)
		must(t, p.open(func(b []byte) error {
			k, err := xscrypt.Key(b, []byte("salt"), 1<<12, 8, 1, 32)
			clear(k)
			return err
		}))
	case "vault":
		v, err := Open(os.Getenv("VAULT_DIR"), p, nil)
		must(t, err)
		must(t, v.VerifyPassphrase(p))
		must(t, v.Close())
		must(t, p.open(func(b []byte) error {
			k, err := kdf.Scrypt(b, []byte("salt"), 1<<12, 8, 1, 32)
			clear(k)
			return err
		}))
	case "cache":
		// An open vault, idle after reading a record and a log (see
		// TestVaultCacheHoldsNoPlaintext): it stays open while scanned.
		v, err := Open(os.Getenv("VAULT_DIR"), p, nil)
		must(t, err)
		defer v.Close()
		b, err := v.Get("identity", "me")
		must(t, err)
		clear(b)
		es, err := v.Entries("conv")
		must(t, err)
		for _, e := range es {
			clear(e.Value)
		}
		erase.Collect()
	default:
		t.Fatal("VAULT_KDF must be xcrypto, vault or cache")
	}
	p.Destroy()
	if mode != "xcrypto" {
		// What the vault's path allocated is freed (and, with
		// runtime/secret, zeroed) before the scan, as it is in the client
		// long before anyone could look.
		runtime.GC()
		erase.Collect()
	}
	fmt.Println("KDF-CHILD-READY")
	io.Copy(io.Discard, os.Stdin) // until the parent has read our memory
	runtime.KeepAlive(control)
}

// identityPrefixForTest is the vault key's bech32 prefix ("1" included).
const identityPrefixForTest = "AGE-SECRET-KEY-PQ-1"

func sortedNeedles(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
