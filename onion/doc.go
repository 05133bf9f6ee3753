// Package onion provides Sotto's only way onto the network: a tor daemon
// (launched by Sotto with its data directory inside the profile, or an
// existing one reached through its control port), one ephemeral v3 onion
// service per identity, v3 client authorization (restricted discovery), and
// streams to contacts' onion services through tor's SOCKS port with one
// isolated set of circuits per (identity, contact) pair.
//
// Nothing above this package knows about control ports or SOCKS. The
// control protocol (authentication included) is onion/torctl's, SOCKS5 is
// onion/socks': the module's one control-port client and one SOCKS client.
//
// # Guarantees
//
//   - Every byte leaves through tor. Dial sends the onion host name to tor
//     over SOCKS5 and resolves nothing; the launched tor's SOCKS port has
//     OnionTrafficOnly, so tor itself refuses anything but onion addresses.
//     If tor dies, Sotto says so and restarts it with backoff; there is no
//     fallback.
//   - Onion service keys reach tor over the control connection from memory
//     (ADD_ONION ED25519-V3, Flags=DiscardPK) and client-auth keys the same
//     way (ONION_CLIENT_AUTH_ADD, never Permanent): tor writes neither to
//     disk, and this package wipes the copies it makes (Go cannot promise
//     that no copy survives in freed memory or in a kernel socket buffer).
//   - No key, and no contact's full onion address, appears in an error, an
//     event or a log; addresses are shortened with Abbrev.
//   - Tor older than MinTorVersion is refused with ErrTorTooOld.
//
// The exact control-port commands are listed in docs/tor-control.md, with an
// onion-grater profile in contrib/onion-grater for Whonix, Qubes and Tails,
// whose test runs Sotto through the real onion-grater. With a tor Sotto did
// not start, each key-bearing command form is first sent with throwaway keys
// (so a filter that refuses it logs none of ours), no line is longer than
// MaxCommandLine, and a tor that lost our services without our connection
// ending (restarted behind a filter) is noticed and they are published again.
//
// # Specifications
//
// [rend-spec-v3] for onion addresses and client authorization,
// [control-spec] for the control port, [socks-extensions] for tor's SOCKS
// error codes and stream isolation.
//
// [rend-spec-v3]: https://spec.torproject.org/rend-spec/
// [control-spec]: https://spec.torproject.org/control-spec/
// [socks-extensions]: https://spec.torproject.org/socks-extensions.html
package onion
