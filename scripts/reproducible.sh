#!/usr/bin/env bash
# Builds bin/sotto twice, each from an empty build cache in its own directory,
# and fails unless the two binaries are byte-identical.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
for i in 1 2; do
  GOCACHE="$work/cache$i" CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags=-buildid= \
    -o "$work/sotto$i" ./cmd/sotto
done
h1=$(sha256sum "$work/sotto1" | cut -d' ' -f1)
h2=$(sha256sum "$work/sotto2" | cut -d' ' -f1)
echo "reproducible: build 1 $h1"
echo "reproducible: build 2 $h2"
if [ "$h1" != "$h2" ]; then echo "reproducible: FAIL, the builds differ" >&2; exit 1; fi
echo "reproducible: OK, byte-identical"
