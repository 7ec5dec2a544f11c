// Package e2e drives the real furl binary with the clients furl's users
// use: the AWS SDK for Go v2 and the AWS CLI.
package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
)

// furlBin is the binary under test, built once by TestMain.
var furlBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "furl-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	furlBin = filepath.Join(dir, "furl")
	args := []string{"build", "-o", furlBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/furl-dev/furl/cmd/furl")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building furl:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// furl is one running furl process.
type furl struct {
	t    testing.TB
	cmd  *exec.Cmd
	addr string
	// tlsAddr is the HTTPS listener's address, "" unless the test asked
	// for one with --listen-tls.
	tlsAddr string
	dataDir string
	logs    *syncBuffer // stderr: furl's own log
	out     *syncBuffer // stdout: what functions print
	exited  chan struct{}
	exitErr error
}

// syncBuffer collects a process's output, line by line, for the test's
// log and for waiting on a line. It is the process's Stderr, so os/exec
// copies everything into it before Wait returns.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	onLine  func(string)
	changed chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.buf.Write(p)
	b.partial = append(b.partial, p...)
	var lines []string
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(b.partial[:i]))
		b.partial = b.partial[i+1:]
	}
	onLine := b.onLine
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
	for _, l := range lines {
		if onLine != nil {
			onLine(l)
		}
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the output contains s.
func (b *syncBuffer) waitFor(t testing.TB, s string, timeout time.Duration) {
	t.Helper()
	b.waitCount(t, s, 1, timeout)
}

// waitCount waits until s occurs n times in the buffer.
func (b *syncBuffer) waitCount(t testing.TB, s string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		b.mu.Lock()
		found := strings.Count(b.buf.String(), s)
		changed := b.changed
		b.mu.Unlock()
		if found >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%q occurs %d times in the output within %s, not %d", s, found, timeout, n)
		}
	}
}

var servingLine = regexp.MustCompile(`msg="furl serving" addr=(\S+) tls_addr=(\S*)`)

// startFurl starts furl on listen (127.0.0.1:0 for any free port) with the
// given data directory and extra flags, and waits until it is healthy.
func startFurl(t testing.TB, dataDir, listen string, extra ...string) *furl {
	t.Helper()
	return startFurlBinary(t, furlBin, dataDir, listen, extra...)
}

// startFurlBinary is startFurl with a given furl binary.
func startFurlBinary(t testing.TB, bin, dataDir, listen string, extra ...string) *furl {
	t.Helper()
	// Functions run as host processes unless the test asks for another
	// sandbox (a later flag wins): most tests hand functions paths on this
	// host (gates, markers), which a container cannot see.
	// Nor do they listen for HTTPS unless they ask: the tests run in
	// parallel, and the default port is one.
	args := append([]string{"serve", "--listen", listen, "--listen-tls", "", "--data-dir", dataDir, "--log-level", "debug", "--sandbox", "process"}, extra...)
	cmd := exec.Command(bin, args...)
	addrc := make(chan []string, 1)
	logs := &syncBuffer{changed: make(chan struct{}), onLine: func(line string) {
		if m := servingLine.FindStringSubmatch(line); m != nil {
			select {
			case addrc <- m[1:]:
			default:
			}
		}
	}}
	cmd.Stderr = logs
	out := &syncBuffer{changed: make(chan struct{})}
	cmd.Stdout = out
	f := &furl{t: t, cmd: cmd, dataDir: dataDir, logs: logs, out: out, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start furl: %v", err)
	}
	go func() {
		f.exitErr = cmd.Wait()
		close(f.exited)
	}()
	t.Cleanup(func() {
		f.kill()
		// A furl built with -race reports races on its stderr and runs on.
		if strings.Contains(f.logs.String(), "WARNING: DATA RACE") {
			t.Errorf("the race detector found a data race in furl")
		}
		if t.Failed() {
			t.Logf("furl log:\n%s\nfunction output:\n%s", f.logs.String(), f.out.String())
		}
	})
	select {
	case a := <-addrc:
		f.addr, f.tlsAddr = a[0], strings.Trim(a[1], `"`)
	case <-f.exited:
		t.Fatalf("furl exited before serving: %v\n%s", f.exitErr, f.logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("furl did not start in 20s\n%s", f.logs.String())
	}
	f.waitHealthy()
	return f
}

func (f *furl) waitHealthy() {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(f.url("/_furl/health"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("furl at %s never became healthy: %v", f.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *furl) url(path string) string { return "http://" + f.addr + path }

// stop sends SIGTERM and waits for a clean exit.
func (f *furl) stop() {
	f.t.Helper()
	if err := f.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		f.t.Fatalf("signal furl: %v", err)
	}
	select {
	case <-f.exited:
		if f.exitErr != nil {
			f.t.Fatalf("furl exited with %v after SIGTERM\n%s", f.exitErr, f.logs.String())
		}
	case <-time.After(15 * time.Second):
		f.t.Fatalf("furl did not exit within 15s of SIGTERM")
	}
}

// kill ends the process at once, as a crash would.
func (f *furl) kill() {
	select {
	case <-f.exited:
		return
	default:
	}
	_ = f.cmd.Process.Kill()
	<-f.exited
}

// client is an AWS SDK for Go v2 Lambda client pointed at furl, with
// retries off so that every error is furl's first answer.
func (f *furl) client() *lambda.Client {
	// The SDK's own HTTP client, with the request body's WriteTo hidden:
	// see streamSafeHTTP for the SDK race it avoids.
	return f.streamClientWith(awshttp.NewBuildableClient())
}

// do sends a raw request to furl, for what the SDK would refuse to send.
func (f *furl) do(method, path, contentType string, body []byte) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.url(path), bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, raw
}

// apiErr asserts that err is an AWS API error with this code and message.
func apiErr(t testing.TB, err error, code, message string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s error %q, got %v", code, message, err)
	}
	if ae.ErrorCode() != code || ae.ErrorMessage() != message {
		t.Fatalf("want %s: %q\n got %s: %q", code, message, ae.ErrorCode(), ae.ErrorMessage())
	}
}

// apiErrCode asserts only the code of an AWS API error.
func apiErrCode(t testing.TB, err error, code string) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s error, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want %s, got %s: %s", code, ae.ErrorCode(), ae.ErrorMessage())
	}
	return ae.ErrorMessage()
}

// makeZip builds a deployment package from name → content.
func makeZip(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func nodeZip(t testing.TB, marker string) []byte {
	return makeZip(t, map[string]string{"index.js": "exports.handler = async () => " + fmt.Sprintf("%q", marker) + ";\n"})
}

func codeSha256(zip []byte) string {
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

const testRole = "arn:aws:iam::000000000000:role/lambda-role"

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// jsonOf renders v for messages and comparisons.
func jsonOf(v any) string {
	raw, _ := json.MarshalIndent(v, "", "  ")
	return string(raw)
}

func mustContain(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// codeFiles lists furl's code store: what is on disk, not what the API says.
func codeFiles(t testing.TB, f *furl) []string {
	t.Helper()
	return dirNames(t, filepath.Join(f.dataDir, "code"))
}

// dirNames lists the names in a directory of furl's data.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// procStatus reads a "kB" field (VmRSS, VmHWM) of a process'
// /proc/<pid>/status, in kB.
func procStatus(pid int, key string) (int64, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
