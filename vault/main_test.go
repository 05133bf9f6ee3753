package vault

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if twoLogs.dir != "" {
		os.RemoveAll(filepath.Dir(twoLogs.dir))
	}
	if fixture100k.dir != "" {
		os.RemoveAll(filepath.Dir(fixture100k.dir))
	}
	os.Exit(code)
}

// child returns a command running this test binary's test named run, with
// env telling it it is the child.
func child(t *testing.T, bin, run string, env ...string) *exec.Cmd {
	cmd := exec.Command(bin, "-test.run=^"+run+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// step runs fn, a white-box change made with v.mu held (or the vault not
// yet shared), as one commit of its own: the way a test sets up what a crash
// between two steps of an operation leaves behind.
func step(v *Vault, fn func() error) error {
	v.stage = newStage()
	err := fn()
	if cerr := v.commitStage(); err == nil {
		err = cerr
	}
	return err
}
