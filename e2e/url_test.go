package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// publicURL gives a function (or alias) a NONE URL and the two statements
// AWS requires for public access, and returns the URL.
func publicURL(t testing.TB, c *lambda.Client, name string, qualifier *string) string {
	t.Helper()
	out, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(name), Qualifier: qualifier, AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatalf("CreateFunctionUrlConfig %s: %v", name, err)
	}
	grantURL(t, c, name, qualifier)
	grantInvokeViaURL(t, c, name, qualifier)
	return aws.ToString(out.FunctionUrl)
}

func grantURL(t testing.TB, c *lambda.Client, name string, qualifier *string) {
	t.Helper()
	if _, err := c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: aws.String(name), Qualifier: qualifier, StatementId: aws.String("FunctionURLAllowPublicAccess"),
		Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone}); err != nil {
		t.Fatal(err)
	}
}

func grantInvokeViaURL(t testing.TB, c *lambda.Client, name string, qualifier *string) {
	t.Helper()
	if _, err := c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: aws.String(name), Qualifier: qualifier, StatementId: aws.String("FunctionURLInvokeAllowPublicAccess"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"), InvokedViaFunctionUrl: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
}

func createURLFunction(t testing.TB, c *lambda.Client, name string, timeout int32) {
	t.Helper()
	// Built before the call's deadline starts: the first build can be slow.
	zipped := urlFunction(t)
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: zipped}, Timeout: aws.Int32(timeout),
	}); err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
}

// localhostClient is an HTTP client that resolves *.localhost to loopback,
// as curl and browsers do (RFC 6761) and Go's resolver does not.
var localhostClient = &http.Client{Transport: &http.Transport{
	DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err == nil && strings.HasSuffix(host, ".localhost") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	},
}}

// curl runs the real curl; *.localhost resolves to loopback in curl itself.
func curl(t testing.TB, args ...string) (status int, headers http.Header, body []byte) {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-s", "-i", "--max-time", "30"}, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	head, rest, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	fmt.Sscanf(lines[0], "HTTP/%s %d", new(string), &status)
	headers = http.Header{}
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ": "); ok {
			headers.Add(k, v)
		}
	}
	return status, headers, rest
}

func TestURLEventThroughCurl(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createURLFunction(t, c, "echo", 5)
	u := publicURL(t, c, "echo", nil)
	id := regexp.MustCompile(`^http://([a-z0-9]+)\.lambda-url`).FindStringSubmatch(u)[1]

	status, h, body := curl(t, "-X", "POST", "-H", "Cookie: session=9f8e7d6c; theme=dark", "-H", "X-Custom-Header: One", "-H", "X-Custom-Header: Two",
		"-H", "content-type: application/json", "-H", "Connection: keep-alive", "-d", `{"item":"book","qty":2}`, u+"echo?expand=items&tag=a&tag=b%2Fc")
	if status != 200 || h.Get("Content-Type") != "application/json" || !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(h.Get("X-Amzn-Requestid")) {
		t.Fatalf("status %d, headers %v: %s", status, h, body)
	}
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("echoed event: %v\n%s", err, body)
	}
	port := f.addr[strings.LastIndex(f.addr, ":")+1:]
	checks := []struct {
		what      string
		got, want any
	}{
		{"version", ev.Version, "2.0"},
		{"rawPath", ev.RawPath, "/echo"},
		{"rawQueryString", ev.RawQueryString, "expand=items&tag=a&tag=b%2Fc"},
		{"cookies", strings.Join(ev.Cookies, "|"), "session=9f8e7d6c|theme=dark"},
		{"repeated header", ev.Headers["x-custom-header"], "One,Two"},
		{"cookie header kept", ev.Headers["cookie"], "session=9f8e7d6c; theme=dark"},
		{"connection dropped", ev.Headers["connection"], ""},
		{"content-length", ev.Headers["content-length"], "23"},
		{"host", ev.Headers["host"], id + ".lambda-url.us-east-1.localhost:" + port},
		{"x-forwarded-for", ev.Headers["x-forwarded-for"], "127.0.0.1"},
		{"x-forwarded-port", ev.Headers["x-forwarded-port"], port},
		{"repeated query key", ev.QueryStringParameters["tag"], "a,b/c"},
		{"query", ev.QueryStringParameters["expand"], "items"},
		{"body", ev.Body, `{"item":"book","qty":2}`},
		{"isBase64Encoded", ev.IsBase64Encoded, false},
		{"accountId", ev.RequestContext.AccountID, "anonymous"},
		{"apiId", ev.RequestContext.APIID, id},
		{"domainPrefix", ev.RequestContext.DomainPrefix, id},
		{"method", ev.RequestContext.HTTP.Method, "POST"},
		{"path", ev.RequestContext.HTTP.Path, "/echo"},
		{"sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
		{"requestId", ev.RequestContext.RequestID, h.Get("X-Amzn-Requestid")},
	}
	for _, ck := range checks {
		if fmt.Sprint(ck.got) != fmt.Sprint(ck.want) {
			t.Errorf("%s = %q, want %q", ck.what, ck.got, ck.want)
		}
	}
	if !strings.HasPrefix(ev.Headers["x-amzn-trace-id"], "Root=1-") || !strings.HasPrefix(ev.RequestContext.HTTP.UserAgent, "curl/") ||
		!regexp.MustCompile(`^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$`).MatchString(ev.RequestContext.Time) || ev.RequestContext.TimeEpoch < 1e12 {
		t.Errorf("trace %q, user agent %q, time %q %d", ev.Headers["x-amzn-trace-id"], ev.RequestContext.HTTP.UserAgent, ev.RequestContext.Time, ev.RequestContext.TimeEpoch)
	}

	// A GET has no body, no query, no cookies.
	_, _, body = curl(t, u+"echo")
	var get map[string]any
	if err := json.Unmarshal(body, &get); err != nil {
		t.Fatalf("GET echo: %v: %s", err, body)
	}
	for _, absent := range []string{"body", "cookies", "queryStringParameters"} {
		if _, ok := get[absent]; ok {
			t.Errorf("a bare GET's event has %s: %s", absent, body)
		}
	}
	// The path form reaches the same URL.
	status, _, body = curl(t, "http://"+f.addr+"/lambda-url/"+id+"/echo?x=1")
	if status != 200 || !bytes.Contains(body, []byte(`"rawPath":"/echo"`)) {
		t.Fatalf("path form: %d %s", status, body)
	}
	// Cookies from the function arrive as Set-Cookie headers.
	status, h, body = curl(t, u+"cookies")
	if status != 200 || strings.Join(h.Values("Set-Cookie"), "|") != "session=abc; HttpOnly|theme=dark" || string(body) != "cookies set" {
		t.Fatalf("cookies: %d %v %q", status, h.Values("Set-Cookie"), body)
	}
	// The status the function chose, with its body.
	if status, _, body = curl(t, u+"status/418"); status != 418 || string(body) != "status 418" {
		t.Fatalf("status: %d %q", status, body)
	}
	mustContain(t, f.logs.String(), `msg="url request"`)
}

func TestURLBinaryBothWaysAndMethods(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createURLFunction(t, c, "bin", 5)
	u := publicURL(t, c, "bin", nil)

	payload := make([]byte, 256*1024)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	resp, err := localhostClient.Post(u+"mirror", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, payload) || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("binary round trip: %d, %d bytes (equal %v), %s", resp.StatusCode, len(got), bytes.Equal(got, payload), resp.Header.Get("Content-Type"))
	}
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
		req, _ := http.NewRequest(method, u+"method", nil)
		resp, err := localhostClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := method
		if method == "HEAD" {
			want = ""
		}
		if resp.StatusCode != 200 || resp.Header.Get("X-Method") != method || string(body) != want {
			t.Errorf("%s: %d %q %q", method, resp.StatusCode, resp.Header.Get("X-Method"), body)
		}
	}
}

func TestURLErrors(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createURLFunction(t, c, "fails", 1)
	u := publicURL(t, c, "fails", nil)
	for _, path := range []string{"error", "panic", "exit", "sleep", "big"} {
		status, h, body := curl(t, u+path)
		if status != 502 || string(body) != "Internal Server Error" || h.Get("X-Amzn-Requestid") == "" {
			t.Errorf("/%s: %d %q", path, status, body)
		}
	}
	// A request whose event would exceed 6291456 bytes.
	big := bytes.Repeat([]byte("a"), 6<<20)
	resp, err := localhostClient.Post(u+"echo", "text/plain", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || resp.Header.Get("X-Amzn-Errortype") != "RequestEntityTooLargeException" ||
		string(body) != `{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}` {
		t.Fatalf("oversize request: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// A binary body of 4.8 MB fits the body limit but not, in base64, the
	// event's.
	resp, err = localhostClient.Post(u+"echo", "application/octet-stream", bytes.NewReader(make([]byte, 4800000)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("a 4.8 MB binary body: %d", resp.StatusCode)
	}
	// An unknown url-id, and a deleted URL.
	for _, target := range []string{"http://nonexistentnonexistentnonexist0abcde.lambda-url.us-east-1.localhost:" + f.addr[strings.LastIndex(f.addr, ":")+1:] + "/", u} {
		if target == u {
			if _, err := c.DeleteFunctionUrlConfig(ctx(t), &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("fails")}); err != nil {
				t.Fatal(err)
			}
		}
		status, h, body := curl(t, target)
		if status != 403 || h.Get("X-Amzn-Errortype") != "AccessDeniedException" || string(body) != `{"Message":null}` || h.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %v %s", target, status, h, body)
		}
	}
}

func TestURLPermissionMatrix(t *testing.T) {
	forbidden := `{"Message":"Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}`
	check := func(t *testing.T, f *furl, u string, want int) {
		t.Helper()
		status, h, body := curl(t, u+"echo")
		if status != want {
			t.Fatalf("status %d, want %d: %s", status, want, body)
		}
		if want == 403 && (string(body) != forbidden || h.Get("X-Amzn-Errortype") != "AccessDeniedException") {
			t.Fatalf("refusal: %v %s", h, body)
		}
	}
	t.Run("aws", func(t *testing.T) {
		f := startFurl(t, t.TempDir(), "127.0.0.1:0")
		c := f.client()
		createURLFunction(t, c, "guarded", 5)
		out, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("guarded"), AuthType: types.FunctionUrlAuthTypeNone})
		if err != nil {
			t.Fatal(err)
		}
		u := aws.ToString(out.FunctionUrl)
		check(t, f, u, 403) // no policy
		mustContain(t, f.logs.String(), "--statement-id FunctionURLAllowPublicAccess --action lambda:InvokeFunctionUrl --function-url-auth-type NONE")
		grantURL(t, c, "guarded", nil)
		check(t, f, u, 403) // the first statement only: AWS's 2025 rule wants both
		mustContain(t, f.logs.String(), "--statement-id FunctionURLInvokeAllowPublicAccess --action lambda:InvokeFunction --invoked-via-function-url")
		grantInvokeViaURL(t, c, "guarded", nil)
		check(t, f, u, 200)
		if _, err := c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: aws.String("guarded"), StatementId: aws.String("only-s3"),
			Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("s3.amazonaws.com")}); err != nil {
			t.Fatal(err)
		}
		check(t, f, u, 200) // an unrelated statement changes nothing
		// The policy stores only Allow statements (AddPermission makes no
		// others); a URL config of another auth type refuses anonymous callers.
		if _, err := c.UpdateFunctionUrlConfig(ctx(t), &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("guarded"), AuthType: types.FunctionUrlAuthTypeAwsIam}); err != nil {
			t.Fatal(err)
		}
		check(t, f, u, 403)
	})
	t.Run("legacy", func(t *testing.T) {
		f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--url-permissions", "legacy")
		c := f.client()
		createURLFunction(t, c, "old", 5)
		out, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("old"), AuthType: types.FunctionUrlAuthTypeNone})
		if err != nil {
			t.Fatal(err)
		}
		check(t, f, aws.ToString(out.FunctionUrl), 403)
		grantURL(t, c, "old", nil)
		check(t, f, aws.ToString(out.FunctionUrl), 200)
	})
	t.Run("open", func(t *testing.T) {
		f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--url-permissions", "open")
		c := f.client()
		createURLFunction(t, c, "open", 5)
		out, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("open"), AuthType: types.FunctionUrlAuthTypeNone})
		if err != nil {
			t.Fatal(err)
		}
		check(t, f, aws.ToString(out.FunctionUrl), 200)
	})
}

func TestURLOnAliasAndScriptHandlers(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createScript(t, c, "node", types.RuntimeNodejs20x, "index.handler", map[string]string{"index.mjs": `
export const handler = async (event) => ({ statusCode: 200, headers: { "content-type": "text/plain" }, body: "v=" + process.env.AWS_LAMBDA_FUNCTION_VERSION + " " + event.rawPath + " " + (event.isBase64Encoded ? Buffer.from(event.body, "base64").length : event.body) });`})
	if _, err := c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: aws.String("node")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: aws.String("node"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	latest := publicURL(t, c, "node", nil)
	live := publicURL(t, c, "node", aws.String("live"))
	if status, _, body := curl(t, latest+"a", "-d", "hi", "-H", "content-type: text/plain"); status != 200 || string(body) != "v=$LATEST /a hi" {
		t.Fatalf("$LATEST URL: %d %q", status, body)
	}
	binFile := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(binFile, []byte{0, 1, 2}, 0o644); err != nil {
		t.Fatal(err)
	}
	if status, _, body := curl(t, live+"b", "--data-binary", "@"+binFile, "-H", "content-type: application/octet-stream"); status != 200 || string(body) != "v=1 /b 3" {
		t.Fatalf("alias URL: %d %q", status, body)
	}
	// The alias URL answers to the alias' policy, not the function's.
	if _, err := c.RemovePermission(ctx(t), &lambda.RemovePermissionInput{FunctionName: aws.String("node"), Qualifier: aws.String("live"), StatementId: aws.String("FunctionURLInvokeAllowPublicAccess")}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := curl(t, live); status != 403 {
		t.Fatalf("alias URL without the alias' invoke statement: %d", status)
	}
	if status, _, _ := curl(t, latest); status != 200 {
		t.Fatalf("$LATEST URL after the alias lost a statement: %d", status)
	}
	// The URL of a deleted alias answers Lambda's Forbidden, not an unknown URL's null.
	if _, err := c.DeleteAlias(ctx(t), &lambda.DeleteAliasInput{FunctionName: aws.String("node"), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	if status, h, body := curl(t, live); status != 403 || h.Get("X-Amzn-Errortype") != "AccessDeniedException" ||
		string(body) != `{"Message":"Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}` {
		t.Fatalf("URL of a deleted alias: %d %s", status, body)
	}

	createScript(t, c, "py", types.RuntimePython312, "app.handler", map[string]string{"app.py": `
import json
def handler(event, context):
    return {"method": event["requestContext"]["http"]["method"], "q": event.get("queryStringParameters"), "cookies": event.get("cookies")}
`})
	pyURL := publicURL(t, c, "py", nil)
	status, h, body := curl(t, "-X", "PATCH", "-b", "a=1; b=2", pyURL+"x?k=v&k=w")
	if status != 200 || h.Get("Content-Type") != "application/json" || string(body) != `{"method":"PATCH","q":{"k":"v,w"},"cookies":["a=1","b=2"]}` {
		t.Fatalf("python URL: %d %v %s", status, h, body)
	}
}
