package headless

import "github.com/sottochat/sotto"

// errorCodes maps the engine's sentinel errors to the "code" of an error
// event (docs/headless.md lists them). Read only.
var errorCodes = []struct {
	err  error
	code string
}{
	{sotto.ErrUnknownIdentity, "unknown_identity"},
	{sotto.ErrUnknownContact, "unknown_contact"},
	{sotto.ErrUnknownRequest, "unknown_request"},
	{sotto.ErrBadCode, "bad_code"},
	{sotto.ErrSelf, "self"},
	{sotto.ErrIdentityExists, "exists"},
	{sotto.ErrContactExists, "exists"},
	{sotto.ErrBadName, "bad_name"},
	{sotto.ErrBadTimer, "bad_timer"},
	{sotto.ErrTooLong, "too_long"},
	{sotto.ErrOffline, "offline"},
	{sotto.ErrClosed, "closed"},
	{sotto.ErrMetadata, "metadata"},
	{sotto.ErrUnknownFile, "unknown_file"},
	{sotto.ErrFileTooLarge, "too_large"},
	{sotto.ErrFileNotReady, "not_ready"},
	{sotto.ErrFileExists, "file_exists"},
	{sotto.ErrTooManyContacts, "too_many_contacts"},
	{sotto.ErrClientAuthShared, "client_auth_shared"},
	{sotto.ErrHardening, "hardening"},
	{errTimeout, "timeout"}, // a wait whose time ran out (wait.go)
}
