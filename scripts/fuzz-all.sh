#!/usr/bin/env bash
# Runs every Fuzz* target under ./fuzz/... (and tui/sanitize, headless) for FUZZTIME each, one at a time
# (go test -fuzz accepts one target per package per run).
set -euo pipefail
FUZZTIME=${FUZZTIME:-30s}
cd "$(dirname "$0")/.."
total=0
# tui/sanitize keeps its fuzz target beside the sanitiser (it decodes terminal text from peers);
# headless keeps FuzzJSONLine (its own JSON encoder against encoding/json) beside the encoder.
for pkg in $(go list ./fuzz/... ./tui/sanitize ./headless); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    # Targets that are subjects of meta-tests skip themselves; they are not fuzzed.
    case "$target" in FuzzEmptyCorpus) continue ;; esac
    echo "fuzz: $pkg $target for $FUZZTIME"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
    total=$((total + 1))
  done
done
if [ "$total" -eq 0 ]; then echo "fuzz: no fuzz targets found" >&2; exit 1; fi
echo "fuzz: $total targets ran for $FUZZTIME each without a finding"
