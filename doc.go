// Package sotto implements the Sotto messenger core: profiles, identities,
// contacts, conversations, the outbox, delivery and disappearing timers, and
// the event stream that the terminal UI and the headless mode consume.
//
// Sotto talks only over Tor v3 onion services. The packages below it do the
// heavy lifting: [github.com/sottochat/sotto/onion] owns everything Tor,
// [github.com/sottochat/sotto/ratchet] the handshake and double ratchet, and
// [github.com/sottochat/sotto/vault] key custody and encrypted storage.
// docs/PROTOCOL.md Part 2 specifies what this package puts on the wire
// (contact codes, safety codes, framing, message kinds, delivery, timers);
// SECURITY.md gives the threat model.
//
// # Profiles and identities
//
// [Init] creates a profile (a vault locked by a passphrase) and [Open]
// unlocks it and returns an [Engine]. Each identity is its own onion
// service, published with client authorization for exactly its contacts
// (restricted discovery) or, in open mode, for anyone, with contact requests
// held for approval. An ephemeral identity lives in memory only and is gone
// at [Engine.Close]; [Engine.BurnIdentity] destroys an identity with its
// keys, contacts and conversations. Long-lived keys and ratchet states are
// kept in vault.Secret enclaves and opened only while used. An identity's
// keys are stored in a fixed binary record (no JSON or base64 copies); the
// buffer the vault returns is wiped as soon as they are in their enclave.
//
// All identities of a profile share one tor, which keeps one client
// authorization key per onion address. A contact can therefore belong to
// only one identity of a profile: adding (or accepting the request of) a
// contact that another identity already has fails with
// [ErrContactOfOtherIdentity]; use a separate profile for the second
// identity.
//
// # Delivery
//
// [Engine.Send] stores the message and its outbox entry before it returns.
// The engine keeps one connection per contact, retries failed dials with
// exponential backoff and jitter, and sends the outbox in order on every new
// connection; the receiver stores a message before acknowledging it and
// drops duplicates by ID, so nothing acknowledged is lost and nothing is
// shown twice, across restarts of either side.
//
// A contact cannot make us store without limit: a conversation holds at
// most 10000 incoming messages (texts and timer changes) not yet marked
// read. Past that a new message is refused without an acknowledgement and
// the connection closed; it stays in the contact's outbox and is sent again
// after [Engine.MarkRead] makes room. The user is told once, with an
// [ErrorEvent] wrapping [ErrTooManyUnread].
//
// # Disappearing messages
//
// A text written with a timer expires on each side on that side's clock
// (docs/PROTOCOL.md §2.9): the writer's starts at [Engine.Send], delivered or
// not; the reader's starts when the text is first shown to the user, which
// the UI reports with [Engine.MarkShown] (call it only for texts really on
// screen). A text never shown expires at the latest [UnshownGrace] after its
// timer would have, and what expires unread or undelivered is reported: an
// [ExpiredEvent] with Unread or Undelivered set and a [NoticeMessage] line in
// the conversation. A contact's times are never believed later than our
// clock plus [MaxClockSkew], so no timer change can outrank our later ones.
//
// # Verification
//
// [Engine.SafetyCode] gives the 60-digit code two people compare;
// [Engine.VerifyCode] marks a contact verified when the code the contact
// read out matches. A contact verified under an older safety code is
// unverified on the first open by a version that replaced it, with a
// [NoticeReverify] line.
//
// # Key continuity
//
// Every connection starts with a handshake that adds a new epoch to the
// contact's conversation keys; it is committed with ratchet's State.Adopt
// into the current keys, so a connection that was still delivering while the
// handshake ran keeps what it did (a message decrypted once never decrypts
// again). When the handshake shows that the contact no longer holds keys it
// had used with us, or that the new keys could not be chained to earlier
// ones although both sides had some (one side's vault was restored from an
// old copy or lost; "both" is known once a message from the contact has
// decrypted here), the engine reports it as an [ErrorEvent] wrapping
// [ErrPeerRolledBack] naming the identity and contact; the conversation
// goes on with the fresh keys.
//
// # Events
//
// [Engine.Events] delivers [Event] values in order. The engine never blocks
// on the reader: up to 4096 events wait in a queue; past that the oldest are
// dropped and an [ErrorEvent] wrapping [ErrEventsDropped] tells the reader to
// re-read the state.
//
// # Goroutines
//
// The engine owns an event pump and an expiry loop; each online identity
// owns its accept loop, one goroutine per inbound connection and one dialer
// per contact; each connection's reader owns its writer. [Engine.Close]
// cancels all of them and waits for every one.
package sotto
