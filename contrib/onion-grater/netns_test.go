//go:build linux

package grater

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netns is a named network namespace (ip netns), removed by the test's
// cleanup. Sockets the test opens inside one are made on a thread that
// entered it (inNS): the socket stays in that namespace, and Go serves it
// from any thread.
type netns struct{ name string }

func (n netns) path() string { return "/run/netns/" + n.name }

// ip runs "ip" with args and fails t on error.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func newNetns(t *testing.T, name string) netns {
	t.Helper()
	exec.Command("ip", "netns", "del", name).Run() // a leftover of a killed run of this PID
	ip(t, "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ip(t, "-n", name, "link", "set", "lo", "up")
	return netns{name}
}

// link joins a and b with a veth pair, addressed aIP and bIP (CIDR).
func link(t *testing.T, a netns, aIf, aIP string, b netns, bIf, bIP string) {
	t.Helper()
	ip(t, "link", "add", aIf, "netns", a.name, "type", "veth", "peer", "name", bIf, "netns", b.name)
	ip(t, "-n", a.name, "addr", "add", aIP, "dev", aIf)
	ip(t, "-n", b.name, "addr", "add", bIP, "dev", bIf)
	ip(t, "-n", a.name, "link", "set", aIf, "up")
	ip(t, "-n", b.name, "link", "set", bIf, "up")
}

// inNS runs f on an OS thread that entered ns, and never lets that thread
// run anything else (it ends with the goroutine, still locked).
func inNS(ns netns, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		fd, err := unix.Open(ns.path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

func listenIn(ns netns, addr string) (net.Listener, error) {
	var ln net.Listener
	err := inNS(ns, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

func dialIn(ns netns, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNS(ns, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 10*time.Second)
		return err
	})
	return c, err
}

// forward accepts on ln and joins each connection to one dial makes, both
// ways, until the test ends.
func forward(t *testing.T, ln net.Listener, dial func() (net.Conn, error)) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			a, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := dial()
			if err != nil {
				a.Close()
				continue
			}
			mu.Lock()
			open = append(open, a, b)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(a, b); a.Close() }()
			go func() { defer wg.Done(); io.Copy(b, a); b.Close() }()
		}
	}()
}

// proc is a process the test started and stops by its PID.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func start(t *testing.T, name string, logf *os.File, argv ...string) *proc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process (SIGTERM, SIGKILL after 5 s) and waits for it.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(unix.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitLog waits until the file at path contains want, or the process
// exits, or ctx ends.
func waitLog(ctx context.Context, path, want string, p *proc) error {
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return nil
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited before logging %q", p.name, want)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%q not in %s: %w", want, path, ctx.Err())
		case <-time.After(100 * time.Millisecond): // polling a log a process writes
		}
	}
}
