package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Each testdata/urlevent/<case>.request, a raw HTTP request, makes the
// event in <case>.event.json (go test -update rewrites them).
func TestURLEventGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/urlevent/*.request")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".request")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
			if err != nil {
				t.Fatalf("parse %s: %v", file, err)
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				t.Fatal(err)
			}
			rawPath, rawQuery, _ := strings.Cut(req.RequestURI, "?")
			// <case>.iam.json, when there, is the caller of an AWS_IAM URL.
			var caller *urlIAM
			if raw, err := os.ReadFile(strings.TrimSuffix(file, ".request") + ".iam.json"); err == nil {
				caller = &urlIAM{}
				if err := json.Unmarshal(raw, caller); err != nil {
					t.Fatal(err)
				}
			}
			ur := &urlRequest{
				Method: req.Method, RawPath: rawPath, RawQuery: rawQuery, Header: req.Header, Host: req.Host, Body: body,
				SourceIP: "203.0.113.27", Proto: "http", Port: "4580", URLID: "mujsodrgtygtp4vhjxsffzvuha0ubcrd",
				RequestID: "e8e25d94-0ed9-4475-9531-985d5d9dc9f8", TraceID: urlTraceIDFor(req.Header.Get("X-Amzn-Trace-Id")),
				Time: time.Date(2025, 8, 10, 14, 16, 29, 839_000_000, time.UTC), IAM: caller,
			}
			// <case>.tls, when there, is the TLS connection the request came
			// on (Go's names of its version and cipher suite), to furl's
			// HTTPS port.
			if raw, err := os.ReadFile(strings.TrimSuffix(file, ".request") + ".tls"); err == nil {
				req.TLS = tlsStateFor(t, strings.TrimSpace(string(raw)))
				ur.Proto, ur.Port = "https", "4443"
				ur.TLSVersion, ur.TLSCipher = tlsNames(req)
			}
			event, err := buildURLEvent(ur)
			if err != nil {
				t.Fatal(err)
			}
			checkURLEventEncoding(t, ur)
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, event, "", "  "); err != nil {
				t.Fatalf("event is not JSON: %s", event)
			}
			pretty.WriteByte('\n')
			compareGolden(t, strings.TrimSuffix(file, ".request")+".event.json", pretty.Bytes())
		})
	}
}

// tlsStateFor is the connection state named by "<version> <cipher suite>"
// in Go's spelling, e.g. "TLS 1.3 TLS_AES_128_GCM_SHA256".
func tlsStateFor(t *testing.T, spec string) *tls.ConnectionState {
	t.Helper()
	cs := &tls.ConnectionState{HandshakeComplete: true}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if strings.HasPrefix(spec, tls.VersionName(v)+" ") {
			cs.Version = v
		}
	}
	name := spec[strings.LastIndex(spec, " ")+1:]
	for _, suite := range tls.CipherSuites() {
		if suite.Name == name {
			cs.CipherSuite = suite.ID
		}
	}
	if cs.Version == 0 || cs.CipherSuite == 0 {
		t.Fatalf("TLS case %q is not <version> <cipher suite>", spec)
	}
	return cs
}

// urlTraceIDFor is urlTraceID with a fixed root, for golden files.
func urlTraceIDFor(incoming string) string {
	if incoming == "" {
		return "Root=1-6898a9bd-3c1f0e5a9b7d24e61f8a0c55"
	}
	return "Self=1-6898a9bd-3c1f0e5a9b7d24e61f8a0c55;" + incoming
}

// Each testdata/urlresponse/<case>.result, a function's result, makes the
// HTTP answer in <case>.response.
func TestURLResponseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/urlresponse/*.result")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".result")
		t.Run(name, func(t *testing.T) {
			result, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			resp, err := urlResponseFrom(result)
			if err != nil {
				fmt.Fprintf(&out, "502 Internal Server Error\n(%v)\n", err)
			} else {
				fmt.Fprintf(&out, "%d\n", resp.Status)
				var names []string
				for k := range resp.Header {
					names = append(names, k)
				}
				sort.Strings(names)
				for _, k := range names {
					for _, v := range resp.Header[k] {
						fmt.Fprintf(&out, "%s: %s\n", k, v)
					}
				}
				for _, c := range resp.Cookies {
					fmt.Fprintf(&out, "Set-Cookie: %s\n", c)
				}
				out.WriteString("\n")
				if utf8.Valid(resp.Body) {
					out.Write(resp.Body)
				} else {
					fmt.Fprintf(&out, "%q", resp.Body)
				}
				out.WriteString("\n")
			}
			compareGolden(t, strings.TrimSuffix(file, ".result")+".response", out.Bytes())
		})
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./gateway -update rewrites it); got:\n%s", path, got)
	}
}

func TestURLRouting(t *testing.T) {
	s := newTestServer(t)
	s.invoker = nil
	for _, tc := range []struct {
		host, target string
		id, path     string
		ok           bool
	}{
		{"abc123.lambda-url.us-east-1.localhost:4580", "/a%2Fb/c?x=1", "abc123", "/a%2Fb/c", true},
		{"ABC123.Lambda-Url.us-east-1.localhost", "/", "abc123", "/", true},
		{"abc123.lambda-url.eu-west-1.on.aws", "/", "abc123", "/", true},
		{"127.0.0.1:4580", "/lambda-url/abc123/orders/1?x", "abc123", "/orders/1", true},
		{"127.0.0.1:4580", "/lambda-url/abc123", "abc123", "/", true},
		{"127.0.0.1:4580", "/2015-03-31/functions", "", "", false},
		{"lambda-url.us-east-1.localhost", "/", "", "", false},
		{"abc123.cell-1-lambda-url.us-east-1.on.aws", "/x", "abc123", "/x", true},
		{"abc123.lambda-url.us-east-1", "/x", "abc123", "/x", true},
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + tc.target + " HTTP/1.1\r\nHost: " + tc.host + "\r\n\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		id, path, ok := s.urlFor(r)
		if id != tc.id || path != tc.path || ok != tc.ok {
			t.Errorf("%s%s: got %q %q %v, want %q %q %v", tc.host, tc.target, id, path, ok, tc.id, tc.path, tc.ok)
		}
	}
}

func FuzzURLResponse(f *testing.F) {
	files, _ := filepath.Glob("testdata/urlresponse/*.result")
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, result []byte) {
		resp, err := urlResponseFrom(result)
		if err != nil {
			return
		}
		if resp.Status < 200 || resp.Status > 599 || resp.Header["X-Amzn-Requestid"] != nil {
			t.Fatalf("%q gave %d with Content-Type %q", result, resp.Status, resp.Header.Get("Content-Type"))
		}
	})
}

func FuzzURLEvent(f *testing.F) {
	f.Add("POST", "/a/b", "x=1&x=2&y", "text/plain", []byte("hi"), "a=1; b=2")
	f.Add("GET", "/%ff", "%zz=%", "", []byte{0xff}, "")
	f.Fuzz(func(t *testing.T, method, path, query, contentType string, body []byte, cookie string) {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		if cookie != "" {
			h.Set("Cookie", cookie)
		}
		r := &urlRequest{Method: method, RawPath: path, RawQuery: query, Header: h, Host: "h", Body: body,
			SourceIP: "1.2.3.4", Proto: "http", Port: "1", URLID: "id", RequestID: "r", TraceID: "Root=x", Time: time.Unix(0, 0)}
		ev, err := buildURLEvent(r)
		if err != nil {
			t.Fatal(err)
		}
		checkURLEventEncoding(t, r)
		var back struct {
			Body            *string `json:"body"`
			IsBase64Encoded bool    `json:"isBase64Encoded"`
		}
		if err := json.Unmarshal(ev, &back); err != nil {
			t.Fatalf("event is not JSON: %v", err)
		}
		if len(body) > 0 && back.Body == nil {
			t.Fatal("the body was lost")
		}
	})
}

// TestURLRefusalsSayWhy: a 403 for a URL that does not exist, or names
// another region, answers as AWS does and tells the developer why in the
// log, naming the function when there is one.
func TestURLRefusalsSayWhy(t *testing.T) {
	s := newTestServer(t)
	logs := &lockedBuffer{}
	s.log = slog.New(slog.NewTextHandler(logs, nil))
	s.invoker = refusingInvoker{}
	for _, tc := range []struct{ host, why string }{
		{"zzzzzzzz.lambda-url.us-east-1.localhost:4580", `why="no function URL has this id`},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = tc.host
		s.ServeHTTP(rec, r)
		if rec.Code != http.StatusForbidden || rec.Body.String() != `{"Message":null}` {
			t.Errorf("%s: %d %s, want AWS's 403 {\"Message\":null}", tc.host, rec.Code, rec.Body)
		}
		if !strings.Contains(logs.String(), tc.why) {
			t.Errorf("%s: the log does not say %s:\n%s", tc.host, tc.why, logs.String())
		}
	}
}
