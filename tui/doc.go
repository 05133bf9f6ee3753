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
//   - The panic key is ctrl+\ pressed twice within [PanicWindow]. The first
//     press shows a red banner; any other key cancels. The second runs the
//     same wipe as `sotto panic` and exits.
//   - Passphrases are typed into package passfield's masked field, which keeps
//     the bytes in locked memory and hands the engine a copy it wipes; they
//     never pass through bubbles' textinput.
package tui
