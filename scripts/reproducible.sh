#!/usr/bin/env bash
# make reproducible: runs the release build (scripts/release.sh, every
# target) twice, each in its own copy of the source at a different path and
# from an empty build cache, and fails unless the two SHA256SUMS files are
# identical. TARGETS narrows the targets (default: all of them).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# The tracked and untracked-but-not-ignored files: what a clean checkout of
# this tree holds.
files=$(git ls-files -co --exclude-standard | wc -l)
# Both copies first, from one snapshot of the tree: an edit made while the
# first build runs must not make the two differ.
git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf "$work/src.tar" 2>/dev/null
for i in 1 2; do
  src="$work/build$i/$(printf 'p%.0s' $(seq 1 $((i * 7))))/sotto"
  mkdir -p "$src"
  tar -C "$src" -xf "$work/src.tar"
done
for i in 1 2; do
  src="$work/build$i/$(printf 'p%.0s' $(seq 1 $((i * 7))))/sotto"
  start=$(date +%s)
  GOCACHE="$work/cache$i" DIST="$work/dist$i" "$src/scripts/release.sh" >/dev/null
  echo "reproducible: build $i ($files files, in $src, empty cache): $(( $(date +%s) - start )) s"
done
if ! diff -u "$work/dist1/SHA256SUMS" "$work/dist2/SHA256SUMS"; then
  echo "reproducible: FAIL, the builds differ (see the diff above)" >&2
  exit 1
fi
cat "$work/dist1/SHA256SUMS"
echo "reproducible: OK, $(wc -l < "$work/dist1/SHA256SUMS") binaries byte-identical across two clean builds"
