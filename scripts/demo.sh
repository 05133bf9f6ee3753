#!/usr/bin/env bash
echo "demo: not yet. The terminal UI (issue 8) has not landed; 'make test' works now." >&2
exit 1
