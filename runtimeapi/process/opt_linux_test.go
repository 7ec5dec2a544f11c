package process

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
)

// layerZip writes a layer's zip and returns it as the function lists it.
func layerZip(t *testing.T, name string, files map[string]string) runtimeapi.Layer {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for path, content := range files {
		w, err := zw.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name+".zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return runtimeapi.Layer{ARN: "arn:aws:lambda:us-east-1:000000000000:layer:" + name + ":1", CodeHash: name, CodePath: p}
}

// syncBuffer is a log the sandbox writes to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// layersManager runs functions in a process sandbox that mounts layers at
// /opt, or (mount false) reaches them through the search paths alone.
func layersManager(t *testing.T, mount bool) (*runtimeapi.Manager, *syncBuffer) {
	t.Helper()
	if mount && os.Geteuid() != 0 {
		t.Skip("mounting layers at /opt needs root (mount namespaces)")
	}
	var log syncBuffer
	sb := New(Options{ClientsDir: filepath.Join(t.TempDir(), "clients"),
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if !mount {
		sb.noReadOnly.Store(true)
	}
	m, err := runtimeapi.New(runtimeapi.Config{DataDir: t.TempDir(), Sandbox: sb, Logger: slog.New(slog.DiscardHandler), FunctionOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, &log
}

func invokeLayered(t *testing.T, m *runtimeapi.Manager, name, runtime, handler string, code map[string]string, layers ...runtimeapi.Layer) string {
	t.Helper()
	dir := t.TempDir()
	for path, content := range code {
		if err := os.WriteFile(filepath.Join(dir, path), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fn := runtimeapi.Function{Name: name, Version: "$LATEST", Region: "us-east-1", AccountID: "000000000000",
		PackageType: "Zip", Runtime: runtime, Handler: handler, MemoryMB: 128, Timeout: 30 * time.Second,
		CodeDir: dir, Layers: layers, Fingerprint: name}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := m.Invoke(ctx, &runtimeapi.Invocation{Function: fn, RequestID: "11111111-2222-3333-4444-555555555555", Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if fe := res.Wait(); fe != nil {
		t.Fatalf("%s failed: %s %s", name, fe.Type, fe.Payload)
	}
	return string(body)
}

// A Node function requires a module that only a layer's
// nodejs/node_modules holds, and a Python function imports a package only
// a layer's python/ holds, the later layer's copy winning; whether furl
// mounts the layers at /opt or cannot, and it says which.
func TestLayersReachNodeAndPython(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mount bool
		log   string
	}{
		{"mounted at /opt", true, "the function's layers are mounted read-only at /opt"},
		{"search paths", false, "absolute /opt paths do not reach them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, log := layersManager(t, tc.mount)
			t.Run("node", func(t *testing.T) {
				if _, err := exec.LookPath("node"); err != nil {
					t.Skip("no node on the PATH")
				}
				early := layerZip(t, "greet-old", map[string]string{"nodejs/node_modules/greet/index.js": "exports.hello = 'old';\n"})
				late := layerZip(t, "greet", map[string]string{"nodejs/node_modules/greet/index.js": "exports.hello = 'from a layer';\n"})
				got := invokeLayered(t, m, "node-layers", "nodejs20.x", "index.handler",
					map[string]string{"index.js": "const greet = require('greet');\nexports.handler = async () => greet.hello;\n"}, early, late)
				if got != `"from a layer"` {
					t.Errorf("node answered %s", got)
				}
			})
			t.Run("python", func(t *testing.T) {
				if _, err := exec.LookPath("python3"); err != nil {
					t.Skip("no python3 on the PATH")
				}
				early := layerZip(t, "greetpy-old", map[string]string{"python/greetpy/__init__.py": "HELLO = 'old'\n"})
				late := layerZip(t, "greetpy", map[string]string{"python/greetpy/__init__.py": "HELLO = 'from a layer'\n"})
				got := invokeLayered(t, m, "python-layers", "python3.12", "index.handler",
					map[string]string{"index.py": "import greetpy\ndef handler(event, context):\n    return greetpy.HELLO\n"}, early, late)
				if got != `"from a layer"` {
					t.Errorf("python answered %s", got)
				}
			})
			if !strings.Contains(log.String(), tc.log) {
				t.Errorf("the sandbox did not say how the layers are reached (%q); it logged:\n%s", tc.log, log)
			}
		})
	}
}

// As root, a function reads a layer's file by its absolute /opt path,
// cannot write there, and the host's own /opt is untouched.
func TestLayerAtAbsoluteOpt(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on the PATH")
	}
	m, _ := layersManager(t, true)
	data := layerZip(t, "data", map[string]string{"etc/furl-opt-test.txt": "in /opt"})
	handler := `def handler(event, context):
    text = open('/opt/etc/furl-opt-test.txt').read()
    try:
        open('/opt/written', 'w')
        return text + ', writable'
    except OSError as e:
        return text + ', ' + type(e).__name__
`
	got := invokeLayered(t, m, "opt-reader", "python3.12", "index.handler", map[string]string{"index.py": handler}, data)
	if got != `"in /opt, OSError"` {
		t.Errorf("the function answered %s, want the layer's file, read-only", got)
	}
	if _, err := os.Stat("/opt/etc/furl-opt-test.txt"); err == nil {
		t.Error("the layer appeared in the host's /opt")
	}
}
