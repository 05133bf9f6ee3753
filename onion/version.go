package onion

import (
	"fmt"

	"github.com/sottochat/sotto/onion/torctl"
)

// MinTorVersion is the oldest tor Sotto accepts: 0.4.9.11 fixed a
// rendezvous-point impersonation bug.
const MinTorVersion = "0.4.9.11"

// checkTorVersion returns an error wrapping ErrTorTooOld when the version
// tor reports is older than MinTorVersion, and ErrControl when it cannot be
// read.
func checkTorVersion(reported string) error {
	v, err := torctl.ParseVersion(reported)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrControl, err)
	}
	min, _ := torctl.ParseVersion(MinTorVersion)
	if v.Less(min) {
		return fmt.Errorf("%w: found tor %s", ErrTorTooOld, v)
	}
	return nil
}
