package format

import (
	"encoding/binary"
	"slices"

	"golang.org/x/crypto/cryptobyte"
)

// Limits of the manifest.
const (
	MaxFiles    = 1 << 24 // files one manifest lists
	MaxFileName = 128     // bytes of one file's path inside the vault
)

// Manifest is the plaintext of the vault's manifest file: for every record
// shard and log segment, the number of times it has been written (the
// Version each of those files carries inside its own encrypted content),
// sorted by path. A file whose counter is below the manifest's is an older
// copy put back in place (a rollback).
type Manifest struct {
	Files []FileVersion
}

// FileVersion is one file's path inside the vault (such as "r/3fa2…") and
// its write counter.
type FileVersion struct {
	Name    string
	Version uint64
}

func checkFileName(n string) error {
	if n == "" || len(n) > MaxFileName {
		return malformed("a manifest file name is 1 to %d bytes", MaxFileName)
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c <= ' ' || c >= 0x7f {
			return malformed("a manifest file name is printable ASCII")
		}
	}
	return nil
}

// Marshal encodes m, padded. The files must be sorted by name and unique.
func (m *Manifest) Marshal() ([]byte, error) {
	if len(m.Files) > MaxFiles {
		return nil, malformed("too many files in the manifest")
	}
	n := 4
	for i, f := range m.Files {
		if err := checkFileName(f.Name); err != nil {
			return nil, err
		}
		if i > 0 && m.Files[i-1].Name >= f.Name {
			return nil, malformed("manifest files out of order")
		}
		n += 1 + len(f.Name) + 8
	}
	out, b, err := framed(manifestMagic, n)
	if err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Files)))
	for _, f := range m.Files {
		b = append(append(b, byte(len(f.Name))), f.Name...)
		b = binary.BigEndian.AppendUint64(b, f.Version)
	}
	if err := checkFramed(b, n); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseManifest decodes a manifest.
func ParseManifest(b []byte) (*Manifest, error) {
	body, err := unframe(manifestMagic, b)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(body)
	var n uint32
	if !s.ReadUint32(&n) || n > MaxFiles || int64(n)*10 > int64(len(s)) {
		return nil, malformed("bad manifest header")
	}
	m := &Manifest{Files: make([]FileVersion, 0, n)}
	for i := uint32(0); i < n; i++ {
		var name cryptobyte.String
		var f FileVersion
		if !s.ReadUint8LengthPrefixed(&name) || !s.ReadUint64(&f.Version) {
			return nil, malformed("truncated manifest entry")
		}
		f.Name = string(name)
		if err := checkFileName(f.Name); err != nil {
			return nil, err
		}
		if i > 0 && m.Files[i-1].Name >= f.Name {
			return nil, malformed("manifest files out of order")
		}
		m.Files = append(m.Files, f)
	}
	if !s.Empty() {
		return nil, malformed("trailing bytes in manifest")
	}
	return m, nil
}

// ManifestOf builds a manifest from a map of path to counter.
func ManifestOf(files map[string]uint64) *Manifest {
	m := &Manifest{Files: make([]FileVersion, 0, len(files))}
	for n, v := range files {
		m.Files = append(m.Files, FileVersion{Name: n, Version: v})
	}
	slices.SortFunc(m.Files, func(a, b FileVersion) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return m
}
