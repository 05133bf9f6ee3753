// Package procstat reads a process's CPU time and resident memory from
// Linux's /proc, for the benchmarks that measure what an idle profile costs
// (issue 16 goal 4): Sotto's own process and the tor it started.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports (the kernel fixes it for the ABI).
const clockTick = 10 * time.Millisecond

// ErrUnsupported: no /proc (not Linux).
var ErrUnsupported = errors.New("procstat: /proc is not available")

// Sample is one reading of a process.
type Sample struct {
	At  time.Time
	CPU time.Duration // user + system time since the process started
	RSS int64         // resident set, bytes
}

// Read samples process pid.
func Read(pid int) (Sample, error) {
	now := time.Now()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if _, e := os.Stat("/proc/self/stat"); e != nil {
			return Sample{}, ErrUnsupported
		}
		return Sample{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after the last ')' start with field 3 (state).
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return Sample{}, fmt.Errorf("procstat: /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 22 {
		return Sample{}, fmt.Errorf("procstat: /proc/%d/stat: %d fields", pid, len(f))
	}
	// utime and stime are fields 14 and 15; rss (pages) is field 24.
	ut, err1 := strconv.ParseInt(f[14-3], 10, 64)
	st, err2 := strconv.ParseInt(f[15-3], 10, 64)
	rss, err3 := strconv.ParseInt(f[24-3], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Sample{}, fmt.Errorf("procstat: /proc/%d/stat: %v", pid, err)
	}
	return Sample{At: now, CPU: time.Duration(ut+st) * clockTick, RSS: rss * int64(os.Getpagesize())}, nil
}

// CPUPercent is the share of one core used between a and b.
func CPUPercent(a, b Sample) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.CPU-a.CPU) / float64(wall)
}

// Children returns the processes whose parent is ppid and whose command
// line contains every string in has (e.g. "tor" and a data directory).
func Children(ppid int, has ...string) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, ErrUnsupported
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone meanwhile
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(ppid) {
			continue
		}
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		line := string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
		ok := true
		for _, h := range has {
			if !strings.Contains(line, h) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, pid)
		}
	}
	return out, nil
}
