package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/furl-dev/furl/e2e/internal/relay"
)

// startTestRelay is startRelay for tests.
func startTestRelay(t *testing.T, zipped []byte, mode relay.Mode, env ...string) *httptest.Server {
	t.Helper()
	r, err := relay.Start(functionBinary(t, zipped), 2, mode, env...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.Close()
		if err := r.Close(); err != nil {
			t.Errorf("closing the relay: %v", err)
		}
	})
	return srv
}

func relayGet(t *testing.T, method, u, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Probe", "p")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(raw)
}

// TestRelay checks the benchmarks' yardstick: the relay must do the work
// it stands for (the event built, the result mapped, the stream relayed)
// or the floor it measures is a false one.
func TestRelay(t *testing.T) {
	t.Run("url", func(t *testing.T) {
		srv := startTestRelay(t, urlFunction(t), relay.URL)
		resp, body := relayGet(t, "POST", srv.URL+"/echo?x=1&y=2", `{"order":42}`)
		var ev struct {
			RawPath, RawQueryString, Body string
			IsBase64Encoded               bool
			Headers                       map[string]string
			QueryStringParameters         map[string]string
			RequestContext                struct{ HTTP struct{ Method, Path string } }
		}
		if err := json.Unmarshal([]byte(body), &ev); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%d %s %v", resp.StatusCode, body, err)
		}
		if ev.RawPath != "/echo" || ev.RawQueryString != "x=1&y=2" || ev.QueryStringParameters["y"] != "2" || ev.Headers["x-probe"] != "p" ||
			ev.RequestContext.HTTP.Method != "POST" || ev.RequestContext.HTTP.Path != "/echo" || !ev.IsBase64Encoded || ev.Body != encodeBase64([]byte(`{"order":42}`)) {
			t.Fatalf("event %s", body)
		}
		if resp, body := relayGet(t, "GET", srv.URL+"/status/418", ""); resp.StatusCode != 418 || body != "status 418" {
			t.Fatalf("/status/418: %d %q", resp.StatusCode, body)
		}
		if resp, body := relayGet(t, "POST", srv.URL+"/mirror", "\x00\x01bytes"); resp.StatusCode != 200 || body != "\x00\x01bytes" {
			t.Fatalf("/mirror: %d %q", resp.StatusCode, body)
		}
		if resp, _ := relayGet(t, "GET", srv.URL+"/cookies", ""); len(resp.Header.Values("Set-Cookie")) != 2 {
			t.Fatalf("/cookies: %v", resp.Header)
		}
		if resp, _ := relayGet(t, "GET", srv.URL+"/error", ""); resp.StatusCode != 502 {
			t.Fatalf("/error: %d", resp.StatusCode)
		}
	})
	t.Run("invoke", func(t *testing.T) {
		srv := startTestRelay(t, goFunction(t), relay.Invoke)
		resp, body := relayGet(t, "POST", srv.URL, `{"action":"echo","value":"hello"}`)
		if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" || !strings.Contains(body, `"value":"hello"`) || !strings.Contains(body, `"hasDeadline":true`) {
			t.Fatalf("echo: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		resp, body = relayGet(t, "POST", srv.URL, `{"action":"error","value":"broken"}`)
		if resp.Header.Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(body, "broken") {
			t.Fatalf("error: %d %v %s", resp.StatusCode, resp.Header, body)
		}
	})
	t.Run("stream", func(t *testing.T) {
		srv := startTestRelay(t, streamFunction(t), relay.Stream, "MODE=url")
		resp, body := relayGet(t, "GET", srv.URL+"/sse?n=3", "")
		if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != "text/event-stream" || len(resp.Header.Values("Set-Cookie")) != 2 ||
			body != "data: token 1\n\ndata: token 2\n\ndata: token 3\n\n" {
			t.Fatalf("/sse: %d %v %q", resp.StatusCode, resp.Header, body)
		}
		if resp, body := relayGet(t, "GET", srv.URL+"/bytes?n=200000", ""); resp.StatusCode != 200 || len(body) != 200000 {
			t.Fatalf("/bytes: %d, %d bytes", resp.StatusCode, len(body))
		}
		// Token by token: the function writes token 2 only once the test
		// holds token 1, so a relay that buffered would never deliver it.
		g := newGate(t)
		resp, err := http.Get(srv.URL + "/sse?n=3&gate=" + g.query())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		readTokens(t, bufio.NewReader(resp.Body), g, 3)
	})
	t.Run("invoke-stream", func(t *testing.T) {
		srv := startTestRelay(t, streamFunction(t), relay.InvokeStream, "MODE=reader")
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"bytes":200000}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if n, err := drain(resp.Body, true); err != nil || n != 200000 {
			t.Fatalf("%d bytes in PayloadChunks, %v", n, err)
		}
		// A stream the function fails ends with an InvokeComplete that
		// says so.
		resp, err = http.Post(srv.URL, "application/json", strings.NewReader(`{"failFirst":true}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := drain(resp.Body, true); err == nil || !strings.Contains(err.Error(), "ErrorCode") {
			t.Fatalf("a failed stream: %v", err)
		}
	})
}
