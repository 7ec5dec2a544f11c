package process

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
)

// TestMain lets the test binary supervise the environments it starts, as
// furl's binary does.
func TestMain(m *testing.M) {
	RunSupervisorIfAsked()
	os.Exit(m.Run())
}

// startScript runs a provided-runtime bootstrap script in a fresh code
// directory, with MARK naming a directory it may write to.
func startScript(t *testing.T, script string) (runtimeapi.Process, error) {
	t.Helper()
	return startScriptMarking(t, script, t.TempDir())
}

func startScriptMarking(t *testing.T, script, marks string) (runtimeapi.Process, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	sb := New(Options{ClientsDir: filepath.Join(t.TempDir(), "clients"), Logger: slog.New(slog.DiscardHandler)})
	return sb.Start(context.Background(), runtimeapi.Spec{
		Function: runtimeapi.Function{Name: "fn", Runtime: "provided.al2023", Environment: map[string]string{"MARK": marks}},
		Code:     dir, Output: io.Discard,
	})
}

func waitDone(t *testing.T, p runtimeapi.Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the environment did not end")
	}
}

// How the runtime ended is worded as os/exec words it, whatever the
// supervisor between.
func TestRuntimeExitIsReported(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
	}{
		{"exit code", "exit 3\n", "exit status 3"},
		{"clean exit", "exit 0\n", ""},
		{"signal", "kill -SEGV $$\n", "signal: segmentation fault"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := startScript(t, tc.script)
			if err != nil {
				t.Fatal(err)
			}
			waitDone(t, p)
			got := ""
			if err := p.Err(); err != nil {
				got = err.Error()
			}
			if !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
				t.Fatalf("exit reported as %q, want %q", got, tc.want)
			}
		})
	}
}

// A bootstrap that cannot be executed is an init failure with the
// exec's own words.
func TestUnexecutableBootstrap(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("\x7fELFnot really"), 0o755)
	sb := New(Options{ClientsDir: filepath.Join(t.TempDir(), "clients"), Logger: slog.New(slog.DiscardHandler)})
	_, err := sb.Start(context.Background(), runtimeapi.Spec{
		Function: runtimeapi.Function{Name: "fn", Runtime: "provided.al2023"}, Code: dir, Output: io.Discard,
	})
	var se *runtimeapi.StartError
	if !errors.As(err, &se) || se.Type != "Runtime.InvalidEntrypoint" || !strings.Contains(se.Message, "exec format error") || !strings.Contains(se.Message, "(furl: the bootstrap is not a Linux") {
		t.Fatalf("got %v", err)
	}
}

// Killing the environment ends every process in it, those in sessions of
// their own too; so does the runtime's own exit.
func TestNothingOutlivesTheEnvironment(t *testing.T) {
	daemon := `setsid sleep 600 & echo $! > "$MARK/daemon"
sleep 600 & echo $! > "$MARK/child"
`
	for _, tc := range []struct {
		name string
		end  string // what the runtime does after starting them
		kill bool
	}{
		{"killed", "sleep 600\n", true},
		{"runtime exits", "while [ ! -s \"$MARK/child\" ]; do sleep 0.01; done; exit 0\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marks := t.TempDir()
			p, err := startScriptMarking(t, daemon+tc.end, marks)
			if err != nil {
				t.Fatal(err)
			}
			var pids []int
			for _, name := range []string{"daemon", "child"} {
				pids = append(pids, waitPid(t, filepath.Join(marks, name)))
			}
			if tc.kill {
				p.Kill()
			}
			waitDone(t, p)
			for _, pid := range pids {
				if err := syscall.Kill(pid, 0); err == nil {
					t.Errorf("process %d outlived its environment", pid)
				}
			}
		})
	}
}

func waitPid(t *testing.T, file string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		raw, _ := os.ReadFile(file)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", file)
		}
	}
}

// The code directory is read-only to the runtime: by its modes (which
// furl's extraction sets, and root ignores) and, as root, by a read-only
// mount.
func TestTaskRootReadOnlyForRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the read-only mount needs root; other users are held back by the code's modes")
	}
	marks := t.TempDir()
	p, err := startScriptMarking(t, `if echo x > ./written 2>/dev/null; then echo yes > "$MARK/result"; else echo no > "$MARK/result"; fi
`, marks)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)
	if raw, _ := os.ReadFile(filepath.Join(marks, "result")); strings.TrimSpace(string(raw)) != "no" {
		t.Fatalf("the runtime could write its task root: %q", raw)
	}
}

// The supervisor's status pipe is not the runtime's: a runtime can
// neither forge a report on it nor keep it open.
func TestRuntimeCannotReachTheStatusPipe(t *testing.T) {
	marks := t.TempDir()
	p, err := startScriptMarking(t, `if [ -e /proc/$$/fd/3 ]; then echo open > "$MARK/fd3"; else echo closed > "$MARK/fd3"; fi
echo "exited 0" >&3 2>/dev/null
exit 4
`, marks)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)
	if raw, _ := os.ReadFile(filepath.Join(marks, "fd3")); strings.TrimSpace(string(raw)) != "closed" {
		t.Fatalf("the runtime's file descriptor 3 is %q", raw)
	}
	if err := p.Err(); err == nil || err.Error() != "exit status 4" {
		t.Fatalf("the environment ended with %v, not the runtime's own exit status 4", err)
	}
}

// A function whose runtime names another version than the host's
// interpreter runs on it, and the log says so, once per runtime.
func TestInterpreterVersionMismatchIsLogged(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no node on the PATH")
	}
	var logs bytes.Buffer
	sb := New(Options{ClientsDir: filepath.Join(t.TempDir(), "clients"), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := sb.setup(); err != nil {
		t.Fatal(err)
	}
	other := "nodejs99.x"
	same := "nodejs" + sb.nodeVersion() + ".x"
	for _, rt := range []string{other, other, same} {
		if _, err := sb.command(runtimeapi.Spec{Function: runtimeapi.Function{Runtime: rt}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "runtime="+other); n != 1 {
		t.Errorf("%d warnings for %s, want 1:\n%s", n, other, logs.String())
	}
	if strings.Contains(logs.String(), "runtime="+same) {
		t.Errorf("a warning for %s, which the host's node is:\n%s", same, logs.String())
	}
}
