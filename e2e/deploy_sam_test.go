package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

const samTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: hi from sam
Globals:
  Function:
    Runtime: nodejs22.x
    MemorySize: 256
    Timeout: 10
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: api/
      Handler: main.handler
      Environment:
        Variables:
          GREETING: !Ref Greeting
      Events:
        Root:
          Type: Api
          Properties: {Path: /, Method: get, RestApiId: !Ref SomeApi}
      FunctionUrlConfig:
        AuthType: NONE
        Cors:
          AllowOrigins: ["https://app.example"]
          AllowMethods: [POST]
          MaxAge: 60
  Streamer:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: sam-stream
      CodeUri: stream
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: RESPONSE_STREAM
  Quiet:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: quiet
`

// samFiles is a SAM project: the template and the code of its three
// functions (the handlers of Streamer and Quiet are inferred).
var samFiles = map[string]string{
	"template.yaml": samTemplate,
	"api/main.mjs":  "export const handler = async () => process.env.GREETING;\n",
	"stream/index.mjs": `export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream = awslambda.HttpResponseStream.from(stream, { statusCode: 201, headers: { "content-type": "text/plain" } });
  stream.write("one ");
  stream.end("two");
});
`,
	"quiet/index.js": "exports.handler = async () => 'quiet';\n",
}

// deployLines maps each function deploy names to the URL line after it
// ("" when it printed none).
func deployLines(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		m := regexp.MustCompile(`^(created|updated) (\S+) \(`).FindStringSubmatch(l)
		if m == nil {
			continue
		}
		got[m[2]] = ""
		if i+1 < len(lines) && deployURL.MatchString(lines[i+1]) {
			got[m[2]] = lines[i+1]
		}
	}
	return got
}

// TestDeploySAMTemplate deploys a SAM template with three functions: one
// whose URL has CORS, one streaming, one with no URL. It calls the URLs
// with a Go client, checks what furl holds, then deploys again with a
// flag that wins over the template: the URLs stay.
func TestDeploySAMTemplate(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	dir := filepath.Join(t.TempDir(), "proj")
	writeFiles(t, dir, samFiles)

	out, err := exec.Command(furlBin, "deploy", "--debug", "--endpoint", "http://"+f.addr, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("furl deploy: %v\n%s", err, out)
	}
	urls := deployLines(t, string(out))
	if len(urls) != 3 || urls["Api"] == "" || urls["sam-stream"] == "" || urls["Quiet"] != "" {
		t.Fatalf("deploy made %v:\n%s", urls, out)
	}
	if !strings.Contains(string(out), "property=Resources.Api.Properties.Events") || !strings.Contains(string(out), "curl -N "+urls["sam-stream"]) {
		t.Fatalf("no debug line for Events or no streaming curl line:\n%s", out)
	}

	// Api: the parameter's default reached the variable; CORS as the
	// template says, on the answer and on a preflight.
	req, _ := http.NewRequest("GET", urls["Api"], nil)
	req.Header.Set("Origin", "https://app.example")
	resp, err := localhostClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hi from sam" || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("Api: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	pre, _ := http.NewRequest("OPTIONS", urls["Api"], nil)
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	resp, err = localhostClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Methods") != "POST" || resp.Header.Get("Access-Control-Max-Age") != "60" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	// Streamer: RESPONSE_STREAM, so the prelude gives status and headers
	// and the body comes chunked.
	resp, err = localhostClient.Get(urls["sam-stream"])
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(body) != "one two" || resp.ContentLength != -1 || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("Streamer: %d %q length %d %v", resp.StatusCode, body, resp.ContentLength, resp.Header)
	}

	for name, handler := range map[string]string{"Api": "main.handler", "sam-stream": "index.handler", "Quiet": "index.handler"} {
		fn, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if g := fn.Configuration; aws.ToString(g.Handler) != handler || aws.ToInt32(g.MemorySize) != 256 || aws.ToInt32(g.Timeout) != 10 {
			t.Fatalf("%s: %s", name, jsonOf(g))
		}
	}
	if _, err := c.GetFunctionUrlConfig(ctx(t), &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("Quiet")}); err == nil {
		t.Fatal("Quiet has a URL, and the template gives it none")
	}

	// Again, with --timeout: the flag wins for every function, the URLs
	// stay.
	out, err = exec.Command(furlBin, "deploy", "--endpoint", "http://"+f.addr, "--timeout", "20", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("furl deploy again: %v\n%s", err, out)
	}
	if again := deployLines(t, string(out)); again["Api"] != urls["Api"] || again["sam-stream"] != urls["sam-stream"] {
		t.Fatalf("redeploy moved URLs: %v, then %v", urls, again)
	}
	for _, name := range []string{"Api", "sam-stream", "Quiet"} {
		fn, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil || aws.ToInt32(fn.Configuration.Timeout) != 20 {
			t.Fatalf("%s after --timeout 20: %v %s", name, err, jsonOf(fn))
		}
	}

	// A furl.json next to the template: deploy refuses to pick one.
	if err := os.WriteFile(filepath.Join(dir, "furl.json"), []byte(`{"timeout": 5}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(furlBin, "deploy", "--endpoint", "http://"+f.addr, dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "holds both template.yaml and furl.json") {
		t.Fatalf("template and furl.json: %v\n%s", err, out)
	}
}

// TestReadmeSAMTemplate deploys the README's SAM template as written,
// with code for its two functions: if the README drifts from what furl
// deploy reads, this fails.
func TestReadmeSAMTemplate(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### A SAM template\n.*?```yaml\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no SAM template")
	}
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"template.yaml":   string(m[1]),
		"api/index.mjs":   "export const handler = async () => process.env.GREETING;\n",
		"tokens/index.js": "exports.handler = awslambda.streamifyResponse(async (e, s) => { s.end('token'); });\n",
	})
	out, err := exec.Command(furlBin, "deploy", "--endpoint", "http://"+f.addr, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("furl deploy: %v\n%s", err, out)
	}
	urls := deployLines(t, string(out))
	if len(urls) != 2 || urls["Api"] == "" || urls["tokens"] == "" {
		t.Fatalf("deploy made %v:\n%s", urls, out)
	}
	if got := getBody(t, urls["Api"]); got != "hello from SAM" {
		t.Fatalf("Api answers %q", got)
	}
	if got := getBody(t, urls["tokens"]); got != "token" {
		t.Fatalf("tokens answers %q", got)
	}
}
