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
	if fixture100k.dir != "" {
		os.RemoveAll(filepath.Dir(fixture100k.dir))
	}
	os.Exit(code)
}
