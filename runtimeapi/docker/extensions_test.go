package docker

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
)

// A layer's extension (the process sandbox's test extension) starts in
// the container before the runtime: it gets the INVOKE, which waits for
// it, and SHUTDOWN when furl closes; it prints into the function's log.
func TestExternalExtension(t *testing.T) {
	sb := testSandbox(t, Options{})
	out := newOutput()
	m := testManager(t, sb, out)
	fn := zipFunction("with-ext", 30*time.Second)
	fn.Layers = []runtimeapi.Layer{extensionLayer(t)}
	start := time.Now()
	o := invoke(t, m, fn, `{"say":"hi"}`)
	if o.fe != nil {
		t.Fatalf("invocation failed: %s %s", o.fe.Type, o.fe.Payload)
	}
	at := 0
	for _, w := range []string{"extension: registered", "START RequestId: ", "extension: INVOKE ", "extension: done with ", "END RequestId: "} {
		i := strings.Index(o.log[at:], w)
		if w == "extension: registered" {
			// It registers during init, before the invocation's log.
			out.waitFor(t, w)
			continue
		}
		if i < 0 {
			t.Fatalf("log tail lacks %q after byte %d:\n%s", w, at, o.log)
		}
		at += i + len(w)
	}
	if time.Since(start) < 500*time.Millisecond {
		t.Errorf("the invocation was over in %s; its extension takes 500ms", time.Since(start))
	}
	m.Close()
	out.waitFor(t, "extension: SHUTDOWN spindown")
}

// extensionLayer is a layer holding the process sandbox's test extension
// as extensions/logger.
func extensionLayer(t *testing.T) runtimeapi.Layer {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "logger")
	build := exec.Command("go", "build", "-o", bin, "../process/testdata/extension")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the extension: %v\n%s", err, msg)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	layer, hash := zipOf(t, map[string][]byte{"extensions/logger": exe})
	return runtimeapi.Layer{ARN: "arn:aws:lambda:us-east-1:000000000000:layer:ext:1", CodeHash: hash, CodePath: layer}
}

// An extension that exits during init fails it with Extension.Crash, as in
// the process sandbox: the container says when its extensions are gone
// (without that, init would wait out its 10 s and time out).
func TestExternalExtensionCrash(t *testing.T) {
	sb := testSandbox(t, Options{})
	out := newOutput()
	m := testManager(t, sb, out)
	fn := zipFunction("ext-crash", 30*time.Second)
	fn.Layers = []runtimeapi.Layer{extensionLayer(t)}
	fn.Environment = map[string]string{"EXTENSION_CRASH": "1"}
	o := invoke(t, m, fn, `{}`)
	if o.fe == nil || o.fe.Type != "Extension.Crash" || !strings.Contains(string(o.fe.Payload), "Error: Extension exited before completing init") {
		t.Fatalf("got %+v, want Extension.Crash", o.fe)
	}
	if !strings.Contains(o.log, "extension: crashing") || !strings.Contains(o.log, "Phase: init\tStatus: error\tError Type: Extension.Crash") {
		t.Errorf("log tail:\n%s", o.log)
	}
}
