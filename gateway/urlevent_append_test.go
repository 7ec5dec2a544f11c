package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// benchURLRequest is the e2e URL function's /echo request as the gateway
// sees it.
func benchURLRequest() *urlRequest {
	return &urlRequest{Method: "POST", RawPath: "/echo", RawQuery: "x=1", Host: "127.0.0.1:4580",
		Header: map[string][]string{"Content-Type": {"application/json"}, "User-Agent": {"Go-http-client/1.1"}, "Accept-Encoding": {"gzip"}},
		Body:   []byte(`{"order":42}`), SourceIP: "127.0.0.1", Proto: "http", Port: "4580", URLID: "abc", RequestID: "r", TraceID: "Root=1-x",
		Time: time.Date(2025, 8, 10, 14, 16, 29, 839_000_000, time.UTC)}
}

func BenchmarkBuildURLEvent(b *testing.B) {
	r := benchURLRequest()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildURLEvent(r); err != nil {
			b.Fatal(err)
		}
	}
}

// The reference encoding of the event: the structs it has in real events,
// encoded by encoding/json. buildURLEvent must give the same bytes.

type refURLEvent struct {
	Version               string               `json:"version"`
	RouteKey              string               `json:"routeKey"`
	RawPath               string               `json:"rawPath"`
	RawQueryString        string               `json:"rawQueryString"`
	Cookies               []string             `json:"cookies,omitempty"`
	Headers               map[string]string    `json:"headers"`
	QueryStringParameters map[string]string    `json:"queryStringParameters,omitempty"`
	RequestContext        refURLRequestContext `json:"requestContext"`
	Body                  *string              `json:"body,omitempty"`
	IsBase64Encoded       bool                 `json:"isBase64Encoded"`
}

type refURLRequestContext struct {
	AccountID  string `json:"accountId"`
	APIID      string `json:"apiId"`
	Authorizer *struct {
		IAM *urlIAM `json:"iam"`
	} `json:"authorizer,omitempty"`
	DomainName   string     `json:"domainName"`
	DomainPrefix string     `json:"domainPrefix"`
	HTTP         refURLHTTP `json:"http"`
	RequestID    string     `json:"requestId"`
	RouteKey     string     `json:"routeKey"`
	Stage        string     `json:"stage"`
	Time         string     `json:"time"`
	TimeEpoch    int64      `json:"timeEpoch"`
}

type refURLHTTP struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

func referenceURLEvent(t *testing.T, r *urlRequest) []byte {
	t.Helper()
	ev := refURLEvent{
		Version: "2.0", RouteKey: "$default", RawPath: r.RawPath, RawQueryString: r.RawQuery, Headers: eventHeaders(r),
		RequestContext: refURLRequestContext{
			AccountID: "anonymous", APIID: r.URLID, DomainName: r.Host, DomainPrefix: r.URLID,
			HTTP:      refURLHTTP{Method: r.Method, Path: normalizedPath(r.RawPath), Protocol: "HTTP/1.1", SourceIP: r.SourceIP, UserAgent: r.Header.Get("User-Agent")},
			RequestID: r.RequestID, RouteKey: "$default", Stage: "$default",
			Time: r.Time.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: r.Time.UnixMilli(),
		},
	}
	if ev.RawPath == "" {
		ev.RawPath, ev.RequestContext.HTTP.Path = "/", "/"
	}
	if r.IAM != nil {
		ev.RequestContext.AccountID = r.IAM.AccountID
		ev.RequestContext.Authorizer = &struct {
			IAM *urlIAM `json:"iam"`
		}{IAM: r.IAM}
	}
	if c := ev.Headers["cookie"]; c != "" {
		for _, part := range strings.Split(c, "; ") {
			if part = strings.TrimSpace(part); part != "" {
				ev.Cookies = append(ev.Cookies, part)
			}
		}
	}
	ev.QueryStringParameters = queryParameters(r.RawQuery)
	if len(r.Body) > 0 {
		var body string
		if textual(r.Header.Get("Content-Type")) && utf8.Valid(r.Body) {
			body = string(r.Body)
		} else {
			body = base64.StdEncoding.EncodeToString(r.Body)
			ev.IsBase64Encoded = true
		}
		ev.Body = &body
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func checkURLEventEncoding(t *testing.T, r *urlRequest) {
	t.Helper()
	got, err := buildURLEvent(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := referenceURLEvent(t, r); !bytes.Equal(got, want) {
		t.Fatalf("event differs from encoding/json's:\ngot  %s\nwant %s", got, want)
	}
}

// buildURLEvent writes the bytes encoding/json writes for the event, for
// any request: strings with every kind of escape, both kinds of body, an
// IAM caller or none.
func FuzzURLEventEncoding(f *testing.F) {
	f.Add("POST", "/a/b", "x=1&x=2&y", "text/plain", []byte("hi"), "a=1; b=2", "X-A", "v", "key", "", true)
	f.Add("GET", "", "", "", []byte(nil), "", "", "", "", "", false)
	f.Add("GET", "/%ff\x00\u2028", "%zz=%&\u2029=\x7f", "application/json", []byte("{\"a\":\"<&>\xff\"}\n\t\b\f\r\x1f"), " ; c=\"d\\\" ;", "\xff", "a\u2028b\xc0", "\"\\", "org", true)
	f.Add("PUT", "/ü", "", "image/png", []byte{0, 1, 2, 0xff}, "", "Set", "é", "k", "o", false)
	f.Fuzz(func(t *testing.T, method, path, query, contentType string, body []byte, cookie, hname, hvalue, accessKey, org string, iam bool) {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		if cookie != "" {
			h.Set("Cookie", cookie)
		}
		if hname != "" {
			h[hname] = []string{hvalue, accessKey}
		}
		r := &urlRequest{Method: method, RawPath: path, RawQuery: query, Header: h, Host: hvalue, Body: body,
			SourceIP: method, Proto: "http", Port: "1", URLID: path, RequestID: query, TraceID: cookie, Time: time.UnixMilli(int64(len(body)) * 1e9)}
		if iam {
			r.IAM = &urlIAM{AccessKey: accessKey, AccountID: org, CallerID: hname, UserARN: hvalue, UserID: cookie}
			if org != "" {
				r.IAM.PrincipalOrgID = &org
			}
		}
		checkURLEventEncoding(t, r)
	})
}

// appendJSONString escapes as encoding/json does with HTML escaping off.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\"\\/", "\x00\x01\b\f\n\r\t\x1f\x7f", "\u2028\u2029", "é😀", "\xff\xc0\xed\xa0\x80", "\xef\xbf\xbd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := appendJSONString([]byte("x"), s); !bytes.Equal(got[1:], want) {
			t.Fatalf("appendJSONString(%q) = %s; encoding/json gives %s", s, got[1:], want)
		}
		if got := appendJSONString(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString([]byte(%q)) = %s; encoding/json gives %s", s, got, want)
		}
	})
}

// requestContext.http.path merges repeated slashes and decodes
// percent-escapes, leaving what is not an escape as sent.
func TestNormalizedPath(t *testing.T) {
	for raw, want := range map[string]string{
		"/":               "/",
		"//a%25b/1":       "/a%b/1",
		"/pa2%2Fth/1/":    "/pa2/th/1/",
		"/pa2%Fth/1":      "/pa2%Fth/1",
		"///x//y///":      "/x/y/",
		"/100%":           "/100%",
		"/%4":             "/%4",
		"/caf%C3%A9":      "/café",
		"/a%20b%2520":     "/a b%20",
		"/plain/path.txt": "/plain/path.txt",
	} {
		if got := normalizedPath(raw); got != want {
			t.Errorf("normalizedPath(%q) = %q, want %q", raw, got, want)
		}
	}
}
