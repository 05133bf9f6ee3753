#!/usr/bin/env bash
# make release: one sotto binary per target in dist/ (or $DIST), and
# dist/SHA256SUMS. Every input that could change a byte is fixed here, so
# that anyone with the same source and Go release gets the same files:
#   - CGO_ENABLED=0: no C toolchain, a static binary;
#   - -trimpath, -buildvcs=false, -ldflags=-buildid=: no build path, VCS
#     stamp or build id in the binary;
#   - GOFLAGS=-mod=readonly: go.mod and go.sum as committed, nothing fetched
#     that they do not pin;
#   - GOTOOLCHAIN=local: the Go installed here, never a downloaded one;
#   - GOEXPERIMENT=runtimesecret (memory erasure; on darwin, where Go's
#     runtime/secret does nothing yet, the binary says so: sotto version),
#     GOAMD64=v1, GOARM64=v8.0: the defaults, written down so that an
#     environment setting another level cannot change the result.
# `go version -m FILE` prints the Go release and every one of these settings
# from a binary, which is what a user needs to rebuild it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${DIST:-dist}
targets=${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}
export CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local
export GOEXPERIMENT=runtimesecret GOAMD64=v1 GOARM64=v8.0
unset GOARM GO386 GOMIPS GOPPC64 GORISCV64 GOWASM 2>/dev/null || true
go=${GO:-go}
rm -rf "$out"
mkdir -p "$out"
for t in $targets; do
  os=${t%/*} arch=${t#*/}
  GOOS=$os GOARCH=$arch "$go" build -trimpath -buildvcs=false -ldflags=-buildid= \
    -o "$out/sotto-$os-$arch" ./cmd/sotto
done
(cd "$out" && sha256sum sotto-* > SHA256SUMS)
echo "release: $("$go" version) GOEXPERIMENT=$GOEXPERIMENT, in $out:"
cat "$out/SHA256SUMS"
