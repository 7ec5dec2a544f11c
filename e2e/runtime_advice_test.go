package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestRuntimeAdviceInLog: with the process sandbox, creating a function
// whose runtime the host cannot run (java21; a Node version other than
// the host's) succeeds as on AWS, and furl's log warns, naming the
// function, the runtime and what would run it. A runtime the host runs
// gets no warning; UpdateFunctionConfiguration to another runtime does.
func TestRuntimeAdviceInLog(t *testing.T) {
	out, err := exec.Command("node", "-p", "process.versions.node.split('.')[0]").Output()
	if err != nil {
		t.Skipf("no node on the PATH: %v", err)
	}
	host := strings.TrimSpace(string(out))
	other := "18"
	if host == other {
		other = "20"
	}
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	code := map[string]string{"index.js": "exports.handler = async () => 1;\n"}
	createScript(t, c, "javafn", types.RuntimeJava21, "example.Handler::handleRequest", code)
	createScript(t, c, "oldnode", types.Runtime("nodejs"+other+".x"), "index.handler", code)
	createScript(t, c, "hostnode", types.Runtime("nodejs"+host+".x"), "index.handler", code)

	if _, err := c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("hostnode"), Runtime: types.RuntimeJava17, Handler: aws.String("example.Handler::handleRequest"),
	}); err != nil {
		t.Fatal(err)
	}
	// furl's log reaches the harness through a pipe: once the last
	// warning is in, the earlier lines are too.
	f.logs.waitFor(t, "function=hostnode runtime=java17", 20*time.Second)

	warn := func(fn, runtime string) string {
		for _, line := range strings.Split(f.logs.String(), "\n") {
			if strings.Contains(line, "WARN") && strings.Contains(line, "will not run this function") &&
				strings.Contains(line, "function="+fn+" ") && strings.Contains(line, "runtime="+runtime) {
				return line
			}
		}
		return ""
	}
	if l := warn("javafn", "java21"); !strings.Contains(l, "not java21") || !strings.Contains(l, "--sandbox docker") || !strings.Contains(l, "public.ecr.aws/lambda/java:21") {
		t.Errorf("no warning naming the fix for java21: %q\n%s", l, f.logs.String())
	}
	if l := warn("oldnode", "nodejs"+other+".x"); !strings.Contains(l, "the host's node is version "+host+", not "+other) || !strings.Contains(l, "public.ecr.aws/lambda/nodejs:"+other) {
		t.Errorf("no warning for nodejs%s.x on node %s: %q", other, host, l)
	}
	if l := warn("hostnode", "nodejs"+host+".x"); l != "" {
		t.Errorf("a warning for the host's own node: %q", l)
	}
	if l := warn("hostnode", "java17"); !strings.Contains(l, "public.ecr.aws/lambda/java:17") {
		t.Errorf("no warning after UpdateFunctionConfiguration to java17: %q", l)
	}
}
