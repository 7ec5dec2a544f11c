package e2e

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

// zipFile is one file of a deployment package.
type zipFile struct {
	content []byte
	mode    os.FileMode
}

// makeZipModes builds a deployment package whose files keep their modes.
func makeZipModes(t testing.TB, files map[string]zipFile) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate}
		h.SetMode(files[n].mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, bytes.NewReader(files[n].content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// builtFunction is a Go test function built once per test binary.
type builtFunction struct {
	once sync.Once
	zip  []byte
	err  error
}

var (
	goFn  builtFunction
	urlFn builtFunction
	strFn builtFunction
)

// goFunction is the aws-lambda-go test function (functions/gofn) built for
// provided.al2023: a static bootstrap in a zip, as AWS's guide builds it.
func goFunction(t testing.TB) []byte { return goFn.build(t, "gofn") }

// urlFunction is the function URL test function (functions/urlfn).
func urlFunction(t testing.TB) []byte { return urlFn.build(t, "urlfn") }

// streamFunction is the response-streaming test function (functions/streamfn).
func streamFunction(t testing.TB) []byte { return strFn.build(t, "streamfn") }

func (b *builtFunction) build(t testing.TB, name string) []byte {
	t.Helper()
	b.once.Do(func() { b.zip, b.err = buildGoBootstrap(t, name) })
	if b.err != nil {
		t.Fatalf("building the Go test function %s: %v", name, b.err)
	}
	return b.zip
}

func buildGoBootstrap(t testing.TB, name string) ([]byte, error) {
	dir, err := os.MkdirTemp("", name)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "github.com/furl-dev/furl/e2e/functions/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, out)
	}
	raw, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	return makeZipModes(t, map[string]zipFile{"bootstrap": {raw, 0o755}}), nil
}

// functionBinary is a Go test function's bootstrap as an executable file,
// for what runs it outside furl (the relay, AWS's emulator).
func functionBinary(t testing.TB, zipped []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open("bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(path, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
