//go:build race

package ratchet

// raceEnabled: the race detector makes sync.Pool drop items at random.
const raceEnabled = true
