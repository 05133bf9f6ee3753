package headless

// errorCodes maps the engine's sentinel errors to the "code" of an error
// event (docs/headless.md lists them). Read only.
var errorCodes = []struct {
	err  error
	code string
}{}
