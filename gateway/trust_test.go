package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a log destination that handlers write to while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Every request a browser could send across origins is refused with AWS's
// AccessDeniedException and a log line saying why; what the SDKs, the CLIs
// and Terraform send goes through. Over every protocol.
func TestTrustBoundary(t *testing.T) {
	createBody := func() io.Reader {
		raw, _ := json.Marshal(apiScenario(t)[0].body)
		return bytes.NewReader(raw)
	}
	const (
		list    = "/2015-03-31/functions"
		invoke  = "/2015-03-31/functions/shop/invocations"
		stream  = "/2021-11-15/functions/shop/response-streaming-invocations"
		code    = "/2015-03-31/functions/shop/code"
		zipPath = "/_furl/code/0000000000000000000000000000000000000000000000000000000000000000.zip"
	)
	for _, tc := range []struct {
		name         string
		method, path string
		host         string            // empty: the server's own address
		header       map[string]string // added to the request
		body         func() io.Reader  // nil: none
		chunked      bool              // send the body without a length
		refused      string            // the log's reason when refused, empty when not
	}{
		{name: "SDK read", method: "GET", path: list},
		{name: "SDK create", method: "POST", path: list, header: map[string]string{"Content-Type": "application/json"}, body: createBody},
		{name: "JSON with charset", method: "POST", path: list, header: map[string]string{"Content-Type": "Application/JSON; charset=utf-8"}, body: createBody},
		{name: "localhost", method: "GET", path: list, host: "localhost:4580"},
		{name: "localhost with final dot", method: "GET", path: list, host: "LocalHost.:4580"},
		{name: "IPv6 loopback", method: "GET", path: list, host: "[::1]:4580"},
		{name: "other loopback address", method: "GET", path: list, host: "127.0.0.2"},
		{name: "allowed name", method: "GET", path: list, host: "furl.internal:4580"},
		{name: "rebound name", method: "GET", path: list, host: "attacker.example:4580", refused: "the Host header is not"},
		{name: "rebound name without port", method: "GET", path: list, host: "attacker.example", refused: "the Host header is not"},
		{name: "localhost subdomain for the API", method: "GET", path: list, host: "evil.localhost:4580", refused: "the Host header is not"},
		{name: "rebound code download", method: "GET", path: zipPath, host: "attacker.example:4580", refused: "the Host header is not"},
		{name: "rebound name with furl's own origin", method: "POST", path: list, host: "attacker.example:4580",
			header: map[string]string{"Origin": "http://attacker.example:4580", "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, body: createBody, refused: "the Host header is not"},
		{name: "health stays open", method: "GET", path: "/_furl/health", host: "attacker.example:4580",
			header: map[string]string{"Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}},
		{name: "foreign origin", method: "POST", path: list, header: map[string]string{"Origin": "http://localhost:45900", "Content-Type": "application/json"}, body: createBody, refused: "the request carries an Origin"},
		{name: "null origin", method: "GET", path: list, header: map[string]string{"Origin": "null"}, refused: "the request carries an Origin"},
		{name: "same host, other port", method: "GET", path: list, header: map[string]string{"Origin": "http://127.0.0.1:1"}, refused: "the request carries an Origin"},
		// furl's own origin serves functions' pages (the path form of their
		// URLs): they may not use the API either.
		{name: "furl's own origin", method: "GET", path: list, header: map[string]string{"Origin": "<own>"}, refused: "the request carries an Origin"},
		{name: "function page on furl's origin", method: "POST", path: list,
			header: map[string]string{"Origin": "<own>", "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, body: createBody, refused: "the request carries an Origin"},
		{name: "cross-site fetch", method: "GET", path: list, header: map[string]string{"Sec-Fetch-Site": "cross-site"}, refused: "Sec-Fetch-Site is cross-site"},
		{name: "same-site fetch", method: "GET", path: zipPath, header: map[string]string{"Sec-Fetch-Site": "same-site"}, refused: "Sec-Fetch-Site is same-site"},
		{name: "same-origin fetch", method: "GET", path: list, header: map[string]string{"Sec-Fetch-Site": "same-origin"}, refused: "Sec-Fetch-Site is same-origin"},
		{name: "typed navigation", method: "GET", path: list, header: map[string]string{"Sec-Fetch-Site": "none"}},
		{name: "text/plain JSON", method: "POST", path: list, header: map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, body: createBody, refused: "a JSON operation's body"},
		{name: "type-less JSON", method: "POST", path: list, body: createBody, refused: "a JSON operation's body"},
		{name: "type-less chunked JSON", method: "POST", path: list, body: createBody, chunked: true, refused: "a JSON operation's body"},
		{name: "form-encoded JSON", method: "POST", path: list, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: createBody, refused: "a JSON operation's body"},
		{name: "octet-stream code", method: "PUT", path: code, header: map[string]string{"Content-Type": "application/octet-stream"}, body: createBody, refused: "a JSON operation's body"},
		{name: "bodiless POST", method: "POST", path: "/2015-03-31/functions/shop/versions"},
		{name: "botocore invoke", method: "POST", path: invoke, body: createBody},
		{name: "botocore invoke, chunked", method: "POST", path: invoke, body: createBody, chunked: true},
		{name: "Go SDK invoke", method: "POST", path: invoke, header: map[string]string{"Content-Type": "application/octet-stream"}, body: createBody},
		{name: "JSON invoke", method: "POST", path: invoke, header: map[string]string{"Content-Type": "application/json"}, body: createBody},
		{name: "invoke with a final slash", method: "POST", path: invoke + "/", body: createBody},
		{name: "text/plain invoke", method: "POST", path: invoke, header: map[string]string{"Content-Type": " Text/Plain ; charset=x"}, body: createBody, refused: "the payload's Content-Type"},
		{name: "multipart invoke", method: "POST", path: invoke, header: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, body: createBody, refused: "the payload's Content-Type"},
		{name: "form-encoded stream invoke", method: "POST", path: stream, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: createBody, refused: "the payload's Content-Type"},
		{name: "text/plain invoke-async", method: "POST", path: "/2014-11-13/functions/shop/invoke-async", header: map[string]string{"Content-Type": "text/plain"}, body: createBody, refused: "the payload's Content-Type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			server := func(t *testing.T) http.Handler {
				s := newTestServer(t)
				s.log = slog.New(slog.NewTextHandler(logs, nil))
				s.hosts = newHostNames([]string{"furl.internal"})
				return s
			}
			runWith(t, server, func(t *testing.T, base string, client *http.Client) {
				var body io.Reader
				if tc.body != nil {
					body = tc.body()
					if tc.chunked {
						body = io.MultiReader(body) // hides the length
					}
				}
				req, err := http.NewRequest(tc.method, base+tc.path, body)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range tc.header {
					if v == "<own>" {
						v = base
					}
					req.Header.Set(k, v)
				}
				if tc.host != "" {
					req.Host = tc.host
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				refused := resp.StatusCode == http.StatusForbidden && strings.Contains(string(raw), "furl refused this request")
				if tc.refused == "" {
					if refused {
						t.Fatalf("refused: %d %s\n%s", resp.StatusCode, raw, logs)
					}
					return
				}
				if !refused || resp.Header.Get("X-Amzn-Errortype") != "AccessDeniedException" || !strings.HasPrefix(string(raw), `{"Type":"User","Message":"furl refused this request: `) {
					t.Fatalf("not refused as AWS refuses: %d %v %s", resp.StatusCode, resp.Header, raw)
				}
				if !refusalLogged(logs.String(), tc.refused) {
					t.Fatalf("no refusal saying %q and how to allow it in the log:\n%s", tc.refused, logs)
				}
			})
		})
	}
}

// refusalLogged reports whether the log has a refusal line giving why and
// how to allow such requests.
func refusalLogged(logs, why string) bool {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "Lambda API request refused") && strings.Contains(l, why) && strings.Contains(l, "to_allow=") {
			return true
		}
	}
	return false
}

// A refused request changes nothing: the function a web page tried to
// create does not exist afterwards.
func TestTrustBoundaryLeavesStateIntact(t *testing.T) {
	s := newTestServer(t)
	raw, _ := json.Marshal(apiScenario(t)[0].body)
	for _, ct := range []string{"text/plain", ""} {
		req, _ := http.NewRequest("POST", "http://127.0.0.1/2015-03-31/functions", bytes.NewReader(raw))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("Content-Type %q: %d %s", ct, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/2015-03-31/functions", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != `{"Functions":[]}` {
		t.Fatalf("ListFunctions after the refusals: %d %s", rec.Code, rec.Body)
	}
}

func TestURLHostsThatCannotBeRebound(t *testing.T) {
	s := newTestServer(t)
	s.invoker = nil
	s.hosts = newHostNames([]string{"furl.internal"})
	for _, tc := range []struct {
		host, target string
		ok           bool
	}{
		{"abc123.lambda-url.us-east-1.localhost:4580", "/", true},
		{"abc123.lambda-url.us-east-1.dev.localhost:4580", "/", true},
		{"abc123.lambda-url.us-east-1.on.aws", "/", true},
		{"abc123.lambda-url.us-east-1", "/", true},
		{"abc123.lambda-url.us-east-1.furl.internal:4580", "/", true},
		{"abc123.lambda-url.us-east-1.attacker.example:4580", "/", false},
		{"abc123.lambda-url.us-east-1.on.aws.attacker.example", "/", false},
		{"abc123.lambda-url.us-east-1.localhost.attacker.example", "/", false},
		{"localhost:4580", "/lambda-url/abc123/x", true},
		{"[::1]:4580", "/lambda-url/abc123/x", true},
		{"furl.internal", "/lambda-url/abc123/x", true},
		{"attacker.example:4580", "/lambda-url/abc123/x", false},
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + tc.target + " HTTP/1.1\r\nHost: " + tc.host + "\r\n\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := s.urlFor(r); ok != tc.ok {
			t.Errorf("%s%s: a function URL: %v, want %v", tc.host, tc.target, ok, tc.ok)
		}
	}
}

func TestAllowedHostsHint(t *testing.T) {
	for host, want := range map[string]string{
		"attacker.example:4580":                      "attacker.example",
		"[fe80::1]:4580":                             "fe80::1",
		"abc123.lambda-url.us-east-1.Furl.Test:4580": "furl.test",
	} {
		if got := allowedHostsHint(host); got != want {
			t.Errorf("allowedHostsHint(%q) = %q, want %q", host, got, want)
		}
	}
}

func FuzzMediaType(f *testing.F) {
	for _, s := range []string{"text/plain", " TEXT/plain ;charset=utf-8", "application/json", "multipart/form-data; boundary=x", "", ";", "text/plain\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		got := mediaType(ct)
		if got != strings.ToLower(got) || strings.ContainsRune(got, ';') || strings.Trim(got, " \t\r\n") != got {
			t.Fatalf("mediaType(%q) = %q", ct, got)
		}
		// Parameters and case never hide a safelisted type.
		if corsSafelisted[got] != corsSafelisted[mediaType(strings.ToUpper(ct)+"; x=1")] {
			t.Fatalf("mediaType(%q) = %q changes with case or parameters", ct, got)
		}
	})
}

// TestServesName is the rule for which names furl's CA may issue a
// certificate for: its own names and the hosts of function URLs that
// exist, under localhost or an allowed name, never a name someone else
// owns.
func TestServesName(t *testing.T) {
	s := newTestServer(t)
	s.hosts = newHostNames([]string{"furl.internal", "192.168.1.20"})
	do := func(method, path string, body []byte) {
		t.Helper()
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(method, path, bytes.NewReader(body))
		r.Host = "127.0.0.1:4580"
		r.Header.Set("Content-Type", "application/json")
		s.ServeHTTP(rec, r)
		if rec.Code >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	}
	do("POST", "/2015-03-31/functions", createBody("fn", zipBytes(t, "x")))
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/2021-10-31/functions/fn/url", strings.NewReader(`{"AuthType":"NONE"}`))
	r.Host = "127.0.0.1:4580"
	r.Header.Set("Content-Type", "application/json")
	s.ServeHTTP(rec, r)
	var cfg struct{ FunctionUrl string }
	if err := json.Unmarshal(rec.Body.Bytes(), &cfg); err != nil || rec.Code != http.StatusCreated {
		t.Fatalf("CreateFunctionUrlConfig: %d %s", rec.Code, rec.Body)
	}
	id := strings.TrimPrefix(strings.Split(cfg.FunctionUrl, ".")[0], "http://")

	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"localhost", true},
		{"LOCALHOST.", true},
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"furl.internal", true},
		{"192.168.1.20", true},
		{id + ".lambda-url.us-east-1.localhost", true},
		{id + ".lambda-url.us-east-1.dev.localhost", true},
		{id + ".lambda-url.us-east-1.furl.internal", true},
		{"zzzzzzzzzzzz.lambda-url.us-east-1.localhost", false}, // no such URL
		{id + ".lambda-url.eu-west-1.localhost", false},        // another region
		{id + ".lambda-url.us-east-1.on.aws", false},           // AWS's own name
		{id + ".lambda-url.us-east-1", false},                  // not a name anyone resolves
		{id + ".lambda-url.us-east-1.attacker.example", false}, // someone else's
		{"bank.example", false},
		{"192.168.1.21", false},
		{"", false},
	} {
		err := s.ServesName(context.Background(), tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ServesName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// The invocation paths recognised without the mux are exactly those the
// mux routes to a payload operation: for each path below, both ways agree.
func TestPayloadOperationsRecognisedAsTheMuxRoutesThem(t *testing.T) {
	s := newTestServer(t)
	s.invoker = refusingInvoker{}
	s.mux = http.NewServeMux()
	s.routes()
	for _, path := range []string{
		"/2015-03-31/functions/f/invocations",
		"/2015-03-31/functions/f/invocations/",
		"/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:f/invocations",
		"/2015-03-31/functions/f/configuration",
		"/2015-03-31/functions//invocations",
		"/2015-03-31/functions/./invocations",
		"/2015-03-31/functions/../invocations",
		"/2015-03-31/functions/a/b/invocations",
		"/2015-03-31/functions/a%2Fb/invocations",
		"/2021-11-15/functions/f/response-streaming-invocations",
		"/2021-11-15/functions/f/invocations",
		"/2014-11-13/functions/f/invoke-async",
		"/2014-11-13/functions/f/invoke-async/",
		"/2015-03-31/functions",
	} {
		for _, method := range []string{"POST", "GET", "PUT"} {
			r := httptest.NewRequest(method, "http://127.0.0.1:4580"+path, nil)
			probe := *r
			u := *r.URL
			probe.URL = &u
			trimTrailingSlash(&probe)
			_, pattern := s.mux.Handler(&probe)
			if got, want := s.isPayloadOperation(r), payloadOperations[pattern]; got != want {
				t.Errorf("%s %s: isPayloadOperation %v, the mux routes it to %q", method, path, got, pattern)
			}
		}
	}
}
