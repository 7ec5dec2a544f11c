// Package clienttest runs one of furl's runtime clients against a fake
// Runtime API and records what the client posts, so that the clients'
// error payloads can be compared with golden files.
package clienttest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files with what the clients post")

// RequestID is the request id of the one event the fake API hands out.
const RequestID = "7e3a9f1c-0000-4000-8000-000000000001"

// Post is what the client posted first: to /init/error, or the event's
// /error or /response.
type Post struct {
	Path      string
	ErrorType string // the Lambda-Runtime-Function-Error-Type header
	Body      []byte
}

// Run writes files into a fresh task root, starts argv there with the
// Lambda environment for handler, gives the client one event ({}), and
// returns the client's first post. The process is killed at the end of
// the test.
func Run(t *testing.T, argv []string, handler string, files map[string]string) Post {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	posts := make(chan Post, 1)
	done := make(chan struct{})
	var served atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		if served.Swap(true) { // one event only: the next call waits for the test's end
			select {
			case <-done:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", RequestID)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", "99999999999999")
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:fn")
		w.Write([]byte("{}"))
	})
	mux.HandleFunc("POST /2018-06-01/runtime/", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		select {
		case posts <- Post{Path: strings.TrimPrefix(r.URL.Path, "/2018-06-01/runtime"), ErrorType: r.Header.Get("Lambda-Runtime-Function-Error-Type"), Body: b.Bytes()}:
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	})
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://"),
		"_HANDLER="+handler, "LAMBDA_TASK_ROOT="+root,
		"AWS_LAMBDA_FUNCTION_NAME=fn", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		close(done)
		srv.Close()
	})
	select {
	case p := <-posts:
		return p
	case <-time.After(30 * time.Second):
		t.Fatalf("the client posted nothing; it printed:\n%s", out.String())
		return Post{}
	}
}

// Golden compares the post, its body indented, with testdata/<name>.golden
// after norm (which may be nil), or rewrites the file under -update.
func Golden(t *testing.T, name string, p Post, norm func(string) string) {
	t.Helper()
	var body bytes.Buffer
	if err := json.Indent(&body, p.Body, "", "  "); err != nil {
		t.Fatalf("the body is not JSON (%v): %s", err, p.Body)
	}
	got := "POST " + p.Path + "\nLambda-Runtime-Function-Error-Type: " + p.ErrorType + "\n\n" + body.String() + "\n"
	if norm != nil {
		got = norm(got)
	}
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s: got\n%s\nwant\n%s", file, got, want)
	}
}
