package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/furl-dev/furl/runtimeapi"
)

// fakeStream is a streaming invocation read from a golden file.
type fakeStream struct {
	contentType string
	chunks      [][]byte
	fe          *runtimeapi.FunctionError
	waited      bool
}

func (f *fakeStream) ContentType() string { return f.contentType }
func (f *fakeStream) Body() io.ReadCloser { return io.NopCloser(&chunkReader{chunks: f.chunks}) }
func (f *fakeStream) Wait() *runtimeapi.FunctionError {
	f.waited = true
	return f.fe
}

// chunkReader yields one chunk per Read, as a runtime's writes arrive.
type chunkReader struct{ chunks [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// parseStreamCase reads a .stream file: header lines (content-type,
// error-type, error-body), a blank line, then one Go-quoted string per
// chunk the runtime sends.
func parseStreamCase(t *testing.T, raw []byte) *fakeStream {
	t.Helper()
	f := &fakeStream{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	inBody := false
	for sc.Scan() {
		line := sc.Text()
		if !inBody {
			if line == "" {
				inBody = true
				continue
			}
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "content-type":
				f.contentType = v
			case "error-type":
				f.fe = &runtimeapi.FunctionError{Type: v}
			case "error-body":
				f.fe.Payload = []byte(v)
			default:
				t.Fatalf("unknown header %q", k)
			}
			continue
		}
		chunk, err := strconv.Unquote(line)
		if err != nil {
			t.Fatalf("chunk %s: %v", line, err)
		}
		f.chunks = append(f.chunks, []byte(chunk))
	}
	return f
}

// TestURLStreamGolden relays each testdata/urlstream/<case>.stream (what a
// runtime streams, and how the invocation ends) to a function URL client
// and compares what the client gets with <case>.response: status, headers,
// the body as it was flushed, and whether the response was cut.
func TestURLStreamGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/urlstream/*.stream")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	s := &Server{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".stream")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			res := parseStreamCase(t, raw)
			rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
			cut := false
			func() {
				defer func() {
					if p := recover(); p != nil {
						if p != http.ErrAbortHandler {
							panic(p)
						}
						cut = true
					}
				}()
				s.serveStream(rec, httptest.NewRequest("GET", "/", nil), res, slog.New(slog.DiscardHandler))
			}()
			var out bytes.Buffer
			fmt.Fprintf(&out, "%d\n", rec.Code)
			h := rec.Result().Header
			var names []string
			for k := range h {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				for _, v := range h[k] {
					fmt.Fprintf(&out, "%s: %s\n", k, v)
				}
			}
			out.WriteString("\n")
			for _, piece := range rec.flushed {
				fmt.Fprintf(&out, "%q\n", piece)
			}
			if rest := rec.Body.Bytes()[rec.at:]; len(rest) > 0 {
				fmt.Fprintf(&out, "%q (not flushed: sent as the handler returns)\n", rest)
			}
			if cut {
				out.WriteString("(cut: the client sees a broken stream)\n")
			}
			compareGolden(t, strings.TrimSuffix(file, ".stream")+".response", out.Bytes())
		})
	}
}

// flushRecorder records the body as it stood at each flush.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushed [][]byte
	at      int
}

func (r *flushRecorder) Flush() {
	r.ResponseRecorder.Flush()
	if b := r.Body.Bytes(); len(b) > r.at {
		r.flushed = append(r.flushed, append([]byte(nil), b[r.at:]...))
		r.at = len(b)
	}
}
