package gateway

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/furl-dev/furl/urlconfig"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// newTestServer is a gateway over a fresh store with a fixed clock, so that
// its answers are reproducible.
func newTestServer(t testing.TB) *Server {
	t.Helper()
	now := time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)
	store, err := urlconfig.Open(context.Background(), urlconfig.Options{
		Dir:         t.TempDir(),
		Account:     urlconfig.Account{ID: "000000000000", Region: "us-east-1"},
		Logger:      slog.New(slog.DiscardHandler),
		Now:         func() time.Time { return now },
		FunctionURL: urlconfig.DefaultFunctionURL("us-east-1", 4580),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return New(Config{Store: store, Logger: slog.New(slog.DiscardHandler), Version: "test"})
}

// run runs f against the gateway served over HTTP/1.1, HTTP/2 with TLS,
// and cleartext HTTP/2, each with a client speaking that protocol.
func run(t *testing.T, f func(t *testing.T, base string, client *http.Client)) {
	runWith(t, func(t *testing.T) http.Handler { return newTestServer(t) }, f)
}

// runWith is run with the handler that server makes for each protocol.
func runWith(t *testing.T, server func(t *testing.T) http.Handler, f func(t *testing.T, base string, client *http.Client)) {
	modes := []string{"h1", "h2", "h2c"}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			ts := httptest.NewUnstartedServer(server(t))
			client := &http.Client{Timeout: 30 * time.Second}
			switch mode {
			case "h1":
				ts.Start()
				client.Transport = &http.Transport{}
			case "h2":
				ts.EnableHTTP2 = true
				ts.StartTLS()
				client = ts.Client()
			case "h2c":
				var p http.Protocols
				p.SetHTTP1(true)
				p.SetUnencryptedHTTP2(true)
				ts.Config.Protocols = &p
				ts.Start()
				var cp http.Protocols
				cp.SetUnencryptedHTTP2(true)
				client.Transport = &http.Transport{Protocols: &cp}
			}
			t.Cleanup(ts.Close)
			f(t, ts.URL, client)
		})
	}
}

type step struct {
	name   string
	method string
	path   string
	body   any
}

func testZip(t testing.TB, content string) string {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("index.mjs")
	io.WriteString(w, content)
	zw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// apiScenario touches every operation furl implements, with some errors.
func apiScenario(t testing.TB) []step {
	fn := "/2015-03-31/functions/shop"
	url := "/2021-10-31/functions/shop/url"
	eic := "/2019-09-25/functions/shop/event-invoke-config"
	return []step{
		{"CreateFunction", "POST", "/2015-03-31/functions", map[string]any{
			"FunctionName": "shop", "Runtime": "nodejs22.x", "Handler": "index.handler", "Role": "arn:aws:iam::000000000000:role/r",
			"Code":        map[string]any{"ZipFile": testZip(t, "export const handler = async () => 1;")},
			"Environment": map[string]any{"Variables": map[string]string{"STAGE": "dev"}}, "Tags": map[string]string{"team": "web"},
		}},
		{"CreateFunction exists", "POST", "/2015-03-31/functions", map[string]any{
			"FunctionName": "shop", "Runtime": "nodejs22.x", "Handler": "index.handler", "Role": "arn:aws:iam::000000000000:role/r",
			"Code": map[string]any{"ZipFile": testZip(t, "x")},
		}},
		{"GetFunction", "GET", fn, nil},
		{"GetFunctionConfiguration $LATEST", "GET", fn + "/configuration?Qualifier=%24LATEST", nil},
		{"UpdateFunctionConfiguration", "PUT", fn + "/configuration", map[string]any{"Timeout": 20, "LoggingConfig": map[string]any{"LogFormat": "JSON"}}},
		{"UpdateFunctionCode", "PUT", fn + "/code", map[string]any{"ZipFile": testZip(t, "export const handler = async () => 2;")}},
		{"PublishVersion", "POST", fn + "/versions", map[string]any{"Description": "first"}},
		{"PublishVersion unchanged", "POST", fn + "/versions", nil},
		{"ListVersionsByFunction", "GET", fn + "/versions", nil},
		{"CreateAlias", "POST", fn + "/aliases", map[string]any{"Name": "live", "FunctionVersion": "1", "Description": "prod traffic"}},
		{"GetAlias", "GET", fn + "/aliases/live", nil},
		{"UpdateAlias", "PUT", fn + "/aliases/live", map[string]any{"FunctionVersion": "$LATEST"}},
		{"ListAliases", "GET", fn + "/aliases", nil},
		{"CreateFunctionUrlConfig", "POST", url, map[string]any{"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM",
			"Cors": map[string]any{"AllowOrigins": []string{"https://shop.example"}, "AllowMethods": []string{"GET"}, "MaxAge": 300}}},
		{"CreateFunctionUrlConfig alias", "POST", url + "?Qualifier=live", map[string]any{"AuthType": "AWS_IAM"}},
		{"CreateFunctionUrlConfig version", "POST", url + "?Qualifier=1", map[string]any{"AuthType": "NONE"}},
		{"GetFunctionUrlConfig", "GET", url, nil},
		{"UpdateFunctionUrlConfig", "PUT", url, map[string]any{"AuthType": "AWS_IAM"}},
		{"ListFunctionUrlConfigs", "GET", "/2021-10-31/functions/shop/urls", nil},
		{"AddPermission url", "POST", fn + "/policy", map[string]any{"StatementId": "FunctionURLAllowPublicAccess", "Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "NONE"}},
		{"AddPermission invoke", "POST", fn + "/policy", map[string]any{"StatementId": "FunctionURLInvokeAllowPublicAccess", "Action": "lambda:InvokeFunction", "Principal": "*", "InvokedViaFunctionUrl": true}},
		{"AddPermission alias", "POST", fn + "/policy?Qualifier=live", map[string]any{"StatementId": "sns", "Action": "lambda:InvokeFunction", "Principal": "sns.amazonaws.com", "SourceArn": "arn:aws:sns:us-east-1:000000000000:orders"}},
		{"GetPolicy", "GET", fn + "/policy", nil},
		{"RemovePermission", "DELETE", fn + "/policy/FunctionURLInvokeAllowPublicAccess", nil},
		{"RemovePermission missing", "DELETE", fn + "/policy/nope", nil},
		{"PutFunctionEventInvokeConfig", "PUT", eic, map[string]any{"MaximumRetryAttempts": 0}},
		{"PutFunctionEventInvokeConfig alias", "PUT", eic + "?Qualifier=live", map[string]any{"MaximumEventAgeInSeconds": 3600,
			"DestinationConfig": map[string]any{"OnFailure": map[string]any{"Destination": "arn:aws:sqs:us-east-1:000000000000:failed"}}}},
		{"PutFunctionEventInvokeConfig nothing", "PUT", eic, map[string]any{}},
		{"PutFunctionEventInvokeConfig out of range", "PUT", eic, map[string]any{"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 59}},
		{"PutFunctionEventInvokeConfig bad destination", "PUT", eic, map[string]any{"DestinationConfig": map[string]any{"OnSuccess": map[string]any{"Destination": "arn:aws:iam::000000000000:role/r"}}}},
		{"PutFunctionEventInvokeConfig itself", "PUT", eic, map[string]any{"DestinationConfig": map[string]any{"OnSuccess": map[string]any{"Destination": "arn:aws:lambda:us-east-1:000000000000:function:shop"}}}},
		{"PutFunctionEventInvokeConfig missing version", "PUT", eic + "?Qualifier=9", map[string]any{"MaximumRetryAttempts": 1}},
		{"UpdateFunctionEventInvokeConfig", "POST", eic, map[string]any{"MaximumEventAgeInSeconds": 120}},
		{"UpdateFunctionEventInvokeConfig none", "POST", eic + "?Qualifier=1", map[string]any{"MaximumRetryAttempts": 1}},
		{"GetFunctionEventInvokeConfig", "GET", eic, nil},
		{"GetFunctionEventInvokeConfig none", "GET", eic + "?Qualifier=1", nil},
		{"ListFunctionEventInvokeConfigs", "GET", eic + "/list", nil},
		{"ListFunctionEventInvokeConfigs page", "GET", eic + "/list?MaxItems=1", nil},
		{"DeleteFunctionEventInvokeConfig", "DELETE", eic, nil},
		{"DeleteFunctionEventInvokeConfig again", "DELETE", eic, nil},
		{"PutFunctionConcurrency", "PUT", "/2017-10-31/functions/shop/concurrency", map[string]any{"ReservedConcurrentExecutions": 5}},
		{"GetFunctionConcurrency", "GET", "/2019-09-30/functions/shop/concurrency", nil},
		{"GetAccountSettings", "GET", "/2016-08-19/account-settings", nil},
		{"GetFunctionCodeSigningConfig", "GET", "/2020-06-30/functions/shop/code-signing-config", nil},
		{"GetFunctionCodeSigningConfig by ARN", "GET", "/2020-06-30/functions/arn:aws:lambda:us-east-1:000000000000:function:shop/code-signing-config", nil},
		{"GetFunctionCodeSigningConfig missing", "GET", "/2020-06-30/functions/ghost/code-signing-config", nil},
		{"GetRuntimeManagementConfig", "GET", "/2021-07-20/functions/shop/runtime-management-config", nil},
		{"GetRuntimeManagementConfig version", "GET", "/2021-07-20/functions/shop/runtime-management-config?Qualifier=1", nil},
		{"GetRuntimeManagementConfig missing version", "GET", "/2021-07-20/functions/shop/runtime-management-config?Qualifier=9", nil},
		{"GetFunctionRecursionConfig", "GET", "/2024-08-31/functions/shop/recursion-config", nil},
		{"GetFunctionRecursionConfig missing", "GET", "/2024-08-31/functions/ghost/recursion-config", nil},
		{"DeleteFunctionConcurrency", "DELETE", "/2017-10-31/functions/shop/concurrency", nil},
		{"TagResource", "POST", "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:shop", map[string]any{"Tags": map[string]string{"cost": "7"}}},
		{"ListTags", "GET", "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:shop", nil},
		{"UntagResource", "DELETE", "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:shop?tagKeys=team", nil},
		{"ListFunctions", "GET", "/2015-03-31/functions/", nil},
		{"ListFunctions ALL", "GET", "/2015-03-31/functions?FunctionVersion=ALL&MaxItems=10", nil},
		{"GetFunction missing", "GET", "/2015-03-31/functions/ghost", nil},
		{"Invoke", "POST", fn + "/invocations", map[string]any{}},
		{"DeleteFunctionUrlConfig", "DELETE", url, nil},
		{"DeleteAlias", "DELETE", fn + "/aliases/live", nil},
		{"ListFunctionEventInvokeConfigs after DeleteAlias", "GET", eic + "/list", nil},
		{"DeleteFunction", "DELETE", fn, nil},
		{"ListFunctions empty", "GET", "/2015-03-31/functions", nil},
	}
}

var (
	uuidPattern  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	urlIDPattern = regexp.MustCompile(`[a-z2-7]{25}[aeimquy4]0[a-z]{5}`)
	hostPattern  = regexp.MustCompile(`https?://127\.0\.0\.1:\d+`)
)

// normalizer numbers random ids by first appearance, so the golden file
// shows which answers share an id without depending on its value.
type normalizer struct{ seen map[string]string }

func (n *normalizer) apply(s string) string {
	for _, p := range []struct {
		re   *regexp.Regexp
		kind string
	}{{uuidPattern, "uuid"}, {urlIDPattern, "url-id"}} {
		s = p.re.ReplaceAllStringFunc(s, func(v string) string {
			if n.seen[v] == "" {
				count := 0
				for _, k := range n.seen {
					if strings.HasPrefix(k, "<"+p.kind+":") {
						count++
					}
				}
				n.seen[v] = fmt.Sprintf("<%s:%d>", p.kind, count+1)
			}
			return n.seen[v]
		})
	}
	return hostPattern.ReplaceAllString(s, "http://<furl>")
}

// The Lambda API's answers, byte for byte after normalising random ids,
// are pinned in testdata/api.golden, and are the same over every protocol.
func TestAPIGolden(t *testing.T) {
	run(t, func(t *testing.T, base string, client *http.Client) {
		checkGolden(t, "api.golden", recordSteps(t, base, client, apiScenario(t)))
	})
}

// recordSteps sends each step and writes down the answers, normalised.
func recordSteps(t *testing.T, base string, client *http.Client, steps []step) string {
	t.Helper()
	var out strings.Builder
	n := &normalizer{seen: map[string]string{}}
	for _, st := range steps {
		var body io.Reader
		if st.body != nil {
			raw, _ := json.Marshal(st.body)
			body = bytes.NewReader(raw)
		}
		req, err := http.NewRequest(st.method, base+st.path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("X-Amzn-Requestid") == "" {
			t.Errorf("%s: no x-amzn-RequestId", st.name)
		}
		fmt.Fprintf(&out, "### %s\n%s %s\n%d", st.name, st.method, st.path, resp.StatusCode)
		if et := resp.Header.Get("X-Amzn-Errortype"); et != "" {
			fmt.Fprintf(&out, " %s", et)
		}
		out.WriteString("\n")
		if len(raw) > 0 {
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q", st.name, ct)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, raw, "", "  "); err != nil {
				t.Fatalf("%s: answer is not JSON: %s", st.name, raw)
			}
			out.WriteString(n.apply(pretty.String()) + "\n")
		}
		out.WriteString("\n")
	}
	return out.String()
}

// checkGolden compares got with testdata/name, or rewrites it under
// -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("answers differ from %s (go test ./gateway -update rewrites it); got:\n%s", golden, got)
	}
}

// Go canonicalises header names it is given; furl sends AWS's spelling.
// The recorder keeps names exactly as the handler wrote them.
func TestHeadersUseAWSSpelling(t *testing.T) {
	rec := httptest.NewRecorder()
	newTestServer(t).ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/2015-03-31/functions/ghost", nil))
	for _, name := range []string{"x-amzn-RequestId", "x-amzn-ErrorType"} {
		if _, ok := rec.Result().Header[name]; !ok {
			t.Errorf("header %s not sent with AWS's spelling: %v", name, rec.Result().Header)
		}
	}
	if rec.Code != http.StatusNotFound {
		t.Errorf("status %d, want 404", rec.Code)
	}
}

func FuzzAPI(f *testing.F) {
	for _, st := range append(apiScenario(f), imageScenario(f)...) {
		raw, _ := json.Marshal(st.body)
		f.Add(st.method, st.path, raw)
	}
	f.Add("POST", "/2015-03-31/functions", []byte(`{"Code":null,"EphemeralStorage":{},"LoggingConfig":{},"SnapStart":{}}`))
	f.Add("PUT", "/2015-03-31/functions/shop/aliases/live", []byte(`{"RoutingConfig":{"AdditionalVersionWeights":{"x":2}}}`))
	f.Add("GET", "/2015-03-31/functions/%3Aa%3A/configuration", []byte(nil))
	s := newImageTestServer(f, goldenImages())
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") || method == "" || strings.ContainsAny(method, " \r\n/") {
			return
		}
		req, err := http.NewRequest(method, "http://127.0.0.1"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s %q: status %d: %s", method, path, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 {
			//lint:ignore SA1008 furl sets the header under AWS's own spelling (setRaw), which is what this checks
			if rec.Result().Header["x-amzn-ErrorType"] == nil {
				t.Fatalf("%s %s: error %d without x-amzn-ErrorType", method, path, rec.Code)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s: error body is not JSON: %s", method, path, rec.Body.String())
			}
		}
	})
}
