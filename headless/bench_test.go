package headless_test

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto"
	"github.com/sottochat/sotto/headless"
)

func BenchmarkParseCommand(b *testing.B) {
	line := []byte(`{"cmd":"send","identity":"alice","contact":"bob","text":"` + strings.Repeat("hello ", 40) + `","tag":"t1"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := headless.ParseCommand(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendReply measures one "send" line in, one "ok" line out through
// Run against the fake engine: the headless mode's own overhead per message.
func BenchmarkSendReply(b *testing.B) {
	e := withAlice()
	e.PutContact(sotto.ContactInfo{Identity: "alice", Name: "bob", History: true})
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- headless.Run(context.Background(), e, inR, outW) }()
	out := bufio.NewReader(outR)
	line := `{"cmd":"send","identity":"alice","contact":"bob","text":"benchmark message"}` + "\n"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.WriteString(inW, line); err != nil {
			b.Fatal(err)
		}
		if _, err := out.ReadString('\n'); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	inW.Close()
	go io.Copy(io.Discard, outR)
	<-done
}

// BenchmarkEvents measures engine events written as JSON lines.
func BenchmarkEvents(b *testing.B) {
	e := withAlice()
	outR, outW := io.Pipe()
	inR, inW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- headless.Run(context.Background(), e, inR, outW) }()
	out := bufio.NewReader(outR)
	ev := sotto.MessageEvent{Message: sotto.Message{Identity: "alice", Contact: "bob", Dir: sotto.Incoming,
		Text: "an incoming message of ordinary length", At: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}}
	b.ReportAllocs()
	for b.Loop() {
		e.Emit(ev)
		if _, err := out.ReadString('\n'); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	inW.Close()
	go io.Copy(io.Discard, outR)
	<-done
}
