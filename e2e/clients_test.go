package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// The programs the Lambda API is for go through its trust boundary
// untouched: each client below creates, configures, invokes (with a
// payload) and deletes a function, and furl's log shows no refusal.

// clientEnv is the environment for a CLI or SDK pointed at furl.
func clientEnv(f *furl) []string {
	return append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ENDPOINT_URL_LAMBDA=http://"+f.addr, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
}

// noRefusals fails the test if furl refused any request of a client.
func noRefusals(t *testing.T, f *furl, client string) {
	t.Helper()
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, "Lambda API request refused") {
			t.Fatalf("furl refused a request of %s: %s", client, l)
		}
	}
}

// awsCLIv1 finds a pip-installed AWS CLI v1, or skips: Debian packages
// only v2.
func awsCLIv1(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("FURL_AWS_CLI_V1")}
	if p, err := exec.LookPath("aws"); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if out, err := exec.Command(c, "--version").CombinedOutput(); err == nil && strings.HasPrefix(string(out), "aws-cli/1") {
			return c
		}
	}
	t.Skip("no AWS CLI v1 found (pip install awscli)")
	return ""
}

// cliSession runs AWS CLI commands against furl.
func cliSession(t *testing.T, f *furl, cli string, v2 bool) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "function.zip"), nodeZip(t, "from the CLI"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		// Debian's AWS CLI v2 predates AWS_ENDPOINT_URL_LAMBDA.
		cmd := exec.Command(cli, append([]string{"--endpoint-url", "http://" + f.addr, "lambda"}, args...)...)
		cmd.Dir = dir
		cmd.Env = clientEnv(f)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws lambda %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("create-function", "--function-name", "cli", "--runtime", "nodejs20.x", "--handler", "index.handler",
		"--zip-file", "fileb://function.zip", "--role", testRole)
	run("update-function-configuration", "--function-name", "cli", "--timeout", "7")
	run("publish-version", "--function-name", "cli")
	run("create-function-url-config", "--function-name", "cli", "--auth-type", "NONE")
	run("tag-resource", "--resource", "arn:aws:lambda:us-east-1:000000000000:function:cli", "--tags", "team=web")
	invoke := []string{"invoke", "--function-name", "cli", "--payload", `{"from":"cli"}`}
	if v2 {
		invoke = append(invoke, "--cli-binary-format", "raw-in-base64-out")
	}
	run(append(invoke, "out.json")...)
	if got, _ := os.ReadFile(filepath.Join(dir, "out.json")); string(got) != `"from the CLI"` {
		t.Fatalf("invoke wrote %q", got)
	}
	mustContain(t, run("list-functions"), `"FunctionName": "cli"`)
	run("delete-function", "--function-name", "cli")
	noRefusals(t, f, cli)
}

func TestAWSCLIv1PassesTheTrustBoundary(t *testing.T) {
	cli := awsCLIv1(t)
	cliSession(t, startFurl(t, t.TempDir(), "127.0.0.1:0"), cli, false)
}

func TestAWSCLIv2PassesTheTrustBoundary(t *testing.T) {
	cli := awsCLIv2(t)
	cliSession(t, startFurl(t, t.TempDir(), "127.0.0.1:0"), cli, true)
}

// boto3Python finds a Python that imports boto3, or skips.
func boto3Python(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import boto3").Run() == nil {
			return py
		}
	}
	t.Skip("no python3 with boto3 found")
	return ""
}

const boto3Session = `
import base64, io, json, sys, zipfile
import boto3

buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("index.js", 'exports.handler = async (e) => ({got: e});')
c = boto3.client("lambda")
c.create_function(FunctionName="py", Runtime="nodejs20.x", Handler="index.handler",
                  Role="arn:aws:iam::000000000000:role/lambda-role", Code={"ZipFile": buf.getvalue()})
c.update_function_configuration(FunctionName="py", MemorySize=256)
c.put_function_concurrency(FunctionName="py", ReservedConcurrentExecutions=2)
c.add_permission(FunctionName="py", StatementId="s", Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
out = c.invoke(FunctionName="py", Payload=json.dumps({"from": "boto3"}))
got = json.loads(out["Payload"].read())
assert got == {"got": {"from": "boto3"}}, got
out = c.invoke(FunctionName="py", Payload=b'{"dry": true}', InvocationType="DryRun")
assert out["StatusCode"] == 204, out
assert [f["FunctionName"] for f in c.list_functions()["Functions"]] == ["py"]
c.delete_function(FunctionName="py")
print("ok")
`

func TestBoto3PassesTheTrustBoundary(t *testing.T) {
	py := boto3Python(t)
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	cmd := exec.Command(py, "-c", boto3Session)
	cmd.Env = clientEnv(f)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	noRefusals(t, f, "boto3")
}

// terraformMirror finds a local filesystem mirror holding the AWS
// provider (the machine ships one; there is no network for the
// registry), or skips.
func terraformMirror(t *testing.T) (terraform, mirror string) {
	t.Helper()
	terraform, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not installed")
	}
	home, _ := os.UserHomeDir()
	for _, dir := range []string{os.Getenv("FURL_TF_MIRROR"), "/opt/tf-plugins", filepath.Join(home, ".terraform.d", "plugins"),
		"/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins"} {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws")); err == nil {
			return terraform, dir
		}
	}
	t.Skip("no local mirror of the Terraform AWS provider (set FURL_TF_MIRROR to the folder holding registry.terraform.io)")
	return "", ""
}

const terraformConfig = `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    lambda = "http://FURL"
  }
}

resource "aws_lambda_function" "tf" {
  function_name    = "tf"
  role             = "arn:aws:iam::000000000000:role/lambda-role"
  handler          = "index.handler"
  runtime          = "nodejs20.x"
  filename         = "function.zip"
  source_code_hash = filebase64sha256("function.zip")
  environment {
    variables = { STAGE = "test" }
  }
}
`

// Terraform's AWS provider goes through the trust boundary: its apply
// completes (CreateFunction, then the reads it makes after, such as
// GetFunctionCodeSigningConfig, which furl answers with AWS's defaults),
// the function is as configured, and furl refused none of its requests.
func TestTerraformPassesTheTrustBoundary(t *testing.T) {
	terraform, mirror := terraformMirror(t)
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	dir := t.TempDir()
	cliConfig := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(cliConfig, []byte(`provider_installation {
  filesystem_mirror {
    path    = "`+mirror+`"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"main.tf": []byte(strings.ReplaceAll(terraformConfig, "FURL", f.addr)), "function.zip": nodeZip(t, "from terraform")}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(work, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tf := func(args ...string) ([]byte, error) {
		cmd := exec.Command(terraform, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_INPUT=0")
		return cmd.CombinedOutput()
	}
	if out, err := tf("init", "-no-color"); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, out)
	}
	out, err := tf("apply", "-auto-approve", "-no-color")
	t.Logf("terraform apply (%v):\n%s", err, out)
	if err != nil {
		t.Fatalf("terraform apply: %v", err)
	}

	fn, err := f.client().GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("tf")})
	if err != nil {
		t.Fatalf("Terraform's function was not created: %v", err)
	}
	if got := fn.Configuration.Environment.Variables["STAGE"]; got != "test" {
		t.Fatalf("Terraform's function has STAGE=%q", got)
	}
	noRefusals(t, f, "terraform")
}
