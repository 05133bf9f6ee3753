// Package files holds the fuzz targets of package files: the transfer
// record read back from the vault, and the file-name rules a peer's offer
// goes through.
package files

import (
	"errors"
	"reflect"
	"testing"

	"github.com/sottochat/sotto/files"
	"github.com/sottochat/sotto/fuzz/fuzzcheck"
)

// FuzzRecord: any record that parses re-encodes to one that parses to
// the same value, and every error is ErrRecord.
func FuzzRecord(f *testing.F) {
	seeds := []string{
		`{"v":1,"id":"AAAAAAAAAAAAAAAAAAAAAA==","dir":1,"name":"a.pdf","size":10,"hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","state":1,"off":0,"at":5}`,
		`{"v":1,"id":"AAAAAAAAAAAAAAAAAAAAAA==","dir":0,"name":"photo.jpg","size":1048577,"hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","state":2,"at":1,"removed":["EXIF (GPS position)"],"method":"native","notify":true}`,
		`{"v":1}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := files.ParseRecord(b)
		if err != nil {
			if !errors.Is(err, files.ErrRecord) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		enc, err := r.Marshal()
		if err != nil {
			t.Fatalf("a parsed record does not marshal: %v", err)
		}
		r2, err := files.ParseRecord(enc)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzName: Clean always yields a name Check accepts, Clean is
// idempotent, and a name Check accepts is left alone.
func FuzzName(f *testing.F) {
	seeds := []string{"report.pdf", "../../.bashrc", "photo\u202egpj.exe", "a\x00b", "  .hidden  ", "\xff\xfe", "写真.jpg"}
	for _, s := range seeds {
		f.Add(s)
	}
	fuzzcheck.RequireSeeds(f, len(seeds))
	f.Fuzz(func(t *testing.T, s string) {
		c := files.Clean(s)
		if err := files.Check(c); err != nil {
			t.Fatalf("Clean(%q) = %q fails Check: %v", s, c, err)
		}
		if files.Clean(c) != c {
			t.Fatalf("Clean is not idempotent on %q", c)
		}
		if files.Check(s) == nil && c != s {
			t.Fatalf("Clean changed an acceptable name %q to %q", s, c)
		}
	})
}
