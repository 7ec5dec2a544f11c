package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// loggerLayer is a layer holding the process sandbox's test extension
// (runtimeapi/process/testdata/extension) as the external extension
// extensions/logger.
func loggerLayer(t testing.TB) []byte {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "logger")
	build := exec.Command("go", "build", "-o", bin, "../runtimeapi/process/testdata/extension")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the extension: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return makeZipModes(t, map[string]zipFile{"extensions/logger": {raw, 0o755}})
}

// crashInitReport is the INIT_REPORT line of an init that an extension's
// exit failed, as AWS's developer guide shows it (with tabs between the
// fields, as furl writes all of Lambda's lines).
var crashInitReport = regexp.MustCompile(`INIT_REPORT Init Duration: [0-9]+\.[0-9]{2} ms\tPhase: init\tStatus: error\tError Type: Extension\.Crash`)

// A Go external extension from a layer (runtimeapi/process/testdata/extension as
// extensions/logger) runs with an aws-lambda-go function, through the
// real furl binary and the SDK, in the process sandbox and in containers:
// its init reports it Ready for INVOKE and SHUTDOWN; each invocation's
// LogResult has its INVOKE line and then its "done with" line, written
// half a second later, before END and REPORT, because the invocation is
// over only when the extension asks for its next event; an environment
// reaped as idle sends it SHUTDOWN (spindown). An extension that exits
// during init fails the function's init with Extension.Crash, as AWS
// reports it.
func TestExternalExtensionFromLayer(t *testing.T) {
	for _, sandbox := range []string{"process", "docker"} {
		t.Run(sandbox, func(t *testing.T) {
			if sandbox == "docker" {
				requireDocker(t, providedImage)
				removeContainersAtEnd(t, "ext-logger", "ext-crash")
			}
			// Built before any call's deadline starts: the first build can
			// be slow.
			layerZip, fnZip := loggerLayer(t), goFunction(t)
			// A short idle timeout, so that the environment is reaped, and
			// its extension shut down, while the test waits.
			f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--sandbox", sandbox, "--idle-timeout", "2s")
			c := f.client()
			layer, err := c.PublishLayerVersion(ctx(t), &lambda.PublishLayerVersionInput{LayerName: aws.String("logger"),
				Content: &types.LayerVersionContentInput{ZipFile: layerZip}})
			if err != nil {
				t.Fatalf("PublishLayerVersion: %v", err)
			}
			create := func(name string, env map[string]string) {
				t.Helper()
				if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
					FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole),
					Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: fnZip}, Timeout: aws.Int32(30),
					Layers: []string{aws.ToString(layer.LayerVersionArn)}, Environment: &types.Environment{Variables: env},
				}); err != nil {
					t.Fatalf("CreateFunction %s: %v", name, err)
				}
			}

			t.Run("invoke waits for the extension", func(t *testing.T) {
				create("ext-logger", map[string]string{})
				// Twice: the first invocation starts the environment, the
				// second most likely finds it warm; both wait.
				for range 2 {
					out := invokeJSON(t, c, "ext-logger", `{"action":"echo","value":"hi"}`, types.LogTypeTail)
					id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
					tail := decodeLog(t, out.LogResult)
					var got struct{ RequestID, Value string }
					if out.FunctionError != nil || json.Unmarshal(out.Payload, &got) != nil || got.Value != "hi" || got.RequestID != id {
						t.Fatalf("invocation %q: %s %s\n%s", id, aws.ToString(out.FunctionError), out.Payload, tail)
					}
					t.Logf("LogResult:\n%s", tail)
					if !strings.HasPrefix(tail, "START RequestId: "+id) {
						t.Errorf("LogResult does not start at START RequestId: %s:\n%s", id, tail)
					}
					at := 0
					for _, w := range []string{"START RequestId: " + id, "extension: INVOKE " + id, "extension: done with " + id,
						"END RequestId: " + id, "REPORT RequestId: " + id} {
						i := strings.Index(tail[at:], w)
						if i < 0 {
							t.Fatalf("LogResult lacks %q after byte %d:\n%s", w, at, tail)
						}
						at += i + len(w)
					}
				}
				f.out.waitFor(t, "EXTENSION\tName: logger\tState: Ready\tEvents: [INVOKE,SHUTDOWN]\n", 10*time.Second)
				// Reaped after 2 s idle: the extension gets SHUTDOWN and
				// says so in the function's output.
				f.out.waitFor(t, "extension: SHUTDOWN spindown\n", 60*time.Second)
			})

			t.Run("extension crash fails init", func(t *testing.T) {
				create("ext-crash", map[string]string{"EXTENSION_CRASH": "1"})
				out := invokeJSON(t, c, "ext-crash", `{"action":"echo","value":"hi"}`, types.LogTypeTail)
				id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
				tail := decodeLog(t, out.LogResult)
				t.Logf("FunctionError %q, payload %s, LogResult:\n%s", aws.ToString(out.FunctionError), out.Payload, tail)
				want := `{"errorMessage":"RequestId: ` + id + ` Error: Extension exited before completing init","errorType":"Extension.Crash"}`
				if aws.ToString(out.FunctionError) != "Unhandled" || string(out.Payload) != want {
					t.Errorf("FunctionError %q, payload %s; want Unhandled, %s", aws.ToString(out.FunctionError), out.Payload, want)
				}
				if !strings.Contains(tail, "extension: crashing") || !crashInitReport.MatchString(tail) {
					t.Errorf("LogResult lacks the extension's last words or %q:\n%s", crashInitReport, tail)
				}
			})
		})
	}
}
