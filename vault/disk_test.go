package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sottochat/sotto/vault/format"
)

// exportIdentity writes the vault's age identity to a 0600 file (as the
// decrypted key file: an age identity file) and returns its path.
func exportIdentity(t testing.TB, dir string) (string, []byte) {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(dir, keyFileName))
	k, _, err := openKeyFile(data, pass(t, "correct horse"), 30)
	if err != nil {
		t.Fatal(err)
	}
	var id []byte
	k.secret.Open(func(b []byte) error { id = bytes.Clone(b[32:]); return nil })
	plain, _ := format.MarshalKeyFile(id)
	p := filepath.Join(t.TempDir(), "identity")
	if err := os.WriteFile(p, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, id
}

// decryptAll decrypts every vault file under dir with the vault identity and
// returns the plaintexts by relative name.
func decryptAll(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	_, idStr := exportIdentity(t, dir)
	id, err := age.ParseHybridIdentity(string(idStr))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, d := range []string{recordDir, segmentDir} {
		ents, _ := os.ReadDir(filepath.Join(dir, d))
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(dir, d, e.Name()))
			r, err := age.Decrypt(bytes.NewReader(b), id)
			if err != nil {
				t.Fatalf("%s/%s: %v", d, e.Name(), err)
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(r); err != nil {
				t.Fatal(err)
			}
			out[d+"/"+e.Name()] = buf.Bytes()
		}
	}
	return out
}

func TestNoPlaintextOnDisk(t *testing.T) {
	t.Parallel()
	v, dir := newVault(t)
	onion := "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd"
	key := make([]byte, 32)
	rand.Read(key)
	text := "meet me at the old pier at nine"
	petname := "deep-throat-petname"
	must(t, v.Put("contact", petname, append([]byte(onion+"|"), key...)))
	must(t, v.Put("identity", "reporter-handle", key))
	for i := range 50 {
		must(t, v.Append(onion, fmt.Sprintf("id-%d", i), []byte(fmt.Sprintf("%s #%d", text, i))))
	}
	must(t, v.ChangePassphrase(pass(t, "correct horse"), pass(t, "correct horse")))
	_, idStr := exportIdentity(t, dir)
	v.Close()
	needles := map[string][]byte{
		"message text":        []byte(text),
		"onion address":       []byte(onion),
		"onion address (uc)":  []byte(strings.ToUpper(onion)),
		"onion prefix":        []byte(onion[:16]),
		"petname":             []byte(petname),
		"identity handle":     []byte("reporter-handle"),
		"record kind":         []byte("contact"),
		"key bytes":           key,
		"key hex":             []byte(hex.EncodeToString(key)),
		"key base64":          []byte(base64.StdEncoding.EncodeToString(key)[:40]),
		"key base64 raw":      []byte(base64.RawStdEncoding.EncodeToString(key)[:40]),
		"vault identity":      idStr[20:],
		"passphrase":          []byte("correct horse"),
		"entry id":            []byte("id-17"),
		"age identity prefix": []byte("AGE-SECRET-KEY"),
	}
	files := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		files++
		b := []byte(p)
		if !d.IsDir() {
			c, _ := os.ReadFile(p)
			b = append(b, c...)
		}
		for what, n := range needles {
			if bytes.Contains(bytes.ToLower(b), bytes.ToLower(n)) || bytes.Contains(b, n) {
				t.Errorf("%s found in %s", what, p)
			}
		}
		return nil
	})
	if files < NumShards+4 {
		t.Fatalf("only %d paths walked", files)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRemovedCannotBeReadBack(t *testing.T) {
	t.Parallel()
	v, dir := newVault(t)
	for i := range 700 {
		must(t, v.Append("conv", fmt.Sprint(i), []byte(fmt.Sprintf("secret-%04d-%s", i, strings.Repeat("y", 300)))))
	}
	must(t, v.Put("contact", "mallory", []byte("record-to-forget")))
	must(t, v.Put("contact", "trent", []byte("record-to-keep")))
	gone := []string{"0", "1", "377", "699"}
	if n, err := v.Remove("conv", gone...); err != nil || n != len(gone) {
		t.Fatalf("Remove: %d %v", n, err)
	}
	must(t, v.Delete("contact", "mallory"))
	must(t, v.Append("drop", "x", []byte("dropped-log-entry")))
	must(t, v.DropLog("drop"))
	v.Close()
	all := decryptAll(t, dir)
	joined := bytes.Join(func() [][]byte {
		var bs [][]byte
		for _, b := range all {
			bs = append(bs, b)
		}
		return bs
	}(), nil)
	for _, id := range gone {
		var i int
		fmt.Sscan(id, &i)
		if bytes.Contains(joined, []byte(fmt.Sprintf("secret-%04d-", i))) {
			t.Errorf("removed entry %s still in a vault file", id)
		}
	}
	for _, s := range []string{"record-to-forget", "mallory", "dropped-log-entry"} {
		if bytes.Contains(joined, []byte(s)) {
			t.Errorf("%q still in a vault file", s)
		}
	}
	if !bytes.Contains(joined, []byte("secret-0002-")) || !bytes.Contains(joined, []byte("record-to-keep")) {
		t.Fatal("kept data not found: the check cannot see plaintext")
	}
}

func TestPaddedSizes(t *testing.T) {
	t.Parallel()
	v, dir := newVault(t)
	sizes := map[int64]bool{}
	collect := func() {
		filepath.WalkDir(filepath.Join(dir, segmentDir), func(p string, d fs.DirEntry, err error) error {
			if !d.IsDir() {
				fi, _ := d.Info()
				sizes[fi.Size()] = true
			}
			return nil
		})
	}
	// Logs of many different message counts and lengths.
	for l := range 10 {
		for i := range l * 7 {
			must(t, v.Append(fmt.Sprint("log", l), fmt.Sprint(i), bytes.Repeat([]byte("m"), (i*37+l*11)%2000)))
		}
		collect()
	}
	// Bucket sizes: 1, 2, 4, ..., 64 KiB plaintext, then the same fixed age
	// overhead (header + 16 bytes per 64 KiB chunk).
	if len(sizes) > 7 {
		t.Fatalf("%d distinct segment sizes: %v", len(sizes), sizes)
	}
	isBucketPlus := func(s, o int64) bool {
		for b := int64(1024); b <= 64<<10; b *= 2 {
			if s-o == b {
				return true
			}
		}
		return false
	}
	var some int64
	for s := range sizes {
		some = s
	}
	ok := false
	for b := int64(1024); b <= 64<<10 && !ok; b *= 2 {
		if o := some - b; o > 0 && o < 4096 {
			all := true
			for s := range sizes {
				all = all && isBucketPlus(s, o)
			}
			ok = all
		}
	}
	if !ok || len(sizes) < 3 {
		t.Fatalf("segment sizes are not buckets plus one fixed age overhead: %v", sizes)
	}
	// Every record shard has the same size while records are small.
	var shardSize int64 = -1
	ents, _ := os.ReadDir(filepath.Join(dir, recordDir))
	for _, e := range ents {
		fi, _ := e.Info()
		if shardSize >= 0 && fi.Size() != shardSize {
			t.Fatalf("shard sizes differ: %d, %d", shardSize, fi.Size())
		}
		shardSize = fi.Size()
	}
	if len(ents) != NumShards {
		t.Fatalf("%d shard files", len(ents))
	}
}

// ageTool returns an age command that supports post-quantum keys (v1.3+):
// $SOTTO_AGE, an age on PATH that is new enough, or one built from
// filippo.io/age@v1.3.2 through the module proxy into a cache directory.
func ageTool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SOTTO_AGE"); p != "" {
		return p
	}
	if p, err := exec.LookPath("age"); err == nil {
		out, _ := exec.Command(p, "--version").Output()
		if v := strings.TrimSpace(string(out)); strings.HasPrefix(v, "v1.3") || strings.HasPrefix(v, "1.3") {
			return p
		}
	}
	bin := filepath.Join(os.TempDir(), "sotto-test-age-v1.3.2")
	p := filepath.Join(bin, "age")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	cmd := exec.Command("go", "install", "filippo.io/age/cmd/age@v1.3.2")
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=")
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build the age tool v1.3.2 (set SOTTO_AGE): %v\n%s", err, out)
	}
	return p
}

func TestAgeToolDecryptsVaultFiles(t *testing.T) {
	tool := ageTool(t)
	v, dir := newVault(t)
	must(t, v.Put("contact", "alice", []byte("alice-card-value")))
	must(t, v.Append("conv", "m1", []byte("first message to the age tool")))
	v.Close()
	idFile, _ := exportIdentity(t, dir)
	found := map[string]bool{}
	for _, d := range []string{recordDir, segmentDir} {
		ents, _ := os.ReadDir(filepath.Join(dir, d))
		for _, e := range ents {
			out, err := exec.Command(tool, "-d", "-i", idFile, filepath.Join(dir, d, e.Name())).Output()
			if err != nil {
				t.Fatalf("age -d %s/%s: %v", d, e.Name(), err)
			}
			if d == segmentDir {
				seg, err := format.ParseSegment(out)
				if err != nil || seg.Entries[0].ID != "m1" || string(seg.Entries[0].Value) != "first message to the age tool" {
					t.Fatalf("segment from the age tool: %v %+v", err, seg)
				}
				found["segment"] = true
			} else if sh, err := format.ParseShard(out); err != nil {
				t.Fatalf("shard from the age tool: %v", err)
			} else {
				// The shard may also hold the log's metadata (1 in 16).
				for _, r := range sh.Records {
					if r.Kind == "contact" && string(r.Value) == "alice-card-value" {
						found["record"] = true
					}
				}
			}
		}
	}
	if !found["segment"] || !found["record"] {
		t.Fatalf("found %v", found)
	}
	// The key file is a standard passphrase-encrypted age file: age's own
	// scrypt identity opens it, and gives an identity file the tool accepts.
	kf, _ := os.ReadFile(filepath.Join(dir, keyFileName))
	si, _ := age.NewScryptIdentity("correct horse")
	r, err := age.Decrypt(bytes.NewReader(kf), si)
	if err != nil {
		t.Fatalf("age's scrypt identity cannot open the key file: %v", err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(r)
	if _, err := format.ParseKeyFile(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	// And a file age encrypts to a passphrase opens with ours.
	var enc bytes.Buffer
	sr, _ := age.NewScryptRecipient("correct horse")
	sr.SetWorkFactor(10)
	w, _ := age.Encrypt(&enc, sr)
	w.Write([]byte("x"))
	w.Close()
	if _, err := age.Decrypt(&enc, &scryptIdentity{pass: pass(t, "correct horse"), maxLogN: 20}); err != nil {
		t.Fatalf("our scrypt identity cannot open age's file: %v", err)
	}
}
