package threatmodel

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sottochat/sotto/internal/e2e"
)

// T21: a client leaks a byte outside Tor (a DNS query, a direct dial, UDP).
//
// TestT21NoSocketButTor runs a real client under strace, following every
// thread and child from its first instruction, and checks each socket,
// connect, bind, sendto and sendmsg that sotto's own threads make; the tor
// it launches is told apart by its execve and excluded (tor's own
// connections to relays are tor's business, and the trace shows them, which
// proves the tracing works). TestT21LeakCheckerCatchesLeaks feeds the same
// checker synthetic strace lines of each kind of leak, so a checker that
// cannot fail would fail there. TestT21LoopbackOnlyNamespace shows that the
// whole package (network, clients, attackers) runs in a namespace with only
// loopback, where no other network exists to leak to.

// straceSyscalls are the calls the leak trace records: every way to open,
// name or address a socket, and every way to start a thread or a program
// (to tell sotto's threads from the tor child's).
const straceSyscalls = "socket,connect,bind,sendto,sendmsg,execve,clone,clone3,fork,vfork"

// straceWrap is the command line that runs a program under the leak trace,
// writing the trace to out.
func straceWrap(out string) []string {
	return []string{"strace", "-f", "-qq", "--seccomp-bpf", "-s", "256", "-e", "trace=" + straceSyscalls, "-o", out}
}

// traceReport is what checkTrace found in one strace log.
type traceReport struct {
	Leaks           []string       // each a reason and the strace line
	SottoSockets    int            // socket/connect calls made by sotto's threads
	SottoConnects   []string       // their connect destinations
	SottoBinds      int            // listeners sotto opened (for tor to connect to)
	ForeignConnects int            // connect calls made by the programs sotto ran (tor)
	Programs        map[string]int // executables sotto's children ran -> PIDs that ran them
	ForeignPIDs     []int          // PIDs of those children and their threads
}

var (
	straceLine  = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	straceCall  = regexp.MustCompile(`^([a-z0-9_]+)\((.*)$`)
	straceResum = regexp.MustCompile(`^<\.\.\. ([a-z0-9_]+) resumed>(.*)$`)
	straceRet   = regexp.MustCompile(`\)\s+= (-?\d+)`)
	straceExec  = regexp.MustCompile(`^"([^"]*)"`)
	sunPath     = regexp.MustCompile(`sun_path=@?"([^"]*)"`)
	sinPort     = regexp.MustCompile(`sin_port=htons\((\d+)\)`)
	sinAddr     = regexp.MustCompile(`sin_addr=inet_addr\("([^"]*)"\)`)
)

type straceCallRec struct {
	pid  int
	name string
	args string // everything after the opening parenthesis, resumed part joined
	ret  int64
	ok   bool // ret was parsed
	line string
}

// parseStrace joins unfinished and resumed halves and returns the calls in
// order of completion.
func parseStrace(r io.Reader) ([]straceCallRec, error) {
	var calls []straceCallRec
	pending := map[int]*straceCallRec{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	for sc.Scan() {
		m := straceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		body := m[2]
		var c *straceCallRec
		if rm := straceResum.FindStringSubmatch(body); rm != nil {
			p := pending[pid]
			delete(pending, pid)
			if p == nil || p.name != rm[1] {
				p = &straceCallRec{pid: pid, name: rm[1]}
			}
			p.args += rm[2]
			p.line += " " + body
			c = p
		} else if cm := straceCall.FindStringSubmatch(body); cm != nil {
			c = &straceCallRec{pid: pid, name: cm[1], args: cm[2], line: sc.Text()}
			if strings.HasSuffix(body, "<unfinished ...>") {
				c.args = strings.TrimSuffix(c.args, "<unfinished ...>")
				pending[pid] = c
				continue
			}
		} else {
			continue // signals, exits
		}
		if rm := straceRet.FindAllStringSubmatch(c.args, -1); rm != nil {
			c.ret, _ = strconv.ParseInt(rm[len(rm)-1][1], 10, 64)
			c.ok = true
		}
		calls = append(calls, *c)
	}
	// A call still unfinished when the trace ended was made all the same.
	for _, p := range pending {
		calls = append(calls, *p)
	}
	return calls, sc.Err()
}

// checkTrace reads an strace log of a sotto process (the first PID in the
// log) and reports every socket operation of sotto's own threads that is
// not a stream connection to its own tor: AF_UNIX under profileDir/tor, or TCP
// to 127.0.0.1 on one of torPorts. A bind is allowed only for a unix socket
// under profileDir/tor or 127.0.0.1 (an onion service's listener, which tor
// connects to). Threads and children of a program sotto
// executed are foreign (tor) and only counted. Whatever a child does before
// its execve is attributed to the program it executes.
func checkTrace(r io.Reader, sottoPath, profileDir string, torPorts map[int]bool) (*traceReport, error) {
	calls, err := parseStrace(r)
	if err != nil {
		return nil, err
	}
	rep := &traceReport{Programs: map[string]int{}}
	if len(calls) == 0 {
		return nil, fmt.Errorf("empty trace")
	}
	root := calls[0].pid
	parent := map[int]int{}
	program := map[int]string{}
	for _, c := range calls {
		switch c.name {
		case "clone", "clone3", "fork", "vfork":
			if c.ok && c.ret > 0 {
				parent[int(c.ret)] = c.pid
			}
		case "execve":
			if c.ok && c.ret == 0 {
				if m := straceExec.FindStringSubmatch(c.args); m != nil {
					program[c.pid] = m[1]
				}
			}
		}
	}
	var progOf func(pid, depth int) string
	progOf = func(pid, depth int) string {
		if p, ok := program[pid]; ok {
			return p
		}
		if pp, ok := parent[pid]; ok && depth < 64 {
			return progOf(pp, depth+1)
		}
		if pid == root {
			return sottoPath
		}
		return "" // unknown: checked as if it were sotto's
	}
	isSotto := func(pid int) bool {
		p := progOf(pid, 0)
		return p == "" || p == sottoPath
	}
	foreign := map[int]bool{}
	for _, c := range calls {
		if !isSotto(c.pid) {
			if !foreign[c.pid] {
				foreign[c.pid] = true
				rep.ForeignPIDs = append(rep.ForeignPIDs, c.pid)
			}
			if c.name == "execve" && c.ok && c.ret == 0 {
				rep.Programs[progOf(c.pid, 0)]++
			}
			if c.name == "connect" {
				rep.ForeignConnects++
			}
			continue
		}
		leak := func(why string) { rep.Leaks = append(rep.Leaks, why+": "+c.line) }
		switch c.name {
		case "socket":
			rep.SottoSockets++
			fam, typ, _ := strings.Cut(c.args, ", ")
			switch {
			case fam == "AF_UNIX" && strings.HasPrefix(typ, "SOCK_STREAM"):
			case fam == "AF_INET" && strings.HasPrefix(typ, "SOCK_STREAM"):
				// allowed to exist; its connect is checked
			default:
				leak("socket other than a unix or TCP stream (UDP, IPv6, raw, netlink...)")
			}
		case "connect":
			rep.SottoSockets++
			dst, why := destination(c.args, profileDir, torPorts)
			rep.SottoConnects = append(rep.SottoConnects, dst)
			if why != "" {
				leak("connect " + why)
			}
		case "sendto", "sendmsg":
			if strings.Contains(c.args, "sa_family=") {
				if dst, why := destination(c.args, profileDir, torPorts); why != "" {
					leak(c.name + " to " + dst + ": " + why)
				}
			}
		case "bind":
			// The onion services' listeners, which tor connects to: a unix
			// socket in the profile or a TCP port on 127.0.0.1.
			rep.SottoBinds++
			dst, why := destination(c.args, profileDir, nil)
			if why != "" && !(strings.HasPrefix(why, "to a loopback port") && strings.HasPrefix(dst, "127.0.0.1:")) {
				leak("bind " + dst + ": " + why)
			}
		}
	}
	sort.Ints(rep.ForeignPIDs)
	return rep, nil
}

// destination describes the address in an strace argument list and says
// why it is not sotto's own tor ("" when it is).
func destination(args, profileDir string, torPorts map[int]bool) (dst, why string) {
	switch {
	case strings.Contains(args, "sa_family=AF_UNIX"):
		m := sunPath.FindStringSubmatch(args)
		if m == nil {
			return "unix ?", "to an unnamed or abstract unix socket"
		}
		if !strings.HasPrefix(m[1], filepath.Join(profileDir, "tor")+string(filepath.Separator)) {
			return "unix " + m[1], "to a unix socket outside the profile's tor directory"
		}
		return "unix " + m[1], ""
	case strings.Contains(args, "sa_family=AF_INET,"):
		a, p := sinAddr.FindStringSubmatch(args), sinPort.FindStringSubmatch(args)
		if a == nil || p == nil {
			return "inet ?", "to an unreadable IPv4 address"
		}
		port, _ := strconv.Atoi(p[1])
		dst = net.JoinHostPort(a[1], p[1])
		if port == 53 {
			return dst, "to port 53 (DNS)"
		}
		if a[1] != "127.0.0.1" {
			return dst, "to an address other than loopback"
		}
		if !torPorts[port] {
			return dst, "to a loopback port that is not one of tor's"
		}
		return dst, ""
	case strings.Contains(args, "sa_family=AF_INET6"):
		return "inet6", "over IPv6"
	default:
		return "other", "to an address family other than unix or IPv4"
	}
}

// listeningPorts returns the TCP ports process pid listens on (its socket
// inodes matched against /proc/PID/net/tcp).
func listeningPorts(pid int) (map[int]bool, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return nil, err
	}
	ports := map[int]bool{}
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A = LISTEN
			continue
		}
		_, hexPort, _ := strings.Cut(f[1], ":")
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err == nil {
			ports[int(p)] = true
		}
	}
	return ports, nil
}

func TestT21NoSocketButTor(t *testing.T) {
	needNetwork(t)
	t.Parallel()
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed (make deps)")
	}
	torPath, err := exec.LookPath("tor")
	if err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(t.TempDir(), "strace.log")
	pa, _, na, nb := pair(t, "leaky", "peer", straceWrap(trace)...)
	pid := na.PID(true)

	// A conversation both ways, a disappearing timer, an identity made at
	// run time: everything a client does on the network.
	send(t, na, "leaky", "peer", nb, "peer", "out through tor only")
	send(t, nb, "peer", "leaky", na, "leaky", "and back")
	na.Do(time.Minute, map[string]any{"cmd": "timer", "identity": "leaky", "contact": "peer", "seconds": 30})
	na.Do(2*time.Minute, map[string]any{"cmd": "new_identity", "identity": "drop", "ephemeral": true})
	na.WaitFor(0, readyWithin, "drop ready", e2e.Is(map[string]any{"event": "ready", "identity": "drop"}))

	// tor's listening ports, while it runs, for a TCP control or SOCKS port.
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := checkTrace(f, harness.Bin, pa.Dir, nil)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	torPorts := map[int]bool{}
	for _, fp := range rep.ForeignPIDs {
		if ports, err := listeningPorts(fp); err == nil {
			for p := range ports {
				torPorts[p] = true
			}
		}
	}
	if vmRSS(t, pid) == 0 {
		t.Fatal("sotto is not running")
	}
	na.Stop() // flushes the trace: strace exits with sotto

	f, err = os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err = checkTrace(f, harness.Bin, pa.Dir, torPorts)
	if err != nil {
		t.Fatal(err)
	}
	if inNetns {
		t.Log("ran in a network namespace with only loopback: two clients talked both ways there")
	}
	t.Logf("sotto PID %d: %d socket/connect calls, connects to %v, %d listeners bound in the profile", pid, rep.SottoSockets, uniq(rep.SottoConnects), rep.SottoBinds)
	t.Logf("programs run: %v; their PIDs (excluded) %v made %d connects; tor listened on %v", rep.Programs, rep.ForeignPIDs, rep.ForeignConnects, torPorts)
	for _, l := range rep.Leaks {
		t.Error("LEAK ", l)
	}
	// The trace saw what it had to see, or a silent trace would pass.
	if len(rep.SottoConnects) == 0 {
		t.Fatal("the trace shows no connect by sotto at all: it did not trace sotto's threads")
	}
	if rep.ForeignConnects == 0 {
		t.Fatal("the trace shows no connect by tor: the tor child was not traced, or not told apart")
	}
	if len(rep.Programs) != 1 || rep.Programs[torPath] == 0 {
		t.Fatalf("sotto ran %v; the only program it may run is %s", rep.Programs, torPath)
	}
}

func uniq(s []string) []string {
	m := map[string]bool{}
	var out []string
	for _, x := range s {
		if !m[x] {
			m[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// TestT21LeakCheckerCatchesLeaks is the negative control of the leak trace:
// each line is a leak a broken client could make, in strace's own format,
// placed in a trace whose other lines are fine; the checker must flag
// exactly it. Lines of the tor child are not sotto's and must not be flagged.
func TestT21LeakCheckerCatchesLeaks(t *testing.T) {
	const (
		bin     = "/tmp/b/sotto"
		profile = "/tmp/tm1/p"
	)
	head := `100 execve("/tmp/b/sotto", ["/tmp/b/sotto", "headless"], 0x7ffc /* 9 vars */) = 0
100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_VFORK|SIGCHLD) = 101
101 execve("/usr/bin/tor", ["/usr/bin/tor", "-f", "/tmp/tm1/p/tor/torrc"], 0xc000 /* 9 vars */ <unfinished ...>
100 clone(child_stack=0xc000080000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS, tls=0xc000) = 102
101 <... execve resumed>) = 0
101 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD, child_tid=0x7f8, parent_tid=0x7f8, exit_signal=0, stack=0x7f8, stack_size=0x7fff80, tls=0x7f8} => {parent_tid=[103]}, 88) = 103
103 socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_TCP) = 9
103 connect(9, {sa_family=AF_INET, sin_port=htons(5001), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
101 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 10
102 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 3
102 connect(3, {sa_family=AF_UNIX, sun_path="/tmp/tm1/p/tor/control"}, 25) = 0
100 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 7
100 connect(7, {sa_family=AF_INET, sin_port=htons(9150), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
100 sendto(3, "\5\1\0", 3, 0, NULL, 0) = 3
102 bind(5, {sa_family=AF_UNIX, sun_path="/tmp/tm1/p/tor/svc-1"}, 30) = 0
100 bind(6, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
`
	torPorts := map[int]bool{9150: true}
	rep, err := checkTrace(strings.NewReader(head), bin, profile, torPorts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Leaks) != 0 || len(rep.SottoConnects) != 2 || rep.ForeignConnects != 1 || rep.Programs["/usr/bin/tor"] != 1 {
		t.Fatalf("clean trace: %+v", rep)
	}
	leaks := map[string]string{
		"DNS to 8.8.8.8":      `102 connect(8, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("8.8.8.8")}, 16) = -1 ENETUNREACH (Network is unreachable)`,
		"DNS to loopback":     `100 connect(8, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 0`,
		"UDP sendto":          `102 sendto(8, "\x12\x34", 2, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("8.8.8.8")}, 16) = 2`,
		"UDP socket":          `100 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 8`,
		"IPv6 socket":         `100 socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 8`,
		"IPv6 connect":        `100 connect(8, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = 0`,
		"direct dial":         `102 connect(8, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("93.184.216.34")}, 16) = -1 EINPROGRESS (Operation now in progress)`,
		"other loopback port": `100 connect(8, {sa_family=AF_INET, sin_port=htons(9050), sin_addr=inet_addr("127.0.0.1")}, 16) = 0`,
		"system resolver":     `100 connect(8, {sa_family=AF_UNIX, sun_path="/run/systemd/resolve/io.systemd.Resolve"}, 42) = 0`,
		"netlink":             `100 socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 8`,
		"listener on all":     `102 bind(8, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("0.0.0.0")}, 16) = 0`,
		"unfinished connect":  `102 connect(8, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("10.0.0.1")}, 16 <unfinished ...>`,
		"unix in the profile": `102 connect(8, {sa_family=AF_UNIX, sun_path="/tmp/tm1/p/vault/x"}, 20) = 0`,
		"listener outside":    `102 bind(8, {sa_family=AF_UNIX, sun_path="/tmp/x.sock"}, 13) = 0`,
		"untracked thread":    `555 connect(8, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("1.1.1.1")}, 16) = 0`,
	}
	for name, line := range leaks {
		t.Run(name, func(t *testing.T) {
			rep, err := checkTrace(strings.NewReader(head+line+"\n"), bin, profile, torPorts)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Leaks) != 1 {
				t.Fatalf("%d leaks flagged, want 1: %v", len(rep.Leaks), rep.Leaks)
			}
			t.Log(rep.Leaks[0])
		})
	}
	// A program other than tor shows up in Programs (the live test fails on it).
	rep, err = checkTrace(strings.NewReader(head+"100 clone(child_stack=NULL, flags=SIGCHLD) = 104\n104 execve(\"/usr/bin/curl\", [\"curl\"], 0x1 /* 1 vars */) = 0\n"), bin, profile, torPorts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Programs["/usr/bin/curl"] != 1 {
		t.Fatalf("a second program went unnoticed: %v", rep.Programs)
	}
}

// TestT21LoopbackOnlyNamespace: the package runs in a network namespace
// whose only interface is loopback (see TestMain). It checks that this is
// so, and that any address but loopback is unreachable from here: a UDP
// packet to a public DNS server and TCP dials out (IPv4 and IPv6) all fail at
// once. That every client still works there is shown by the conversations
// of TestT21NoSocketButTor (and of every other test of the package), which
// run in this same namespace.
func TestT21LoopbackOnlyNamespace(t *testing.T) {
	needNetwork(t)
	if !inNetns {
		t.Skip("not in a loopback-only namespace: needs root and unshare(1) (TestMain re-executes the tests there when it can)")
	}
	t.Parallel()
	if err := onlyLoopback(); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []struct{ netw, addr string }{{"udp", "8.8.8.8:53"}, {"tcp", "1.1.1.1:443"}, {"tcp6", "[2606:4700::1111]:443"}} {
		c, err := net.DialTimeout(dst.netw, dst.addr, 2*time.Second)
		if err == nil && dst.netw == "udp" {
			// A UDP "dial" only picks a route; with none it fails here.
			_, err = c.Write([]byte{0})
		}
		if err == nil {
			c.Close()
			t.Fatalf("%s %s reachable from the namespace", dst.netw, dst.addr)
		}
		t.Logf("%s %s: %v", dst.netw, dst.addr, err)
	}
}

// TestT21LeakCheckerCatchesRealResolver is the live negative control: a
// real program that resolves a name (getent, through the C library's
// resolver) runs under the same strace command line as the client, and the
// checker must flag its DNS attempt. It runs only inside the loopback-only
// namespace, where the query cannot leave the machine.
func TestT21LeakCheckerCatchesRealResolver(t *testing.T) {
	if !inNetns {
		t.Skip("runs only in the loopback-only namespace (see TestMain), so that no real query leaves")
	}
	getent, err := exec.LookPath("getent")
	if err != nil {
		t.Skip("getent is not installed")
	}
	if getent, err = filepath.EvalSymlinks(getent); err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(t.TempDir(), "strace.log")
	argv := append(straceWrap(trace), getent, "ahosts", "sotto-leak-check.example")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Run() // fails: the name does not resolve here
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := checkTrace(f, getent, "/nonexistent-profile", nil)
	if err != nil {
		t.Fatal(err)
	}
	dns := 0
	for _, l := range rep.Leaks {
		if strings.Contains(l, "port 53") || strings.Contains(l, "UDP") {
			dns++
		}
		t.Log(l)
	}
	if dns == 0 {
		t.Fatalf("the checker saw no DNS attempt in a real resolver's trace (%d leaks flagged)", len(rep.Leaks))
	}
}
