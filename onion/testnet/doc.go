// Package testnet runs a private Tor network on one machine, made of real
// tor processes, for Sotto's integration tests and benchmarks and for
// `sotto net up DIR` (a community's own network on a LAN).
//
// [Start] generates directory-authority keys with tor-gencert, starts 3
// directory authorities and 5 relays (and, with Options.Bridge, an obfs4
// bridge) on 127.0.0.1 or Options.Listen with ports chosen at run time, and
// returns once the network carries onion services. [Network.ClientTorrc] is
// the torrc fragment a client tor loads to join it, [Network.Close] stops
// exactly the processes Start started. [Up] and [Down] do the same for a
// network that outlives the calling process; [Main] gives a test package one
// shared network from TestMain. The package imports only the standard
// library.
//
// A network this small gives its users no anonymity from whoever runs it or
// watches its few relays: it is for tests, and for staying in touch when the
// public Tor network cannot be reached, not a substitute for it.
//
// # Settings, and why
//
// Every node:
//   - TestingTorNetwork 1: tor's testing defaults (private addresses
//     allowed, fast directory schedules, short consensus intervals).
//   - Address, ORPort on the listen address, AddressDisableIPv6 1: one
//     IPv4 address, no guessing.
//   - AssumeReachable 1: publish the descriptor at once, without waiting
//     for reachability self-tests.
//   - ExitRelay 0, ExitPolicy reject *:*: onion services need no exit, and
//     the network must never carry traffic to the internet.
//   - Schedulers Vanilla: tor's default KIST scheduler adds ~10 ms per hop
//     on loopback; with Vanilla an onion round trip is ~1 ms
//     (/work/shared/TESTNET.md).
//   - Loopback and delayed ACKs (not a torrc option; measured in session 9
//     of issue 16): tor sets no TCP_NODELAY on its connections (strace of
//     a tor accepting SOCKS and OR connections shows only SO_REUSEADDR), so
//     Nagle's algorithm holds a small segment until the last one is acked,
//     and Linux delays an ACK by at least 40 ms once a connection has left
//     quick-ACK mode. On loopback that makes latency bimodal: a 4 KiB raw
//     onion echo (the root package's BenchmarkTorRawEcho4K) took ~10 ms or
//     ~105 ms per round trip; with quick ACKs on the loopback routes
//     (ip route change local 127.0.0.1 … quickack 1, and the same for
//     127.0.0.0/8) it took 1.2–1.5 ms. The network leaves the host's
//     routes alone; scripts/bench.sh sets them for its run with
//     BENCH_QUICKACK=1 (as root) and puts them back.
//   - PathsNeededToBuildCircuits 0.67, ShutdownWaitLength 0, SocksPort 0,
//     RunAsDaemon 0: build circuits as soon as the small consensus is in,
//     exit at once on SIGTERM, no client port on relays, and stay a process
//     we can wait for (process 1 on these machines does not reap orphans).
//
// Directory authorities add:
//   - V3AuthVotingInterval 10, V3AuthVoteDelay 2, V3AuthDistDelay 2, and the
//     same three as TestingV3AuthInitial…: a consensus every 10 s (tor
//     wants interval ≥ 2×(vote+dist+1), dividing 30 minutes);
//     V3AuthNIntervalsValid 2.
//   - TestingDirAuthVoteGuard *, TestingDirAuthVoteHSDir *: every node is a
//     Guard and an HSDir from the first consensus.
//   - AuthDirVoteStableGuaranteeMinUptime 0, AuthDirVoteStableGuaranteeMTBF
//     0, AuthDirFastGuarantee 1, TestingMinFastFlagThreshold 0: every node is
//     Stable and Fast although it has just started (without them, on a busy
//     machine, half the relays lack Stable, which intro points need).
//
// The bridge adds BridgeRelay 1, PublishServerDescriptor 0 (it stays out of
// the consensus), BridgeDistribution none, ServerTransportPlugin obfs4 exec
// /usr/bin/obfs4proxy, ServerTransportListenAddr and ExtORPort; its line
// ([Network.BridgeLine]) is obfs4proxy's pt_state/obfs4_bridgeline.txt with
// the address and fingerprint filled in.
//
// Clients get TestingTorNetwork 1, the DirAuthority lines,
// PathsNeededToBuildCircuits 0.67, Schedulers Vanilla and ClientUseIPv6 0.
//
// # When the network is usable
//
// Start polls an authority's DirPort for the consensus until one lists
// every authority and relay with Running, Valid, Fast, Stable, Guard and
// HSDir, then waits for the next consensus: a client started right on the
// first one may wait ~10 s more for microdescriptors. With Options.Bridge it
// also waits for the bridge to bootstrap. On this project's 2-core machines
// that takes 25–45 s (more when the machine is very busy: authorities then
// reject each other's late votes and skip a round), most of it tor's own
// voting schedule.
//
// # Processes and directories
//
// Start's tors are children of the calling process (killed by the kernel if
// it dies, Pdeathsig) and Close waits for them. Up's tors run in their own
// session; their PIDs and torrc paths go to DIR/network.pids, and Down
// signals a PID only while /proc/PID/cmdline still names that node's torrc
// (SIGTERM, SIGKILL after 5 s), then waits until each is gone (a zombie
// counts as gone). Node directories are DIR/nodes/{a0,r0,b0,...}, each with
// its torrc, notice.log and stdout.log; a Start error keeps them and names
// the directory. DIR/nodes holds the authorities' keys (tor-gencert's
// identity key is encrypted with an empty passphrase): whoever can read DIR
// can sign the network's consensus, so a community network's DIR must stay
// with its operator. Temporary directories are short (os.MkdirTemp("", "stn"))
// because client tors put unix sockets near them and socket paths are
// limited to ~100 bytes.
package testnet
