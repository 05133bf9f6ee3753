package threatmodel

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/e2e"
	"github.com/sottochat/sotto/internal/record"
	"github.com/sottochat/sotto/vault"
)

// T22: someone who can read a running client's memory (a same-user process,
// a core dump, a debugger, swap) finds the passphrase, an identity key or
// the text of a message that has already disappeared.
//
// TestT22MemoryOfIdleClient runs a real client as an unprivileged user
// (nobody, with a 64 KiB locked-memory limit), lets it talk and lets two messages expire, then, as root (which
// no hardening can stop), reads its whole memory from /proc/PID/mem and
// searches it. It also shows what the hardening does stop: core dumps are
// off, the process is not dumpable, and another process of the same user
// cannot read its memory, while it can read that of an ordinary process.
//
// A binary built with runtime/secret (the Makefile's and e2e.Build's build)
// must hold none of the secrets: no identity key in any form, no passphrase,
// no text of an expired message. See knownResidue for a build without it.
// SOTTO_MEMORY_CONTEXT=1 prints the bytes around each copy found (which
// object holds it).

// keyNeedles are the forms in which an identity's private keys could sit in
// memory: the raw Ed25519 seed, the expanded secret scalar and nonce prefix
// that tor's ADD_ONION takes, the base64 forms (the vault record is JSON,
// ADD_ONION and ONION_CLIENT_AUTH_ADD are base64), and the same for the x25519
// client-auth private key.
func keyNeedles(id *record.Identity) map[string][]byte {
	h := sha512.Sum512(id.Seed)
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	b64 := base64.StdEncoding.EncodeToString
	return map[string][]byte{
		"ed25519 seed":                     id.Seed,
		"ed25519 seed, base64":             []byte(b64(id.Seed)[:40]),
		"expanded scalar":                  h[:32],
		"expanded prefix":                  h[32:],
		"expanded key, base64 (ADD_ONION)": []byte(b64(h[:])[:40]),
		"client-auth key":                  id.Auth,
		"client-auth key, base64":          []byte(b64(id.Auth)[:40]),
	}
}

// identityKeys opens a profile's vault with its passphrase (the profile is
// not running) and returns its identities' key records. This is how the
// test learns keys the client generated itself.
func identityKeys(t *testing.T, p *e2e.Profile) []*record.Identity {
	t.Helper()
	pass, err := vault.NewPassphrase([]byte(p.Passphrase))
	if err != nil {
		t.Fatal(err)
	}
	defer pass.Destroy()
	v, err := vault.Open(filepath.Join(p.Dir, "vault"), pass, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	keys, err := v.Keys("identity")
	if err != nil {
		t.Fatal(err)
	}
	var out []*record.Identity
	for _, k := range keys {
		b, err := v.Get("identity", k)
		if err != nil {
			t.Fatal(err)
		}
		var id record.Identity
		if err := record.Unmarshal(b, &id); err != nil {
			t.Fatal(err)
		}
		if len(id.Seed) != ed25519.SeedSize || len(id.Auth) != 32 {
			t.Fatalf("identity %s: seed %d bytes, auth %d bytes", id.Name, len(id.Seed), len(id.Auth))
		}
		out = append(out, &id)
	}
	if len(out) == 0 {
		t.Fatal("no identity in the vault")
	}
	return out
}

// region is one readable mapping of a process.
type region struct {
	start, end uint64
	perms      string
	name       string
}

func (r region) String() string {
	n := r.name
	if n == "" {
		n = "anonymous"
	}
	return fmt.Sprintf("%x-%x %s %s", r.start, r.end, r.perms, n)
}

// hit is where a needle was found.
type hit struct {
	region region
	addr   uint64
}

// searchMemory reads every readable mapping of pid through /proc/PID/mem
// and returns, for each needle, where it occurs. It also returns how many
// bytes it read.
func searchMemory(pid int, needles map[string][]byte) (map[string][]hit, int64, error) {
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, 0, err
	}
	defer maps.Close()
	var regions []region
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[1][0] != 'r' {
			continue
		}
		a, b, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(a, 16, 64)
		end, err2 := strconv.ParseUint(b, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		r := region{start: start, end: end, perms: f[1]}
		if len(f) >= 6 {
			r.name = f[5]
		}
		if r.name == "[vvar]" || r.name == "[vsyscall]" || r.name == "[vvar_vclock]" {
			continue
		}
		regions = append(regions, r)
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return nil, 0, err
	}
	defer mem.Close()
	found := map[string][]hit{}
	var total int64
	const chunk = 4 << 20
	buf := make([]byte, chunk+4096)
	for _, r := range regions {
		// Read in chunks that overlap by 4 KiB, so that a needle across a
		// chunk boundary is found; a page that cannot be read (a guard
		// page) is skipped.
		for off := r.start; off < r.end; off += chunk {
			n := r.end - off
			if n > chunk+4096 {
				n = chunk + 4096
			}
			b := buf[:n]
			k, err := mem.ReadAt(b, int64(off))
			if err != nil && k == 0 {
				// Fall back to page by page.
				k = 0
				for p := uint64(0); p < n; p += 4096 {
					if m, _ := mem.ReadAt(b[p:min(p+4096, n)], int64(off+p)); m > 0 {
						total += int64(m)
					} else {
						clear(b[p:min(p+4096, n)])
					}
				}
				k = int(n)
			} else {
				total += int64(min(uint64(k), chunk))
			}
			b = b[:k]
			for name, nd := range needles {
				for i := 0; ; {
					j := bytes.Index(b[i:], nd)
					if j < 0 {
						break
					}
					at := off + uint64(i+j)
					if uint64(i+j) < chunk || off+chunk >= r.end {
						if len(found[name]) == 0 || found[name][len(found[name])-1].addr != at {
							found[name] = append(found[name], hit{r, at})
						}
					}
					i += j + 1
				}
			}
		}
	}
	return found, total, nil
}

// around reads before bytes before addr and after bytes from it in pid's
// memory (SOTTO_MEMORY_CONTEXT=1: what holds a copy).
func around(pid int, addr uint64, before, after int) []byte {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, before+after)
	n, _ := f.ReadAt(b, int64(addr)-int64(before))
	return b[:n]
}

// nobody is the unprivileged uid and gid the client runs as.
const nobody = 65534

// runAsNobody hands a profile to nobody and makes its path reachable.
func runAsNobody(t *testing.T, p *e2e.Profile) {
	t.Helper()
	base := filepath.Dir(p.Dir)
	for _, d := range []string{base, filepath.Dir(harness.Bin), filepath.Dir(harness.Network)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(harness.Network, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{p.PwFile} {
		if err := os.Chown(path, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.Walk(p.Dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, nobody, nobody)
	}); err != nil {
		t.Fatal(err)
	}
	p.UID = nobody
}

// readAsNobody tries, as user nobody, to read a few bytes of /proc/PID/environ
// (same ptrace access check as /proc/PID/mem, no offsets needed).
func readAsNobody(pid int) error {
	cmd := exec.Command("head", "-c", "1", fmt.Sprintf("/proc/%d/environ", pid))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// limit is the soft and hard value of one resource limit of pid, from
// /proc/PID/limits ("Max core file size", "Max locked memory").
func limit(t *testing.T, pid int, name string) (soft, hard string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name) {
			f := strings.Fields(strings.TrimPrefix(l, name))
			if len(f) >= 2 {
				return f[0], f[1]
			}
		}
	}
	t.Fatalf("no %q line in /proc/%d/limits", name, pid)
	return "", ""
}

func randomText(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

func TestT22MemoryOfIdleClient(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	asRoot := os.Geteuid() == 0
	carol, cc := newUser(t, "carol", false)
	dave, dc := newUser(t, "dave", false)
	carol.Must("contact", "add", "carol", "dave", dc)
	dave.Must("contact", "add", "dave", "carol", cc)
	ids := identityKeys(t, carol)
	if asRoot {
		runAsNobody(t, carol)
	}
	// carol runs as an ordinary user does: with a locked-memory limit of
	// 64 KiB (DESIGN, decision 11); prlimit sets it and execs, same PID.
	var wrap []string
	if _, err := exec.LookPath("prlimit"); err == nil {
		wrap = []string{"prlimit", "--memlock=65536:65536", "--"}
	}
	nc, nd := startReady(t, carol, []string{"carol"}, wrap...), startReady(t, dave, []string{"dave"})
	pid := nc.PID(false)

	t.Run("hardening", func(t *testing.T) {
		if wrap != nil {
			if soft, hard := limit(t, pid, "Max locked memory"); soft != "65536" || hard != "65536" {
				t.Errorf("RLIMIT_MEMLOCK is %s/%s, want the 64 KiB the test set", soft, hard)
			}
		}
		soft, hard := limit(t, pid, "Max core file size")
		if soft != "0" || hard != "0" {
			t.Errorf("RLIMIT_CORE is %s/%s, want 0/0: a crash would write the keys to a core file", soft, hard)
		}
		if !asRoot {
			t.Skip("the dumpable and same-user checks need root to run the client as another user")
		}
		// A non-dumpable process's /proc files belong to root, whoever runs it.
		var st syscall.Stat_t
		if err := syscall.Stat(fmt.Sprintf("/proc/%d/mem", pid), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 0 {
			t.Errorf("/proc/%d/mem belongs to uid %d: the process is dumpable", pid, st.Uid)
		}
		// Another process of the same user (nobody) cannot read it...
		if err := readAsNobody(pid); err == nil {
			t.Error("a process of the same user read the client's /proc/PID/environ")
		} else {
			t.Logf("same-user read of the client refused: %v", err)
		}
		// ...while it can read an ordinary process of that user (the
		// control: the refusal above is the hardening, not the setup).
		sleep := exec.Command("sleep", "60")
		sleep.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		if err := sleep.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { sleep.Process.Kill(); sleep.Wait() }()
		if err := readAsNobody(sleep.Process.Pid); err != nil {
			t.Errorf("control: nobody cannot read its own ordinary process either (%v), so the check above proves nothing", err)
		}
	})

	// A live message (the positive control of the search), then two
	// messages under a 30 s timer (the engine's shortest), one each way.
	live := randomText("LIVE")
	send(t, nd, "dave", "carol", nc, "carol", live)
	mark := nc.Mark()
	nd.Do(time.Minute, map[string]any{"cmd": "timer", "identity": "dave", "contact": "carol", "seconds": 30})
	nc.WaitFor(mark, deliverWithin, "timer change", e2e.Is(map[string]any{"event": "timer", "contact": "dave", "seconds": 30}))
	gone1, gone2 := randomText("GONE-IN"), randomText("GONE-OUT")
	id1 := send(t, nd, "dave", "carol", nc, "carol", gone1)
	id2 := send(t, nc, "carol", "dave", nd, "dave", gone2)
	nc.WaitFor(mark, 2*time.Minute, "expiry of the received message", e2e.Is(map[string]any{"event": "expired", "message": id1}))
	nc.WaitFor(mark, 2*time.Minute, "expiry of the sent message", e2e.Is(map[string]any{"event": "expired", "message": id2}))
	// Idle: nothing to do for a few seconds (the Go runtime's background
	// GC and scavenger run on their own).
	time.Sleep(5 * time.Second)
	nc.Do(time.Minute, map[string]any{"cmd": "ping"})

	if !asRoot {
		t.Skip("reading another process's memory needs root here")
	}
	secrets := map[string][]byte{
		"passphrase":            []byte(carol.Passphrase),
		"expired received text": []byte(gone1),
		"expired sent text":     []byte(gone2),
	}
	for _, id := range ids {
		for k, v := range keyNeedles(id) {
			secrets[id.Name+": "+k] = v
		}
	}
	controls := map[string][]byte{
		"control: live text":  []byte(live),
		"control: public key": ed25519.NewKeyFromSeed(ids[0].Seed).Public().(ed25519.PublicKey),
	}
	all := map[string][]byte{}
	for k, v := range secrets {
		all[k] = v
	}
	for k, v := range controls {
		all[k] = v
	}
	start := time.Now()
	found, total, err := searchMemory(pid, all)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d MiB of PID %d's memory in %v (VmRSS %d KiB)", total>>20, pid, time.Since(start).Round(time.Millisecond), vmRSS(t, pid))
	for _, k := range sortedKeys(controls) {
		if len(found[k]) == 0 {
			t.Fatalf("control %q not found in memory: the dump does not see the heap, so its silence about secrets means nothing", k)
		}
		t.Logf("control %q found %d times", k, len(found[k]))
	}
	for _, k := range sortedKeys(secrets) {
		hs := found[k]
		if len(hs) == 0 {
			t.Logf("secret %q: not found", k)
			continue
		}
		var where []string
		for _, h := range hs {
			where = append(where, fmt.Sprintf("%x in %s", h.addr, h.region))
		}
		if len(where) > 4 {
			where = append(where[:4], "...")
		}
		why := knownResidue[k]
		if why == "" {
			_, short, _ := strings.Cut(k, ": ")
			why = knownResidue[short]
		}
		t.Logf("secret %q: %d copies (%s); cause without runtime/secret: %s", k, len(hs), strings.Join(where, "; "), why)
		if os.Getenv("SOTTO_MEMORY_CONTEXT") == "1" {
			// The bytes around each copy, to tell which object holds it.
			for _, h := range hs[:min(len(hs), 4)] {
				t.Logf("around %x:\n%s", h.addr, hex.Dump(around(pid, h.addr, 192, 96)))
			}
		}
	}
	erases, build := binaryErases(harness.Bin)
	strict := erases || os.Getenv("SOTTO_MEMORY_STRICT") == "1"
	t.Logf("binary: %s; runtime/secret erases: %v; strict: %v", build, erases, strict)
	report := checkResidue(found, strict)
	for _, e := range report {
		t.Error(e)
	}
}

// checkResidue turns what the search found into failures. See the comment
// at knownResidue for what is asserted and why.
func checkResidue(found map[string][]hit, strict bool) []string {
	var errs []string
	for k, hs := range found {
		if len(hs) == 0 || !memoryPolicy(k, strict) {
			continue
		}
		errs = append(errs, fmt.Sprintf("%q found in the memory of an idle client (%d copies, first at %x in %s)", k, len(hs), hs[0].addr, hs[0].region))
	}
	sort.Strings(errs)
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// knownResidue lists what the memory of an idle client holds when the
// binary was built WITHOUT runtime/secret (GOEXPERIMENT=runtimesecret, which
// the Makefile and e2e.Build set; or on a platform other than linux/amd64
// and linux/arm64), each with its cause. Such a binary is held to this list
// (anything else found fails the test); a binary built with it is held to
// nothing at all: every secret found fails (strict), as it does with
// SOTTO_MEMORY_STRICT=1 whatever the build.
//
// On 4749c9d (no runtime/secret, vault caches in the clear) strict mode
// found: the identity seed 1 copy, the client-auth key 2, the second half
// of SHA-512(seed) 3, the expired received text 14, the expired sent text
// 22 (issue 14; a run here the same day: 4, 5, 3, 14 and 22). With
// runtime/secret and the causes below removed: none.
//
// What Go cannot guarantee without runtime/secret: a string is immutable
// and cannot be wiped; the garbage collector frees memory without zeroing
// it, so a freed copy stays readable until a later allocation of the same
// size class reuses the slot, at no predictable time (an idle process
// allocates little); the standard library's crypto makes heap copies of
// keys that the caller cannot reach to wipe. With it, every path below runs
// inside runtime/secret.Do (internal/erase), which zeroes those copies once
// freed, and the engine collects at once when messages expire.
var knownResidue = map[string]string{
	"ed25519 seed": "crypto/ed25519.NewKeyFromSeed (the engine's public key, and the handshake's identity key) keeps the " +
		"seed in its internal PrivateKey on the heap; age's buffers hold the decrypted identity record",
	"client-auth key": "crypto/ecdh.X25519().NewPrivateKey (the engine's client-auth public key) copies the key into an " +
		"ecdh.PrivateKey on the heap that the caller cannot wipe; age's buffers hold the decrypted identity record",
	"expanded scalar": "SHA-512(seed), computed inside crypto/ed25519 and crypto/sha512 (tor's expanded key, the " +
		"handshake's X25519 form of the identity key), left in library-owned memory and stack frames",
	"expanded prefix": "the second half of SHA-512(seed): crypto/ed25519's internal PrivateKey keeps it as raw " +
		"bytes (the scalar half is kept in Montgomery form, so it shows only in the raw digests)",
	"expired received text": "the text passed through Go strings (wire.ParseMessage, the engine's Message, the vault " +
		"record, age's buffers): immutable, freed without zeroing",
	"expired sent text": "the text arrived as a headless JSON command: encoding/json's strings, wire and record " +
		"encodings, age's buffers; Go strings are freed without zeroing",
}

// binaryErases reports whether the sotto binary under test was built with
// runtime/secret for a platform that has it (its build information says).
func binaryErases(bin string) (bool, string) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return false, err.Error()
	}
	var exp, goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOEXPERIMENT":
			exp = s.Value
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	on := slices.Contains(strings.Split(exp, ","), "runtimesecret") && goos == "linux" && (goarch == "amd64" || goarch == "arm64")
	return on, fmt.Sprintf("GOEXPERIMENT=%q %s/%s", exp, goos, goarch)
}

// memoryPolicy says whether finding the named needle fails the test: every
// secret when strict, else those knownResidue does not excuse.
func memoryPolicy(name string, strict bool) bool {
	if strings.HasPrefix(name, "control: ") {
		return false
	}
	if strict {
		return true
	}
	_, short, _ := strings.Cut(name, ": ")
	_, known := knownResidue[name]
	_, knownKey := knownResidue[short]
	return !known && !knownKey
}
