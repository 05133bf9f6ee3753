package headless

import (
	"context"
	"errors"

	"github.com/sottochat/sotto"
)

// newIdentity creates an identity when the engine can (the core's
// NewIdentity takes sotto.IdentityOptions, which lands with the core).
func newIdentity(ctx context.Context, e Engine, name string, ephemeral, open bool) (sotto.IdentityInfo, error) {
	return sotto.IdentityInfo{}, errors.New("headless: new_identity needs the messenger core, which is not built yet")
}
