package e2e

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// deployURL matches the URL furl deploy prints on a line of its own.
var deployURL = regexp.MustCompile(`(?m)^(http://([a-z0-9]+)\.lambda-url\.us-east-1\.localhost:\d+/)$`)

// runDeploy runs "furl deploy" against f and returns the printed URL and
// its id.
func runDeploy(t *testing.T, f *furl, args ...string) (url, id string) {
	t.Helper()
	cmd := exec.Command(furlBin, append([]string{"deploy", "--endpoint", "http://" + f.addr}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("furl deploy %v: %v\n%s", args, err, out)
	}
	m := deployURL.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("furl deploy printed no URL:\n%s", out)
	}
	if !hasCurlLine(string(out), m[1]) {
		t.Errorf("furl deploy printed no curl line for %s:\n%s", m[1], out)
	}
	return m[1], m[2]
}

// hasCurlLine reports whether out has deploy's curl line for url: plain,
// or with -N for a streaming URL.
func hasCurlLine(out, url string) bool {
	return strings.Contains(out, "curl "+url) || strings.Contains(out, "curl -N "+url)
}

// getBody GETs a function URL by its Host on furl's plain port.
func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := localhostClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return string(body)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeployFolders deploys a Node and a Python folder with inferred
// runtimes, calls their URLs, edits each handler and deploys again: the
// URL id stays, the answer changes, and what .furlignore names never
// reaches the function (each handler lists its own directory).
func TestDeployFolders(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	nodeHandler := func(v string) string {
		return `import { readdirSync } from "node:fs";
export const handler = async () => "` + v + `:" + readdirSync(new URL(".", import.meta.url)).sort().join(",");
`
	}
	pyHandler := func(v string) string {
		return `import os

def handler(event, context):
    return "` + v + `:" + ",".join(sorted(os.listdir(os.path.dirname(os.path.abspath(__file__)))))
`
	}
	for _, tc := range []struct {
		name, file string
		code       func(string) string
		want1      string
	}{
		{"node-app", "index.mjs", nodeHandler, "v1:.furlignore,data.txt,index.mjs"},
		{"py app", "app.py", pyHandler, "v1:.furlignore,app.py,data.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tc.name)
			writeFiles(t, dir, map[string]string{
				tc.file: tc.code("v1"), "data.txt": "kept", "secret.txt": "left out", "logs/a.log": "left out",
				".furlignore": "# not deployed\nsecret.txt\nlogs/\n",
			})
			url, id := runDeploy(t, f, dir)
			if got := getBody(t, url); got != tc.want1 {
				t.Fatalf("first deploy answers %q, want %q", got, tc.want1)
			}
			writeFiles(t, dir, map[string]string{tc.file: tc.code("v2")})
			url2, id2 := runDeploy(t, f, dir)
			if id2 != id || url2 != url {
				t.Fatalf("redeploy moved the URL: %s, then %s", url, url2)
			}
			if got, want := getBody(t, url), "v2"+strings.TrimPrefix(tc.want1, "v1"); got != want {
				t.Fatalf("after the edit the URL answers %q, want %q", got, want)
			}
		})
	}
}

// TestDeployUnreachable: with no furl at the endpoint, deploy says so in
// one line and exits 1.
func TestDeployUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"index.mjs": "export const handler = async () => 1;\n"})
	cmd := exec.Command(furlBin, "deploy", "--endpoint", "http://"+addr, dir)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("want exit code 1, got %v", err)
	}
	msg := stderr.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "cannot reach furl at http://"+addr) || stdout.Len() != 0 {
		t.Fatalf("stdout %q, stderr %q", stdout.String(), msg)
	}
}

// TestDeployZipAndSettings deploys a zip with flags, then a folder whose
// furl.json names it, and checks what furl holds: the URL's invoke mode,
// the variables and the name come from the settings.
func TestDeployZipAndSettings(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	zipPath := filepath.Join(t.TempDir(), "greeter.zip")
	if err := os.WriteFile(zipPath, makeZip(t, map[string]string{"index.js": "exports.handler = async () => process.env.GREETING;\n"}), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(furlBin, "deploy", "--endpoint", "http://"+f.addr, "--stream", "--env", "GREETING=hello", zipPath).CombinedOutput()
	if err != nil {
		t.Fatalf("furl deploy: %v\n%s", err, out)
	}
	m := deployURL.FindStringSubmatch(string(out))
	if m == nil || !strings.Contains(string(out), "curl -N "+m[1]) {
		t.Fatalf("no URL or no streaming curl line:\n%s", out)
	}
	cfg, err := c.GetFunctionUrlConfig(ctx(t), &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("greeter")})
	if err != nil || cfg.InvokeMode != types.InvokeModeResponseStream || aws.ToString(cfg.FunctionUrl) != m[1] {
		t.Fatalf("URL config of greeter: %v %s", err, jsonOf(cfg))
	}
	// A handler that does not stream, behind a RESPONSE_STREAM URL, sends
	// its JSON result as the body: the string keeps its quotes.
	if got := getBody(t, m[1]); got != `"hello"` {
		t.Fatalf("greeter answers %q", got)
	}

	dir := filepath.Join(t.TempDir(), "folder")
	writeFiles(t, dir, map[string]string{"handler.py": "def handler(e, c):\n    return 'json'\n", "furl.json": `{"name": "fromjson", "timeout": 7}`})
	runDeploy(t, f, "--timeout", "9", dir)
	fn, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("fromjson")})
	if err != nil {
		t.Fatal(err)
	}
	if got := fn.Configuration; aws.ToString(got.Handler) != "handler.handler" || got.Runtime != types.RuntimePython312 || aws.ToInt32(got.Timeout) != 9 {
		t.Fatalf("fromjson: %s", jsonOf(got))
	}
}
