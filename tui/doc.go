// Package tui implements Sotto's terminal user interface with Bubble Tea.
//
// The root [Model] holds a page enum and delegates to the active screen
// (create profile, unlock, identities, contacts, conversation, add contact,
// verify, conversation settings, contact requests); global keys come first.
// Each screen is a [Component]: a Bubble Tea model, a help.KeyMap and
// SetSize. The keys live in package keymap, the styles in package styles.
//
// # No I/O in Update
//
// Every call into the engine runs in a command that returns a message;
// Update only changes the model. Engine events arrive through a command that
// reads one event from [Engine.Events] and is re-armed after each one; a
// one-second tick drives countdowns, the idle lock and the panic window.
//
// # Terminal safety
//
//   - Every string that came from a peer (message text, request text, names
//     and codes shown back) goes through package sanitize before it reaches a
//     view, so escape sequences, control and bidi characters are inert.
//   - The window title is the constant "sotto"; no message text is ever put
//     in a title, a bell or a notification.
//   - The UI runs in the alternate screen. On quit, on lock and on the panic
//     key the model drops every decrypted string and the screen is cleared.
//   - After Config.IdleLock without a key press the UI locks: conversations,
//     codes and typed text are dropped from the model, and the passphrase is
//     asked again (checked by the engine, never kept by the UI).
//   - The panic wipe is a key and a word: the panic key (ctrl+\ unless
//     Config.PanicKey says otherwise) fills the screen with a red panel,
//     and typing the panic word ("wipe" unless Config.PanicWord) runs the
//     same wipe as `sotto panic` and exits. Keys hit by reflex (the panic
//     key again, ctrl+c, enter, esc) never wipe; esc or ctrl+c cancel
//     without touching the screen below; after [PanicWindow] the panel
//     goes away by itself.
//   - ctrl+c with unsent text (a draft in any conversation, a half-filled
//     form) asks first; only y quits.
//   - Passphrases are typed into package passfield's masked field, which keeps
//     the bytes in locked memory and hands the engine a copy it wipes; they
//     never pass through bubbles' textinput.
//   - Typed and pasted text (outside the passphrase fields) is cleaned like a
//     peer's before it reaches a field, so a paste cannot carry escape or
//     bidi characters into the composer, a name or a code.
//   - Sotto never reads the clipboard itself: the text fields' ctrl+v, which
//     in bubbles runs xclip, xsel or wl-paste from PATH, is off. The
//     terminal's own paste works.
//
// What Go cannot guarantee: message texts arrive from the engine as Go
// strings, which cannot be wiped. Locking drops every reference the UI
// holds (and replaces the composer, whose textarea caches wrapped lines);
// the memory is reclaimed by the garbage collector, not zeroed.
//
// # Engine and profile
//
// The UI talks to the engine through [Engine], the methods of *sotto.Engine
// it uses, and to the root package's functions through [Profile] (create,
// open, check the passphrase, panic wipe, codes). [Run] wires both to the
// root package; package sottotest has an in-memory engine for tests.
//
// # Tests
//
// Golden views of every screen at 80x24 with the Ascii colour profile live
// in testdata (go test ./tui -update rewrites them and docs/screens); flow
// tests drive Update with messages and run the returned commands
// synchronously; benchmarks render a conversation of 10,000 messages; the
// tmux end-to-end test of two real UIs over a private Tor network is in
// package tui/e2e.
package tui
