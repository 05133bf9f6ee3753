// Package sotto implements the Sotto messenger core: profiles, identities,
// contacts, conversations, the outbox, delivery and disappearing timers, and
// the event stream that the terminal UI and the headless mode consume.
//
// Sotto talks only over Tor v3 onion services. The packages below it do the
// heavy lifting: [github.com/sottochat/sotto/onion] owns everything Tor,
// [github.com/sottochat/sotto/ratchet] the handshake and double ratchet, and
// [github.com/sottochat/sotto/vault] key custody and encrypted storage.
// See docs/PROTOCOL.md for the wire protocol and SECURITY.md for the threat
// model.
package sotto
