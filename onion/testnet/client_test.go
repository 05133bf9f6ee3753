package testnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sottochat/sotto/onion/socks"
	"github.com/sottochat/sotto/onion/torctl"
)

// client is a client tor joined to a test network, driven over its control
// socket; its SocksPort is a unix socket with ExtendedErrors.
type client struct {
	name  string
	dir   string
	socks string
	ctl   *torctl.Conn
	proc  *proc
}

// startClient starts a client tor with the network fragment frag plus extra
// torrc lines, and connects to its control socket. It does not wait for
// bootstrap. The client is stopped and its directory removed by stop.
func startClient(ctx context.Context, name, frag, extra string) (c *client, err error) {
	torPath, err := exec.LookPath("tor")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "stc") // short: unix socket paths
	if err != nil {
		return nil, err
	}
	c = &client{name: name, dir: dir, socks: filepath.Join(dir, "socks")}
	defer func() {
		if err != nil {
			err = fmt.Errorf("client %s (logs in %s): %w", name, dir, err)
			c.stop(false)
		}
	}()
	torrc := strings.Join([]string{
		"DataDirectory " + dir,
		"Log notice file " + filepath.Join(dir, nodeLog),
		"SocksPort unix:" + c.socks + " ExtendedErrors",
		"ControlSocket " + filepath.Join(dir, "control"),
		"CookieAuthentication 1",
		"ShutdownWaitLength 0",
		frag, extra,
	}, "\n")
	nd := &node{name: name, dir: dir}
	if err := os.WriteFile(filepath.Join(dir, nodeTorrc), []byte(torrc), 0o600); err != nil {
		return c, err
	}
	if err := os.WriteFile(filepath.Join(dir, nodeDefault), nil, 0o600); err != nil {
		return c, err
	}
	if c.proc, err = startTor(torPath, nd, false); err != nil {
		return c, err
	}
	// Wait for the control socket.
	for {
		if c.proc.exited() {
			return c, fmt.Errorf("tor exited: %v: %s", c.proc.err, tailLog(nd))
		}
		if _, err := os.Stat(filepath.Join(dir, "control_auth_cookie")); err == nil {
			var d net.Dialer
			if nc, err := d.DialContext(ctx, "unix", filepath.Join(dir, "control")); err == nil {
				// SAFECOOKIE with the cookie file tor names.
				if c.ctl, err = torctl.Open(ctx, nc, torctl.Auth{}); err != nil {
					return c, err
				}
				break
			}
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return c, nil
}

// mustClient is startClient for tests: it fails tb on error and stops the
// client when tb ends.
func mustClient(tb testing.TB, ctx context.Context, name, frag, extra string) *client {
	tb.Helper()
	c, err := startClient(ctx, name, frag, extra)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.stop(!tb.Failed()) })
	return c
}

// stop stops the client tor by its PID and removes its directory (kept with
// the logs when keep is false).
func (c *client) stop(remove bool) {
	if c.ctl != nil {
		c.ctl.Close()
	}
	if c.proc != nil {
		stopProcs(context.Background(), []*proc{c.proc})
	}
	if remove {
		os.RemoveAll(c.dir)
	}
}

// bootstrap waits until the client's bootstrap reaches 100 %.
func (c *client) bootstrap(ctx context.Context) error {
	last := ""
	for {
		phase, err := c.ctl.GetInfo(ctx, "status/bootstrap-phase")
		if err != nil {
			return fmt.Errorf("client %s: %w (last phase: %s)", c.name, err, last)
		}
		last = phase
		if strings.Contains(phase, " PROGRESS=100 ") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("client %s did not bootstrap: %w (last phase: %s; log %s)", c.name, ctx.Err(), last, filepath.Join(c.dir, nodeLog))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publish adds an ephemeral v3 onion service on the client, forwarding
// virtual port 80 to target, and waits until a descriptor is uploaded. It
// returns the service ID (the address without ".onion").
func (c *client) publish(ctx context.Context, target string) (string, error) {
	if err := c.do(ctx, "SETEVENTS HS_DESC"); err != nil {
		return "", err
	}
	// Events must be read while subscribed (torctl.Conn never drops
	// them): unsubscribe once the upload is seen.
	defer c.do(ctx, "SETEVENTS")
	r, err := c.ctl.Do(ctx, []byte("ADD_ONION NEW:ED25519-V3 Flags=DiscardPK Port=80,"+target))
	if err != nil {
		return "", err
	}
	kv, err := r.KeyValues()
	if err != nil {
		return "", err
	}
	id := kv["ServiceID"]
	if len(id) != 56 {
		return "", fmt.Errorf("ADD_ONION reply has no v3 ServiceID: %+v", r.Lines)
	}
	for {
		select {
		case ev := <-c.ctl.Events():
			if d, err := torctl.ParseHSDesc(ev.Rest); err == nil && ev.Type == "HS_DESC" && d.Action == "UPLOADED" && d.Address == id {
				return id, nil
			}
		case <-c.ctl.Done():
			return "", errors.New("control connection closed")
		case <-ctx.Done():
			return "", fmt.Errorf("descriptor of the new service not uploaded: %w", ctx.Err())
		}
	}
}

// do runs one control command that must succeed.
func (c *client) do(ctx context.Context, cmd string) error {
	r, err := c.ctl.Do(ctx, []byte(cmd))
	if err != nil {
		return err
	}
	return r.Err()
}

// unpublish removes an ephemeral onion service.
func (c *client) unpublish(ctx context.Context, id string) error {
	return c.do(ctx, "DEL_ONION "+id)
}

// dialOnion connects to id.onion:80 through the client's SocksPort,
// retrying the failures that are normal right after a service is published
// (descriptor not yet on the HSDirs, introduction or rendezvous races).
func (c *client) dialOnion(ctx context.Context, id string) (net.Conn, error) {
	backoff := 100 * time.Millisecond
	for {
		conn, err := dialSocks(ctx, c.socks, id+".onion", 80)
		if err == nil {
			return conn, nil
		}
		var se *socks.ReplyError
		if !errors.As(err, &se) {
			return nil, err
		}
		switch se.Code {
		case socks.OnionDescNotFound, socks.OnionIntroFailed, socks.OnionRendFailed,
			socks.OnionIntroTimedOut, socks.GeneralFailure, socks.HostUnreachable, socks.TTLExpired:
		default:
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// dialSocks opens a stream to host:port through the SOCKS socket at path
// (the host name goes to tor; nothing is resolved here), with fixed
// credentials: the test's streams may share circuits.
func dialSocks(ctx context.Context, path, host string, port uint16) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	err = socks.Connect(c, []byte("testnet"), []byte("testnet"), host, port)
	if !stop() {
		c.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// echoServer accepts connections on loopback and echoes every byte.
func echoServer(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}

// echo sends msg and checks that the same bytes come back.
func echo(conn net.Conn, msg []byte) error {
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil {
		return err
	}
	if string(got) != string(msg) {
		return fmt.Errorf("echo returned %q, want %q", got, msg)
	}
	return nil
}

// firstHops returns the fingerprints of the first hop of every built circuit.
func (c *client) firstHops(ctx context.Context) ([]string, error) {
	v, err := c.ctl.GetInfo(ctx, "circuit-status")
	if err != nil {
		return nil, err
	}
	var hops []string
	for _, l := range strings.Split(v, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[1] != "BUILT" {
			continue
		}
		first, _, _ := strings.Cut(f[2], ",")
		first, _, _ = strings.Cut(strings.TrimPrefix(first, "$"), "~")
		hops = append(hops, first)
	}
	return hops, nil
}

// procsUnder returns the PIDs of live processes whose command line mentions
// dir: what a network in dir may have left running.
func procsUnder(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), dir+"/") {
			continue
		}
		if syscall.Kill(pid, 0) == nil && isLive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// isLive reports whether pid exists and is not a zombie.
func isLive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}
