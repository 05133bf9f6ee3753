package sotto

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/sottochat/sotto/internal/contactcode"
	"github.com/sottochat/sotto/onion"
)

// CodeLen is the length of a contact code in characters.
const CodeLen = contactcode.Len

// CheckCode validates a contact code (version, length, characters, checksums)
// and returns nil or an error wrapping [ErrBadCode] that says what is wrong,
// without echoing the code. The format is in docs/PROTOCOL.md Part 2.
func CheckCode(code string) error {
	_, _, _, err := parseAnyCode(code)
	return err
}

func parseCode(code string) (*contactcode.Code, error) {
	c, err := contactcode.Parse(code)
	if err != nil {
		var msg string
		if errors.Is(err, contactcode.ErrBad) {
			msg = err.Error()[len(contactcode.ErrBad.Error())+2:]
		} else {
			msg = "unreadable"
		}
		return nil, fmt.Errorf("%w: %s", ErrBadCode, msg)
	}
	return c, nil
}

// onionFromSeed returns the onion address of an Ed25519 seed.
func onionFromSeed(seed []byte) string {
	priv := ed25519.NewKeyFromSeed(seed)
	defer clear(priv)
	return onion.AddressFromPublicKey(priv.Public().(ed25519.PublicKey))
}
