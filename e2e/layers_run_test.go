package e2e

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// A Node.js function requires a module, and a Python function imports a
// package, that only their layers hold, in the process sandbox and in
// containers: the layers are merged in order into /opt (a later layer's
// file wins), a change of Layers takes effect at the next invocation, and
// without the layer the import fails as it would on Lambda.
func TestLayersReachTheFunction(t *testing.T) {
	for _, sandbox := range []string{"process", "docker"} {
		t.Run(sandbox, func(t *testing.T) {
			if sandbox == "docker" {
				requireDocker(t, nodeImage, pythonImage)
				removeContainersAtEnd(t, "layered-node", "layered-python")
			}
			f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--sandbox", sandbox)
			c := f.client()
			publish := func(name, who string) string {
				t.Helper()
				out, err := c.PublishLayerVersion(ctx(t), &lambda.PublishLayerVersionInput{
					LayerName: aws.String(name),
					Content: &types.LayerVersionContentInput{ZipFile: makeZip(t, map[string]string{
						"nodejs/node_modules/greet/index.js": "module.exports = (n) => `hello ${n} from " + who + "`;\n",
						"python/greetpy.py":                  "def greet(n):\n    return f'hello {n} from " + who + "'\n",
					})},
				})
				if err != nil {
					t.Fatalf("PublishLayerVersion %s: %v", name, err)
				}
				return aws.ToString(out.LayerVersionArn)
			}
			base, override := publish("base", "base"), publish("override", "override")

			fns := []struct {
				name, handler string
				runtime       types.Runtime
				code          map[string]string
			}{
				{"layered-node", "index.handler", types.RuntimeNodejs20x, map[string]string{"index.js": `const fs = require('fs');
const greet = require('greet');
exports.handler = async (e) => ({ greeting: greet(e.name), optFile: fs.existsSync('/opt/nodejs/node_modules/greet/index.js') });
`}},
				{"layered-python", "app.handler", types.RuntimePython311, map[string]string{"app.py": `import os
import greetpy

def handler(event, context):
    return {"greeting": greetpy.greet(event["name"]), "optFile": os.path.exists("/opt/python/greetpy.py")}
`}},
			}
			// Absolute /opt paths work in containers, and in the process
			// sandbox where furl can mount (as root).
			wantOpt := sandbox == "docker" || os.Geteuid() == 0
			for _, fn := range fns {
				if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
					FunctionName: aws.String(fn.name), Runtime: fn.runtime, Role: aws.String(testRole), Handler: aws.String(fn.handler),
					Code: &types.FunctionCode{ZipFile: makeZip(t, fn.code)}, Layers: []string{base, override},
				}); err != nil {
					t.Fatalf("CreateFunction %s: %v", fn.name, err)
				}
				check := func(want string) {
					t.Helper()
					out := invokeJSON(t, c, fn.name, `{"name":"ada"}`, types.LogTypeTail)
					var got struct {
						Greeting string
						OptFile  bool
					}
					if out.FunctionError != nil || json.Unmarshal(out.Payload, &got) != nil || got.Greeting != want {
						t.Fatalf("%s: %s %s, want greeting %q\n%s", fn.name, aws.ToString(out.FunctionError), out.Payload, want, decodeLog(t, out.LogResult))
					}
					if got.OptFile != wantOpt {
						t.Errorf("%s: /opt holds the layer: %v, want %v", fn.name, got.OptFile, wantOpt)
					}
				}
				check("hello ada from override")

				// Base alone: the next invocation runs on the new /opt.
				if _, err := c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn.name), Layers: []string{base}}); err != nil {
					t.Fatal(err)
				}
				check("hello ada from base")

				// No layers: the import fails.
				if _, err := c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn.name), Layers: []string{}}); err != nil {
					t.Fatal(err)
				}
				out := invokeJSON(t, c, fn.name, `{"name":"ada"}`, types.LogTypeNone)
				if out.FunctionError == nil {
					t.Fatalf("%s without its layers: %s, want a failed import", fn.name, out.Payload)
				}
				mustContain(t, string(out.Payload), "greet")
			}
		})
	}
}
