package testnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// maxPIDLines bounds the PID file Down reads.
const maxPIDLines = maxAuthorities + maxRelays + 1

// Up starts a persistent network in dir for `sotto net up DIR`: the tor
// processes run detached, in their own session, and outlive the caller. It
// returns once the network is usable (as [Start]) and has written
// DIR/network.torrc, the fragment every client of the network loads, and
// DIR/network.pids, which [Down] uses. o.Dir is ignored.
//
// Up refuses, with an error wrapping [ErrRunning], a dir that holds a
// running network or one being started or stopped, and a non-empty dir that
// holds no testnet network; the running network is left alone. When a port
// is taken or tor fails, Up stops what it started and says where the logs are.
func Up(ctx context.Context, dir string, o Options) error {
	if ctx == nil {
		return errors.New("testnet: nil context")
	}
	if dir == "" {
		return errors.New("testnet: no directory given for the network")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	o.Dir = dir
	n, err := launchRetry(ctx, o, true)
	if err != nil {
		return err
	}
	frag := n.ClientTorrc()
	if n.BridgeLine() != "" {
		frag += "# To reach the network through its obfs4 bridge instead, add:\n" +
			"# UseBridges 1\n# ClientTransportPlugin obfs4 exec /usr/bin/obfs4proxy\n" +
			"# Bridge " + n.BridgeLine() + "\n"
	}
	// 0644: the fragment holds only public keys' fingerprints and addresses.
	if err := writeFileAtomic(filepath.Join(dir, torrcFile), []byte(frag), 0o644); err != nil {
		stopProcs(context.Background(), n.procs())
		os.Remove(filepath.Join(dir, pidsFile))
		return fmt.Errorf("testnet: %w; tor logs kept in %s", err, dir)
	}
	return nil
}

// Down stops the network Up started in dir: exactly the PIDs Up recorded,
// each checked to still be that network's tor before it is signalled
// (SIGTERM, SIGKILL after a grace period), and waits until they are gone.
// The directory and its logs stay. It returns an error wrapping
// [ErrNotRunning] when no process of the network is running.
func Down(ctx context.Context, dir string) error {
	if ctx == nil {
		return errors.New("testnet: nil context")
	}
	if dir == "" {
		return errors.New("testnet: no directory given for the network")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	ps, err := readPIDs(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s has no %s", ErrNotRunning, dir, pidsFile)
	}
	if err != nil {
		return err
	}
	var live []*proc
	for _, p := range ps {
		if !p.exited() {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		os.Remove(filepath.Join(dir, pidsFile))
		return fmt.Errorf("%w: %s (its tor processes had already exited)", ErrNotRunning, dir)
	}
	if err := stopProcs(ctx, live); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, pidsFile)); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	return nil
}

// lockDir takes an exclusive lock on DIR/.lock for the duration of an Up or
// Down, so that two of them never work on one directory at once.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s: another net up or down is working on it right now", ErrRunning, dir)
		}
		return nil, fmt.Errorf("testnet: lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// writePIDs records the network's processes in DIR/network.pids, one
// "PID NODE TORRC" line each.
func writePIDs(dir string, nodes []*node) error {
	var b strings.Builder
	for _, nd := range nodes {
		if nd.proc != nil {
			fmt.Fprintf(&b, "%d %s %s\n", nd.proc.pid, nd.name, nd.proc.torrc)
		}
	}
	return writeFileAtomic(filepath.Join(dir, pidsFile), []byte(b.String()), 0o600)
}

// readPIDs reads DIR/network.pids. The file is ours, but it is on disk:
// every line is checked, and only torrc paths inside dir are accepted.
func readPIDs(dir string) ([]*proc, error) {
	b, err := readFileLimit(filepath.Join(dir, pidsFile), 1<<16)
	if err != nil {
		return nil, err
	}
	ps, err := parsePIDs(string(b), dir)
	if err != nil {
		return nil, fmt.Errorf("testnet: %s: %w", filepath.Join(dir, pidsFile), err)
	}
	return ps, nil
}

func parsePIDs(s, dir string) ([]*proc, error) {
	var ps []*proc
	root := filepath.Join(dir, nodesDir) + string(filepath.Separator)
	for i, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l == "" && i == 0 {
			break
		}
		if i >= maxPIDLines {
			return nil, fmt.Errorf("more than %d lines", maxPIDLines)
		}
		f := strings.Split(l, " ")
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want \"PID NODE TORRC\"", i+1)
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid <= 1 || strconv.Itoa(pid) != f[0] {
			return nil, fmt.Errorf("line %d: bad PID", i+1)
		}
		if f[2] != filepath.Join(root, f[1], nodeTorrc) || filepath.Clean(f[2]) != f[2] || !strings.HasPrefix(f[2], root) || !validNodeName(f[1]) {
			return nil, fmt.Errorf("line %d: torrc path is not a node of this network", i+1)
		}
		ps = append(ps, &proc{name: f[1], pid: pid, torrc: f[2]})
	}
	return ps, nil
}

func validNodeName(s string) bool {
	if len(s) < 2 || len(s) > 3 || !strings.Contains("arb", s[:1]) {
		return false
	}
	n, err := strconv.Atoi(s[1:])
	return err == nil && n >= 0 && strconv.Itoa(n) == s[1:]
}

// livePIDs returns the PIDs in dir's PID file that are still running tors
// of ours; none when there is no PID file.
func livePIDs(dir string) ([]int, error) {
	ps, err := readPIDs(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w; remove it if no network runs there", err)
	}
	var pids []int
	for _, p := range ps {
		if !p.exited() {
			pids = append(pids, p.pid)
		}
	}
	return pids, nil
}

// writeFileAtomic writes a file through a temporary file and a rename.
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), tmpPrefix+"*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
