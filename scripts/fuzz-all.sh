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
    # Go's fuzzing engine can end a run that found nothing with a bare
    # "context deadline exceeded" when -fuzztime runs out while a worker is
    # busy with a new input (golang/go#75804, a race in the coordinator, fixed
    # in Go 1.27; it writes no failing input then). That, and only
    # that, is run again, at most twice; a real finding always writes its
    # input under testdata/fuzz and fails at once.
    for try in 1 2 3; do
      if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1); then
        printf '%s\n' "$out"
        break
      fi
      printf '%s\n' "$out"
      if [ "$try" -lt 3 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
        echo "fuzz: $target: the engine's deadline error with no failing input (Go's fuzzing engine, not a finding): again"
        continue
      fi
      exit 1
    done
    total=$((total + 1))
  done
done
if [ "$total" -eq 0 ]; then echo "fuzz: no fuzz targets found" >&2; exit 1; fi
echo "fuzz: $total targets ran for $FUZZTIME each without a finding"
