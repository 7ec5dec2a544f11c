package process

import (
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

// A managed runtime runs under the function's AWS_LAMBDA_EXEC_WRAPPER, as
// on Lambda: the wrapper gets the runtime's command and can change its
// environment; a wrapper that does not exist fails the invocation with
// Runtime.ExitError, exit status 127.
func TestExecWrapper(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on the PATH")
	}
	code := t.TempDir()
	handler := "import os\ndef handler(event, context):\n    return os.environ.get('WRAPPED', '')\n"
	if err := os.WriteFile(filepath.Join(code, "index.py"), []byte(handler), 0o644); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(t.TempDir(), "wrapper")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexport WRAPPED=\"by the wrapper, running $(basename \"$1\")\"\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sb := New(Options{ClientsDir: filepath.Join(t.TempDir(), "clients"), Logger: slog.New(slog.DiscardHandler)})
	m, err := runtimeapi.New(runtimeapi.Config{DataDir: t.TempDir(), Sandbox: sb, Logger: slog.New(slog.DiscardHandler), FunctionOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	invoke := func(name, wrapperPath string) (string, *runtimeapi.FunctionError) {
		t.Helper()
		fn := runtimeapi.Function{Name: name, Version: "$LATEST", Region: "us-east-1", AccountID: "000000000000",
			PackageType: "Zip", Runtime: "python3.12", Handler: "index.handler", MemoryMB: 128, Timeout: 30 * time.Second,
			Environment: map[string]string{"AWS_LAMBDA_EXEC_WRAPPER": wrapperPath}, CodeDir: code, Fingerprint: name}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := m.Invoke(ctx, &runtimeapi.Invocation{Function: fn, RequestID: "11111111-2222-3333-4444-555555555555", Payload: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		return string(body), res.Wait()
	}

	body, fe := invoke("wrapped", wrapper)
	if fe != nil || body != `"by the wrapper, running `+filepath.Base(sb.interpreter("python3.12").path)+`"` {
		t.Errorf("wrapped function answered %s, %v", body, fe)
	}
	body, fe = invoke("missing", filepath.Join(t.TempDir(), "nowhere"))
	if fe == nil || fe.Type != "Runtime.ExitError" ||
		!strings.Contains(string(fe.Payload), "Error: Runtime exited with error: exit status 127") {
		t.Errorf("a missing wrapper: %s, %+v", body, fe)
	}
}
