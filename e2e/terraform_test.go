package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// terraformTools finds the terraform binary and a filesystem mirror that
// holds the AWS provider. Without either the test skips, unless
// FURL_E2E_REQUIRE_TERRAFORM is set (scripts/test.sh sets it when
// terraform is on PATH) and then it fails.
func terraformTools(t *testing.T) (bin, mirror string) {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("FURL_E2E_REQUIRE_TERRAFORM") != "" {
			t.Fatalf("%s (FURL_E2E_REQUIRE_TERRAFORM is set)", what)
		}
		t.Skip(what + "; set FURL_E2E_REQUIRE_TERRAFORM to make this a failure")
	}
	bin, err := exec.LookPath("terraform")
	if err != nil {
		missing("terraform is not installed")
	}
	// A mirror is a folder holding registry.terraform.io/hashicorp/aws.
	candidates := []string{os.Getenv("FURL_TF_MIRROR"), "/opt/tf-plugins"}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".terraform.d", "plugins"), filepath.Join(home, ".local", "share", "terraform", "plugins"))
	}
	candidates = append(candidates, "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins")
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(c, "registry.terraform.io", "hashicorp", "aws")); err == nil && st.IsDir() {
			return bin, c
		}
	}
	missing(fmt.Sprintf("no filesystem mirror with the AWS provider in %q (FURL_TF_MIRROR names one)", candidates))
	return "", ""
}

// tfRunner runs terraform in one working directory, offline: providers
// come only from the mirror, and no AWS setting of the host leaks in.
type tfRunner struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

func newTFRunner(t *testing.T, bin, mirror, dir string) *tfRunner {
	t.Helper()
	rc := filepath.Join(dir, "terraform.rc")
	conf := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", mirror)
	if err := os.WriteFile(rc, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "TF_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"TF_CLI_CONFIG_FILE="+rc,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		// No version check against HashiCorp's servers.
		"CHECKPOINT_DISABLE=1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "no-aws-credentials"),
	)
	return &tfRunner{t: t, bin: bin, dir: dir, env: env}
}

// run runs terraform with args and returns its exit code and output. A
// failure to start is fatal; a non-zero exit is the caller's to judge.
func (r *tfRunner) run(args ...string) (int, string) {
	r.t.Helper()
	cmd := exec.Command(r.bin, append([]string{"-chdir=" + r.dir}, args...)...)
	cmd.Env = r.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	}
	r.t.Fatalf("terraform %v: %v\n%s", args, err, out.String())
	return 0, ""
}

// must runs terraform and fails the test unless it exits 0.
func (r *tfRunner) must(args ...string) string {
	r.t.Helper()
	code, out := r.run(args...)
	if code != 0 {
		r.t.Fatalf("terraform %v exited %d:\n%s", args, code, out)
	}
	return out
}

// Terraform's AWS provider, unmodified and pointed at furl, applies a
// stack of every Lambda resource a function URL deployment uses, finds no
// drift on a second plan, and destroys it. Each step is checked through
// the SDK, and the public URL through HTTP.
func TestTerraformApplyPlanDestroy(t *testing.T) {
	bin, mirror := terraformTools(t)
	dir := t.TempDir()
	stack, err := os.ReadFile(filepath.Join("testdata", "terraform", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), stack, 0o644); err != nil {
		t.Fatal(err)
	}
	zipped := urlFunction(t)
	zipPath := filepath.Join(dir, "fn.zip")
	if err := os.WriteFile(zipPath, zipped, 0o644); err != nil {
		t.Fatal(err)
	}

	// With signatures verified, as the strictest setup: every request the
	// provider signs with test/test (the root) must pass furl's SigV4 check
	// and have an authorization rule.
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--verify-api-signatures")
	c := f.client()
	tf := newTFRunner(t, bin, mirror, dir)
	vars := []string{"-var", "endpoint=" + f.url(""), "-var", "zip=" + zipPath}

	tf.must("init", "-no-color")
	tf.must(append([]string{"apply", "-no-color", "-auto-approve"}, vars...)...)

	// The function, as declared.
	fn, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("tf-web")})
	if err != nil {
		t.Fatalf("GetFunction after apply: %v", err)
	}
	cfg := fn.Configuration
	if cfg.Runtime != types.RuntimeProvidedal2023 || aws.ToString(cfg.Handler) != "bootstrap" || aws.ToInt32(cfg.Timeout) != 7 ||
		aws.ToInt32(cfg.MemorySize) != 256 || aws.ToString(cfg.Role) != testRole || aws.ToString(cfg.CodeSha256) != codeSha256(zipped) {
		t.Errorf("function configuration differs from main.tf: %s", jsonOf(cfg))
	}
	if cfg.Environment == nil || !maps.Equal(cfg.Environment.Variables, map[string]string{"STAGE": "tf"}) {
		t.Errorf("environment: %s", jsonOf(cfg.Environment))
	}
	if !maps.Equal(fn.Tags, map[string]string{"team": "web", "managed": "terraform"}) {
		t.Errorf("tags: %v", fn.Tags)
	}
	if fn.Concurrency == nil || aws.ToInt32(fn.Concurrency.ReservedConcurrentExecutions) != 3 {
		t.Errorf("reserved concurrency: %s", jsonOf(fn.Concurrency))
	}
	versions, err := c.ListVersionsByFunction(ctx(t), &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("tf-web")})
	if err != nil {
		t.Fatal(err)
	}
	var published []string
	for _, v := range versions.Versions {
		published = append(published, aws.ToString(v.Version))
	}
	if !slices.Equal(published, []string{"$LATEST", "1"}) {
		t.Errorf("versions %v, want $LATEST and the one publish = true made", published)
	}

	// The alias, on the published version.
	alias, err := c.GetAlias(ctx(t), &lambda.GetAliasInput{FunctionName: aws.String("tf-web"), Name: aws.String("live")})
	if err != nil {
		t.Fatalf("GetAlias: %v", err)
	}
	if aws.ToString(alias.FunctionVersion) != "1" || aws.ToString(alias.Description) != "what the IAM URL serves" {
		t.Errorf("alias: %s", jsonOf(alias))
	}

	// The URL configs: NONE with CORS on the function, AWS_IAM on the alias,
	// and Terraform's outputs name the URLs furl made.
	public, err := c.GetFunctionUrlConfig(ctx(t), &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("tf-web")})
	if err != nil {
		t.Fatalf("GetFunctionUrlConfig: %v", err)
	}
	if public.AuthType != types.FunctionUrlAuthTypeNone || public.Cors == nil ||
		!slices.Equal(public.Cors.AllowOrigins, []string{"https://app.example"}) ||
		!slices.Equal(sorted(public.Cors.AllowMethods), []string{"GET", "POST"}) ||
		!slices.Equal(public.Cors.AllowHeaders, []string{"content-type"}) || aws.ToInt32(public.Cors.MaxAge) != 300 {
		t.Errorf("public URL config: %s", jsonOf(public))
	}
	private, err := c.GetFunctionUrlConfig(ctx(t), &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("tf-web"), Qualifier: aws.String("live")})
	if err != nil {
		t.Fatalf("GetFunctionUrlConfig live: %v", err)
	}
	if private.AuthType != types.FunctionUrlAuthTypeAwsIam || aws.ToString(private.FunctionArn) != aws.ToString(cfg.FunctionArn)+":live" {
		t.Errorf("private URL config: %s", jsonOf(private))
	}
	var outputs map[string]struct{ Value string }
	if err := json.Unmarshal([]byte(tf.must("output", "-json")), &outputs); err != nil {
		t.Fatal(err)
	}
	if outputs["public_url"].Value != aws.ToString(public.FunctionUrl) || outputs["private_url"].Value != aws.ToString(private.FunctionUrl) {
		t.Errorf("terraform outputs %v, furl's URLs %s and %s", outputs, aws.ToString(public.FunctionUrl), aws.ToString(private.FunctionUrl))
	}

	// The resource policy: the statement the URL resource adds for itself
	// and the stack's two, as the provider sent them.
	pol, err := c.GetPolicy(ctx(t), &lambda.GetPolicyInput{FunctionName: aws.String("tf-web")})
	if err != nil {
		t.Fatalf("GetPolicy: %v", err)
	}
	var policy struct {
		Statement []struct {
			Sid       string
			Effect    string
			Principal any
			Action    string
			Resource  string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(pol.Policy)), &policy); err != nil {
		t.Fatalf("policy %q: %v", aws.ToString(pol.Policy), err)
	}
	statements := map[string]string{}
	for _, s := range policy.Statement {
		statements[s.Sid] = fmt.Sprintf("%s %v %s %s %v", s.Effect, s.Principal, s.Action, s.Resource, s.Condition)
	}
	arn := aws.ToString(cfg.FunctionArn)
	wantStatements := map[string]string{
		"FunctionURLAllowPublicAccess":       "Allow * lambda:InvokeFunctionUrl " + arn + " map[StringEquals:map[lambda:FunctionUrlAuthType:NONE]]",
		"AllowPublicUrlFromTerraform":        "Allow * lambda:InvokeFunctionUrl " + arn + " map[StringEquals:map[lambda:FunctionUrlAuthType:NONE]]",
		"FunctionURLInvokeAllowPublicAccess": "Allow * lambda:InvokeFunction " + arn + " map[]",
	}
	if !maps.Equal(statements, wantStatements) {
		t.Errorf("policy statements:\n got %v\nwant %v", statements, wantStatements)
	}

	// The event invoke config.
	eic, err := c.GetFunctionEventInvokeConfig(ctx(t), &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("tf-web")})
	if err != nil {
		t.Fatalf("GetFunctionEventInvokeConfig: %v", err)
	}
	if aws.ToInt32(eic.MaximumRetryAttempts) != 1 || aws.ToInt32(eic.MaximumEventAgeInSeconds) != 600 {
		t.Errorf("event invoke config: %s", jsonOf(eic))
	}

	// The public URL serves anyone, with its CORS headers; the AWS_IAM one
	// refuses an unsigned request.
	status, h, body := getByHost(t, f, aws.ToString(public.FunctionUrl), "/method", "https://app.example")
	if status != http.StatusOK || body != "GET" || h.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("public URL: %d %q %v", status, body, h)
	}
	if status, h, body := getByHost(t, f, aws.ToString(private.FunctionUrl), "/method", ""); status != http.StatusForbidden {
		t.Errorf("unsigned request to the AWS_IAM URL: %d %q %v", status, body, h)
	}

	// A second plan finds nothing to change: every attribute furl reports
	// reads back as declared.
	if code, out := tf.run(append([]string{"plan", "-no-color", "-detailed-exitcode"}, vars...)...); code != 0 {
		t.Fatalf("terraform plan after apply exited %d (2 means drift):\n%s", code, out)
	}

	tf.must(append([]string{"destroy", "-no-color", "-auto-approve"}, vars...)...)

	if _, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("tf-web")}); err == nil {
		t.Error("the function outlived terraform destroy")
	} else {
		apiErrCode(t, err, "ResourceNotFoundException")
	}
	list, err := c.ListFunctions(ctx(t), &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Functions) != 0 {
		t.Errorf("functions left after destroy: %s", jsonOf(list.Functions))
	}
	if status, h, _ := getByHost(t, f, aws.ToString(public.FunctionUrl), "/method", ""); status != http.StatusForbidden || h.Get("X-Amzn-Errortype") != "AccessDeniedException" {
		t.Errorf("the public URL after destroy: %d %v", status, h)
	}
}

var urlHostPattern = regexp.MustCompile(`^http://([^/]+)/$`)

// getByHost sends GET path to furl's listener with the Host of a function
// URL, as a client resolving *.localhost to loopback would.
func getByHost(t *testing.T, f *furl, functionURL, path, origin string) (int, http.Header, string) {
	t.Helper()
	m := urlHostPattern.FindStringSubmatch(functionURL)
	if m == nil {
		t.Fatalf("function URL %q is not http://<host>/", functionURL)
	}
	if _, port, _ := net.SplitHostPort(m[1]); port == "" || !strings.HasSuffix(f.addr, ":"+port) {
		t.Fatalf("function URL %q does not name furl's port (%s)", functionURL, f.addr)
	}
	req, err := http.NewRequest("GET", f.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = m[1]
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(raw)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
