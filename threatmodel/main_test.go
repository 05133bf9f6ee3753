package threatmodel

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sottochat/sotto/internal/e2e"
	"github.com/sottochat/sotto/internal/spawn"
	"github.com/sottochat/sotto/onion/testnet"
)

// The attack tests run real `sotto` processes (built once here) over one
// private Tor network on loopback, started once for the package.
//
// When the tests run as root, TestMain first re-executes the whole test
// binary inside a fresh network namespace that has nothing but a loopback
// interface (`unshare --net`, then `ip link set lo up`): the private network,
// every client and every attacker then live where no byte can reach any other
// network, which is the namespace proof of threat T21 (the scenario still
// works there). Without the privilege to do so the tests run in the host's
// namespace and TestT21LoopbackOnlyNamespace says why it skips.
const (
	envNetns = "SOTTO_THREAT_NETNS" // "1" inside the namespace; "0" = do not re-execute
	envBin   = "SOTTO_THREAT_BIN"   // the sotto binary the parent built
)

var (
	// harness runs the sotto binary on the private network, without
	// --debug: the attack tests run the client as its users do.
	harness *e2e.Sotto
	tnet    *testnet.Network // the private network
	inNetns bool             // running in the loopback-only namespace
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	os.Exit(main1(m))
}

func main1(m *testing.M) int {
	inNetns = os.Getenv(envNetns) == "1"
	// The binary (unless the parent built it) and the network's fragment.
	dir, err := os.MkdirTemp("", "sotto-threat")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// 0755 so that a process of another uid can run the binary.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	sottoBin := os.Getenv(envBin)
	if sottoBin == "" {
		if sottoBin, err = e2e.Build(dir, "../cmd/sotto"); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			return 1
		}
	}
	if !inNetns && os.Getenv(envNetns) != "0" && canUnshare() {
		return reexecInNetns(sottoBin)
	}
	if inNetns {
		if err := onlyLoopback(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: the namespace is not loopback-only:", err)
			return 1
		}
	}
	return testnet.Main(m, func(n *testnet.Network) {
		tnet = n
		netFile := filepath.Join(dir, "network.torrc")
		if err := os.WriteFile(netFile, []byte(n.ClientTorrc()), 0o644); err != nil {
			panic(err)
		}
		harness = &e2e.Sotto{Bin: sottoBin, Network: netFile}
	})
}

// canUnshare reports whether this process may create a network namespace.
func canUnshare() bool {
	if os.Geteuid() != 0 {
		return false
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return false
	}
	return exec.Command("unshare", "--net", "--", "true").Run() == nil
}

// reexecInNetns runs this test binary again, with the same arguments, in a
// new network namespace whose only interface is loopback, and returns its
// exit code. Its output is ours; it is given the sotto binary built here.
func reexecInNetns(sottoBin string) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	args := append([]string{"--net", "--", "/bin/sh", "-c", `ip link set lo up && exec "$0" "$@"`, self}, os.Args[1:]...)
	cmd := exec.Command("unshare", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envNetns+"=1", envBin+"="+sottoBin)
	cmd.SysProcAttr = dieWithParent()
	err = spawn.Start(cmd) // Pdeathsig follows the forking thread (internal/spawn)
	if err == nil {
		err = cmd.Wait()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: running the tests in a network namespace:", err)
		return 1
	}
	return 0
}

// onlyLoopback checks that the current network namespace has one interface,
// lo, and that it is not the namespace of PID 1.
func onlyLoopback() error {
	ifs, err := interfaces()
	if err != nil {
		return err
	}
	if len(ifs) != 1 || ifs[0] != "lo" {
		return fmt.Errorf("interfaces %v, want only lo", ifs)
	}
	mine, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return err
	}
	if init, err := os.Readlink("/proc/1/ns/net"); err == nil && init == mine {
		return fmt.Errorf("still in PID 1's network namespace %s", mine)
	}
	return nil
}

// interfaces lists the network interfaces of this process's namespace (from
// /proc/self/net/dev: /sys/class/net shows the namespace sysfs was mounted in).
func interfaces() ([]string, error) {
	b, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if name, _, ok := strings.Cut(l, ":"); ok {
			out = append(out, strings.TrimSpace(name))
		}
	}
	return out, nil
}

func needNetwork(t *testing.T) {
	t.Helper()
	if tnet == nil {
		t.Skip("attack test over the private Tor network: skipped with -short")
	}
}
