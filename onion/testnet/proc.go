package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sottochat/sotto/internal/spawn"
)

// stopGrace is how long a tor gets to exit after SIGTERM before SIGKILL.
// With ShutdownWaitLength 0 tor exits within milliseconds of SIGTERM.
const stopGrace = 5 * time.Second

// proc is one tor process this package started.
type proc struct {
	name  string // node name, for messages
	pid   int
	torrc string // absolute path given with -f: identifies the process in /proc
	// For a child we still wait for (Start, and Up until it returns):
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait returned
	err  error         // cmd.Wait's result, set before done is closed
}

// startNodes starts every node's tor. Children of Start get SIGKILL if this
// process dies, so that a crashed test binary leaves no tor behind. Detached
// ones (Up) run in their own session, without a controlling terminal, and
// outlive this process.
func startNodes(torPath string, nodes []*node, detached bool) error {
	for _, nd := range nodes {
		p, err := startTor(torPath, nd, detached)
		if err != nil {
			return err
		}
		nd.proc = p
	}
	return nil
}

func startTor(torPath string, nd *node, detached bool) (*proc, error) {
	torrc := filepath.Join(nd.dir, nodeTorrc)
	out, err := os.OpenFile(filepath.Join(nd.dir, nodeStdout), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(torPath, "--defaults-torrc", filepath.Join(nd.dir, nodeDefault), "-f", torrc)
	cmd.Dir = nd.dir
	cmd.Stdout = out
	cmd.Stderr = out
	// A minimal environment: tor needs none of ours.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + nd.dir}
	if detached {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = childAttr() // its own group, killed with us where the system can
	}
	// Forked from a thread that never exits: Pdeathsig follows the
	// forking thread, not the process (internal/spawn).
	if err := spawn.Start(cmd); err != nil {
		return nil, fmt.Errorf("testnet: start tor %s: %w", nd.name, err)
	}
	p := &proc{name: nd.name, pid: cmd.Process.Pid, torrc: torrc, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process is gone: for a child, reaped by our
// Wait; for a process Down found in a PID file, gone from /proc, a zombie,
// or a different program now holding the PID.
func (p *proc) exited() bool {
	if p.done != nil {
		// Our child: gone once our Wait returned (p.err is then set).
		select {
		case <-p.done:
			return true
		default:
			return false
		}
	}
	return stateOf(p.pid, p.torrc) == torGone
}

// signal sends sig to the process if it is still the tor we started.
func (p *proc) signal(sig syscall.Signal) error {
	if p.cmd != nil {
		// Our child: its PID cannot be reused before we reap it.
		select {
		case <-p.done:
			return nil
		default:
		}
		if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		return nil
	}
	if !isOurTor(p.pid, p.torrc) {
		return nil
	}
	if err := syscall.Kill(p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// stopProcs stops the processes: SIGTERM, then SIGKILL to those still
// running after stopGrace, and waits until all are gone or ctx is done.
func stopProcs(ctx context.Context, ps []*proc) error {
	if len(ps) == 0 {
		return nil
	}
	var errs []error
	for _, p := range ps {
		if err := p.signal(syscall.SIGTERM); err != nil {
			errs = append(errs, fmt.Errorf("testnet: SIGTERM tor %s (PID %d): %w", p.name, p.pid, err))
		}
	}
	if waitGone(ctx, ps, stopGrace) {
		return errors.Join(errs...)
	}
	for _, p := range ps {
		if !p.exited() {
			if err := p.signal(syscall.SIGKILL); err != nil {
				errs = append(errs, fmt.Errorf("testnet: SIGKILL tor %s (PID %d): %w", p.name, p.pid, err))
			}
		}
	}
	if !waitGone(ctx, ps, stopGrace) {
		if ctx.Err() != nil {
			return errors.Join(append(errs, fmt.Errorf("testnet: stopping tor: %w", ctx.Err()))...)
		}
		var left []string
		for _, p := range ps {
			if !p.exited() {
				left = append(left, strconv.Itoa(p.pid))
			}
		}
		errs = append(errs, fmt.Errorf("testnet: tor PIDs %s still running after SIGKILL", strings.Join(left, ", ")))
	}
	return errors.Join(errs...)
}

// waitGone waits up to d (or until ctx is done) for every process to exit.
func waitGone(ctx context.Context, ps []*proc, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		all := true
		for _, p := range ps {
			if !p.exited() {
				all = false
				break
			}
		}
		if all {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
}

// torState is what /proc says of a PID we recorded.
type torState int

const (
	torGone    torState = iota // no such process, a zombie, or another program
	torOurs                    // our tor, running
	torExiting                 // exiting: memory released, files maybe not yet
)

// isOurTor reports whether pid is a live (not zombie) process whose command
// line has "-f torrc": only then may we signal it. The torrc path is unique to
// one node of one network, so a reused PID never matches.
func isOurTor(pid int, torrc string) bool { return stateOf(pid, torrc) == torOurs }

func stateOf(pid int, torrc string) torState {
	if pid <= 1 {
		return torGone
	}
	stat, err := readFileLimit(fmt.Sprintf("/proc/%d/stat", pid), 4096)
	if err != nil {
		return torGone
	}
	// "PID (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return torGone
	}
	cmdline, err := readFileLimit(fmt.Sprintf("/proc/%d/cmdline", pid), 1<<16)
	if err != nil {
		return torGone
	}
	if len(cmdline) == 0 {
		// A process in exit() has released its memory, and with it its
		// command line, before it closes its files and becomes a zombie.
		return torExiting
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	for j := 1; j+1 < len(args); j++ {
		if args[j] == "-f" && args[j+1] == torrc {
			return torOurs
		}
	}
	return torGone
}
