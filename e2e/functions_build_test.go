package e2e

import (
	"archive/zip"
	"bytes"
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

var (
	goFnOnce sync.Once
	goFnZip  []byte
	goFnErr  error
)

// goFunction is the aws-lambda-go test function (functions/gofn) built for
// provided.al2023: a static bootstrap in a zip, as AWS's guide builds it.
func goFunction(t testing.TB) []byte {
	t.Helper()
	goFnOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gofn")
		if err != nil {
			goFnErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "github.com/furl-dev/furl/e2e/functions/gofn")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			goFnErr = err
			goFnZip = out
			return
		}
		raw, err := os.ReadFile(bin)
		if err != nil {
			goFnErr = err
			return
		}
		goFnZip = makeZipModes(t, map[string]zipFile{"bootstrap": {raw, 0o755}})
	})
	if goFnErr != nil {
		t.Fatalf("building the Go test function: %v\n%s", goFnErr, goFnZip)
	}
	return goFnZip
}
