package mailbox

import "fmt"

// RecordKinds names the stored records RecordRoundTrip decodes.
var RecordKinds = []string{"config", "service", "relation", "code", "item"}

// RecordRoundTrip decodes a stored record of the given kind and encodes it
// again, for the fuzz targets in fuzz/mailbox: what the vault hands back is
// authenticated, but a decoder must still refuse anything malformed with an
// error (never a panic) and accept only what it would itself write.
func RecordRoundTrip(kind string, b []byte) ([]byte, error) {
	switch kind {
	case "config":
		c, err := parseConfig(b)
		if err != nil {
			return nil, err
		}
		return c.marshal(), nil
	case "service":
		r, err := parseSvc(b)
		if err != nil {
			return nil, err
		}
		defer r.wipe()
		return r.marshal(), nil
	case "relation":
		r, err := parseRel(b)
		if err != nil {
			return nil, err
		}
		return r.marshal(), nil
	case "code":
		r, err := parseCodeRec(b)
		if err != nil {
			return nil, err
		}
		return r.marshal(), nil
	case "item":
		at, del, blob, err := parseItem(b)
		if err != nil {
			return nil, err
		}
		return marshalItem(at, del, blob), nil
	}
	return nil, fmt.Errorf("mailbox: no record kind %q", kind)
}

// SampleRecord returns a valid encoding of a record kind (fuzz seeds).
func SampleRecord(kind string) []byte {
	switch kind {
	case "config":
		return DefaultConfig().marshal()
	case "service":
		r := &svcRec{Seed: [32]byte{1}, OwnerAuth: [32]byte{2}, Created: 1700000000, Bundle: []byte("b")}
		return r.marshal()
	case "relation":
		r := &relRec{TokenHash: [32]byte{3}, Intake: true, Created: 5, ExpiredIn: 2}
		return r.marshal()
	case "code":
		r := &codeRec{SecretHash: [32]byte{4}, Expires: 9, Used: true}
		return r.marshal()
	case "item":
		b, _ := Pack(Record{Type: RecRatchet, Payload: []byte("x")})
		return marshalItem(1700000000, 0, b)
	}
	return nil
}
