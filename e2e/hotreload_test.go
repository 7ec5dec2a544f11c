package e2e

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// watchDeploy is one running "furl deploy --watch".
type watchDeploy struct {
	url string
	out *syncBuffer
}

// startWatch runs "furl deploy --watch" against f until the test ends,
// when it is sent SIGINT and must exit 0.
func startWatch(t *testing.T, f *furl, args ...string) *watchDeploy {
	t.Helper()
	cmd := exec.Command(furlBin, append([]string{"deploy", "--endpoint", "http://" + f.addr, "--watch"}, args...)...)
	out := &syncBuffer{changed: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("furl deploy --watch ended by SIGINT: %v\n%s", err, out.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("furl deploy --watch did not end on SIGINT\n%s", out.String())
		}
	})
	out.waitFor(t, "watching ", 3*time.Minute)
	m := deployURL.FindStringSubmatch(out.String())
	if m == nil || !hasCurlLine(out.String(), m[1]) {
		t.Fatalf("furl deploy --watch printed no URL and curl line:\n%s", out.String())
	}
	return &watchDeploy{url: m[1], out: out}
}

// Handlers that answer their version, an id of their execution
// environment (made at init) and how many requests that environment has
// served.
func nodeCounter(v string) string {
	return `const env = Math.random().toString(36).slice(2); let n = 0;
export const handler = async () => "` + v + `/" + env + "/" + (++n);
`
}

func pyCounter(v string) string {
	return `import random
env = "%x" % random.getrandbits(48)
n = 0

def handler(event, context):
    global n
    n += 1
    return "` + v + `/%s/%d" % (env, n)
`
}

// answer splits a counter handler's answer.
func answer(t *testing.T, body string) (version, env, count string) {
	t.Helper()
	parts := strings.Split(strings.Trim(body, `"`), "/")
	if len(parts) != 3 {
		t.Fatalf("unexpected answer %q", body)
	}
	return parts[0], parts[1], parts[2]
}

// TestHotReloadWatch: a Node and a Python folder under "furl deploy
// --watch" answer, after each save, the saved code on the very next
// request (same-size edits, written in place, one after another); without
// a save the warm environment keeps serving; and another function's warm
// environment is never restarted by the edits.
func TestHotReloadWatch(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	otherDir := filepath.Join(t.TempDir(), "bystander")
	writeFiles(t, otherDir, map[string]string{"index.mjs": nodeCounter("b")})
	otherURL, _ := runDeploy(t, f, otherDir)
	_, otherEnv, _ := answer(t, getBody(t, otherURL))
	otherCalls := 1

	for _, tc := range []struct {
		name, file string
		code       func(string) string
	}{
		{"node-hot", "index.mjs", nodeCounter},
		{"py-hot", "app.py", pyCounter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tc.name)
			writeFiles(t, dir, map[string]string{tc.file: tc.code("v0")})
			w := startWatch(t, f, dir)
			v, env, n := answer(t, getBody(t, w.url))
			if v != "v0" || n != "1" {
				t.Fatalf("first answer %s/%s/%s", v, env, n)
			}
			// No save: the same warm environment serves again.
			if v2, env2, n2 := answer(t, getBody(t, w.url)); v2 != "v0" || env2 != env || n2 != "2" {
				t.Fatalf("without a save: %s/%s/%s, want v0/%s/2", v2, env2, n2, env)
			}
			for i := 1; i <= 5; i++ {
				want := "v" + strconv.Itoa(i)
				writeFiles(t, dir, map[string]string{tc.file: tc.code(want)})
				v, newEnv, n := answer(t, getBody(t, w.url))
				if v != want || newEnv == env || n != "1" {
					t.Fatalf("the first request after save %d answers %s/%s/%s, want %s from a fresh environment", i, v, newEnv, n, want)
				}
				env = newEnv
			}
			// The folder is the function's: furl wrote nothing into it.
			if names := dirNames(t, dir); len(names) != 1 || names[0] != tc.file {
				t.Errorf("the folder holds %v", names)
			}
			// The other function kept its warm environment.
			otherCalls++
			if _, e, n := answer(t, getBody(t, otherURL)); e != otherEnv || n != strconv.Itoa(otherCalls) {
				t.Fatalf("the other function answers env %s call %s, want env %s call %d: it was restarted", e, n, otherEnv, otherCalls)
			}
		})
	}
}

// TestHotReloadAPI: the Lambda API way, with the AWS SDK: CreateFunction
// with S3Bucket "hot-reload" runs the folder, GetFunction reports it, an
// edit is live for the next Invoke; a relative path, a missing one and a
// file are refused with InvalidParameterValueException and nothing is
// stored.
func TestHotReloadAPI(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"index.js": "exports.handler = async () => 'one';\n"})
	create := func(name, key string) error {
		_, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
			FunctionName: aws.String(name), Runtime: types.RuntimeNodejs22x, Handler: aws.String("index.handler"),
			Role: aws.String("arn:aws:iam::000000000000:role/r"),
			Code: &types.FunctionCode{S3Bucket: aws.String("hot-reload"), S3Key: aws.String(key)},
		})
		return err
	}
	if err := create("hot", dir); err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	got, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("hot")})
	if err != nil {
		t.Fatal(err)
	}
	if sha := aws.ToString(got.Configuration.CodeSha256); sha != "hot-reloading-hash-not-available" || got.Configuration.CodeSize != 0 {
		t.Errorf("CodeSha256 %q, CodeSize %d", sha, got.Configuration.CodeSize)
	}
	if loc := aws.ToString(got.Code.Location); loc != "file://"+dir {
		t.Errorf("Code.Location %q, want file://%s", loc, dir)
	}
	invoke := func() string {
		t.Helper()
		out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("hot")})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("Invoke: %v %s", err, out.Payload)
		}
		return string(out.Payload)
	}
	if got := invoke(); got != `"one"` {
		t.Fatalf("Invoke answers %s", got)
	}
	writeFiles(t, dir, map[string]string{"index.js": "exports.handler = async () => 'two';\n"})
	if got := invoke(); got != `"two"` {
		t.Fatalf("after the edit Invoke answers %s", got)
	}

	file := filepath.Join(dir, "index.js")
	for _, tc := range []struct{ name, key, want string }{
		{"relative", "some/folder", "must be an absolute path"},
		{"missing", filepath.Join(dir, "nope"), "no such folder"},
		{"file", file, "is a file, not a folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := create("bad-"+tc.name, tc.key)
			if code := apiErrCode(t, err, "InvalidParameterValueException"); !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want a message containing %q", code, err, tc.want)
			}
			_, err = c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("bad-" + tc.name)})
			var nf *types.ResourceNotFoundException
			if !errors.As(err, &nf) {
				t.Errorf("after a refused create GetFunction says %v, want ResourceNotFoundException", err)
			}
			_, err = c.UpdateFunctionCode(ctx(t), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hot"), S3Bucket: aws.String("hot-reload"), S3Key: aws.String(tc.key)})
			apiErrCode(t, err, "InvalidParameterValueException")
			if got := invoke(); got != `"two"` {
				t.Errorf("after a refused update Invoke answers %s", got)
			}
		})
	}
}

var buildOK = regexp.MustCompile(`(?m)^build ok in \S+$`)

// goRuntime is a custom runtime in plain Go (no dependencies, so it
// builds offline): it answers every event with msg.
func goRuntime(msg string) string {
	return `package main

import (
	"net/http"
	"os"
	"strings"
)

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		resp, err := http.Get(api + "next")
		if err != nil {
			os.Exit(1)
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		resp.Body.Close()
		r, err := http.Post(api+id+"/response", "application/json", strings.NewReader(` + "`\"" + msg + "\"`" + `))
		if err == nil {
			r.Body.Close()
		}
	}
}
`
}

// TestHotReloadGoBuild: "furl deploy --watch --build 'go build -o
// bootstrap .'" builds at start and after each save of main.go; the next
// request after the "build ok" line runs the new build; a broken save
// prints the compiler's error and the last good build keeps serving.
func TestHotReloadGoBuild(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	dir := filepath.Join(t.TempDir(), "gohot")
	writeFiles(t, dir, map[string]string{"go.mod": "module gohot\n\ngo 1.24\n", "main.go": goRuntime("go-1")})
	w := startWatch(t, f, "--build", "CGO_ENABLED=0 go build -o bootstrap .", dir)
	if got := getBody(t, w.url); got != "go-1" {
		t.Fatalf("first build answers %s", got)
	}
	for i := 2; i <= 3; i++ {
		want := "go-" + strconv.Itoa(i)
		writeFiles(t, dir, map[string]string{"main.go": goRuntime(want)})
		w.out.waitCount(t, "build ok in ", i, 2*time.Minute)
		if got := getBody(t, w.url); got != want {
			t.Fatalf("after rebuild %d the URL answers %s, want %q", i, got, want)
		}
	}
	writeFiles(t, dir, map[string]string{"main.go": "package main\n\nfunc main() { undefinedThing() }\n"})
	w.out.waitFor(t, "build failed in ", 2*time.Minute)
	w.out.waitFor(t, "undefined: undefinedThing", 10*time.Second)
	if got := getBody(t, w.url); got != "go-3" {
		t.Fatalf("after a failed build the URL answers %s, want the last good build", got)
	}
	if n := len(buildOK.FindAllString(w.out.String(), -1)); n != 3 {
		t.Errorf("%d build lines, want 3 (one at start, one per save):\n%s", n, w.out.String())
	}
	t.Logf("furl deploy --watch --build printed:\n%s", w.out.String())
}

// TestHotReloadDocker: in the Docker sandbox the folder is bind-mounted
// read-only at /var/task, and a save is live for the next Invoke.
func TestHotReloadDocker(t *testing.T) {
	requireDocker(t, nodeImage)
	f := startDockerFurl(t)
	removeContainersAtEnd(t, "hot-docker")
	c := f.client()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"index.js": nodeCJSCounter("d1")})
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("hot-docker"), Runtime: types.RuntimeNodejs20x, Handler: aws.String("index.handler"),
		Role: aws.String("arn:aws:iam::000000000000:role/r"),
		Code: &types.FunctionCode{S3Bucket: aws.String("hot-reload"), S3Key: aws.String(dir)},
	}); err != nil {
		t.Fatal(err)
	}
	invoke := func() string {
		t.Helper()
		out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("hot-docker")})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("Invoke: %v %s", err, out.Payload)
		}
		return string(out.Payload)
	}
	v, env, _ := answer(t, invoke())
	if v != "d1" {
		t.Fatalf("first Invoke answers %s", v)
	}
	ids := containersOf(t, "hot-docker")
	if len(ids) != 1 {
		t.Fatalf("containers %v", ids)
	}
	mounted := false
	for _, m := range inspectContainer(t, ids[0]).Mounts {
		if m.Destination == "/var/task" {
			mounted = m.Source == dir && !m.RW
		}
	}
	if !mounted {
		t.Errorf("the folder is not mounted read-only at /var/task: %+v", inspectContainer(t, ids[0]).Mounts)
	}
	writeFiles(t, dir, map[string]string{"index.js": nodeCJSCounter("d2")})
	if v, env2, n := answer(t, invoke()); v != "d2" || env2 == env || n != "1" {
		t.Fatalf("after the save Invoke answers %s/%s/%s, want d2 from a fresh environment", v, env2, n)
	}
}

// nodeCJSCounter is nodeCounter as a CommonJS module.
func nodeCJSCounter(v string) string {
	return `const env = Math.random().toString(36).slice(2); let n = 0;
exports.handler = async () => "` + v + `/" + env + "/" + (++n);
`
}

// TestHotReloadWatchTakesOver: --watch on a folder already deployed as a
// zip switches that function to the folder, keeping its URL.
func TestHotReloadWatchTakesOver(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	dir := filepath.Join(t.TempDir(), "takeover")
	writeFiles(t, dir, map[string]string{"index.mjs": nodeCounter("zip")})
	url, _ := runDeploy(t, f, dir)
	if v, _, _ := answer(t, getBody(t, url)); v != "zip" {
		t.Fatalf("the zip deploy answers %s", v)
	}
	w := startWatch(t, f, dir)
	if w.url != url {
		t.Fatalf("--watch moved the URL: %s, then %s", url, w.url)
	}
	writeFiles(t, dir, map[string]string{"index.mjs": nodeCounter("hot")})
	if v, _, _ := answer(t, getBody(t, url)); v != "hot" {
		t.Fatalf("after a save under --watch the URL answers %s", v)
	}
	got, err := f.client().GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("takeover")})
	if err != nil || aws.ToString(got.Configuration.CodeSha256) != "hot-reloading-hash-not-available" {
		t.Fatalf("GetFunction: %v %s", err, jsonOf(got))
	}
}

// From an empty folder, two commands: furl serve (the harness's) and
// furl deploy --watch. Deploy writes a starter that streams, its URL
// streams it, and an edit of the starter is live for the next request.
func TestDeployStarterInEmptyFolder(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	dir := filepath.Join(t.TempDir(), "hello")
	writeFiles(t, dir, map[string]string{".gitignore": "node_modules\n"})
	w := startWatch(t, f, dir)
	if !strings.Contains(w.out.String(), "starter function") {
		t.Errorf("furl deploy did not say it wrote a starter:\n%s", w.out.String())
	}
	cfg, err := f.client().GetFunctionUrlConfig(ctx(t), &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InvokeMode != types.InvokeModeResponseStream {
		t.Errorf("the starter's URL invoke mode is %s", cfg.InvokeMode)
	}
	resp, err := localhostClient.Get(w.url + "greet")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "Hello from furl: GET /greet\n"
	for i := 1; i <= 5; i++ {
		want += "chunk " + strconv.Itoa(i) + " of 5, sent as soon as it was written\n"
	}
	if resp.StatusCode != 200 || string(body) != want || resp.ContentLength != -1 {
		t.Fatalf("the starter answered %d (length %d):\n%s", resp.StatusCode, resp.ContentLength, body)
	}

	raw, err := os.ReadFile(filepath.Join(dir, "index.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(raw), `"Hello from furl: "`, `"Edited: "`, 1)
	if edited == string(raw) {
		t.Fatal("the starter has no greeting to edit")
	}
	writeFiles(t, dir, map[string]string{"index.mjs": edited})
	if got := getBody(t, w.url+"again"); !strings.HasPrefix(got, "Edited: GET /again\n") {
		t.Fatalf("after the edit: %q", got)
	}
	// The folder is no longer empty: another deploy writes nothing.
	before := dirNames(t, dir)
	runDeploy(t, f, dir)
	if after := dirNames(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("a second deploy changed the folder: %v, then %v", before, after)
	}
}
