package dashboard

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// fakeStore holds one function, "greeter", with a URL and a secret.
type fakeStore struct{}

func (fakeStore) ListFunctions(ctx context.Context, in *urlconfig.ListFunctionsInput) (*urlconfig.ListFunctionsOutput, error) {
	return &urlconfig.ListFunctionsOutput{Functions: []*urlconfig.FunctionConfiguration{{
		FunctionName: "greeter", Runtime: "nodejs20.x", Handler: "index.handler", MemorySize: 128, Timeout: 3,
		Architectures: []string{"x86_64"}, Environment: &urlconfig.EnvironmentResponse{Variables: map[string]string{"DB_PASSWORD": "hunter2"}},
	}}}, nil
}

func (fakeStore) ListFunctionURLConfigs(ctx context.Context, fn string, marker *string, maxItems *int) (*urlconfig.ListFunctionURLConfigsOutput, error) {
	if fn != "greeter" {
		return nil, errors.New("no such function")
	}
	return &urlconfig.ListFunctionURLConfigsOutput{FunctionUrlConfigs: []*urlconfig.FunctionURLConfig{{
		FunctionUrl: "http://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.localhost:4580/",
		FunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:greeter", AuthType: "NONE", InvokeMode: "RESPONSE_STREAM"}}}, nil
}

func (fakeStore) ListAliases(ctx context.Context, fn string, v, marker *string, maxItems *int) (*urlconfig.ListAliasesOutput, error) {
	return &urlconfig.ListAliasesOutput{}, nil
}

func (fakeStore) GetPolicy(ctx context.Context, fn string, q *string) (*urlconfig.GetPolicyOutput, error) {
	return &urlconfig.GetPolicyOutput{Policy: `{"Version":"2012-10-17","Statement":[{"Sid":"url"}]}`}, nil
}

func (fakeStore) GetFunctionConcurrency(ctx context.Context, fn string) (*urlconfig.Concurrency, error) {
	n := 7
	return &urlconfig.Concurrency{ReservedConcurrentExecutions: &n}, nil
}

// countingURLs stands for the gateway's function URLs: it counts the
// requests that reach it.
type countingURLs struct {
	calls atomic.Int64
	last  atomic.Pointer[http.Request]
}

func (c *countingURLs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.calls.Add(1)
	c.last.Store(r)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, "hello")
}

func newHandler(t *testing.T, urls http.Handler) *Handler {
	t.Helper()
	return New(Config{Store: fakeStore{}, URLs: urls, Logger: slog.New(slog.DiscardHandler)})
}

const sendJSON = `{"function":"greeter","qualifier":"$LATEST","method":"POST","path":"/hi","headers":{"content-type":"text/plain","Authorization":"AWS4-HMAC-SHA256 forged"},"body":"x"}`

func TestRequestRules(t *testing.T) {
	const origin = "http://furl.localhost:4580"
	for _, tc := range []struct {
		name    string
		method  string
		host    string
		path    string
		headers map[string]string
		body    string
		code    int
	}{
		{name: "page", method: "GET", host: "furl.localhost:4580", path: "/_furl/", code: 200},
		{name: "page without port", method: "GET", host: "furl.localhost", path: "/_furl/", code: 200},
		{name: "head", method: "HEAD", host: "furl.localhost:4580", path: "/_furl/", code: 200},
		{name: "script", method: "GET", host: "furl.localhost:4580", path: "/_furl/static/app.js", code: 200},
		{name: "root redirects", method: "GET", host: "furl.localhost:4580", path: "/", code: 302},
		{name: "no API on the dashboard's host", method: "GET", host: "furl.localhost:4580", path: "/2015-03-31/functions", code: 404},
		{name: "no path-form URLs on the dashboard's host", method: "GET", host: "furl.localhost:4580", path: "/lambda-url/abc/", code: 404},
		{name: "rebound name", method: "GET", host: "rebind.test:4580", path: "/_furl/", code: 421},
		{name: "API host", method: "GET", host: "127.0.0.1:4580", path: "/_furl/", code: 421},
		{name: "trailing dot", method: "GET", host: "furl.localhost.:4580", path: "/_furl/", code: 421},
		{name: "suffix", method: "GET", host: "furl.localhost.evil.test:4580", path: "/_furl/", code: 421},
		{name: "prefix", method: "GET", host: "x.furl.localhost:4580", path: "/_furl/", code: 421},
		{name: "bad port", method: "GET", host: "furl.localhost:http", path: "/_furl/", code: 421},
		{name: "rebound name sends", method: "POST", host: "rebind.test:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": "http://rebind.test:4580", "Content-Type": "application/json"}, body: sendJSON, code: 421},
		{name: "POST elsewhere", method: "POST", host: "furl.localhost:4580", path: "/_furl/",
			headers: map[string]string{"Origin": origin, "Content-Type": "application/json"}, body: "{}", code: 405},
		{name: "PUT send", method: "PUT", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": origin, "Content-Type": "application/json"}, body: sendJSON, code: 405},
		{name: "DELETE", method: "DELETE", host: "furl.localhost:4580", path: "/_furl/", code: 405},
		{name: "cross-site fetch", method: "POST", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": "http://evil.test", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, body: sendJSON, code: 403},
		{name: "API origin's page", method: "POST", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": "http://127.0.0.1:4580", "Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, body: sendJSON, code: 403},
		{name: "other port", method: "POST", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": "http://furl.localhost:9999", "Content-Type": "application/json"}, body: sendJSON, code: 403},
		{name: "opaque origin", method: "POST", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": "null", "Content-Type": "application/json"}, body: sendJSON, code: 403},
		{name: "no origin", method: "POST", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Content-Type": "application/json"}, body: sendJSON, code: 403},
		{name: "same origin but cross-site fetch metadata", method: "POST", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": origin, "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, body: sendJSON, code: 403},
		{name: "text/plain form", method: "POST", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": origin, "Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain"}, body: sendJSON, code: 415},
		{name: "urlencoded form", method: "POST", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": origin, "Content-Type": "application/x-www-form-urlencoded"}, body: "a=1", code: 415},
		{name: "multipart form", method: "POST", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": origin, "Content-Type": "multipart/form-data; boundary=x"}, body: "--x--", code: 415},
		{name: "no content type", method: "POST", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": origin}, body: sendJSON, code: 415},
		{name: "send", method: "POST", host: "furl.localhost:4580", path: "/_furl/send",
			headers: map[string]string{"Origin": origin, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json; charset=utf-8"}, body: sendJSON, code: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			urls := &countingURLs{}
			h := newHandler(t, urls)
			r := httptest.NewRequest(tc.method, "http://x"+tc.path, strings.NewReader(tc.body))
			r.Host = tc.host
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Fatalf("%s %s (Host %s): %d %s, want %d", tc.method, tc.path, tc.host, w.Code, w.Body, tc.code)
			}
			// Every answer, refusals too, keeps itself to the
			// dashboard's origin and out of frames.
			for k, want := range map[string]string{
				"X-Frame-Options":              "DENY",
				"X-Content-Type-Options":       "nosniff",
				"Cross-Origin-Resource-Policy": "same-origin",
				"Referrer-Policy":              "no-referrer",
			} {
				if got := w.Header().Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			csp := w.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			for k := range w.Header() {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("CORS header %s: %q", k, w.Header().Get(k))
				}
			}
			wantCalls := int64(0)
			if tc.name == "send" {
				wantCalls = 1
			}
			if n := urls.calls.Load(); n != wantCalls {
				t.Fatalf("the function URL was reached %d times, want %d", n, wantCalls)
			}
			if tc.name == "send" {
				got := urls.last.Load()
				if got.Host != "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.localhost:4580" || got.URL.Path != "/hi" || got.Method != "POST" {
					t.Errorf("forwarded %s %s%s", got.Method, got.Host, got.URL.Path)
				}
				if got.Header.Get("Authorization") != "" || got.Header.Get("Origin") != "" {
					t.Errorf("forwarded the credentials or origin: %v", got.Header)
				}
				if got := w.Body.String(); got != "{\"status\":201,\"headers\":{\"Content-Type\":[\"text/plain\"]}}\nhello" {
					t.Errorf("answer %q", got)
				}
			}
		})
	}
}

func TestPage(t *testing.T) {
	h := newHandler(t, nil)
	r := httptest.NewRequest("GET", "/_furl/", nil)
	r.Host = "furl.localhost:4580"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	page := w.Body.String()
	for _, want := range []string{
		`<a class="url" href="http://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.localhost:4580/"`,
		`<dd class="runtime">nodejs20.x</dd>`, `<dd class="reserved">7</dd>`, `RESPONSE_STREAM`,
		`<th>DB_PASSWORD</th>`, `&#34;Sid&#34;: &#34;url&#34;`, `<script src="/_furl/static/app.js" defer></script>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// The secret is in the page only for the reveal button, never as
	// shown text.
	if strings.Contains(page, ">hunter2<") || !strings.Contains(page, `data-value="hunter2">••••••••</span>`) {
		t.Errorf("the environment value is not masked")
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "onclick=") {
		t.Errorf("the page has inline script, which its CSP refuses")
	}
}

// The page says which sandbox each function's live environments run in,
// and lists them; a function with none running shows neither, and another
// function's environments stay under that function.
func TestPageShowsSandboxes(t *testing.T) {
	for _, tc := range []struct {
		name string
		envs []runtimeapi.EnvironmentInfo
		want []string
		not  []string
	}{
		{name: "none running", not: []string{`class="sandbox"`, `class="environments"`}},
		{name: "docker and process", envs: []runtimeapi.EnvironmentInfo{
			{Function: "greeter", Version: "$LATEST", ID: "env-d1", Sandbox: "docker", State: "idle"},
			{Function: "greeter", Version: "3", ID: "env-p1", Sandbox: "process", State: "busy"},
			{Function: "greeter", Version: "$LATEST", ID: "env-d2", Sandbox: "docker", State: "initializing"},
			{Function: "other", Version: "$LATEST", ID: "env-other", Sandbox: "docker", State: "idle"},
		}, want: []string{
			`<dt>Sandbox</dt><dd class="sandbox">docker, process</dd>`,
			`<li class="environment" data-sandbox="docker"><code class="id">env-d1</code> <span class="tag version">$LATEST</span> <span class="tag sandbox">docker</span> <span class="tag state">idle</span></li>`,
			`<li class="environment" data-sandbox="process"><code class="id">env-p1</code> <span class="tag version">3</span> <span class="tag sandbox">process</span> <span class="tag state">busy</span></li>`,
			`<code class="id">env-d2</code>`,
		}, not: []string{"env-other"}},
		{name: "unnamed sandbox", envs: []runtimeapi.EnvironmentInfo{
			{Function: "greeter", Version: "$LATEST", ID: "env-x", State: "idle"},
		}, want: []string{`<dd class="sandbox">unknown</dd>`, `<span class="tag sandbox">unknown</span>`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Config{Store: fakeStore{}, Logger: slog.New(slog.DiscardHandler),
				Environments: func() []runtimeapi.EnvironmentInfo { return tc.envs }})
			r := httptest.NewRequest("GET", "/_furl/", nil)
			r.Host = "furl.localhost:4580"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			page := w.Body.String()
			for _, want := range tc.want {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
			for _, not := range tc.not {
				if strings.Contains(page, not) {
					t.Errorf("the page has %s", not)
				}
			}
		})
	}
}

func TestDisabled(t *testing.T) {
	urls := &countingURLs{}
	h := New(Config{Store: fakeStore{}, URLs: urls, Disabled: "signatures are on", Logger: slog.New(slog.DiscardHandler)})
	for _, r := range []*http.Request{httptest.NewRequest("GET", "/_furl/", nil), httptest.NewRequest("POST", "/_furl/send", strings.NewReader(sendJSON))} {
		r.Host = "furl.localhost:4580"
		r.Header.Set("Origin", "http://furl.localhost:4580")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "signatures are on") {
			t.Errorf("%s %s: %d %s", r.Method, r.URL.Path, w.Code, w.Body)
		}
	}
	if urls.calls.Load() != 0 {
		t.Fatal("a disabled dashboard sent a request")
	}
}

// A function URL that writes part 1, waits, and writes part 2: the send
// form's answer carries part 1 before part 2 exists.
func TestSendStreams(t *testing.T) {
	release := make(chan struct{})
	urls := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		io.WriteString(w, "part 1;")
		http.NewResponseController(w).Flush()
		<-release
		io.WriteString(w, "part 2")
	})
	srv := httptest.NewServer(newHandler(t, urls))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/_furl/send", strings.NewReader(sendJSON))
	req.Host = "furl.localhost:4580"
	req.Header.Set("Origin", "http://furl.localhost:4580")
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	head, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, `{"status":200`) {
		close(release)
		t.Fatalf("head %q, %v", head, err)
	}
	part1 := make([]byte, len("part 1;"))
	if _, err := io.ReadFull(br, part1); err != nil || string(part1) != "part 1;" {
		close(release)
		t.Fatalf("part 1: %q %v", part1, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "part 2" {
		t.Fatalf("part 2: %q", rest)
	}
}

// fakeFeed is a feed whose events the test publishes.
type fakeFeed struct {
	subs chan chan runtimeapi.Event
}

func (f *fakeFeed) Subscribe(ctx context.Context, fn string, recent bool) (<-chan runtimeapi.Event, []runtimeapi.Event, func() uint64) {
	ch := make(chan runtimeapi.Event, 4)
	f.subs <- ch
	var backlog []runtimeapi.Event
	if recent {
		backlog = []runtimeapi.Event{{Kind: runtimeapi.EventLog, Function: "greeter", Line: "old line"}}
	}
	return ch, backlog, func() uint64 { return 3 }
}

func TestEventsStream(t *testing.T) {
	feed := &fakeFeed{subs: make(chan chan runtimeapi.Event, 1)}
	h := New(Config{Store: fakeStore{}, Feed: feed, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/_furl/events", nil)
	req.Host = "furl.localhost"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sub := <-feed.subs
	br := bufio.NewReader(resp.Body)
	line, _ := br.ReadString('\n')
	if !strings.Contains(line, `"line":"old line"`) {
		t.Fatalf("first event %q", line)
	}
	sub <- runtimeapi.Event{Kind: runtimeapi.EventEnd, Function: "greeter", Cold: true, Duration: 1500 * time.Microsecond, ResponseBytes: 12, Status: "200"}
	close(sub) // the feed closes: the stream ends
	rest, _ := io.ReadAll(br)
	for _, want := range []string{`"kind":"end"`, `"cold":true`, `"durationMs":1.5`, `"responseBytes":12`, "event: dropped\ndata: 3\n"} {
		if !strings.Contains(string(rest), want) {
			t.Errorf("the stream lacks %q: %s", want, rest)
		}
	}
}

// The live stream ends when its page goes: the subscription's context
// (the request's) is done once the client hangs up.
func TestEventsEndWithTheClient(t *testing.T) {
	subscribed := make(chan context.Context, 1)
	feed := feedFunc(func(ctx context.Context, fn string, recent bool) (<-chan runtimeapi.Event, []runtimeapi.Event, func() uint64) {
		subscribed <- ctx
		return make(chan runtimeapi.Event), nil, func() uint64 { return 0 }
	})
	srv := httptest.NewServer(New(Config{Store: fakeStore{}, Feed: feed, Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/_furl/events", nil)
	req.Host = "furl.localhost"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sub := <-subscribed
	cancel()
	resp.Body.Close()
	select {
	case <-sub.Done():
	case <-time.After(10 * time.Second): // a safety net, not a measurement
		t.Fatal("the stream's subscription outlived its page")
	}
}

type feedFunc func(ctx context.Context, fn string, recent bool) (<-chan runtimeapi.Event, []runtimeapi.Event, func() uint64)

func (f feedFunc) Subscribe(ctx context.Context, fn string, recent bool) (<-chan runtimeapi.Event, []runtimeapi.Event, func() uint64) {
	return f(ctx, fn, recent)
}

// The send form's body is bounded: 1 MiB goes, one byte more does not.
func TestSendBodyBound(t *testing.T) {
	for _, tc := range []struct {
		size, code int
		calls      int64
	}{{MaxSendBody, 200, 1}, {MaxSendBody + 1, 413, 0}} {
		urls := &countingURLs{}
		h := newHandler(t, urls)
		body := `{"function":"greeter","qualifier":"$LATEST","method":"POST","path":"/","body":"` + strings.Repeat("a", tc.size) + `"}`
		r := httptest.NewRequest("POST", "/_furl/send", strings.NewReader(body))
		r.Host = "furl.localhost:4580"
		r.Header.Set("Origin", "http://furl.localhost:4580")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.code || urls.calls.Load() != tc.calls {
			t.Errorf("a body of %d bytes: %d, %d calls; want %d, %d", tc.size, w.Code, urls.calls.Load(), tc.code, tc.calls)
		}
	}
	// Nor can the JSON request itself grow without bound.
	urls := &countingURLs{}
	r := httptest.NewRequest("POST", "/_furl/send", strings.NewReader(`{"function":"`+strings.Repeat("a", maxSendRequest)+`"}`))
	r.Host = "furl.localhost:4580"
	r.Header.Set("Origin", "http://furl.localhost:4580")
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	newHandler(t, urls).ServeHTTP(w, r)
	if w.Code != 413 || urls.calls.Load() != 0 {
		t.Errorf("an oversized send request: %d", w.Code)
	}
}

// A function URL whose stream is cut after part 1 cuts the send form's
// answer too: the page sees an error, never a clean end.
func TestSendCutStaysCut(t *testing.T) {
	urls := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		io.WriteString(w, "part 1;")
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	})
	srv := httptest.NewUnstartedServer(newHandler(t, urls))
	srv.Config.ErrorLog = nil
	srv.Start()
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/_furl/send", strings.NewReader(sendJSON))
	req.Host = "furl.localhost:4580"
	req.Header.Set("Origin", "http://furl.localhost:4580")
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil || !strings.HasSuffix(string(body), "part 1;") {
		t.Fatalf("a cut stream read %q, %v; want part 1 and an error", body, err)
	}
}
