package sandboxtest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// built is the suite's function, built once per test binary.
var built struct {
	once sync.Once
	zip  []byte
	err  error
}

// Function is the suite's test function (testdata/fn) as a provided.al2023
// deployment package: a static Go bootstrap, built once per test binary.
// A container sandbox's tests can put the same bootstrap in an image.
func Function(t testing.TB) []byte {
	t.Helper()
	built.once.Do(func() { built.zip, built.err = buildFunction() })
	if built.err != nil {
		t.Fatalf("building the suite's function: %v", built.err)
	}
	return built.zip
}

func buildFunction() ([]byte, error) {
	// The source sits next to this file, wherever the test binary runs.
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return nil, fmt.Errorf("cannot tell where the suite's source is")
	}
	dir, err := os.MkdirTemp("", "sandboxtest-fn")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = filepath.Join(filepath.Dir(self), "testdata", "fn")
	// Static, so that it runs on any image, FROM scratch too.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// bootstrapOf is the bootstrap in a deployment package.
func bootstrapOf(zipped []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return nil, err
	}
	f, err := zr.Open("bootstrap")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(f)
	return buf.Bytes(), err
}
