// Package mailbox implements Sotto's mailbox: an untrusted store-and-forward
// role of the sotto binary that its owner runs on an always-on machine, so
// that messages reach people who are offline. docs/PROTOCOL.md Part 3
// specifies it byte for byte; this package is the mailbox server, its queue
// store, its wire protocol and the client the messenger core uses.
//
// # Shape
//
// A mailbox profile is a vault (package vault) and a tor. The mailbox
// publishes one onion service per identity paired with it, each with
// restricted discovery (v3 client authorization) for its owner and for each
// of the owner's contacts that may use it, so that two identities of one
// owner sharing a mailbox show two unrelated onion addresses. An open-mode
// identity may also have an intake service (open, with tor's proof-of-work
// defence) where strangers leave sealed contact requests. A pairing service,
// reachable only with an outstanding one-time pairing code, creates those
// services.
//
// Per contact relation the mailbox keeps two one-way queues, one toward the
// owner and one toward the contact (Briar Mailbox's per-contact inbox and
// outbox), each credential a random bearer token of which the mailbox keeps
// only the SHA-256 (SimpleX's unlinkable queue credentials). What the queues
// hold are padded, opaque blobs: the very ciphertexts of the double ratchet
// (package ratchet), so the ratchet stays the one source of truth. The
// mailbox never holds an identity key, a ratchet key, a message text, a
// petname or a contact's onion address.
//
// # Limits
//
// Everything a client can make the mailbox hold is bounded: blobs are one
// of [BlobSizes]; each queue and the whole mailbox have item and byte
// quotas ([Config]); a blob older than the maximum age, or past the
// delete-by time its depositor gave (a disappearing conversation), is
// deleted, and the collector is told how many blobs expired unread; deposits
// are rate limited per relation, intake requests per intake service (and
// capped); streams per service are capped and every read has a deadline.
//
// # Crash safety
//
// A reply that says a blob was stored, a relation added or items deleted is
// sent only after the vault made the change durable, so a SIGKILL at any
// instant loses nothing a client was told was done. A client retries what it
// was not told: pairing and adding a relation are idempotent, and the
// messenger drops a blob it already processed (Part 2's message IDs).
// TestKillMailbox SIGKILLs a mailbox process at random moments while clients
// deposit, collect and delete, and checks exactly that.
//
// [Part 3]: https://github.com/sottochat/sotto/blob/main/docs/PROTOCOL.md
package mailbox
