package sotto

import (
	"testing"

	"github.com/sottochat/sotto/onion"
)

// Bootstrap progress as shown never goes back within one bootstrap (tor
// reported 10, 5, 10 and the UI showed it); a restart starts again at 0.
func TestTorProgressNeverGoesBack(t *testing.T) {
	var s torState
	var got []int
	for _, ev := range []onion.Event{
		{Kind: onion.Bootstrap, Progress: 5},
		{Kind: onion.Bootstrap, Progress: 10},
		{Kind: onion.Bootstrap, Progress: 5},
		{Kind: onion.Bootstrap, Progress: 10},
		{Kind: onion.Bootstrap, Progress: 45},
		{Kind: onion.Restarted},
		{Kind: onion.Bootstrap, Progress: 10},
		{Kind: onion.Ready, Progress: 100},
	} {
		s.onEvent(ev)
	}
	for _, e := range s.early {
		got = append(got, e.(TorEvent).Status.Percent)
	}
	want := []int{5, 10, 10, 45, 0, 10, 100}
	if len(got) != len(want) {
		t.Fatalf("progress shown %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("progress shown %v, want %v", got, want)
		}
	}
}
