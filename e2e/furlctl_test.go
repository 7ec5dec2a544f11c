package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The commands furl ls, furl urls and furl invoke, run as a user runs them
// (the built binary) against a real furl.

// ctlEnv is the environment of a furl command: none of the caller's AWS or
// FURL settings, so that --endpoint and the defaults are what count.
func ctlEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "FURL_") {
			env = append(env, kv)
		}
	}
	return env
}

// runCtl runs furl with args and returns its stdout, stderr and exit code.
func runCtl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(furlBin, args...)
	cmd.Env = ctlEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("furl %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// lsFunction is furl ls --json's shape, as a script would read it.
type lsFunction struct {
	Name                         string
	Runtime                      string
	PackageType                  string
	State                        string
	MemorySize                   int32
	Timeout                      int32
	ReservedConcurrentExecutions *int32
	Aliases                      []string
	Urls                         []lsURL
	Environments                 []struct{ Function, Version, Sandbox, State string }
}

type lsURL struct {
	FunctionUrl      string
	Function         string
	Qualifier        string
	AuthType         string
	InvokeMode       string
	CorsAllowOrigins []string
}

// lineWith is the one line of out that holds all of parts.
func lineWith(t *testing.T, out string, parts ...string) string {
	t.Helper()
	var found []string
	for _, l := range strings.Split(out, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d lines hold all of %q, want 1:\n%s", len(found), parts, out)
	}
	return found[0]
}

func TestFurlctlListsFunctionsAndURLs(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	endpoint := "--endpoint=http://" + f.addr

	createURLFunction(t, c, "echo", 7)
	if _, err := c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("echo"), MemorySize: aws.Int32(256)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("echo"), ReservedConcurrentExecutions: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	echoURL := publicURL(t, c, "echo", nil)
	v, err := c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: aws.String("echo")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: aws.String("echo"), Name: aws.String("live"), FunctionVersion: v.Version}); err != nil {
		t.Fatal(err)
	}
	live, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("echo"), Qualifier: aws.String("live"),
		AuthType: types.FunctionUrlAuthTypeAwsIam, Cors: &types.Cors{AllowOrigins: []string{"https://app.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	liveURL := aws.ToString(live.FunctionUrl)
	createStreamFunction(t, c, "streamer", "reader", 9)
	streamURL := streamingURL(t, c, "streamer")
	// One invocation leaves echo's environment alive, for the sandbox column.
	if _, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"requestContext":{"http":{"path":"/echo"}}}`)}); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runCtl(t, "ls", "--json", endpoint)
	if code != 0 {
		t.Fatalf("furl ls --json exited %d: %s", code, errOut)
	}
	var fns []lsFunction
	if err := json.Unmarshal([]byte(out), &fns); err != nil {
		t.Fatalf("furl ls --json: %v\n%s", err, out)
	}
	if len(fns) != 2 || fns[0].Name != "echo" || fns[1].Name != "streamer" {
		t.Fatalf("furl ls --json listed %s", out)
	}
	echo, streamer := fns[0], fns[1]
	if echo.Runtime != "provided.al2023" || echo.PackageType != "Zip" || echo.State != "Active" || echo.MemorySize != 256 || echo.Timeout != 7 ||
		echo.ReservedConcurrentExecutions == nil || *echo.ReservedConcurrentExecutions != 3 || strings.Join(echo.Aliases, ",") != "live:1" {
		t.Fatalf("echo is listed as %s", jsonOf(echo))
	}
	if len(echo.Environments) != 1 || echo.Environments[0].Sandbox != "process" || echo.Environments[0].Function != "echo" {
		t.Fatalf("echo's environments are listed as %s", jsonOf(echo.Environments))
	}
	wantEcho := []lsURL{
		{FunctionUrl: echoURL, Function: "echo", AuthType: "NONE", InvokeMode: "BUFFERED"},
		{FunctionUrl: liveURL, Function: "echo", Qualifier: "live", AuthType: "AWS_IAM", InvokeMode: "BUFFERED", CorsAllowOrigins: []string{"https://app.example"}},
	}
	if jsonOf(sortedURLs(echo.Urls)) != jsonOf(sortedURLs(wantEcho)) {
		t.Fatalf("echo's URLs are listed as %s, want %s", jsonOf(echo.Urls), jsonOf(wantEcho))
	}
	if streamer.ReservedConcurrentExecutions != nil || len(streamer.Urls) != 1 || streamer.Urls[0].FunctionUrl != streamURL ||
		streamer.Urls[0].InvokeMode != "RESPONSE_STREAM" || streamer.Environments == nil || len(streamer.Environments) != 0 {
		t.Fatalf("streamer is listed as %s", jsonOf(streamer))
	}

	// The table says the same to a person.
	out, errOut, code = runCtl(t, "ls", endpoint)
	if code != 0 {
		t.Fatalf("furl ls exited %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "NAME ") {
		t.Fatalf("furl ls has no header:\n%s", out)
	}
	row := strings.Fields(lineWith(t, out, "echo", "provided.al2023"))
	for _, want := range []string{"Zip", "Active", "256", "7", "3", "live:1", "process:", "idle"} {
		if !containsField(row, want) {
			t.Errorf("echo's row %q lacks %q", row, want)
		}
	}
	lineWith(t, out, "streamer", streamURL, "NONE", "RESPONSE_STREAM", "none live")
	lineWith(t, out, liveURL+" (live)", "AWS_IAM", "BUFFERED")

	out, errOut, code = runCtl(t, "urls", endpoint)
	if code != 0 {
		t.Fatalf("furl urls exited %d: %s", code, errOut)
	}
	if got := strings.Fields(lineWith(t, out, liveURL)); strings.Join(got, " ") != liveURL+" echo live AWS_IAM BUFFERED https://app.example" {
		t.Fatalf("furl urls shows the alias's URL as %q", got)
	}
	if got := strings.Fields(lineWith(t, out, streamURL)); strings.Join(got, " ") != streamURL+" streamer - NONE RESPONSE_STREAM -" {
		t.Fatalf("furl urls shows the stream URL as %q", got)
	}
	lineWith(t, out, echoURL+" ", "echo", "NONE")
}

func sortedURLs(urls []lsURL) []lsURL {
	out := append([]lsURL(nil), urls...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].FunctionUrl < out[i].FunctionUrl {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func containsField(fields []string, want string) bool {
	for _, f := range fields {
		if f == want {
			return true
		}
	}
	return false
}

func TestFurlctlInvoke(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	endpoint := "--endpoint=http://" + f.addr
	createURLFunction(t, c, "echo", 5)

	t.Run("buffered", func(t *testing.T) {
		out, errOut, code := runCtl(t, "invoke", "echo", endpoint, "--log", "--payload", `{"rawPath":"/echo","requestContext":{"http":{"path":"/echo","method":"PATCH"}}}`)
		if code != 0 {
			t.Fatalf("furl invoke exited %d: %s", code, errOut)
		}
		var resp events.LambdaFunctionURLResponse
		if err := json.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("furl invoke printed %q: %v", out, err)
		}
		var echoed events.LambdaFunctionURLRequest
		if err := json.Unmarshal([]byte(resp.Body), &echoed); err != nil || resp.StatusCode != 200 || echoed.RequestContext.HTTP.Method != "PATCH" {
			t.Fatalf("furl invoke printed %s (%v)", out, err)
		}
		if !strings.Contains(errOut, "REPORT RequestId: ") {
			t.Fatalf("furl invoke --log printed no log tail on stderr: %q", errOut)
		}
	})
	t.Run("payload from a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "event.json")
		if err := os.WriteFile(file, []byte(`{"requestContext":{"http":{"path":"/status/418"}}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runCtl(t, "invoke", endpoint, "--payload", "@"+file, "echo")
		if code != 0 || !strings.Contains(out, `"statusCode":418`) || strings.Contains(errOut, "REPORT") {
			t.Fatalf("furl invoke exited %d, printed %q, %q", code, out, errOut)
		}
	})
	t.Run("function error", func(t *testing.T) {
		out, errOut, code := runCtl(t, "invoke", "echo", endpoint, "--payload", `{"requestContext":{"http":{"path":"/error"}}}`)
		if code != 1 || !strings.Contains(out, `"errorMessage":"the function failed"`) ||
			strings.TrimSpace(errOut) != "furl invoke: echo failed (Unhandled): errorString: the function failed" {
			t.Fatalf("furl invoke of a failing function exited %d, printed %q, %q", code, out, errOut)
		}
	})
	t.Run("API error", func(t *testing.T) {
		out, errOut, code := runCtl(t, "invoke", "nope", endpoint)
		if code != 1 || out != "" || strings.TrimSpace(errOut) != "furl invoke: ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:$LATEST" {
			t.Fatalf("furl invoke of no function exited %d, printed %q, %q", code, out, errOut)
		}
	})
	t.Run("no furl", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gone := "http://" + ln.Addr().String()
		ln.Close()
		for _, args := range [][]string{{"ls"}, {"urls"}, {"invoke", "echo"}} {
			_, errOut, code := runCtl(t, append(args, "--endpoint", gone)...)
			want := fmt.Sprintf("furl %s: no furl answers at %s: start it with furl serve", args[0], gone)
			if code != 1 || strings.TrimSpace(errOut) != want {
				t.Fatalf("furl %v against nothing exited %d, printed %q, want %q", args, code, errOut, want)
			}
		}
	})
}

// TestFurlctlInvokeStreams proves furl invoke --stream prints each chunk as
// it arrives: the function writes token i+1 only once the test has read
// token i from the command's stdout.
func TestFurlctlInvokeStreams(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createStreamFunction(t, c, "streamer", "reader", 30)

	run := func(t *testing.T, event string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer) {
		cmd := exec.Command(furlBin, "invoke", "streamer", "--stream", "--endpoint", "http://"+f.addr, "--payload", event)
		cmd.Env = ctlEnv()
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, bufio.NewReader(stdout), &errOut
	}

	t.Run("tokens", func(t *testing.T) {
		g := newGate(t)
		cmd, r, errOut := run(t, fmt.Sprintf(`{"gate":%q,"tokens":3}`, string(g.(dirGate))))
		readTokens(t, r, g, 3)
		rest, _ := r.ReadString(0)
		if err := cmd.Wait(); err != nil || rest != "" {
			t.Fatalf("furl invoke --stream ended with %v after the tokens, then printed %q; stderr %q", err, rest, errOut)
		}
	})
	t.Run("mid-stream error", func(t *testing.T) {
		g := newGate(t)
		cmd, r, errOut := run(t, fmt.Sprintf(`{"gate":%q,"tokens":3,"failAfter":2}`, string(g.(dirGate))))
		readTokens(t, r, g, 2)
		rest, _ := r.ReadString(0)
		err := cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || rest != "" ||
			!strings.HasPrefix(errOut.String(), "furl invoke: streamer failed mid-stream (") || !strings.Contains(errOut.String(), "disk on fire") {
			t.Fatalf("furl invoke --stream of a failing stream ended with %v, printed %q after the tokens, stderr %q", err, rest, errOut)
		}
	})
}
