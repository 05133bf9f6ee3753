#!/usr/bin/env bash
# make demo: two Sotto users, alice and bob, chatting side by side in tmux
# over real onion services of a private Tor network on loopback. No internet
# needed. Everything lives in one temporary directory and is torn down when
# tmux exits (ctrl+b d, or ctrl+d in both panes after quitting the UIs).
#
#   make demo                 # builds bin/sotto, then runs this script
#   SOTTO=path/to/sotto scripts/demo.sh
#
# For tests (tui/e2e): SOTTO_DEMO_NETWORK=FILE joins a running private
# network instead of starting one, and SOTTO_DEMO_DETACH=1 leaves the tmux
# server running without attaching, prints "socket NAME" and "dir DIR",
# and leaves the teardown (tmux -L NAME kill-server; rm -rf DIR) to the
# caller.
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=$(realpath "${SOTTO:-bin/sotto}")
PASSPHRASE="sotto demo only"   # both demo profiles; never use it for real

die() { echo "demo: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "$BIN is missing: run 'make build' first"
for tool in tmux tor; do
	command -v "$tool" >/dev/null || die "$tool is not installed: run 'sudo make deps'"
done
detach=${SOTTO_DEMO_DETACH:-}
[ -n "$detach" ] || { [ -t 0 ] && [ -t 1 ]; } || die "run me in a terminal: I open tmux"

work=$(mktemp -d "${TMPDIR:-/tmp}/sotto-demo.XXXXXX")
chmod 700 "$work"
sock="sotto-demo-$$"
net="$work/net"
own_net=1
[ -z "${SOTTO_DEMO_NETWORK:-}" ] || own_net=
cleanup() {
	trap - EXIT INT TERM HUP
	tmux -L "$sock" kill-server 2>/dev/null || true
	rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"
	[ -z "$own_net" ] || "$BIN" net down "$net" >/dev/null 2>&1 || true
	rm -rf "$work"
	echo "demo: torn down (private network stopped, $work removed)"
}
trap cleanup EXIT INT TERM HUP

printf '%s' "$PASSPHRASE" >"$work/passphrase"
chmod 600 "$work/passphrase"

if [ -n "$own_net" ]; then
	echo "demo: starting a private Tor network on loopback in $net (about a minute)…"
	"$BIN" net up "$net" >/dev/null
	network="$net/network.torrc"
else
	network=$SOTTO_DEMO_NETWORK
fi
[ -f "$network" ] || die "the network did not write $network"

# sotto as alice or bob: its own profile, the demo passphrase, the network.
as() {
	local who=$1
	shift
	"$BIN" --profile "$work/$who" --passphrase-file "$work/passphrase" --network "$network" "$@"
}

for who in alice bob; do
	echo "demo: creating $who's profile and identity…"
	as "$who" init >/dev/null
	as "$who" id new "$who" >/dev/null
done
card_alice=$(as alice id card alice --no-qr)
card_bob=$(as bob id card bob --no-qr)
as alice contact add alice bob "$card_bob" >/dev/null
as bob contact add bob alice "$card_alice" >/dev/null
echo "demo: alice and bob have added each other."

# A pane runs its UI again and again: quitting (ctrl+c) leaves a prompt in
# the pane instead of closing it, so a UI quit by mistake comes back with
# enter. ctrl+d closes the pane; the demo ends when both are closed.
ui() {
	local run
	run=$(printf '%q ' "$BIN" --profile "$work/$1" --network "$network" run)
	printf 'while :; do %s; printf "\\n  sotto quit. enter starts it again, ctrl+d closes this pane. "; read -r _ || break; done' "$run"
}

# Our own tmux server (-L) so the demo never touches your sessions; the
# session ends when both UIs have quit.
tmux -L "$sock" -f /dev/null new-session -d -s demo -x 162 -y 26 "$(ui alice)"
tmux -L "$sock" split-window -h -t demo "$(ui bob)"
# Pane labels live in a user option: the UIs set their own title ("sotto").
tmux -L "$sock" set -p -t demo:0.0 @who alice
tmux -L "$sock" set -p -t demo:0.1 @who bob
tmux -L "$sock" rename-window -t demo:0 "sotto demo"
tmux -L "$sock" set -w -t demo:0 automatic-rename off
tmux -L "$sock" set -g pane-border-status top
tmux -L "$sock" set -g pane-border-format " #{@who} "
tmux -L "$sock" set -g status-style "bg=colour236,fg=colour250"
tmux -L "$sock" set -g status-left-length 0
tmux -L "$sock" set -g status-right-length 120
tmux -L "$sock" set -g status-right "passphrase: $PASSPHRASE · ctrl+b o switches pane · ctrl+c quits a UI (enter restarts it) · ctrl+b d ends the demo "
tmux -L "$sock" set -g remain-on-exit off
tmux -L "$sock" select-pane -t demo:0.0

if [ -n "$detach" ]; then
	trap - EXIT INT TERM HUP
	echo "socket $sock"
	echo "dir $work"
	exit 0
fi

cols=$(tput cols 2>/dev/null || echo 0)
if [ "$cols" -lt 162 ]; then
	echo "demo: your terminal is $cols columns wide; 162 or more shows both UIs at full size."
	sleep 2
fi
TMUX='' tmux -L "$sock" attach -t demo || true
