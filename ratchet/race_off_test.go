//go:build !race

package ratchet

const raceEnabled = false
