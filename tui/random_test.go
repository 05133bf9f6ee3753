package tui

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/sottotest"
)

// Random key presses, pastes, ticks and engine events never crash the UI,
// never leave the terminal's bounds, and never send control characters to
// it. The panic key is left out (it ends the run).
func TestRandomInput(t *testing.T) {
	keys := []string{"enter", "esc", "tab", "shift+tab", "up", "down", "pgup", "pgdown", "backspace",
		"space", "f1", "ctrl+l", "ctrl+o", "ctrl+t", "ctrl+u", "ctrl+y", "ctrl+j", "alt+enter",
		"a", "n", "r", "s", "v", "x", "h", "j", "k", "?", "q", "1"}
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		h := unlocked(t)
		for step := 0; step < 400; step++ {
			switch n := rng.IntN(100); {
			case n < 80:
				k := keys[rng.IntN(len(keys))]
				if k == "ctrl+l" && rng.IntN(4) != 0 {
					k = "enter"
				}
				h.key(k)
			case n < 85:
				h.paste("\x1b[31mpasted\x1b]0;t\x07\ntext\u202e")
			case n < 90:
				h.tick(time.Duration(rng.IntN(120)) * time.Second)
			case n < 95:
				h.event(sotto.MessageEvent{Message: sotto.Message{ID: sottotest.ID(uint64(5000 + step)), Identity: "alice", Contact: "bob",
					Dir: sotto.Incoming, Text: "\x1b[2Jevent", At: h.now, ExpiresAt: h.now.Add(time.Minute)}})
			default:
				h.event(sotto.TorEvent{Status: sotto.TorStatus{State: sotto.TorState(rng.IntN(4)), Percent: rng.IntN(120) - 10, Summary: "\x1b]0;x\x07s"}})
			}
			if h.m.locked && rng.IntN(3) == 0 {
				h.typ(testPass)
				h.key("enter")
			}
			v := h.view()
			checkFit(t, "random", v, 80, 24)
			for _, r := range v {
				if r == 0x1b || r == 0x07 || (r < 0x20 && r != '\n') || (r >= 0x80 && r < 0xa0) || r == 0x202e {
					t.Fatalf("seed %d step %d: control character %U in view:\n%s", seed, step, r, v)
				}
			}
			if h.quit {
				t.Fatalf("seed %d step %d: quit without ctrl+c", seed, step)
			}
		}
	}
}
