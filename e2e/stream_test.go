package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// gate lets a gated test function (see functions/streamfn) write its next
// token once the test has the one before.
type gate interface {
	// open lets the function go past token i.
	open(t testing.TB, i int)
	// query is the gate as the function's gate parameter names it.
	query() string
}

// dirGate is a directory of files the test creates: the function must see
// the test's file system (the process sandbox).
type dirGate string

func newGate(t testing.TB) gate { return dirGate(t.TempDir()) }

func (g dirGate) open(t testing.TB, i int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(string(g), strconv.Itoa(i)), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (g dirGate) query() string { return url.QueryEscape(string(g)) }

// httpGate is a loopback HTTP server that answers 200 for opened tokens:
// a function in a container on the host network reaches it too.
type httpGate struct {
	url string
	// hold is how long a request for a closed token waits for it to
	// open before the 404 (see newHeldGate).
	hold    time.Duration
	mu      sync.Mutex
	opened  map[string]bool
	changed chan struct{} // closed, and replaced, when a token opens
}

func newHTTPGate(t testing.TB) gate { return startHTTPGate(t, 0) }

// newHeldGate is an httpGate that holds a request for a closed token up to
// 5 s: hundreds of functions waiting at it cost the machine next to
// nothing, where a file gate's polling, at 500 functions, took a
// noticeable part of a 2-core machine and slowed the starts of the
// environments the waiting functions were waiting for.
func newHeldGate(t testing.TB) gate { return startHTTPGate(t, 5*time.Second) }

func startHTTPGate(t testing.TB, hold time.Duration) *httpGate {
	g := &httpGate{hold: hold, opened: map[string]bool{}, changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := strings.TrimPrefix(r.URL.Path, "/")
		timeout := time.NewTimer(g.hold)
		defer timeout.Stop()
		for {
			g.mu.Lock()
			ok, changed := g.opened[token], g.changed
			g.mu.Unlock()
			if ok {
				return
			}
			if g.hold == 0 {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			select {
			case <-changed:
			case <-timeout.C:
				w.WriteHeader(http.StatusNotFound)
				return
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	g.url = srv.URL
	return g
}

func (g *httpGate) open(t testing.TB, i int) {
	g.mu.Lock()
	g.opened[strconv.Itoa(i)] = true
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

func (g *httpGate) query() string { return url.QueryEscape(g.url) }

// createStreamFunction deploys functions/streamfn in the given mode.
func createStreamFunction(t testing.TB, c *lambda.Client, name, mode string, timeout int32) {
	t.Helper()
	// Built before the call's deadline starts: the first build can be slow.
	zipped := streamFunction(t)
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: zipped}, Timeout: aws.Int32(timeout),
		Environment: &types.Environment{Variables: map[string]string{"MODE": mode}},
	}); err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
}

// streamingURL gives a function a public RESPONSE_STREAM URL.
func streamingURL(t testing.TB, c *lambda.Client, name string) string {
	t.Helper()
	out, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(name),
		AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: types.InvokeModeResponseStream})
	if err != nil {
		t.Fatalf("CreateFunctionUrlConfig %s: %v", name, err)
	}
	grantURL(t, c, name, nil)
	grantInvokeViaURL(t, c, name, nil)
	return aws.ToString(out.FunctionUrl)
}

// readTokens reads SSE tokens 1..n from r, opening each token's gate only
// once the token is in hand.
func readTokens(t testing.TB, r *bufio.Reader, g gate, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		want := fmt.Sprintf("data: token %d\n", i)
		line, err := r.ReadString('\n')
		if line != want {
			t.Fatalf("read %q (%v), want %q", line, err, want)
		}
		if blank, err := r.ReadString('\n'); blank != "\n" {
			t.Fatalf("after token %d: %q (%v)", i, blank, err)
		}
		g.open(t, i)
	}
}

// startCurl runs curl -N -i on u and returns its status, headers and the
// reader of its body, as they come.
func startCurl(t testing.TB, u string, args ...string) (*exec.Cmd, int, http.Header, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command("curl", append([]string{"-N", "-s", "-i", "--max-time", "60"}, append(args, u)...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	br := bufio.NewReader(stdout)
	statusLine, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("curl printed no status line: %v", err)
	}
	var status int
	fmt.Sscanf(statusLine, "HTTP/%s %d", new(string), &status)
	h := http.Header{}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("curl's headers: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ": "); ok {
			h.Add(k, v)
		}
	}
	return cmd, status, h, br
}

// curlExit waits for curl and returns its exit code.
func curlExit(cmd *exec.Cmd) int {
	err := cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// h2cClient speaks HTTP/2 without TLS and resolves *.localhost to
// loopback.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		DialContext: localhostClient.Transport.(*http.Transport).DialContext,
		Protocols:   &p,
	}}
}

// An SSE function written with lambdaurl streams token by token to curl:
// each token arrives while the function waits for the test to have it.
func TestStreamingURLTokenByTokenCurl(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createStreamFunction(t, c, "sse", "url", 60)
	u := streamingURL(t, c, "sse")
	g := newGate(t)

	cmd, status, h, body := startCurl(t, u+"sse?n=5&gate="+g.query())
	if status != 201 || h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" ||
		h.Get("Transfer-Encoding") != "chunked" || h.Get("Content-Length") != "" || h.Get("X-Amzn-Remapped-Content-Length") != "12345" {
		t.Fatalf("status %d, headers %v", status, h)
	}
	if got := strings.Join(h.Values("Set-Cookie"), "|"); got != "stream=1; Path=/|tokens=5" {
		t.Errorf("cookies %q", got)
	}
	readTokens(t, body, g, 5)
	if rest, _ := io.ReadAll(body); len(rest) != 0 {
		t.Errorf("after the last token: %q", rest)
	}
	if code := curlExit(cmd); code != 0 {
		t.Fatalf("curl exited %d", code)
	}
	f.out.waitFor(t, "streamfn finished 5 tokens: <nil>", 10*time.Second)
}

// The same stream to Go's HTTP client, over HTTP/1.1 (chunked) and
// HTTP/2 without TLS (DATA frames).
func TestStreamingURLTokenByTokenGoClient(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createStreamFunction(t, c, "sse", "url", 60)
	u := streamingURL(t, c, "sse")
	h2c := h2cClient()
	for _, tc := range []struct {
		name   string
		client *http.Client
		proto  string
	}{{"h1", localhostClient, "HTTP/1.1"}, {"h2c", h2c, "HTTP/2.0"}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(t)
			resp, err := tc.client.Get(u + "sse?n=4&gate=" + g.query())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 201 || resp.Proto != tc.proto || resp.Header.Get("Content-Type") != "text/event-stream" || resp.ContentLength != -1 {
				t.Fatalf("%s %d %v (length %d)", resp.Proto, resp.StatusCode, resp.Header, resp.ContentLength)
			}
			br := bufio.NewReader(resp.Body)
			readTokens(t, br, g, 4)
			if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
				t.Fatalf("after the last token: %q, %v", rest, err)
			}
		})
	}
}

// A stream that fails after its first bytes is cut: curl reports a
// partial transfer (exit 18) and Go's client an unexpected EOF, never a
// clean end. A failure before the first byte is a 502.
func TestStreamingURLFailures(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--stream-max-bytes", "100000")
	c := f.client()
	createStreamFunction(t, c, "reader", "reader", 3)
	u := streamingURL(t, c, "reader")

	cutCases := []struct{ name, query, errorType string }{
		{"error trailer", "failAfter=2", "errorString"},
		{"crash", "failAfter=2&exit", "Runtime.ExitError"},
		{"timeout", "failAfter=2&sleep", "Sandbox.Timedout"},
	}
	for _, tc := range cutCases {
		t.Run(tc.name+" curl", func(t *testing.T) {
			g := newGate(t)
			cmd, status, h, body := startCurl(t, u+"?n=3&"+tc.query+"&gate="+g.query())
			if status != 200 || h.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status %d, headers %v", status, h)
			}
			readTokens(t, body, g, 2)
			if rest, _ := io.ReadAll(body); len(rest) != 0 {
				t.Errorf("after the failure: %q", rest)
			}
			if code := curlExit(cmd); code != 18 {
				t.Fatalf("curl exited %d, want 18 (partial transfer)", code)
			}
			f.logs.waitFor(t, "error_type="+tc.errorType, 10*time.Second)
		})
	}
	t.Run("error trailer Go client h1", func(t *testing.T) {
		g := newGate(t)
		resp, err := localhostClient.Get(u + "?n=3&failAfter=1&gate=" + g.query())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		readTokens(t, br, g, 1)
		rest, err := io.ReadAll(br)
		if !errors.Is(err, io.ErrUnexpectedEOF) || len(rest) != 0 {
			t.Fatalf("after the failure: %q, %v; want an unexpected EOF", rest, err)
		}
	})
	t.Run("error trailer Go client h2c", func(t *testing.T) {
		g := newGate(t)
		resp, err := h2cClient().Get(u + "?n=3&failAfter=1&gate=" + g.query())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("protocol %s", resp.Proto)
		}
		br := bufio.NewReader(resp.Body)
		readTokens(t, br, g, 1)
		rest, err := io.ReadAll(br)
		if err == nil || !strings.Contains(err.Error(), "stream error") || len(rest) != 0 {
			t.Fatalf("after the failure: %q, %v; want the stream reset", rest, err)
		}
	})
	t.Run("before the first byte", func(t *testing.T) {
		status, h, body := curl(t, u+"?failFirst")
		if status != 502 || string(body) != "Internal Server Error" || h.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("%d %v %s", status, h, body)
		}
	})
	t.Run("over --stream-max-bytes", func(t *testing.T) {
		cmd, status, _, body := startCurl(t, u+"?bytes=250000")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		got, _ := io.ReadAll(body)
		if len(got) != 100000 {
			t.Errorf("got %d bytes, want the 100000 of the cap", len(got))
		}
		if code := curlExit(cmd); code != 18 {
			t.Fatalf("curl exited %d, want 18 (partial transfer)", code)
		}
		f.logs.waitFor(t, "error_type=Function.ResponseSizeTooLarge", 10*time.Second)
	})
}

// A client that leaves mid-stream stops furl's copy at once, but not the
// function, which runs to its end; the URL serves the next request.
func TestStreamingURLClientGoneFunctionRunsOn(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createStreamFunction(t, c, "sse", "url", 60)
	u := streamingURL(t, c, "sse")
	g := newGate(t)
	req, _ := http.NewRequest("GET", u+"sse?n=5&gate="+g.query(), nil)
	resp, err := localhostClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	readTokens(t, br, g, 1)
	// Close the connection itself: closing a body may keep it alive.
	localhostClient.CloseIdleConnections()
	resp.Body.Close()
	f.logs.waitFor(t, "the client of a streaming URL went away; the function runs on", 10*time.Second)
	for i := 2; i <= 5; i++ {
		g.open(t, i)
	}
	f.out.waitFor(t, "streamfn finished 5 tokens: <nil>", 10*time.Second)

	g2 := newGate(t)
	for i := 1; i <= 3; i++ {
		g2.open(t, i)
	}
	status, _, body := curl(t, u+"sse?n=3&gate="+g2.query())
	if status != 201 || string(body) != "data: token 1\n\ndata: token 2\n\ndata: token 3\n\n" {
		t.Fatalf("the next request: %d %q", status, body)
	}
}

// Lambda decompresses a gzip stream and drops the header; a stream
// without a prelude goes out raw with the runtime's content type. This
// furl shapes streams as AWS does, which leaves streams under 6 MB whole.
func TestStreamingURLGzipAndRaw(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--stream-bandwidth", "aws")
	c := f.client()
	createStreamFunction(t, c, "sse", "url", 10)
	u := streamingURL(t, c, "sse")
	status, h, body := curl(t, u+"gzip")
	if status != 200 || h.Get("Content-Encoding") != "" || h.Get("Content-Type") != "text/plain" ||
		string(body) != strings.Repeat("compressed stream ", 100) {
		t.Fatalf("gzip: %d %v %q", status, h, body)
	}
	status, _, body = curl(t, u+"nowhere")
	if status != 404 || string(body) != "no route /nowhere\n" {
		t.Fatalf("404: %d %q", status, body)
	}

	createStreamFunction(t, c, "reader", "reader", 10)
	u = streamingURL(t, c, "reader")
	status, h, body = curl(t, u+"?n=2&gate="+newGate(t).query()+"&bytes=70000")
	if status != 200 || h.Get("Content-Type") != "application/octet-stream" || !bytes.Equal(body, make([]byte, 70000)) {
		t.Fatalf("raw: %d %v, %d bytes", status, h, len(body))
	}
}

// A Node handler wrapped in awslambda.streamifyResponse, with
// HttpResponseStream.from's prelude, streams token by token; one that
// throws mid-stream is cut.
func TestStreamingURLNode(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	const source = `
import { existsSync } from "node:fs";
import { join } from "node:path";
const opened = async (dir, i) => {
  for (let n = 0; n < 10000 && !existsSync(join(dir, String(i))); n++) await new Promise((r) => setTimeout(r, 2));
};
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const q = event.queryStringParameters || {};
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 202,
    headers: { "content-type": "text/event-stream", "x-node": "yes" },
    cookies: ["a=1", "b=2"],
  });
  const n = Number(q.n);
  for (let i = 1; i <= n; i++) {
    if (i > 1) await opened(q.gate, i - 1);
    stream.write("data: token " + i + "\n\n");
    if (String(i) === q.throwAfter) {
      await opened(q.gate, i);
      throw new TypeError("stream broke");
    }
  }
  stream.end();
});
`
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("node-sse"), Runtime: types.RuntimeNodejs20x, Role: aws.String(testRole), Handler: aws.String("index.handler"),
		Code: &types.FunctionCode{ZipFile: makeZip(t, map[string]string{"index.mjs": source})}, Timeout: aws.Int32(60),
	}); err != nil {
		t.Fatal(err)
	}
	u := streamingURL(t, c, "node-sse")
	g := newGate(t)
	cmd, status, h, body := startCurl(t, u+"?n=4&gate="+g.query())
	if status != 202 || h.Get("Content-Type") != "text/event-stream" || h.Get("X-Node") != "yes" || strings.Join(h.Values("Set-Cookie"), "|") != "a=1|b=2" {
		t.Fatalf("status %d, headers %v", status, h)
	}
	readTokens(t, body, g, 4)
	if rest, _ := io.ReadAll(body); len(rest) != 0 {
		t.Errorf("after the last token: %q", rest)
	}
	if code := curlExit(cmd); code != 0 {
		t.Fatalf("curl exited %d", code)
	}

	g = newGate(t)
	cmd, status, _, body = startCurl(t, u+"?n=4&throwAfter=2&gate="+g.query())
	if status != 202 {
		t.Fatalf("status %d", status)
	}
	readTokens(t, body, g, 2)
	if code := curlExit(cmd); code != 18 {
		t.Fatalf("curl exited %d after the handler threw, want 18", code)
	}
	f.logs.waitFor(t, "error_type=TypeError", 10*time.Second)
}

// The Go SDK's InvokeWithResponseStream reads the events one by one: each
// PayloadChunk arrives while the function waits for the test to have it.
func TestInvokeWithResponseStreamSDK(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--stream-max-bytes", "100000")
	c := f.client()
	createStreamFunction(t, c, "reader", "reader", 3)

	type outcome struct {
		chunks   []string
		complete *types.InvokeWithResponseStreamCompleteEvent
		out      *lambda.InvokeWithResponseStreamOutput
	}
	// run invokes and reads; gated says which chunks open which gate.
	run := func(t *testing.T, name string, payload string, g gate, logType types.LogType) outcome {
		t.Helper()
		out, err := c.InvokeWithResponseStream(ctx(t), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String(name),
			Payload: []byte(payload), LogType: logType})
		if err != nil {
			t.Fatalf("InvokeWithResponseStream: %v", err)
		}
		st := out.GetStream()
		defer st.Close()
		var o outcome
		o.out = out
		for ev := range st.Events() {
			switch v := ev.(type) {
			case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
				o.chunks = append(o.chunks, string(v.Value.Payload))
				if g != nil {
					g.open(t, len(o.chunks))
				}
			case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
				if o.complete != nil {
					t.Fatal("two InvokeComplete events")
				}
				o.complete = &v.Value
			default:
				t.Fatalf("unexpected event %T", ev)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		if o.complete == nil {
			t.Fatal("the stream ended without InvokeComplete")
		}
		return o
	}
	tokens := func(n int) []string {
		var s []string
		for i := 1; i <= n; i++ {
			s = append(s, fmt.Sprintf("data: token %d\n\n", i))
		}
		return s
	}

	t.Run("success", func(t *testing.T) {
		g := newGate(t)
		o := run(t, "reader", fmt.Sprintf(`{"tokens":5,"gate":%q}`, g), g, types.LogTypeTail)
		if fmt.Sprint(o.chunks) != fmt.Sprint(tokens(5)) {
			t.Errorf("chunks %q", o.chunks)
		}
		if o.complete.ErrorCode != nil || o.complete.ErrorDetails != nil {
			t.Errorf("InvokeComplete %+v", o.complete)
		}
		if aws.ToString(o.out.ExecutedVersion) != "$LATEST" || aws.ToString(o.out.ResponseStreamContentType) != "application/vnd.amazon.eventstream" || o.out.StatusCode != 200 {
			t.Errorf("output %+v", o.out)
		}
		logs := decodeBase64(t, aws.ToString(o.complete.LogResult))
		mustContain(t, logs, "START RequestId: ")
		mustContain(t, logs, "REPORT RequestId: ")
	})
	failures := []struct{ name, payload, code, details string }{
		{"error trailer", `"failAfter":2`, "errorString", `{"errorMessage":"disk on fire","errorType":"errorString"}`},
		{"crash", `"failAfter":2,"exit":true`, "Runtime.ExitError", "Runtime exited with error: exit status 3"},
		{"timeout", `"failAfter":2,"sleep":true`, "Sandbox.Timedout", "Task timed out after 3.00 seconds"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(t)
			o := run(t, "reader", fmt.Sprintf(`{"tokens":4,"gate":%q,%s}`, g, tc.payload), g, types.LogTypeNone)
			if fmt.Sprint(o.chunks) != fmt.Sprint(tokens(2)) {
				t.Errorf("chunks %q", o.chunks)
			}
			if aws.ToString(o.complete.ErrorCode) != tc.code || !strings.Contains(aws.ToString(o.complete.ErrorDetails), tc.details) || o.complete.LogResult != nil {
				t.Errorf("InvokeComplete code %q details %q log %v", aws.ToString(o.complete.ErrorCode), aws.ToString(o.complete.ErrorDetails), o.complete.LogResult)
			}
		})
	}
	t.Run("over --stream-max-bytes", func(t *testing.T) {
		o := run(t, "reader", `{"bytes":250000}`, nil, types.LogTypeNone)
		if n := len(strings.Join(o.chunks, "")); n != 100000 {
			t.Errorf("%d bytes in %d chunks, want the 100000 of the cap", n, len(o.chunks))
		}
		if aws.ToString(o.complete.ErrorCode) != "Function.ResponseSizeTooLarge" {
			t.Errorf("InvokeComplete %q %q", aws.ToString(o.complete.ErrorCode), aws.ToString(o.complete.ErrorDetails))
		}
	})
	t.Run("buffered function", func(t *testing.T) {
		createGo(t, c, "buffered", 5, nil)
		o := run(t, "buffered", `{"action":"echo","value":"hi"}`, nil, types.LogTypeNone)
		if len(o.chunks) != 1 || !strings.Contains(o.chunks[0], `"value":"hi"`) || o.complete.ErrorCode != nil {
			t.Errorf("chunks %q, complete %+v", o.chunks, o.complete)
		}
		// An error the runtime posts to /error ends the stream at once.
		o = run(t, "buffered", `{"action":"error","value":"bad input"}`, nil, types.LogTypeNone)
		if len(o.chunks) != 0 || aws.ToString(o.complete.ErrorCode) != "errorString" ||
			aws.ToString(o.complete.ErrorDetails) != `{"errorMessage":"bad input","errorType":"errorString"}` {
			t.Errorf("chunks %q, complete %q %q", o.chunks, aws.ToString(o.complete.ErrorCode), aws.ToString(o.complete.ErrorDetails))
		}
	})
	t.Run("lambdaurl function gets its prelude raw", func(t *testing.T) {
		createStreamFunction(t, c, "urlmode", "url", 5)
		o := run(t, "urlmode", `{"version":"2.0","rawPath":"/gzip","requestContext":{"http":{"method":"GET","path":"/gzip"}}}`, nil, types.LogTypeNone)
		all := strings.Join(o.chunks, "")
		if !strings.HasPrefix(all, `{"statusCode":200,"headers":{"Content-Encoding":"gzip","Content-Type":"text/plain"}}`+"\x00\x00\x00\x00\x00\x00\x00\x00\x1f\x8b") {
			t.Errorf("stream starts %q", all[:min(len(all), 120)])
		}
	})
	t.Run("errors before the stream", func(t *testing.T) {
		_, err := c.InvokeWithResponseStream(ctx(t), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("nobody")})
		apiErr(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nobody:$LATEST")
		_, err = c.InvokeWithResponseStream(ctx(t), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("reader"), Payload: []byte("{nope")})
		apiErrCode(t, err, "InvalidRequestContentException")
		_, err = c.InvokeWithResponseStream(ctx(t), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("reader"), InvocationType: "Event"})
		apiErr(t, err, "ValidationException", "1 validation error detected: Value 'Event' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]")
	})
	t.Run("DryRun", func(t *testing.T) {
		resp, body := f.do("POST", "/2021-11-15/functions/reader/response-streaming-invocations", "application/octet-stream", []byte(`{}`))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.amazon.eventstream" || len(body) == 0 {
			t.Fatalf("plain call: %d %v", resp.StatusCode, resp.Header)
		}
		req, _ := http.NewRequest("POST", f.url("/2021-11-15/functions/reader/response-streaming-invocations"), strings.NewReader(`{}`))
		req.Header.Set("X-Amz-Invocation-Type", "DryRun")
		dry, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		dry.Body.Close()
		if dry.StatusCode != 204 {
			t.Fatalf("DryRun: %d", dry.StatusCode)
		}
	})
	t.Run("client gone", func(t *testing.T) {
		g := newGate(t)
		cctx, cancel := context.WithCancel(ctx(t))
		// A client of its own: the SDK's event-stream decoder (smithy-go
		// 1.28.8) keeps one payload buffer per client, so a stream still
		// being torn down races with the next stream the same client
		// reads.
		out, err := f.client().InvokeWithResponseStream(cctx, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("reader"),
			Payload: []byte(fmt.Sprintf(`{"tokens":3,"gate":%q}`, g))})
		if err != nil {
			t.Fatal(err)
		}
		ev := <-out.GetStream().Events()
		if chunk, ok := ev.(*types.InvokeWithResponseStreamResponseEventMemberPayloadChunk); !ok || string(chunk.Value.Payload) != "data: token 1\n\n" {
			t.Fatalf("first event %#v", ev)
		}
		cancel()
		out.GetStream().Close()
		f.logs.waitFor(t, "the client of a response stream went away; the function runs on", 10*time.Second)
		g.open(t, 1)
		g.open(t, 2)
		// The environment is free again once the function ends.
		o := run(t, "reader", `{"tokens":1}`, nil, types.LogTypeNone)
		if fmt.Sprint(o.chunks) != fmt.Sprint(tokens(1)) {
			t.Errorf("next invocation: %q", o.chunks)
		}
	})
}

func decodeBase64(t testing.TB, s string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return string(raw)
}

// boto3's invoke_with_response_stream reads the same events one by one:
// a second SDK, and Python's event-stream decoder.
func TestInvokeWithResponseStreamBoto3(t *testing.T) {
	if exec.Command("python3", "-c", "import boto3").Run() != nil {
		t.Skip("python3 has no boto3")
	}
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	createStreamFunction(t, f.client(), "reader", "reader", 5)
	g := newGate(t)
	script := `
import boto3, json, os, sys
gate = sys.argv[1]
c = boto3.client("lambda")
out = c.invoke_with_response_stream(FunctionName="reader", Payload=json.dumps({"tokens": 3, "failAfter": 3, "gate": gate}), LogType="Tail")
print(out["ResponseMetadata"]["HTTPStatusCode"], out["ExecutedVersion"], out["ResponseStreamContentType"], flush=True)
n = 0
for event in out["EventStream"]:
    if "PayloadChunk" in event:
        n += 1
        print("chunk", json.dumps(event["PayloadChunk"]["Payload"].decode()), flush=True)
        open(os.path.join(gate, str(n)), "w").close()
    elif "InvokeComplete" in event:
        done = event["InvokeComplete"]
        print("complete", done.get("ErrorCode"), json.dumps(done.get("ErrorDetails")), "LogResult" in done, flush=True)
`
	cmd := exec.Command("python3", "-c", script, string(g.(dirGate)))
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_LAMBDA="+f.url(""), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	want := `200 $LATEST application/vnd.amazon.eventstream
chunk "data: token 1\n\n"
chunk "data: token 2\n\n"
chunk "data: token 3\n\n"
complete errorString "{\"errorMessage\":\"disk on fire\",\"errorType\":\"errorString\"}" True
`
	if string(out) != want {
		t.Fatalf("boto3 printed:\n%s\nwant:\n%s", out, want)
	}
}
