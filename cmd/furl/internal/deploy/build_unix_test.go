//go:build linux

package deploy

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A build that leaves a child running in the background, holding its
// output open, is over when its shell exits (plus a short grace): the
// child is ended with it, and the build counts as the shell's exit says.
func TestBuildEndsWhatItLeftRunning(t *testing.T) {
	w := newWatcher(t.TempDir(), "sleep 300 & echo $!", nil, io.Discard)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		defer close(done)
		out, err = w.runBuild(context.Background())
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the build did not end while its background child ran")
	}
	if err != nil {
		t.Fatalf("the build failed: %v (%s)", err, out)
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(string(out)))
	if perr != nil {
		t.Fatalf("the build printed %q", out)
	}
	// Ended: gone, or a zombie waiting for its new parent to reap it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the build's background child %d still runs: %s", pid, stat)
		}
	}
}
