// Package vault implements Sotto's key custody and encrypted storage: keys
// held in memguard enclaves and locked memory, and a directory of [age]
// files that survives crashes and forgets what it is told to forget.
//
// It knows nothing of Tor or of the wire protocol. The core stores
// identities, contacts, ratchet states, the outbox and settings as small
// records ([Vault.Put], [Vault.Get], [Vault.Delete], [Vault.Keys]) and each
// conversation as a log of entries ([Vault.Append], [Vault.Entries],
// [Vault.Last], [Vault.Remove], [Vault.DropLog]).
//
// # API at a glance
//
//	Harden(onSignal) · Purge() · Exit(code)
//	NewSecret(b) · RandomSecret(n) · (*Secret).Open(fn) · OpenSecrets(fn, ss...) · (*Secret).Destroy()
//	NewPassphrase(b) · ReadPassphrase(prompt) · PassphraseFromFile(path) · (*Passphrase).Equal · Destroy
//	Create(dir, pass, opts) · Open(dir, pass, opts) · Check(dir, pass, opts) · Panic(dir)
//	(*Vault).Put · Get · Delete · Keys                       small records
//	(*Vault).Append · Entries · Last · Remove · DropLog · Logs conversation logs
//	(*Vault).Batch · (*Batch).Put · Delete · Append · Remove · Commit · Submit · Wait   group commit
//	(*Vault).Hold · ChangePassphrase · VerifyPassphrase · Damage · Close
//
// # Keys in memory
//
// A [Secret] is a memguard enclave: ciphertext in ordinary memory, opened
// into a locked, guard-paged, read-only buffer only for the duration of
// [Secret.Open]. A [Passphrase] is read from /dev/tty with echo off
// ([ReadPassphrase]), from a file ([PassphraseFromFile]) or from bytes that
// are wiped ([NewPassphrase]), straight into locked memory; it never becomes
// a Go string. [Harden] turns core dumps off, makes the process
// non-dumpable, raises RLIMIT_MEMLOCK to its hard limit and wipes memguard's
// buffers on SIGINT, SIGTERM and SIGHUP.
//
// An ordinary user may lock only 64 KiB: 16 pages, 3 of which memguard's own
// key takes. Every buffer costs at least a page, and memguard panics when
// mlock fails. So at most [MaxOpenSecrets] secrets are open at once, every
// allocation is checked against the limit first (failing with
// [ErrLockedMemory], a clear error, instead of memguard's panic), and small
// keys are best packed into one Secret or opened together with
// [OpenSecrets], which puts them in one buffer.
//
// # On disk
//
// A vault directory holds (0700 directories, 0600 files, checked at Open):
//
//	vault.key   the vault key, encrypted to the passphrase (age scrypt)
//	manifest    every shard's and segment's write counter, encrypted to the vault key
//	lock        flock(2)ed by the process that has the vault open
//	r/<name>    16 record shards, age files encrypted to the vault key
//	s/<name>    conversation-log segments, age files encrypted to the vault key
//
// The vault key is an age hybrid post-quantum identity (ML-KEM-768 +
// X25519, "AGE-SECRET-KEY-PQ-1…"): the decrypted key file is a valid age
// identity file, and every other file is a standard age file that the age
// tool opens with it (age -d -i key). Post-quantum because vault files may be
// copied today and attacked later; the cost (a 1.1 KiB header and an ML-KEM
// operation per file) is small beside the 64 KiB segments. The passphrase is
// stretched with scrypt at a work factor calibrated to about a second on the
// machine that creates the vault, stored in the key file as age does; Open
// refuses a key file asking for more than [DefaultMaxWorkFactor] before
// doing any work.
//
// File names are keyed hashes (HMAC-SHA-256 under a key derived from the
// vault key) of what the file holds, so they reveal no contact, identity or
// onion address. Plaintexts are padded (to a power of two of at least 1 KiB
// up to 64 KiB, then to a multiple of 64 KiB), so sizes reveal only a
// bucket. Records are spread over a fixed 16 shards.
//
// # Crash safety
//
// Every change is made as a commit (commit.go): the files it rewrites are
// written under staging names, then fsynced together with their
// directories (all at once), then the manifest, which lists every file's new write counter,
// is renamed into place and the vault directory fsynced (the commit
// point), and the staged files are renamed over the old ones. A change is
// acknowledged (its method returns nil) only after the commit point. A
// crash before it leaves the vault as it was (Open deletes the staging
// files); a crash after it leaves the new manifest, and Open puts the
// staged files it names in place. A [Batch] makes several changes one
// commit: all of them or none survive a crash, each file is written once
// and the manifest once, and batches committed while another commit is
// being written share the next one (group commit).
// Open deletes temporary files, finishes an interrupted DropLog, adopts a
// segment written just before its log's metadata, and deletes segment files
// nothing refers to. The lock file keeps a second process out ([ErrLocked]).
//
// # Rollback
//
// Every shard and segment carries, inside its encrypted content, a counter
// of its writes, and the manifest lists every file's counter. A file whose
// counter is below the manifest's is an older copy of itself put back in
// place: Open (for shards) and any read (for segments, which are read when
// needed; an Append to a log whose last segment was rolled back is refused
// too) fail with a [FileError] that names the file and wraps
// [ErrRolledBack]; [Check] reports it. A manifest that is missing, or more
// than one write behind a file, was itself deleted or rolled back, and is
// refused the same way. A vault written before manifests (version 1 shards and
// segments, which carry no counter) opens as it is and gets a manifest at
// its first write; from then on its old copies count as rolled back.
//
// What a copy of the directory still allows: putting the whole vault back
// as it was at an earlier moment (or the manifest together with every file
// written since then), which is a consistent older vault; telling it from
// the current one needs a counter kept off the disk. vault.key is not
// covered: an older copy holds the same vault key under an older
// passphrase (changing the passphrase does not change the vault key, so
// whoever knows an old passphrase and kept the old key file can still open
// the vault).
//
// # Cost
//
// A log is a list of segments of at most 64 KiB (or 1024 entries); Append
// rewrites only the last one (and the manifest), so its cost does not grow
// with history. Open
// reads the 16 shards and lists the segment files; logs are decrypted when
// read ([Vault.Last] reads only the segments it needs). The first
// [Vault.Remove] on a log decrypts it once to index it; later ones rewrite
// only the segments concerned. Compaction: a segment that Remove leaves
// empty is deleted, and one left below a quarter full merges into a live
// neighbour when both fit in one segment (a merge record in the log's
// metadata makes that crash-safe).
//
// # Deletion
//
// [Vault.Remove] rewrites every segment that held a removed entry (or deletes
// it if nothing is left) before it returns: the delay is zero, so there is
// nothing to flush; [Vault.Delete] rewrites the
// record's shard; [Vault.DropLog] deletes a log's segments. From then on the
// data cannot be read back from the vault, with the passphrase or with the
// age tool and the vault key. [Panic] destroys the key file first
// (overwritten, synced, deleted) and then everything else.
//
// What a file system or disk may still keep: a rewrite writes a new file and
// deletes the old one, and deleting a file does not erase its blocks. Until
// they are reused, the old blocks (age ciphertext, readable with the vault
// key, which the passphrase unlocks) may be recovered from the raw disk; so
// may blocks kept by a journal, copy-on-write file systems (btrfs, ZFS) and
// snapshots, and an SSD's wear levelling keeps old copies the operating
// system cannot reach or overwrite, even after Panic's overwrite of the key
// file. Against someone who takes the disk, only full-disk encryption (or a
// VM whose disk is thrown away) and forgetting that key give real erasure;
// Panic then removes what the running system can remove.
//
// # Threat assumptions
//
//   - Someone who copies the vault directory, without the passphrase, learns
//     the number of shards, the number and padded sizes of segments (roughly
//     how much has been written) and the files' times; nothing else.
//     The passphrase's strength bounds the offline attack on vault.key.
//   - Someone who can write to the directory can delete files (a deleted
//     shard, live segment or manifest is reported by name, the others are
//     not needed) or roll the whole vault back to an earlier state; rolling
//     back one file, any other change, and moving a file to another name,
//     are detected and reported by name.
//   - The running process and its user account are trusted: a debugger or
//     root can read memory. Locked memory keeps secrets out of swap and core
//     dumps; it does not stop root. Go copies some secrets through ordinary
//     memory that cannot be wiped; see the next section.
//
// # What the vault keeps in memory
//
// Record values (identity keys, ratchet states, contacts) and the last
// segment of each log (messages) are cached sealed: XSalsa20-Poly1305
// (nacl/secretbox, whose key schedule lives in stack arrays) under a random
// key of the vault's own held in a [Secret], as memguard seals an enclave.
// Where the locked-memory limit leaves [LockedSpare] free, that key is
// also kept for the vault's life in a [Locked] buffer (mlocked, between
// guard pages, out of core dumps, wiped at Close), as memguard keeps its
// own key, so that a Get or a change does not open an enclave (an mmap,
// mlock, mprotects and munmap each); otherwise a commit opens it once for
// all its changes. A value is opened into an ordinary slice only for the operation that
// needs it and wiped when it is done; [Vault.Get] and [Vault.Entries]
// return copies the caller wipes. Log metadata (segment numbers) is not
// secret and is kept in the clear.
//
// Every operation that decrypts, encrypts or handles plaintext runs inside
// erase.Do (Go's runtime/secret, GOEXPERIMENT=runtimesecret, which the
// Makefile sets): on linux/amd64 and linux/arm64 the runtime then erases
// the registers and stack used, and zeroes every heap allocation made
// (age's buffers and parsed keys, AEAD key copies, plaintexts) once the
// garbage collector frees it. TestVaultCacheHoldsNoPlaintext and
// TestKDFLeavesNoPassphrase read a process's memory to check both. Built
// without the experiment, or on another platform, what follows still
// holds.
//
// # What Go cannot erase
//
// A Go string cannot be wiped, and the garbage collector frees memory
// without zeroing it: a freed copy stays readable (by root, a debugger, or
// swap) until a later allocation reuses its slot, at no predictable time.
// So what matters is where a secret is copied into memory the vault does
// not own.
//
// The passphrase is never copied. It is read into locked memory and sealed
// in an enclave; unlocking opens it into a locked buffer and derives the
// key with package kdf (vault/internal/kdf), whose scrypt runs SHA-256,
// HMAC and PBKDF2 over state it owns and wipes (the pads, key XOR 0x36 and
// key XOR 0x5c, included), wipes B, XY and V (which would let anyone test a
// passphrase guess without paying scrypt's cost), and maps V (128·N·r
// bytes, 512 MiB at 2^19) with mmap(2), wiping and unmapping it before it
// returns, so an unlocked, idle process does not hold it: the memory goes
// back to the kernel at once (debug.FreeOSMemory is not needed: V never
// enters the Go heap, so it neither waits for the scavenger nor raises the
// garbage collector's heap goal). TestKDFLeavesNoPassphrase reads the whole
// memory of a process that unlocked a vault and finds neither the
// passphrase nor it XORed with the pads, while the same scan finds the four
// copies golang.org/x/crypto/scrypt leaves (x/crypto/pbkdf2 calls
// string(password) twice per derivation).
//
// What remains, with where it comes from:
//
//   - The vault key, as age's bech32 text (the form the key file holds). age
//     parses an identity only from a string (age.ParseHybridIdentity), and
//     its bech32 decoder lower-cases the whole string into a new one and
//     decodes the data part into fresh slices; the parsed HybridIdentity
//     keeps the ML-KEM-768 and X25519 private keys in unexported fields.
//     The vault passes the string in place over its locked buffer
//     (unsafe.String, no copy), but every unlock and every decryption
//     (Open's reading of the shards, and each log segment that
//     [Vault.Entries], [Vault.Last], [Vault.Remove] and compaction read)
//     parses it again, and each parse leaves those copies as garbage;
//     writes use only the public recipient. Keeping one parsed identity
//     would leave a live copy instead. [Create] also leaves the generated
//     HybridIdentity and the intermediate buffers of its String method
//     (the final string is wiped). The only fix is an age API that takes
//     bytes and can wipe an identity.
//   - Keys handed to AEADs: chacha20poly1305.New copies its key into a
//     struct it keeps; the scrypt output and the key file's payload key
//     (either decrypts the key file) are wiped by the vault, their copies
//     inside the AEAD are not; nor is what age computes from the key file's
//     file key to check the header's MAC. age's file keys,
//     stream keys and the expanded private key live in age's own memory
//     while a file is encrypted or decrypted.
//   - The plaintext of records and entries: ordinary []byte values the
//     caller holds, and age's stream buffers.
//   - Registers and stack slots spilled while SHA-256 or Salsa20/8 run, and
//     V's pages if the kernel swapped them out during the derivation (an
//     ordinary user cannot lock 512 MiB).
//
// The key file's plaintext does not leak: age.Decrypt's stream reader
// would leave it twice per unlock (a new 64 KiB slice per chunk and its own
// buffer), so the vault lets age parse and authenticate the header
// (age.ExtractHeader, age.DecryptHeader) and decrypts the one-chunk payload
// itself, straight into locked memory. The file-name key does not leak: it is derived with kdf.HKDF straight
// into locked memory and used only through kdf.HMAC, whose state is wiped
// (crypto/hmac and crypto/hkdf would keep it, XORed with the pads, in
// memory the caller cannot reach). The test above checks that too.
// With runtime/secret (above) all of these are zeroed once freed; without
// it they stay until their memory is reused.
//
// [age]: https://age-encryption.org/v1
package vault
