// Package sandboxtest is the conformance suite every runtimeapi.Sandbox
// must pass, as testing/fstest.TestFS is for fs.FS. It drives the sandbox
// only through a real runtimeapi.Manager and Manager.Invoke, with a Go
// function of its own (testdata/fn, a bare Runtime API client), and sees
// what runs only through that function: no host paths, no host processes.
// So it holds a container sandbox to exactly what it holds the process
// sandbox to. A sandbox's tests call it:
//
//	func TestConformance(t *testing.T) {
//		sandboxtest.Run(t, sandboxtest.Config{Sandbox: sb, Runtime: "provided.al2023", Leftovers: list})
//	}
//
// What it asks of a sandbox beyond the Runtime API: the Manager's Endpoint
// reachable from the function as AWS_ENDPOINT_URL_LAMBDA (the suite serves
// it on the sandbox's ListenHost); the runtime started in LAMBDA_TASK_ROOT,
// which holds the code read-only; /tmp writable; a runtime's exit worded
// as os/exec words it ("exit status 2"); and Kill ending everything the
// runtime started, in any session.
//
// Each process of the function holds a request to the suite open for as
// long as it lives; the kernel closes it when the process ends, however it
// ends. That is how the suite sees environments end, whatever runs them.
package sandboxtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/google/uuid"
)

// Config is the sandbox under test.
type Config struct {
	// Sandbox is the sandbox under test.
	Sandbox runtimeapi.Sandbox
	// Runtime is the runtime the suite's function runs on, e.g.
	// "provided.al2023".
	Runtime string
	// Leftovers lists what the sandbox still has running or on disk for
	// this test (processes, containers), for the no-leftovers checks; nil
	// if the sandbox cannot tell (then those checks use only the Manager's
	// view and the function's own). Every function the suite runs has
	// PIDVariable set to the test binary's pid, which a sandbox that lists
	// processes can look for.
	Leftovers func(t *testing.T) []string
}

// PIDVariable is set, in every function the suite runs, to the process id
// of the test binary that runs the suite.
const PIDVariable = "SANDBOXTEST_PID"

// Run runs the suite: each case is a subtest with a Manager of its own.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.Sandbox == nil || cfg.Runtime == "" {
		t.Fatal("sandboxtest: Config needs a Sandbox and a Runtime")
	}
	s := &suite{cfg: cfg, zip: Function(t)}
	boot, err := bootstrapOf(s.zip)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(boot)
	s.bootstrapSHA = hex.EncodeToString(sum[:])
	zsum := sha256.Sum256(s.zip)
	s.codeHash = hex.EncodeToString(zsum[:])
	s.zipPath = filepath.Join(t.TempDir(), "function.zip")
	if err := os.WriteFile(s.zipPath, s.zip, 0o644); err != nil {
		t.Fatal(err)
	}
	s.ep = startEndpoint(t, cfg.Sandbox.ListenHost())

	for _, c := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"StartInvoke", s.startInvoke},
		{"WarmReuse", s.warmReuse},
		{"Streaming", s.streaming},
		{"ErrorTrailer", s.errorTrailer},
		{"Timeout", s.timeout},
		{"Crash", s.crash},
		{"InitFailure", s.initFailure},
		{"LogCapture", s.logCapture},
		{"CodeReadOnly", s.codeReadOnly},
		{"TmpWritable", s.tmpWritable},
		{"Reap", s.reap},
		{"Shutdown", s.shutdown},
		{"NoLeftovers", s.noLeftovers},
	} {
		t.Run(c.name, c.run)
	}
}

type suite struct {
	cfg          Config
	zip          []byte
	zipPath      string
	codeHash     string
	bootstrapSHA string
	ep           *endpoint
}

// manager is a Manager of the sandbox under test, closed when the test
// ends. What it and the functions log is shown if the test fails.
func (s *suite) manager(t *testing.T, idle time.Duration) *runtimeapi.Manager {
	t.Helper()
	out := &tailBuffer{max: 256 << 10}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("furl's and the functions' output (last %d bytes):\n%s", out.max, out.bytes())
		}
	})
	m, err := runtimeapi.New(runtimeapi.Config{
		DataDir:        t.TempDir(),
		Sandbox:        s.cfg.Sandbox,
		IdleTimeout:    idle,
		Endpoint:       s.ep.url,
		Logger:         slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})),
		FunctionOutput: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeManager(t, m) })
	return m
}

// closeManager closes m, failing the test if Close does not return: a
// sandbox whose processes never end must fail the suite, not hang it.
func closeManager(t *testing.T, m *runtimeapi.Manager) {
	t.Helper()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		m.Close()
	}()
	waitFor(t, closed, "Manager.Close to return")
}

// function is the suite's function named name, with the given timeout
// and extra environment variables.
func (s *suite) function(name string, timeout time.Duration, env map[string]string) runtimeapi.Function {
	vars := map[string]string{PIDVariable: strconv.Itoa(os.Getpid())}
	for k, v := range env {
		vars[k] = v
	}
	arch := "x86_64"
	if runtime.GOARCH == "arm64" {
		arch = "arm64"
	}
	return runtimeapi.Function{
		Name: name, Version: "$LATEST", Region: "us-east-1", AccountID: "000000000000",
		PackageType: "Zip", Runtime: s.cfg.Runtime, Handler: "bootstrap",
		MemoryMB: 128, Timeout: timeout, Environment: vars, Architecture: arch,
		LogGroup: "/aws/lambda/" + name, CodeHash: s.codeHash, CodePath: s.zipPath,
		Fingerprint: name + "-" + s.codeHash,
	}
}

// defaultTimeout is the timeout of functions that should never reach it.
const defaultTimeout = 30 * time.Second

// start invokes fn with payload and returns once its response begins.
func start(t *testing.T, m *runtimeapi.Manager, fn runtimeapi.Function, payload string, streaming bool) *runtimeapi.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	res, err := m.Invoke(ctx, &runtimeapi.Invocation{
		Function:   fn,
		InvokedARN: "arn:aws:lambda:" + fn.Region + ":" + fn.AccountID + ":function:" + fn.Name,
		RequestID:  uuid.NewString(),
		Payload:    []byte(payload),
		Streaming:  streaming,
	})
	if err != nil {
		t.Fatalf("Invoke %s: %v", payload, err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// outcome is a finished invocation.
type outcome struct {
	body string
	fe   *runtimeapi.FunctionError
	log  string
}

// invoke runs one invocation to its end.
func invoke(t *testing.T, m *runtimeapi.Manager, fn runtimeapi.Function, payload string) outcome {
	t.Helper()
	res := start(t, m, fn, payload, false)
	r := readStream(t, res.Body)
	body := r.rest(t)
	fe := wait(t, res)
	return outcome{body: body, fe: fe, log: string(res.LogTail(64 << 10))}
}

// wait waits for an invocation to be over.
func wait(t *testing.T, res *runtimeapi.Result) *runtimeapi.FunctionError {
	t.Helper()
	done := make(chan *runtimeapi.FunctionError, 1)
	go func() { done <- res.Wait() }()
	timer := time.NewTimer(safety)
	defer timer.Stop()
	select {
	case fe := <-done:
		return fe
	case <-timer.C:
		t.Fatalf("gave up waiting for the invocation to end after %s", safety)
		return nil
	}
}

// report is what the function's echo answers.
type report struct {
	Event    json.RawMessage   `json:"event"`
	Instance string            `json:"instance"`
	Count    int               `json:"count"`
	PID      int               `json:"pid"`
	Hostname string            `json:"hostname"`
	Cwd      string            `json:"cwd"`
	Env      map[string]string `json:"env"`
	Code     string            `json:"code"`
	AliveErr string            `json:"aliveErr"`
}

// echo invokes the function's echo and decodes its report.
func echo(t *testing.T, m *runtimeapi.Manager, fn runtimeapi.Function) report {
	t.Helper()
	o := invoke(t, m, fn, `{"do":"echo"}`)
	if o.fe != nil {
		t.Fatalf("echo failed: %s: %s\nlog:\n%s", o.fe.Type, o.fe.Payload, o.log)
	}
	var r report
	if err := json.Unmarshal([]byte(o.body), &r); err != nil {
		t.Fatalf("echo answered %q: %v", o.body, err)
	}
	if r.Instance == "" {
		t.Fatalf("echo answered no instance: %s", o.body)
	}
	return r
}

func nonce() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errorMessage is the errorMessage of an error payload.
func errorMessage(t *testing.T, fe *runtimeapi.FunctionError) string {
	t.Helper()
	var p struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(fe.Payload, &p); err != nil {
		t.Fatalf("error payload %q is not JSON: %v", fe.Payload, err)
	}
	return p.ErrorMessage
}

// streamReader reads a response body in the background, so that a test
// can wait for what has arrived without blocking forever.
type streamReader struct {
	pieces chan piece
	got    []byte
	err    error // how the body ended, once it has
}

type piece struct {
	data []byte
	err  error
}

// readStream reads body until it ends or the test does.
func readStream(t *testing.T, body io.ReadCloser) *streamReader {
	r := &streamReader{pieces: make(chan piece)}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := body.Read(buf)
			p := piece{data: bytes.Clone(buf[:n]), err: err}
			select {
			case r.pieces <- p:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		body.Close()
		wg.Wait()
	})
	return r
}

// next waits for more of the body; false when the body has ended.
func (r *streamReader) next(t *testing.T) bool {
	t.Helper()
	if r.err != nil {
		return false
	}
	timer := time.NewTimer(safety)
	defer timer.Stop()
	select {
	case p := <-r.pieces:
		r.got = append(r.got, p.data...)
		r.err = p.err
		return len(p.data) > 0 || p.err == nil
	case <-timer.C:
		t.Fatalf("gave up waiting for the response body after %s; got %q so far", safety, r.got)
		return false
	}
}

// until waits until the body so far is exactly want: a byte more, or an
// end before it, fails the test.
func (r *streamReader) until(t *testing.T, want string) {
	t.Helper()
	for len(r.got) < len(want) && strings.HasPrefix(want, string(r.got)) {
		if !r.next(t) {
			break
		}
	}
	if string(r.got) != want {
		t.Fatalf("the stream so far is %q (ended: %v), want exactly %q", r.got, r.err, want)
	}
}

// rest reads the body to its end and returns all of it.
func (r *streamReader) rest(t *testing.T) string {
	t.Helper()
	for r.next(t) {
	}
	if !errors.Is(r.err, io.EOF) {
		t.Fatalf("the response body ended with %v, not EOF, after %q", r.err, r.got)
	}
	return string(r.got)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf)
}

// must fails the test with fe's details unless fe is nil.
func must(t *testing.T, what string, o outcome) {
	t.Helper()
	if o.fe != nil {
		t.Fatalf("%s failed: %s: %s\nlog:\n%s", what, o.fe.Type, o.fe.Payload, o.log)
	}
}

// describe is a compact account of an outcome for failure messages.
func describe(o outcome) string {
	fe := "<nil>"
	if o.fe != nil {
		fe = fmt.Sprintf("%s: %s", o.fe.Type, o.fe.Payload)
	}
	return fmt.Sprintf("body %q, error %s, log:\n%s", o.body, fe, o.log)
}
