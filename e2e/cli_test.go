package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// awsCLIv2 finds an AWS CLI v2: Debian's package installs it at
// /usr/bin/aws, which a pip-installed v1 may shadow on PATH. Without one the
// test skips, unless FURL_E2E_REQUIRE_AWS_CLI is set (scripts/test.sh sets
// it) and then it fails.
func awsCLIv2(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("FURL_AWS_CLI"), "/usr/bin/aws"}
	if p, err := exec.LookPath("aws"); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		out, err := exec.Command(c, "--version").CombinedOutput()
		if err == nil && strings.HasPrefix(string(out), "aws-cli/2") {
			return c
		}
	}
	if os.Getenv("FURL_E2E_REQUIRE_AWS_CLI") != "" {
		t.Fatal("no AWS CLI v2 found (install Debian's awscli package; scripts/test.sh does)")
	}
	t.Skip("no AWS CLI v2 found; scripts/test.sh installs it")
	return ""
}

// The README's quick start, run as written with the real AWS CLI against a
// fresh furl: if the README drifts from what furl does, this fails.
func TestReadmeQuickStartWithAWSCLI(t *testing.T) {
	t.Run("v2", func(t *testing.T) { readmeQuickStart(t, awsCLIv2(t)) })
	t.Run("v1", func(t *testing.T) {
		// pip's AWS CLI v1, where the machine has one: its current
		// releases know --invoked-via-function-url, so the quick start runs
		// exactly as written.
		p, err := exec.LookPath("aws")
		if err != nil {
			t.Skip("no aws on PATH")
		}
		if out, err := exec.Command(p, "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "aws-cli/1") {
			t.Skipf("the aws on PATH is not v1: %s", out)
		}
		readmeQuickStart(t, p)
	})
}

func readmeQuickStart(t *testing.T, cli string) {
	if _, err := exec.LookPath("zip"); err != nil {
		if os.Getenv("FURL_E2E_REQUIRE_AWS_CLI") != "" {
			t.Fatal("zip is not installed")
		}
		t.Skip("zip is not installed")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile("(?s)## Quick start with the AWS CLI\n(.*?)\n## ").FindSubmatch(readme)
	if section == nil {
		t.Fatal("README.md has no quick start section")
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllSubmatch(section[1], -1) {
		blocks = append(blocks, string(m[1]))
	}
	if len(blocks) < 2 {
		t.Fatalf("the quick start has %d shell blocks, want the setup and the invoke", len(blocks))
	}
	script := strings.Join(blocks, "\n")
	// The second permission needs a CLI that knows --invoked-via-function-url
	// (v2.31+, current v1); with an older one the README says to run furl
	// with --url-permissions=legacy, without that command.
	extra := []string{"--listen-tls", "127.0.0.1:0"}
	if !cliKnows(cli, "add-permission", "--invoked-via-function-url") {
		t.Logf("%s does not know --invoked-via-function-url: running the README's fallback (--url-permissions=legacy)", cli)
		extra = append(extra, "--url-permissions=legacy")
		second := regexp.MustCompile(`(?m)^aws [^\n]*add-permission[^\n]*\\\n[^\n]*\\\n[^\n]*--invoked-via-function-url\n`)
		if !second.MatchString(script) {
			t.Fatal("the quick start has no add-permission with --invoked-via-function-url to leave out")
		}
		script = second.ReplaceAllString(script, "")
	}
	dataDir := t.TempDir()
	f := startFurl(t, dataDir, "127.0.0.1:0", extra...)
	script = strings.ReplaceAll(script, "127.0.0.1:4580", f.addr)
	script = strings.ReplaceAll(script, "go run ./cmd/furl", furlBin)

	// Put the CLI v2 first on PATH under the name the README uses.
	bin := t.TempDir()
	if err := os.Symlink(cli, filepath.Join(bin, "aws")); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=",
		"FURL_DATA_DIR="+dataDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's quick start failed: %v\n%s", err, out)
	}
	port := f.tlsAddr[strings.LastIndex(f.tlsAddr, ":")+1:]
	if !regexp.MustCompile(`"FunctionUrl": "https://[a-z2-7]{25}[aeimquy4]0[a-z]{5}\.lambda-url\.us-east-1\.localhost:` + port + `/"`).Match(out) {
		t.Fatalf("the quick start printed no function URL:\n%s", out)
	}
	// curl reached the URL over HTTPS with furl's root (its answer has no
	// newline; the invoke's log tail follows it), and the invoke printed the
	// log tail and then the function's answer.
	for _, want := range []string{"hello from furlSTART RequestId: ", "REPORT RequestId: ", `{"statusCode":200,"body":"hello from furl"}`} {
		mustContain(t, string(out), want)
	}

	// What the CLI did is what the SDK sees.
	c := f.client()
	fn, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
	if err != nil {
		t.Fatalf("GetFunction after the quick start: %v", err)
	}
	zipped, err := os.ReadFile(filepath.Join(work, "function.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(fn.Configuration.CodeSha256) != codeSha256(zipped) || aws.ToString(fn.Configuration.Handler) != "index.handler" {
		t.Fatalf("the function the CLI created: %s", jsonOf(fn.Configuration))
	}
	policy, err := c.GetPolicy(ctx(t), &lambda.GetPolicyInput{FunctionName: aws.String("hello")})
	if err != nil {
		t.Fatalf("GetPolicy after the quick start: %v", err)
	}
	mustContain(t, aws.ToString(policy.Policy), `"Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}`)
	if _, err := c.GetFunctionUrlConfig(ctx(t), &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("hello")}); err != nil {
		t.Fatalf("GetFunctionUrlConfig after the quick start: %v", err)
	}

	// The CLI's own error handling sees furl's errors as AWS's.
	get := exec.Command(cli, "--endpoint-url", "http://"+f.addr, "lambda", "get-function", "--function-name", "ghost")
	get.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	errOut, err := get.CombinedOutput()
	if err == nil {
		t.Fatal("get-function of a missing function succeeded")
	}
	mustContain(t, string(errOut), "An error occurred (ResourceNotFoundException) when calling the GetFunction operation: Function not found: arn:aws:lambda:us-east-1:000000000000:function:ghost")
}

// cliKnows says whether the AWS CLI's help for a lambda command names an
// option.
func cliKnows(cli, command, option string) bool {
	cmd := exec.Command(cli, "lambda", command, "help")
	cmd.Env = append(os.Environ(), "AWS_PAGER=", "PAGER=cat", "MANPAGER=cat")
	out, _ := cmd.CombinedOutput()
	return strings.Contains(string(out), option)
}
