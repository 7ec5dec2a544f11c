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
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
)

// extensionLayer builds testdata/extension and packs it in a layer as
// extensions/logger, executable.
func extensionLayer(t *testing.T) runtimeapi.Layer {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "logger")
	build := exec.Command("go", "build", "-o", bin, "./testdata/extension")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the extension: %v\n%s", err, out)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "extensions/logger", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(exe)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ext.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return runtimeapi.Layer{ARN: "arn:aws:lambda:us-east-1:000000000000:layer:ext:1", CodeHash: "ext", CodePath: p}
}

// A real extension in a layer starts with the runtime, in its sandbox:
// it gets each INVOKE, and the invocation waits for it to be done (the
// caller does not); on furl's shutdown it gets SHUTDOWN. Its output is
// the function's.
func TestExternalExtension(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on the PATH")
	}
	layer := extensionLayer(t)
	for _, mount := range []bool{true, false} {
		t.Run(map[bool]string{true: "mounted at /opt", false: "search paths"}[mount], func(t *testing.T) {
			if mount && os.Geteuid() != 0 {
				t.Skip("mounting layers at /opt needs root (mount namespaces)")
			}
			var out syncBuffer
			sb := New(Options{ClientsDir: filepath.Join(t.TempDir(), "clients"), Logger: slog.New(slog.DiscardHandler)})
			if !mount {
				sb.noReadOnly.Store(true)
			}
			m, err := runtimeapi.New(runtimeapi.Config{DataDir: t.TempDir(), Sandbox: sb, Logger: slog.New(slog.DiscardHandler), FunctionOutput: &out})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "index.py"), []byte("def handler(event, context):\n    print('handler ran')\n    return 'hi'\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			fn := runtimeapi.Function{Name: "with-ext", Version: "$LATEST", Region: "us-east-1", AccountID: "000000000000",
				PackageType: "Zip", Runtime: "python3.12", Handler: "index.handler", MemoryMB: 128, Timeout: 30 * time.Second,
				CodeDir: dir, Layers: []runtimeapi.Layer{layer}, Fingerprint: "with-ext"}
			for _, id := range []string{"11111111-2222-3333-4444-555555555555", "22222222-2222-3333-4444-555555555555"} {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				res, err := m.Invoke(ctx, &runtimeapi.Invocation{Function: fn, RequestID: id, Payload: []byte(`{}`)})
				if err != nil {
					cancel()
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				if fe := res.Wait(); fe != nil || string(body) != `"hi"` {
					cancel()
					t.Fatalf("invocation: %q %v", body, fe)
				}
				answered := time.Now()
				tail := string(res.LogTail(8192))
				over := time.Since(answered)
				cancel()
				// The caller had its answer while the extension worked on.
				if over < 300*time.Millisecond {
					t.Errorf("the invocation was over %s after its answer; the extension takes 500ms", over)
				}
				want := []string{"START RequestId: " + id, "extension: INVOKE " + id, "extension: done with " + id, "END RequestId: " + id}
				at := 0
				for _, w := range want {
					i := strings.Index(tail[at:], w)
					if i < 0 {
						t.Fatalf("log tail lacks %q after byte %d:\n%s", w, at, tail)
					}
					at += i + len(w)
				}
			}
			// The extension exits on SHUTDOWN: furl need not wait out its
			// deadline.
			closing := time.Now()
			m.Close()
			if d := time.Since(closing); d >= 1500*time.Millisecond {
				t.Errorf("Close took %s though the extension exited on SHUTDOWN", d)
			}
			if !strings.Contains(out.String(), "EXTENSION\tName: logger\tState: Ready\tEvents: [INVOKE,SHUTDOWN]\n") {
				t.Errorf("no EXTENSION line for the extension at init:\n%s", out.String())
			}
			if !strings.Contains(out.String(), "extension: SHUTDOWN spindown") {
				t.Fatalf("no SHUTDOWN in the function's output:\n%s", out.String())
			}
		})
	}
}

// An extension that exits during init fails it with Extension.Crash.
func TestExternalExtensionCrash(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on the PATH")
	}
	layer := extensionLayer(t)
	sb := New(Options{ClientsDir: filepath.Join(t.TempDir(), "clients"), Logger: slog.New(slog.DiscardHandler)})
	m, err := runtimeapi.New(runtimeapi.Config{DataDir: t.TempDir(), Sandbox: sb, Logger: slog.New(slog.DiscardHandler), FunctionOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.py"), []byte("def handler(event, context):\n    return 'hi'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fn := runtimeapi.Function{Name: "ext-crash", Version: "$LATEST", Region: "us-east-1", AccountID: "000000000000",
		PackageType: "Zip", Runtime: "python3.12", Handler: "index.handler", MemoryMB: 128, Timeout: 30 * time.Second,
		CodeDir: dir, Layers: []runtimeapi.Layer{layer}, Fingerprint: "ext-crash", Environment: map[string]string{"EXTENSION_CRASH": "1"}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := m.Invoke(ctx, &runtimeapi.Invocation{Function: fn, RequestID: "11111111-2222-3333-4444-555555555555", Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(res.Body)
	// Extension.Crash comes only from the extensions' exit being seen; an
	// init that ran into its time limit instead would be Sandbox.Timedout.
	fe := res.Wait()
	if fe == nil || fe.Type != "Extension.Crash" ||
		string(fe.Payload) != `{"errorMessage":"RequestId: 11111111-2222-3333-4444-555555555555 Error: Extension exited before completing init","errorType":"Extension.Crash"}` {
		t.Fatalf("got %v, want Extension.Crash", fe)
	}
	if tail := string(res.LogTail(4096)); !strings.Contains(tail, "Status: error\tError Type: Extension.Crash") {
		t.Errorf("log tail:\n%s", tail)
	}
}
