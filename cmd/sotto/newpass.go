package main

import "github.com/sottochat/sotto"

// errMismatch is what readNewPassphrase returns when the two answers differ.
var errMismatch = sotto.ErrPassphraseMismatch

// readNewPassphrase asks twice on the terminal, with echo off. The vault
// reads each answer straight into locked memory within its locked-memory
// budget (a 64 KiB limit is an error, not memguard's panic) and compares
// them in constant time.
func readNewPassphrase(prompt1, prompt2 string) (*sotto.Passphrase, error) {
	return sotto.ReadNewPassphrase(prompt1, prompt2)
}
