package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// standins are the runtimes with no interpreter here, whose images
// scripts/test-images.sh builds as stand-ins: AWS's names and layout, and
// scripts/standin-runtime (a Runtime API client that reports what it was
// given) in place of the language runtime. They prove furl's side of these
// runtimes in Docker: the image it picks, the code mount, the entry point
// and the handler it passes. Not that Java, Ruby or .NET code runs.
var standins = []struct {
	runtime types.Runtime
	image   string // the tag furl's image map names, after public.ecr.aws/lambda/
	handler string // in the runtime's own handler syntax
	file    string // a file of the function's zip
}{
	{types.RuntimeJava21, "java:21", "example.Handler::handleRequest", "example/Handler.class"},
	{types.RuntimeRuby33, "ruby:3.3", "lambda_function.lambda_handler", "lambda_function.rb"},
	{types.RuntimeDotnet8, "dotnet:8", "MyAssembly::MyNamespace.Function::FunctionHandler", "MyAssembly.dll"},
}

// standinReply is what scripts/standin-runtime answers.
type standinReply struct {
	Standin  string          `json:"standin"`
	Handler  string          `json:"handler"`
	Cwd      string          `json:"cwd"`
	Task     []string        `json:"task"`
	Function string          `json:"function"`
	Event    json.RawMessage `json:"event"`
}

// A java21, ruby3.3 or dotnet8 zip function runs in Docker on the image
// of its runtime's AWS name, through Invoke and through a function URL:
// the image's entry point is given the handler as AWS's is, and the code is
// at /var/task.
func TestDockerStandinRuntimes(t *testing.T) {
	images := []string{}
	for _, s := range standins {
		images = append(images, "public.ecr.aws/lambda/"+s.image)
	}
	requireDocker(t, images...)
	names := []string{}
	for _, s := range standins {
		names = append(names, "d"+strings.ReplaceAll(string(s.runtime), ".", ""))
	}
	removeContainersAtEnd(t, names...)
	f := startDockerFurl(t, "--pull=false")
	c := f.client()
	for i, s := range standins {
		name := names[i]
		t.Run(string(s.runtime), func(t *testing.T) {
			if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
				FunctionName: aws.String(name), Runtime: s.runtime, Role: aws.String(testRole),
				Handler: aws.String(s.handler), Code: &types.FunctionCode{ZipFile: makeZip(t, map[string]string{s.file: "code"})},
			}); err != nil {
				t.Fatal(err)
			}
			check := func(how string, body []byte, event string) {
				t.Helper()
				var r standinReply
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatalf("%s answered %s: %v", how, body, err)
				}
				top := s.file[:strings.IndexAny(s.file+"/", "/")]
				if r.Standin != s.image || r.Handler != s.handler || r.Cwd != "/var/task" || !slices.Equal(r.Task, []string{top}) ||
					r.Function != name || !strings.Contains(string(r.Event), event) {
					t.Errorf("%s answered %s; want the %s image, handler %q, /var/task holding %s, and the event with %s",
						how, body, s.image, s.handler, top, event)
				}
			}

			out := invokeJSON(t, c, name, `{"k":"via invoke"}`, types.LogTypeTail)
			if out.FunctionError != nil {
				t.Fatalf("Invoke: %s: %s", aws.ToString(out.FunctionError), out.Payload)
			}
			check("Invoke", out.Payload, `"k":"via invoke"`)
			mustContain(t, decodeLog(t, out.LogResult), "standin-runtime "+s.image+" handler="+s.handler)

			u := publicURL(t, c, name, nil)
			status, _, body := curl(t, u+"from/url?x=1")
			if status != 200 {
				t.Fatalf("URL: status %d: %s", status, body)
			}
			check("the URL", body, `"rawPath":"/from/url"`)

			ids := containersOf(t, name)
			if len(ids) != 1 {
				t.Fatalf("containers of %s: %v, want one warm container for both calls", name, ids)
			}
			// furl starts containers by image id, which must be the stand-in's.
			if img, want := dockerOut(t, "inspect", "--format", "{{.Image}}", ids[0]), dockerImageID(t, "public.ecr.aws/lambda/"+s.image); img != want {
				t.Errorf("container image %s, want public.ecr.aws/lambda/%s (%s)", img, s.image, want)
			}
		})
	}
}

// With its image absent and pulling off, a java21, ruby3.3 or dotnet8
// function is refused at Invoke with an init error that names the image
// and says what to do.
func TestDockerStandinRuntimesRefusedWithoutImage(t *testing.T) {
	requireDocker(t)
	args := []string{"--pull=false"}
	names := []string{}
	for _, s := range standins {
		args = append(args, "--image", fmt.Sprintf("%s=furl-e2e/absent-%s:never", s.runtime, strings.ReplaceAll(string(s.runtime), ".", "")))
		names = append(names, "x"+strings.ReplaceAll(string(s.runtime), ".", ""))
	}
	removeContainersAtEnd(t, names...)
	f := startDockerFurl(t, args...)
	c := f.client()
	for i, s := range standins {
		name := names[i]
		t.Run(string(s.runtime), func(t *testing.T) {
			if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
				FunctionName: aws.String(name), Runtime: s.runtime, Role: aws.String(testRole),
				Handler: aws.String(s.handler), Code: &types.FunctionCode{ZipFile: makeZip(t, map[string]string{s.file: "code"})},
			}); err != nil {
				t.Fatal(err)
			}
			out := invokeJSON(t, c, name, `{}`, types.LogTypeNone)
			image := "furl-e2e/absent-" + strings.ReplaceAll(string(s.runtime), ".", "") + ":never"
			var e struct{ ErrorMessage, ErrorType string }
			if err := json.Unmarshal(out.Payload, &e); err != nil || out.FunctionError == nil || e.ErrorType != "Runtime.InvalidEntrypoint" {
				t.Fatalf("Invoke answered %s: %s (%v), want a Runtime.InvalidEntrypoint init error", aws.ToString(out.FunctionError), out.Payload, err)
			}
			for _, want := range []string{"is not present locally", image, "docker pull " + image, "--image <runtime>=<image>"} {
				if !strings.Contains(e.ErrorMessage, want) {
					t.Errorf("error message %q, want it to say %q", e.ErrorMessage, want)
				}
			}
			if ids := containersOf(t, name); len(ids) != 0 {
				t.Errorf("containers of %s: %v, want none", name, ids)
			}
		})
	}
}

// A BUFFERED function URL answers from a container: the function's status,
// headers and body, sent whole with a Content-Length.
func TestDockerBufferedURL(t *testing.T) {
	requireDocker(t, providedImage)
	removeContainersAtEnd(t, "dbuf")
	f := startDockerFurl(t)
	c := f.client()
	createURLFunction(t, c, "dbuf", 10)
	u := publicURL(t, c, "dbuf", nil)
	status, h, body := curl(t, "-X", "POST", "-H", "content-type: application/json", "-d", `{"item":"book"}`, u+"echo?tag=a")
	if status != 200 || h.Get("Content-Type") != "application/json" || h.Get("Content-Length") != strconv.Itoa(len(body)) || h.Get("Transfer-Encoding") != "" {
		t.Fatalf("status %d, headers %v: %s", status, h, body)
	}
	var ev struct {
		RawPath        string `json:"rawPath"`
		RawQueryString string `json:"rawQueryString"`
		Body           string `json:"body"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.RawPath != "/echo" || ev.RawQueryString != "tag=a" || ev.Body != `{"item":"book"}` {
		t.Fatalf("event %s (%v)", body, err)
	}
	status, h, body = curl(t, u+"status/418")
	if status != 418 || h.Get("Content-Type") != "text/plain" || string(body) != "status 418" {
		t.Fatalf("status %d, headers %v: %q", status, h, body)
	}
	if ids := containersOf(t, "dbuf"); len(ids) != 1 {
		t.Fatalf("containers of dbuf: %v, want the one warm container", ids)
	}
}

// barrierServer answers each GET only once n of them have arrived, so
// that callers who get 200 "released" were all waiting at once. A bound
// of 20 s (well inside the callers' 60 s) keeps a broken scale-out from
// hanging the test: then 503.
func barrierServer(t testing.TB, n int) string {
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			fmt.Fprint(w, "released")
		case <-time.After(20 * time.Second):
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// N concurrent calls that must all be running at once (they meet at a
// barrier) run in N containers: N distinct environments, N containers.
func TestDockerScaleOut(t *testing.T) {
	requireDocker(t, providedImage)
	removeContainersAtEnd(t, "dscale")
	f := startDockerFurl(t)
	c := f.client()
	createGo(t, c, "dscale", 90, nil)
	const n = 3
	barrier := barrierServer(t, n)
	type reply struct{ Env, Value string }
	replies := make(chan reply, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("dscale"),
				Payload: []byte(jsonOf(map[string]any{"action": "get", "value": barrier}))})
			if err != nil {
				t.Errorf("Invoke: %v", err)
				return
			}
			var r reply
			if err := json.Unmarshal(out.Payload, &r); err != nil || out.FunctionError != nil {
				t.Errorf("Invoke answered %s (%v)", out.Payload, err)
				return
			}
			replies <- r
		})
	}
	wg.Wait()
	close(replies)
	envs := map[string]bool{}
	for r := range replies {
		if r.Value != "200 released" {
			t.Errorf("a call got %q at the barrier: the calls did not all run at once", r.Value)
		}
		envs[r.Env] = true
	}
	if len(envs) != n {
		t.Errorf("%d distinct environments answered, want %d: %v", len(envs), n, envs)
	}
	if ids := containersOf(t, "dscale"); len(ids) != n {
		t.Errorf("containers of dscale: %v, want %d", ids, n)
	}
}

// After UpdateFunctionCode the container of the old code goes away and a
// new one runs the new code.
func TestDockerRetiredOnUpdate(t *testing.T) {
	requireDocker(t, providedImage)
	removeContainersAtEnd(t, "dretire")
	f := startDockerFurl(t)
	c := f.client()
	createGo(t, c, "dretire", 10, nil)
	if out := invokeJSON(t, c, "dretire", `{"action":"echo","value":"old"}`, types.LogTypeNone); !strings.Contains(string(out.Payload), `"value":"old"`) {
		t.Fatalf("the old code answered %s", out.Payload)
	}
	old := containersOf(t, "dretire")
	if len(old) != 1 {
		t.Fatalf("containers of dretire: %v", old)
	}
	// The new code is another program: the URL test function, which
	// answers any event with a function URL response.
	newCode := urlFunction(t)
	if _, err := c.UpdateFunctionCode(ctx(t), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("dretire"), ZipFile: newCode}); err != nil {
		t.Fatalf("UpdateFunctionCode: %v", err)
	}
	waitContainerGone(t, "dretire", old[0], 20*time.Second)
	out := invokeJSON(t, c, "dretire", `{"requestContext":{"http":{"path":"/status/201"}}}`, types.LogTypeNone)
	if out.FunctionError != nil || !strings.Contains(string(out.Payload), `"statusCode":201`) {
		t.Fatalf("after the update: %s: %s, want the new code's answer", aws.ToString(out.FunctionError), out.Payload)
	}
	if ids := containersOf(t, "dretire"); len(ids) != 1 || ids[0] == old[0] {
		t.Fatalf("containers after the update: %v (old %s), want one new", ids, old[0])
	}
}

// waitContainerGone waits until the container id is no longer among the function's.
func waitContainerGone(t testing.TB, function, id string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for slices.Contains(containersOf(t, function), id) {
		if time.Now().After(deadline) {
			t.Fatalf("the container %s of %s is still there", id, function)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
