#!/usr/bin/env bash
# make bench: every speed figure of issues 15 and 16, each beside its
# baseline measured in the same run (Go benchmarks, never timed tests).
# The root package's Tor benchmarks run over the private network its
# TestMain starts on loopback; everything else is local. Output goes to the
# terminal and to $BENCH_OUT (bench.txt). Knobs:
#   BENCHTIME      per micro benchmark (1s)
#   BENCH_RT       round trips per Tor round-trip benchmark (30)
#   SOTTO_BENCH_FILE_MIB  the file moved over Tor (64; 1024 for the 1 GiB RSS figure)
#   BENCH_IDLE     how long the idle-profile benchmarks watch (3m; 0: skip them)
#   BENCH_QUICKACK=1  (root) quick ACKs on the loopback routes for the run,
#                  put back at the end: without them tor's Nagle meets
#                  Linux's 40 ms delayed ACK and the private network's
#                  latency is bimodal (onion/testnet/doc.go); each Tor
#                  figure is then tor's own, not loopback's
# On a shared machine read the medians (median-us, min-ns/op), not ns/op.
set -euo pipefail
if [ "${BENCH_QUICKACK:-0}" = 1 ]; then
	routes=("127.0.0.0/8" "127.0.0.1")
	for r in "${routes[@]}"; do
		ip route change local "$r" dev lo proto kernel scope host src 127.0.0.1 table local quickack 1
	done
	trap 'for r in "${routes[@]}"; do ip route change local "$r" dev lo proto kernel scope host src 127.0.0.1 table local; done' EXIT
	echo "bench: quick ACKs on the loopback routes for this run:" && ip route show table local | grep -w lo
fi
GO=${GO:-go}
BENCHTIME=${BENCHTIME:-1s}
RT=${BENCH_RT:-30}
OUT=${BENCH_OUT:-bench.txt}
: >"$OUT"
echo "loopback quick ACKs (BENCH_QUICKACK): ${BENCH_QUICKACK:-0}" | tee -a "$OUT"
run() {
	echo "== go test -run '^\$' $*" | tee -a "$OUT"
	echo "   load: $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%SZ)" | tee -a "$OUT"
	$GO test -run '^$' -timeout 60m "$@" 2>&1 | grep -v '^    [a-z_]*\.go:[0-9]*: ' | tee -a "$OUT"
}
root=github.com/sottochat/sotto
# Libraries: the ratchet against its targets (handshake < 0.5 ms, DH step
# <= 60 us, symmetric <= 3 us; min and median beside the mean; a PQ step
# against a DH step plus the BenchmarkMLKEM operation it does; X25519 beside
# crypto/ecdh's, BenchmarkX25519Stdlib), the vault,
# tor's own launch and publish (onion: the floor under everything below).
# Floors beside their steps: ratchet's SymmetricFloor, DHStepFloor and
# HandshakeFloor (the primitives alone) and vault's CommitIOFloor (a
# commit's file-system work alone): a target below its floor needs another
# construction, not faster code around it.
run -bench . -benchmem -benchtime "$BENCHTIME" $($GO list ./... | grep -v -x "$root")
# The engine over in-memory pipes, per round trip, each stage's median:
# plain test keys; keys in locked memory as in the product (Locked) beside
# the old enclave open and seal per message (Enclave); both on real vaults.
run -bench 'PipeRoundTrip' -benchtime 400x -count 3 .
run -bench 'PipeFileVault$' -benchtime 1x .
# What runtime/secret costs (GOEXPERIMENT=runtimesecret, set for every make
# target: each allocation inside erase.Do is registered for erasure, ~0.45 us
# and more in a process with many live secret objects): the engine and the
# ratchet's steps built without it, beside the runs above.
GOEXPERIMENT= run -bench 'PipeRoundTripLocked$' -benchtime 400x -count 3 .
GOEXPERIMENT= run -bench 'Handshake$|DHStep|SymmetricStep' -benchtime "$BENCHTIME" ./ratchet
# Over the private Tor network: a round trip (each stage's median) beside a
# raw onion echo of 1 byte and 4 KiB on the same network (goal: <= 1.5x).
run -bench 'TorRoundTrip$|TorRawEcho$|TorRawEcho4K$' -benchtime "${RT}x" .
# Messages per second on one conversation (old: 81-163 msg/s): Send after
# Send, and 4 goroutines sending at once (texts sent together share a
# commit); the same bursts over a pipe with real vaults (no Tor).
run -bench 'TorThroughput$|TorThroughputConcurrent$|TorThroughputPipelined$' -benchtime 3x .
run -bench 'PipeThroughputVault$|PipeThroughputVaultConcurrent$|PipeThroughputVaultPipelined$' -benchtime 5x .
# A file beside a raw onion stream between the same tors, and RSS growth.
run -bench 'TorFileThroughput$' -benchtime 1x .
# Cold start to the first message beside the raw-Tor floor.
run -bench 'TorFirstMessage$|TorFirstMessageFloor$' -benchtime 3x .
run -bench 'TorRestartDelivery$' -benchtime 1x .
# Many contacts (issue 16 goal 4): an idle profile with 190 offline and 10
# online contacts, its tor's and Sotto's CPU and RSS over SOTTO_IDLE_WINDOW
# (goal: below 1 % of a core together), beside the control: a plain tor
# asked for 200 missing descriptors at the old dial schedule's rate and at
# the new one (pace=1). BENCH_IDLE=0 leaves them out.
if [ "${BENCH_IDLE:-3m}" != 0 ]; then
	export SOTTO_IDLE_WINDOW=${BENCH_IDLE:-3m}
	run -bench 'TorIdleContacts/off=190' -benchtime 1x .
	run -bench 'OfflineDialsControl/n=200' -benchtime 1x ./onion
	unset SOTTO_IDLE_WINDOW
fi
echo "written to $OUT"
