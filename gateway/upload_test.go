package gateway

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/furl-dev/furl/urlconfig"
)

// newUploadServer is a gateway over a fresh store with the given number
// of upload slots.
func newUploadServer(t testing.TB, slots int) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := urlconfig.Open(context.Background(), urlconfig.Options{
		Dir: dir, Account: urlconfig.Account{ID: "000000000000", Region: "us-east-1"}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return New(Config{Store: store, Logger: slog.New(slog.DiscardHandler), MaxConcurrentUploads: slots}), filepath.Join(dir, "code")
}

// createBody is a CreateFunction request for name with the given zip.
func createBody(name string, zipFile []byte) []byte {
	raw, _ := json.Marshal(map[string]any{
		"FunctionName": name, "Runtime": "nodejs22.x", "Handler": "index.handler",
		"Role": "arn:aws:iam::000000000000:role/r", "Code": map[string]any{"ZipFile": zipFile},
	})
	return raw
}

// firstRead closes started when its reader is first read.
type firstRead struct {
	io.Reader
	started chan struct{}
}

func (f *firstRead) Read(p []byte) (int, error) {
	select {
	case <-f.started:
	default:
		close(f.started)
	}
	return f.Reader.Read(p)
}

// pendingUpload is a CreateFunction whose body arrives when the test says.
type pendingUpload struct {
	body    *io.PipeWriter
	started chan struct{}
	done    chan struct{}
	rec     *httptest.ResponseRecorder
	cancel  context.CancelFunc
}

func startUpload(t *testing.T, s *Server, length int64) *pendingUpload {
	pr, pw := io.Pipe()
	u := &pendingUpload{body: pw, started: make(chan struct{}), done: make(chan struct{}), rec: httptest.NewRecorder()}
	req := apiRequest("POST", "/2015-03-31/functions", &firstRead{Reader: pr, started: u.started})
	req.ContentLength = length
	ctx, cancel := context.WithCancel(req.Context())
	u.cancel = cancel
	go func() {
		defer close(u.done)
		s.ServeHTTP(u.rec, req.WithContext(ctx))
	}()
	t.Cleanup(func() {
		pw.CloseWithError(io.ErrUnexpectedEOF)
		cancel()
		<-u.done
	})
	return u
}

func (u *pendingUpload) hasStarted() bool {
	select {
	case <-u.started:
		return true
	default:
		return false
	}
}

// Large code requests beyond the slots are not read until a slot frees;
// small ones pass; a waiting request whose client leaves gives up.
func TestCodeUploadsWaitForASlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := newUploadServer(t, 2)
		var big []*pendingUpload
		for range 3 {
			big = append(big, startUpload(t, s, -1))
			synctest.Wait()
		}
		if !big[0].hasStarted() || !big[1].hasStarted() || big[2].hasStarted() {
			t.Fatalf("with 2 slots, bodies read: %v %v %v; want the first two only", big[0].hasStarted(), big[1].hasStarted(), big[2].hasStarted())
		}

		// A small request is read at once, slots or not.
		small := createBody("small", testZipBytes(t, "small"))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, apiRequest("POST", "/2015-03-31/functions", bytes.NewReader(small)))
		if rec.Code != http.StatusCreated {
			t.Fatalf("small create while the slots are busy: %d %s", rec.Code, rec.Body)
		}

		// A waiting request whose client leaves is answered, unread.
		gone := startUpload(t, s, 8<<20)
		synctest.Wait()
		gone.cancel()
		synctest.Wait()
		<-gone.done
		if gone.hasStarted() || gone.rec.Code != http.StatusBadRequest || !strings.Contains(gone.rec.Body.String(), "context canceled") {
			t.Fatalf("a waiting request whose context ended: read %v, answered %d %s", gone.hasStarted(), gone.rec.Code, gone.rec.Body)
		}

		// The first upload ends: the third is read.
		go func() {
			big[0].body.Write(createBody("first", testZipBytes(t, "first")))
			big[0].body.Close()
		}()
		synctest.Wait()
		<-big[0].done
		if big[0].rec.Code != http.StatusCreated || !big[2].hasStarted() {
			t.Fatalf("after the first upload (%d), the third was read: %v", big[0].rec.Code, big[2].hasStarted())
		}
	})
}

func testZipBytes(t testing.TB, content string) []byte {
	raw, err := base64.StdEncoding.DecodeString(testZip(t, content))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// randomZip is a zip holding n incompressible bytes, stored.
func randomZip(t testing.TB, n int) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "random.bin", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, n)
	rand.NewChaCha8([32]byte{1}).Read(data)
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A code upload is never held in memory: creating a function from a 16 MB
// zip allocates a small fraction of it, and the function gets the zip's
// hash. (Reading the body whole, then decoding it, allocated several times
// the zip.)
func TestCodeUploadIsNotHeldInMemory(t *testing.T) {
	s, codeDir := newUploadServer(t, 4)
	zipFile := randomZip(t, 16<<20)
	body := createBody("big", zipFile)
	update, _ := json.Marshal(map[string]any{"ZipFile": randomZip(t, 1<<20)})
	sum := sha256.Sum256(zipFile)
	want := base64.StdEncoding.EncodeToString(sum[:])

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, apiRequest("POST", "/2015-03-31/functions", bytes.NewReader(body)))
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("CreateFunction with a %d-byte zip (%d-byte request) allocated %d bytes", len(zipFile), len(body), allocated)
	var out urlconfig.FunctionConfiguration
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusCreated || out.CodeSha256 != want {
		t.Fatalf("create: %d %s; want CodeSha256 %s", rec.Code, rec.Body, want)
	}
	if limit := uint64(len(zipFile) / 4); allocated > limit {
		t.Fatalf("allocated %d bytes for a %d-byte zip; the bound is %d", allocated, len(zipFile), limit)
	}

	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, apiRequest("PUT", "/2015-03-31/functions/big/code", bytes.NewReader(update)))
	if rec.Code != http.StatusOK {
		t.Fatalf("update: %d %s", rec.Code, rec.Body)
	}
	entries, err := os.ReadDir(codeDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".zip") {
			t.Errorf("temporary file %s left in the code store", e.Name())
		}
	}
}

// The members other than the code are bounded like any other operation's
// body, and a request over the bound leaves nothing behind.
func TestCodeRequestMembersAreBounded(t *testing.T) {
	s, codeDir := newUploadServer(t, 4)
	body, _ := json.Marshal(map[string]any{"Description": strings.Repeat("d", maxOtherRequestBytes), "ZipFile": testZipBytes(t, "x")})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, apiRequest("PUT", "/2015-03-31/functions/f/code", bytes.NewReader(body)))
	want := `{"message":"The members other than the code must be smaller than 6291456 bytes for the UpdateFunctionCode operation"}`
	if rec.Code != http.StatusRequestEntityTooLarge || rec.Body.String() != want {
		t.Fatalf("got %d %s\nwant 413 %s", rec.Code, rec.Body, want)
	}
	if entries, _ := os.ReadDir(codeDir); len(entries) != 0 {
		t.Fatalf("files left in the code store: %v", entries)
	}
}

// apiRequest is a request as an SDK sends it: to furl's own address, with
// a JSON body, so that the trust boundary lets it through.
func apiRequest(method, path string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, "http://127.0.0.1:4580"+path, body)
	req.Header.Set("Content-Type", "application/json")
	return req
}
