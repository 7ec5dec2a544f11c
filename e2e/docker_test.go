package e2e

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The images scripts/test-images.sh builds: stand-ins for AWS's base
// images, under AWS's names, so that furl finds them without a registry.
const (
	providedImage = "public.ecr.aws/lambda/provided:al2023"
	nodeImage     = "public.ecr.aws/lambda/nodejs:20"
	pythonImage   = "public.ecr.aws/lambda/python:3.11"
)

// requireDocker skips the test when no Docker engine answers or an image
// it needs is missing, unless FURL_E2E_REQUIRE_DOCKER=1 (scripts/test.sh
// sets it after building the images): then it fails.
func requireDocker(t testing.TB, images ...string) {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("FURL_E2E_REQUIRE_DOCKER") == "1" {
		fail = t.Fatalf
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		fail("no Docker engine answers: %v\n%s", err, out)
	}
	for _, img := range images {
		if out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", img).CombinedOutput(); err != nil {
			fail("image %s is missing (scripts/test-images.sh builds it): %v\n%s", img, err, out)
		}
	}
}

// dockerOut runs the docker CLI and returns its trimmed output.
func dockerOut(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// containersOf lists the ids of the containers furl runs for a function,
// running or not.
func containersOf(t testing.TB, function string) []string {
	t.Helper()
	out := dockerOut(t, "ps", "-a", "-q", "--filter", "label=furl.function="+function)
	if out == "" {
		return nil
	}
	return strings.Fields(out)
}

// waitNoContainers waits until no container of the function is left.
func waitNoContainers(t testing.TB, function string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ids := containersOf(t, function)
		if len(ids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers of %s still there: %v", function, ids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inspect decodes docker inspect of one container.
type containerInfo struct {
	State struct {
		Running bool
	}
	Config struct {
		User   string
		Labels map[string]string
		Env    []string
	}
	HostConfig struct {
		ReadonlyRootfs bool
		Memory         int64
		NetworkMode    string
		Tmpfs          map[string]string
	}
	Mounts []struct {
		Source      string
		Destination string
		RW          bool
	}
}

func inspectContainer(t testing.TB, id string) containerInfo {
	t.Helper()
	var info []containerInfo
	if err := json.Unmarshal([]byte(dockerOut(t, "inspect", id)), &info); err != nil || len(info) != 1 {
		t.Fatalf("docker inspect %s: %v", id, err)
	}
	return info[0]
}

func startDockerFurl(t testing.TB, extra ...string) *furl {
	t.Helper()
	return startFurl(t, t.TempDir(), "127.0.0.1:0", append([]string{"--sandbox", "docker"}, extra...)...)
}

// removeContainersAtEnd removes, once the test is over (and its furl
// killed), the containers of the functions it names: a killed furl leaves
// those that still ran.
func removeContainersAtEnd(t testing.TB, functions ...string) {
	t.Cleanup(func() {
		for _, fn := range functions {
			if ids := containersOf(t, fn); len(ids) > 0 {
				exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
			}
		}
	})
}

// A Go function on AWS's provided.al2023 image answers as on the host;
// its container is laid out as Lambda's: code read-only at /var/task,
// read-only root, writable /tmp, MemorySize as its limit, Lambda's
// variables with container paths, and furl's endpoint, which the SDK in
// the function calls.
func TestDockerGoFunction(t *testing.T) {
	requireDocker(t, providedImage)
	removeContainersAtEnd(t, "dgo")
	f := startDockerFurl(t)
	c := f.client()
	createGo(t, c, "dgo", 10, map[string]string{"GREETING": "hi"})

	out := invokeJSON(t, c, "dgo", `{"action":"env"}`, types.LogTypeTail)
	var r struct {
		Env  string            `json:"env"`
		Vars map[string]string `json:"vars"`
	}
	if err := json.Unmarshal(out.Payload, &r); err != nil {
		t.Fatalf("payload %s: %v", out.Payload, err)
	}
	for k, want := range map[string]string{
		"LAMBDA_TASK_ROOT": "/var/task", "LAMBDA_RUNTIME_DIR": "/var/runtime", "GREETING": "hi",
		"AWS_LAMBDA_FUNCTION_NAME": "dgo", "AWS_ENDPOINT_URL_LAMBDA": f.url(""), "_HANDLER": "bootstrap",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
	} {
		if r.Vars[k] != want {
			t.Errorf("%s = %q, want %q", k, r.Vars[k], want)
		}
	}
	if !strings.HasPrefix(r.Vars["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q", r.Vars["AWS_LAMBDA_RUNTIME_API"])
	}
	logs := decodeLog(t, out.LogResult)
	mustContain(t, logs, "gofn ")
	mustContain(t, logs, "action=env")
	mustContain(t, logs, "REPORT RequestId: ")
	if strings.Index(logs, "action=env") > strings.Index(logs, "REPORT RequestId: ") {
		t.Errorf("the function's line came after REPORT:\n%s", logs)
	}

	ids := containersOf(t, "dgo")
	if len(ids) != 1 {
		t.Fatalf("containers of dgo: %v", ids)
	}
	info := inspectContainer(t, ids[0])
	if !info.State.Running || !info.HostConfig.ReadonlyRootfs || info.HostConfig.Memory != 128<<20 || info.Config.User == "" ||
		strings.HasPrefix(info.Config.User, "0") || info.Config.Labels["furl.version"] != "$LATEST" {
		t.Errorf("container %+v", info)
	}
	taskRO := false
	for _, m := range info.Mounts {
		if m.Destination == "/var/task" && !m.RW {
			taskRO = true
		}
	}
	if !taskRO {
		t.Errorf("/var/task is not a read-only mount: %+v", info.Mounts)
	}

	// The same warm environment answers the next call, and sees the
	// file system Lambda gives it.
	for _, tc := range []struct{ file, fails string }{
		{"/tmp/scratch", ""}, {"/var/task/planted", "read-only file system"}, {"/planted", "read-only file system"},
	} {
		out := invokeJSON(t, c, "dgo", jsonOf(map[string]any{"action": "touch", "file": tc.file}), types.LogTypeNone)
		got := string(out.Payload)
		if tc.fails == "" && (out.FunctionError != nil || !strings.Contains(got, `"env":"`+r.Env+`"`)) {
			t.Errorf("touch %s: %s (%v), want success in environment %s", tc.file, got, aws.ToString(out.FunctionError), r.Env)
		}
		if tc.fails != "" && (out.FunctionError == nil || !strings.Contains(got, tc.fails)) {
			t.Errorf("touch %s: %s, want %q", tc.file, got, tc.fails)
		}
	}
	if ids2 := containersOf(t, "dgo"); len(ids2) != 1 || ids2[0] != ids[0] {
		t.Errorf("warm calls started other containers: %v, then %v", ids, ids2)
	}

	// An SDK inside the function reaches furl, not AWS.
	out = invokeJSON(t, c, "dgo", `{"action":"list"}`, types.LogTypeNone)
	if out.FunctionError != nil || !strings.Contains(string(out.Payload), `"value":"dgo"`) {
		t.Errorf("ListFunctions from inside: %s", out.Payload)
	}

	// Stopping furl removes its containers.
	f.stop()
	waitNoContainers(t, "dgo", 15*time.Second)
}

func invokeJSON(t testing.TB, c *lambda.Client, name, payload string, logType types.LogType) *lambda.InvokeOutput {
	t.Helper()
	out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload), LogType: logType})
	if err != nil {
		t.Fatalf("Invoke %s: %v", name, err)
	}
	return out
}

func decodeLog(t testing.TB, s *string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(s))
	if err != nil {
		t.Fatalf("LogResult %q: %v", aws.ToString(s), err)
	}
	return string(raw)
}

// Every invocation's log tail holds what the function printed before it
// returned: the container's output is complete when REPORT is written.
func TestDockerLogsAreCompleteAtReport(t *testing.T) {
	requireDocker(t, providedImage)
	removeContainersAtEnd(t, "dlog")
	f := startDockerFurl(t)
	c := f.client()
	createGo(t, c, "dlog", 10, nil)
	for i := range 30 {
		out := invokeJSON(t, c, "dlog", `{"action":"echo","value":"x"}`, types.LogTypeTail)
		logs := decodeLog(t, out.LogResult)
		line := strings.Index(logs, "action=echo")
		if line < 0 || line > strings.Index(logs, "REPORT RequestId: ") {
			t.Fatalf("call %d: the function's line is missing or after REPORT:\n%s", i, logs)
		}
	}
}

// Streaming from a container: a RESPONSE_STREAM URL delivers each token
// before the function writes the next (gated by the test, not timed), and
// InvokeWithResponseStream ends a failing stream with the error.
func TestDockerStreaming(t *testing.T) {
	requireDocker(t, providedImage)
	removeContainersAtEnd(t, "dsse", "dreader")
	f := startDockerFurl(t)
	c := f.client()
	createStreamFunction(t, c, "dsse", "url", 60)
	u := streamingURL(t, c, "dsse")
	g := newHTTPGate(t)
	cmd, status, h, body := startCurl(t, u+"sse?n=5&gate="+g.query())
	if status != 201 || h.Get("Content-Type") != "text/event-stream" || h.Get("Transfer-Encoding") != "chunked" {
		t.Fatalf("status %d, headers %v", status, h)
	}
	readTokens(t, body, g, 5)
	if code := curlExit(cmd); code != 0 {
		t.Fatalf("curl exited %d", code)
	}
	f.out.waitFor(t, "streamfn finished 5 tokens: <nil>", 10*time.Second)

	createStreamFunction(t, c, "dreader", "reader", 10)
	out, err := c.InvokeWithResponseStream(ctx(t), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("dreader"),
		Payload: []byte(`{"tokens":3,"failAfter":1}`)})
	if err != nil {
		t.Fatalf("InvokeWithResponseStream: %v", err)
	}
	st := out.GetStream()
	defer st.Close()
	var chunks []string
	var complete *types.InvokeWithResponseStreamCompleteEvent
	for ev := range st.Events() {
		switch v := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			chunks = append(chunks, string(v.Value.Payload))
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			complete = &v.Value
		}
	}
	// As from a host process (TestInvokeWithResponseStreamSDK): what was
	// sent before the failure, then the error trailer's error.
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(chunks) != 1 || chunks[0] != "data: token 1\n\n" || complete == nil || aws.ToString(complete.ErrorCode) != "errorString" ||
		!strings.Contains(aws.ToString(complete.ErrorDetails), `{"errorMessage":"disk on fire","errorType":"errorString"}`) {
		t.Fatalf("chunks %q, complete %+v", chunks, complete)
	}
}

// A function past its timeout loses its container; one killed from
// outside ends its invocation with Runtime.ExitError, never a hang; the
// next call gets a fresh container.
func TestDockerTimeoutAndKill(t *testing.T) {
	requireDocker(t, providedImage)
	removeContainersAtEnd(t, "dslow", "dkill")
	f := startDockerFurl(t)
	c := f.client()
	createGo(t, c, "dslow", 1, nil)
	first := invokeJSON(t, c, "dslow", `{"action":"echo"}`, types.LogTypeNone)
	before := containersOf(t, "dslow")
	out := invokeJSON(t, c, "dslow", `{"action":"sleep","millis":5000}`, types.LogTypeNone)
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "Task timed out after 1.00 seconds") {
		t.Fatalf("timeout answered %s: %s", aws.ToString(out.FunctionError), out.Payload)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := false
		for _, id := range containersOf(t, "dslow") {
			if id == before[0] {
				left = true
			}
		}
		if !left {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the timed-out container %s is still there", before[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	after := invokeJSON(t, c, "dslow", `{"action":"echo"}`, types.LogTypeNone)
	if after.FunctionError != nil || bytes.Equal(after.Payload, first.Payload) {
		t.Fatalf("after the timeout: %s", after.Payload)
	}

	// docker kill while the function runs.
	createGo(t, c, "dkill", 60, nil)
	invokeJSON(t, c, "dkill", `{"action":"echo"}`, types.LogTypeNone)
	ids := containersOf(t, "dkill")
	if len(ids) != 1 {
		t.Fatalf("containers of dkill: %v", ids)
	}
	done := make(chan *lambda.InvokeOutput, 1)
	go func() {
		out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("dkill"), Payload: []byte(`{"action":"sleep","millis":30000}`)})
		if err != nil {
			t.Errorf("Invoke: %v", err)
		}
		done <- out
	}()
	f.out.waitFor(t, "action=sleep", 10*time.Second)
	dockerOut(t, "kill", ids[0])
	select {
	case out := <-done:
		if out == nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "Runtime.ExitError") {
			t.Fatalf("a killed container answered %+v", out)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the invocation hung after its container was killed")
	}
	if out := invokeJSON(t, c, "dkill", `{"action":"echo"}`, types.LogTypeNone); out.FunctionError != nil {
		t.Fatalf("after the kill: %s", out.Payload)
	}
}

// importImage builds a local image from files, as docker import does: no
// registry and no base image.
func importImage(t testing.TB, ref string, files map[string][]byte, changes ...string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(content)
	}
	for _, d := range []string{"tmp/"} {
		tw.WriteHeader(&tar.Header{Name: d, Mode: 0o1777, Typeflag: tar.TypeDir})
	}
	tw.Close()
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	cmd := exec.Command("docker", append(args, "-", ref)...)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import %s: %v\n%s", ref, err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "image", "rm", "-f", ref).Run() })
}

// bootstrapOf takes the bootstrap out of a Go test function's zip.
func bootstrapOf(t testing.TB, zipped []byte) []byte {
	t.Helper()
	files := unzip(t, zipped)
	b, ok := files["bootstrap"]
	if !ok {
		t.Fatal("no bootstrap in the test function")
	}
	return b
}

// A PackageType Image function runs its own local image (built FROM
// scratch, no registry), with ImageConfig's overrides; GetFunction reports
// it as AWS does.
func TestDockerImageFunction(t *testing.T) {
	requireDocker(t)
	removeContainersAtEnd(t, "dimg")
	ref := fmt.Sprintf("furl-e2e/gofn:%d", time.Now().UnixNano())
	importImage(t, ref, map[string][]byte{"bin/bootstrap": bootstrapOf(t, goFunction(t))},
		`ENTRYPOINT ["/bin/bootstrap"]`, `ENV GREETING=from-image`)
	f := startDockerFurl(t)
	c := f.client()
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("dimg"), PackageType: types.PackageTypeImage, Role: aws.String(testRole),
		Code: &types.FunctionCode{ImageUri: aws.String(ref)}, Timeout: aws.Int32(10),
		ImageConfig: &types.ImageConfig{WorkingDirectory: aws.String("/tmp")},
	}); err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	got, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("dimg")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Configuration.PackageType != types.PackageTypeImage || aws.ToString(got.Code.ImageUri) != ref ||
		!strings.Contains(aws.ToString(got.Code.ResolvedImageUri), "@sha256:") || got.Configuration.Runtime != "" {
		t.Errorf("GetFunction: %+v %+v", got.Configuration, got.Code)
	}
	out := invokeJSON(t, c, "dimg", `{"action":"env"}`, types.LogTypeNone)
	if out.FunctionError != nil || !strings.Contains(string(out.Payload), `"GREETING":"from-image"`) {
		t.Fatalf("Invoke: %s", out.Payload)
	}
	if len(containersOf(t, "dimg")) != 1 {
		t.Errorf("containers of dimg: %v", containersOf(t, "dimg"))
	}
}

// Reserved concurrency holds for containers as for processes: with one
// reserved, a second concurrent call is throttled.
func TestDockerReservedConcurrency(t *testing.T) {
	requireDocker(t, providedImage)
	removeContainersAtEnd(t, "dres")
	f := startDockerFurl(t)
	c := f.client()
	createGo(t, c, "dres", 30, nil)
	reserve(t, c, "dres", 1)
	done := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("dres"), Payload: []byte(`{"action":"sleep","millis":3000}`)})
		done <- err
	}()
	f.out.waitFor(t, "action=sleep", 20*time.Second)
	_, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("dres"), Payload: []byte(`{"action":"echo"}`)})
	if reason := throttleReason(t, err); reason != "ReservedFunctionConcurrentInvocationLimitExceeded" {
		t.Fatalf("second call: %v (%s)", err, reason)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// furl killed while a function runs leaves its container running; the
// next furl on the same data dir removes it before it serves.
func TestDockerOrphansRemovedAtStart(t *testing.T) {
	requireDocker(t, providedImage)
	removeContainersAtEnd(t, "dorphan")
	dir := t.TempDir()
	f := startFurl(t, dir, "127.0.0.1:0", "--sandbox", "docker")
	c := f.client()
	createGo(t, c, "dorphan", 60, nil)
	go c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("dorphan"), Payload: []byte(`{"action":"sleep","millis":50000}`)})
	f.out.waitFor(t, "action=sleep", 20*time.Second)
	ids := containersOf(t, "dorphan")
	if len(ids) != 1 {
		t.Fatalf("containers: %v", ids)
	}
	f.kill()
	if info := inspectContainer(t, ids[0]); !info.State.Running {
		t.Fatalf("the container of the running function stopped with furl: %+v", info.State)
	}
	f2 := startFurl(t, dir, "127.0.0.1:0", "--sandbox", "docker")
	f2.logs.waitFor(t, "removed containers a previous furl left", 10*time.Second)
	waitNoContainers(t, "dorphan", 15*time.Second)
	if out := invokeJSON(t, f2.client(), "dorphan", `{"action":"echo"}`, types.LogTypeNone); out.FunctionError != nil {
		t.Fatalf("after the restart: %s", out.Payload)
	}
}

// Node and Python functions run on their runtimes' images.
func TestDockerNodeAndPython(t *testing.T) {
	requireDocker(t, nodeImage, pythonImage)
	removeContainersAtEnd(t, "dnode", "dpy")
	f := startDockerFurl(t)
	c := f.client()
	for _, tc := range []struct {
		name, runtime, handler string
		files                  map[string]string
		want                   string
	}{
		{"dnode", "nodejs20.x", "index.handler", map[string]string{"index.mjs": `export const handler = async (e) => { console.log("node says", process.version); return {v: process.versions.node.split(".")[0], root: process.env.LAMBDA_TASK_ROOT, e}; };`}, `"v":"20","root":"/var/task"`},
		{"dpy", "python3.11", "app.handler", map[string]string{"app.py": "import os, sys\ndef handler(e, c):\n    print('python says', sys.version)\n    return {'v': '%d.%d' % sys.version_info[:2], 'root': os.environ['LAMBDA_TASK_ROOT']}\n"}, `"v": "3.11", "root": "/var/task"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
				FunctionName: aws.String(tc.name), Runtime: types.Runtime(tc.runtime), Role: aws.String(testRole),
				Handler: aws.String(tc.handler), Code: &types.FunctionCode{ZipFile: makeZip(t, tc.files)},
			}); err != nil {
				t.Fatal(err)
			}
			out := invokeJSON(t, c, tc.name, `{"k":1}`, types.LogTypeTail)
			if out.FunctionError != nil || !strings.Contains(string(out.Payload), tc.want) {
				t.Fatalf("%s: %s", aws.ToString(out.FunctionError), out.Payload)
			}
			mustContain(t, decodeLog(t, out.LogResult), " says ")
			if len(containersOf(t, tc.name)) != 1 {
				t.Errorf("containers: %v", containersOf(t, tc.name))
			}
		})
	}
}

// A runtime whose image is absent is refused clearly, saying what to do.
func TestDockerMissingImageSaysWhatToDo(t *testing.T) {
	requireDocker(t)
	removeContainersAtEnd(t, "djava")
	f := startDockerFurl(t, "--image", "java21=furl-e2e/absent:never")
	c := f.client()
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("djava"), Runtime: types.RuntimeJava21, Role: aws.String(testRole),
		Handler: aws.String("example.Handler::handleRequest"), Code: &types.FunctionCode{ZipFile: makeZip(t, map[string]string{"x": "y"})},
	}); err != nil {
		t.Fatal(err)
	}
	out := invokeJSON(t, c, "djava", `{}`, types.LogTypeNone)
	if out.FunctionError == nil || !strings.Contains(string(out.Payload), "furl-e2e/absent:never") || !strings.Contains(string(out.Payload), "--image") {
		t.Fatalf("%s: %s", aws.ToString(out.FunctionError), out.Payload)
	}
}

// In auto, a function whose image is present runs in Docker; one whose
// image is missing (and cannot be pulled: there is no registry here) runs
// as a process; the log says which, and why.
func TestAutoSandboxChoosesPerFunction(t *testing.T) {
	requireDocker(t, providedImage)
	removeContainersAtEnd(t, "agoes", "apy")
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--sandbox", "auto", "--image", "python3.11=furl-e2e/absent:never")
	c := f.client()
	createGo(t, c, "agoes", 10, nil)
	if out := invokeJSON(t, c, "agoes", `{"action":"echo"}`, types.LogTypeNone); out.FunctionError != nil {
		t.Fatal(string(out.Payload))
	}
	if len(containersOf(t, "agoes")) != 1 {
		t.Errorf("the Go function is not in one container: %v", containersOf(t, "agoes"))
	}
	f.logs.waitFor(t, "function=agoes sandbox=docker", 5*time.Second)
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("apy"), Runtime: types.RuntimePython311, Role: aws.String(testRole),
		Handler: aws.String("app.handler"), Code: &types.FunctionCode{ZipFile: makeZip(t, map[string]string{"app.py": "def handler(e, c):\n    return 'ok'\n"})},
	}); err != nil {
		t.Fatal(err)
	}
	if out := invokeJSON(t, c, "apy", `{}`, types.LogTypeNone); out.FunctionError != nil || string(out.Payload) != `"ok"` {
		t.Fatalf("%s", out.Payload)
	}
	if ids := containersOf(t, "apy"); len(ids) != 0 {
		t.Errorf("the Python function with no image runs in a container: %v", ids)
	}
	f.logs.waitFor(t, "function=apy sandbox=process", 5*time.Second)

	// furl's own view says where each environment runs.
	resp, body := f.do("GET", "/_furl/environments", "", nil)
	var inv struct {
		Environments []struct{ Function, Sandbox, State string }
	}
	if err := json.Unmarshal(body, &inv); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /_furl/environments: %d %s", resp.StatusCode, body)
	}
	where := map[string]string{}
	for _, e := range inv.Environments {
		where[e.Function] = e.Sandbox
	}
	if where["agoes"] != "docker" || where["apy"] != "process" {
		t.Fatalf("environments: %s", body)
	}
}

// unzip reads a zip into memory.
func unzip(t testing.TB, zipped []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(bufio.NewReader(rc))
		rc.Close()
		files[zf.Name] = b
	}
	return files
}

// A container reaches only its own Runtime API: from inside one function,
// every other environment's Runtime API refuses it, as it refuses any
// other local process; its own answers as Lambda's does a runtime that
// asks for a next event mid-invocation.
func TestDockerRuntimeAPIRefusesOtherContainers(t *testing.T) {
	requireDocker(t, providedImage)
	removeContainersAtEnd(t, "dme", "dother")
	f := startDockerFurl(t)
	c := f.client()
	createGo(t, c, "dme", 10, nil)
	createGo(t, c, "dother", 10, nil)
	invokeJSON(t, c, "dme", `{"action":"echo"}`, types.LogTypeNone)
	invokeJSON(t, c, "dother", `{"action":"echo"}`, types.LogTypeNone)
	ports := runtimeAPIPorts(t, f)
	if len(ports) != 2 {
		t.Fatalf("found %d Runtime API ports, want the 2 environments'", len(ports))
	}
	own, refused := 0, 0
	for _, port := range ports {
		if next, respond := attack(t, port, -1); next != "403" || respond != "403" {
			t.Errorf("a host process on port %d: /next answered %s, /response %s; want 403 for both", port, next, respond)
		}
		out := invokeJSON(t, c, "dme", jsonOf(map[string]any{"action": "get",
			"value": fmt.Sprintf("http://127.0.0.1:%d/2018-06-01/runtime/invocation/next", port)}), types.LogTypeNone)
		switch got := string(out.Payload); {
		case strings.Contains(got, `403 {\"errorMessage\":\"This Runtime API answers only`):
			refused++
		case strings.Contains(got, "InvalidStateTransition"):
			own++
		default:
			t.Errorf("from inside dme, port %d answered %s", port, got)
		}
	}
	if own != 1 || refused != 1 {
		t.Fatalf("own Runtime API %d times, refused %d times; want 1 and 1", own, refused)
	}
	if out := invokeJSON(t, c, "dother", `{"action":"echo","value":"still mine"}`, types.LogTypeNone); !strings.Contains(string(out.Payload), "still mine") {
		t.Fatalf("after the attempts, dother answered %s", out.Payload)
	}
}

// With no Docker engine, auto serves and runs functions as processes;
// docker refuses to start, saying why.
func TestNoDockerEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/no-engine.sock")
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--sandbox", "auto")
	f.logs.waitFor(t, "no Docker engine answers", 5*time.Second)
	c := f.client()
	createGo(t, c, "nodocker", 10, nil)
	if out := invokeJSON(t, c, "nodocker", `{"action":"echo","value":"here"}`, types.LogTypeNone); !strings.Contains(string(out.Payload), `"value":"here"`) {
		t.Fatalf("auto without an engine: %s", out.Payload)
	}
	f.logs.waitFor(t, "function=nodocker sandbox=process", 5*time.Second)

	cmd := exec.Command(furlBin, "serve", "--listen", "127.0.0.1:0", "--listen-tls", "", "--data-dir", t.TempDir(), "--sandbox", "docker")
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code == 0 || !strings.Contains(string(out), "--sandbox docker") {
		t.Fatalf("furl serve --sandbox docker without an engine exited %d: %s", code, out)
	}
}
