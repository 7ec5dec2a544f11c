package docker

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
)

// zipOf writes a zip of executable files and returns its path and hash.
func zipOf(t *testing.T, files map[string][]byte) (path, hash string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "code.zip")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return path, hex.EncodeToString(sum[:])
}

// A function's layers are at /opt in its container, read-only: here the
// function itself is a layer's bin/fn, which its bootstrap runs.
func TestLayersAtOpt(t *testing.T) {
	sb := testSandbox(t, Options{})
	m := testManager(t, sb, io.Discard)
	bin, err := os.ReadFile(filepath.Join(fixtures.dir, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	fn := zipFunction("layered", 30*time.Second)
	fn.CodePath, fn.CodeHash = zipOf(t, map[string][]byte{"bootstrap": []byte("#!/bin/sh\nexec /opt/bin/fn\n")})
	stale, staleHash := zipOf(t, map[string][]byte{"bin/fn": []byte("#!/bin/sh\nexit 3\n")})
	layer, layerHash := zipOf(t, map[string][]byte{"bin/fn": bin})
	fn.Layers = []runtimeapi.Layer{
		{ARN: "arn:aws:lambda:us-east-1:000000000000:layer:stale:1", CodeHash: staleHash, CodePath: stale},
		{ARN: "arn:aws:lambda:us-east-1:000000000000:layer:fn:1", CodeHash: layerHash, CodePath: layer},
	}
	p := decodeProbe(t, invoke(t, m, fn, `{"probe":true,"say":"from /opt"}`))
	if p.Echo != "from /opt" || p.Exe != "/opt/bin/fn" {
		t.Errorf("the function answered %q running %q, want the later layer's /opt/bin/fn", p.Echo, p.Exe)
	}
	if !strings.Contains(p.WriteOpt, "read-only file system") {
		t.Errorf("writing /opt: %s, want a read-only file system", p.WriteOpt)
	}
}
