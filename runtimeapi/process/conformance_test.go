//go:build linux

package process

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi/sandboxtest"
)

// The process sandbox passes the sandbox conformance suite.
func TestConformance(t *testing.T) {
	sb := New(Options{ClientsDir: filepath.Join(t.TempDir(), "clients"), Logger: slog.New(slog.DiscardHandler)})
	sandboxtest.Run(t, sandboxtest.Config{
		Sandbox:   sb,
		Runtime:   "provided.al2023",
		Leftovers: func(t *testing.T) []string { return markedProcesses(t) },
	})
}

// markedProcesses lists the processes whose environment carries the
// suite's mark for this test binary: the supervisors, the runtimes and
// whatever they started, in any session, inherit it.
func markedProcesses(t *testing.T) []string {
	t.Helper()
	mark := []byte(sandboxtest.PIDVariable + "=" + strconv.Itoa(os.Getpid()))
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("list processes: %v", err)
	}
	var found []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// A process that has just ended, or a zombie, has no environment
		// to read: it runs nothing.
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(raw, []byte{0}) {
			if bytes.Equal(kv, mark) {
				cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
				found = append(found, strconv.Itoa(pid)+" "+string(bytes.ReplaceAll(bytes.TrimRight(cmd, "\x00"), []byte{0}, []byte{' '})))
				break
			}
		}
	}
	return found
}

// markedProcesses sees a process that carries the mark, and only while
// it runs: the no-leftovers check leans on it.
func TestMarkedProcessesListsTheMarked(t *testing.T) {
	cmd := exec.Command("sleep", "600")
	cmd.Env = append(os.Environ(), sandboxtest.PIDVariable+"="+strconv.Itoa(os.Getpid()))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	want := strconv.Itoa(cmd.Process.Pid) + " sleep 600"
	// Start returns once execve has begun replacing the child; until the
	// kernel has laid out the new program's stack, /proc/<pid>/environ
	// and cmdline read empty. That window is short but real on a loaded
	// machine, so look again until the process shows, within a bound.
	var got []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if got = markedProcesses(t); slices.Contains(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("markedProcesses = %q, want it to list %q", got, want)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if got := markedProcesses(t); slices.Contains(got, want) {
		t.Fatalf("markedProcesses = %q still lists %q after it ended", got, want)
	}
}
