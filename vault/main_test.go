package vault

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if twoLogs.dir != "" {
		os.RemoveAll(filepath.Dir(twoLogs.dir))
	}
	os.Exit(code)
}
