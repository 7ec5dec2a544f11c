package e2e

import (
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

var (
	webAppFn     builtFunction
	webAdapterFn builtFunction
)

// webAdapterLayer is a layer holding functions/webadapter as the external
// extension extensions/webadapter, as AWS's Lambda Web Adapter ships.
func webAdapterLayer(t testing.TB) []byte {
	t.Helper()
	bin, err := os.ReadFile(functionBinary(t, webAdapterFn.build(t, "webadapter")))
	if err != nil {
		t.Fatal(err)
	}
	return makeZipModes(t, map[string]zipFile{"extensions/webadapter": {bin, 0o755}})
}

// freePort is a loopback port nothing listens on: the web apps of the
// process sandbox share the host's network.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// A plain web app (functions/webapp, the function's bootstrap, which never
// talks to the Runtime API) answers function URL requests through a
// web-adapter extension from a layer (functions/webadapter), as with AWS's
// Lambda Web Adapter: the extension registers for no events, polls the
// Runtime API itself, and turns each URL event into an HTTP request to
// the app. Through a BUFFERED URL the client gets the app's status,
// headers, cookies and body, the app having seen the client's method,
// path, query, header, cookie and body; through a RESPONSE_STREAM URL it
// gets each line before the app writes the next (gated by the test, not
// timed). In the process sandbox and in containers.
func TestWebAdapterExtension(t *testing.T) {
	for _, sandbox := range []string{"process", "docker"} {
		t.Run(sandbox, func(t *testing.T) {
			if sandbox == "docker" {
				requireDocker(t, providedImage)
				removeContainersAtEnd(t, "webapp-buffered", "webapp-stream")
			}
			// Built before any call's deadline starts: the first build can
			// be slow.
			layerZip, appZip := webAdapterLayer(t), webAppFn.build(t, "webapp")
			f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--sandbox", sandbox)
			c := f.client()
			layer, err := c.PublishLayerVersion(ctx(t), &lambda.PublishLayerVersionInput{LayerName: aws.String("webadapter"),
				Content: &types.LayerVersionContentInput{ZipFile: layerZip}})
			if err != nil {
				t.Fatalf("PublishLayerVersion: %v", err)
			}
			create := func(name string, env map[string]string) {
				t.Helper()
				env["PORT"] = freePort(t)
				if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
					FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole),
					Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: appZip}, Timeout: aws.Int32(60),
					Layers: []string{aws.ToString(layer.LayerVersionArn)}, Environment: &types.Environment{Variables: env},
				}); err != nil {
					t.Fatalf("CreateFunction %s: %v", name, err)
				}
			}

			t.Run("buffered", func(t *testing.T) {
				create("webapp-buffered", map[string]string{})
				u := publicURL(t, c, "webapp-buffered", nil)
				status, h, body := curl(t, "-X", "PUT", "-H", "X-Echo: hello", "-b", "session=abc", "--data-binary", "ping pong",
					u+"echo/a%20b?x=1&y=two")
				var got map[string]string
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("status %d, headers %v, body %q: %v", status, h, body, err)
				}
				want := map[string]string{"method": "PUT", "path": "/echo/a b", "query": "x=1&y=two", "header": "hello", "cookie": "abc", "body": "ping pong"}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("the app saw %s %q, want %q (all: %v)", k, got[k], v, got)
					}
				}
				if status != 201 || h.Get("Content-Type") != "application/json" || h.Get("X-Served-By") != "webapp" ||
					strings.Join(h.Values("Set-Cookie"), " | ") != "seen=1; Path=/ | flavour=oat" {
					t.Errorf("status %d, headers %v", status, h)
				}
				f.out.waitFor(t, "webadapter: PUT /echo/a%20b -> 201", 10*time.Second)
				f.out.waitFor(t, "EXTENSION\tName: webadapter\tState: Ready\tEvents: []", 10*time.Second)
			})

			t.Run("streamed", func(t *testing.T) {
				create("webapp-stream", map[string]string{"AWS_LWA_INVOKE_MODE": "response_stream"})
				u := streamingURL(t, c, "webapp-stream")
				g := newHTTPGate(t)
				cmd, status, h, body := startCurl(t, u+"stream?n=5&gate="+g.query())
				if status != 202 || h.Get("Content-Type") != "text/plain; charset=utf-8" || h.Get("X-Served-By") != "webapp" ||
					h.Get("Set-Cookie") != "lines=5" || h.Get("Transfer-Encoding") != "chunked" {
					t.Fatalf("status %d, headers %v", status, h)
				}
				for i := 1; i <= 5; i++ {
					want := "line " + strconv.Itoa(i) + "\n"
					if line, err := body.ReadString('\n'); line != want {
						t.Fatalf("read %q (%v), want %q", line, err, want)
					}
					g.open(t, i)
				}
				if code := curlExit(cmd); code != 0 {
					t.Fatalf("curl exited %d", code)
				}
				f.out.waitFor(t, "webapp finished 5 lines: <nil>", 10*time.Second)
			})
		})
	}
}
