package sotto

import (
	"github.com/sottochat/sotto/internal/erase"
	"github.com/sottochat/sotto/strength"
)

// Strength estimates how hard the passphrase is to guess (package strength)
// without taking it out of locked memory; the estimator's own allocations
// are erased (internal/erase) before Strength returns.
func (p *Passphrase) Strength() (strength.Estimate, error) {
	vp, err := p.get()
	if err != nil {
		return strength.Estimate{}, err
	}
	var e strength.Estimate
	if err := vp.Peek(func(b []byte) { e = strength.Check(b) }); err != nil {
		return strength.Estimate{}, mapVaultErr(err)
	}
	erase.Collect()
	return e, nil
}
