package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The callers of the API authorization tests, as --iam-config lists them:
// none has no policies; other (another account) may do anything in its
// own; writer may do anything in this one (an identity, not the root);
// reader has narrow grants on app; denied may do anything but write
// (an explicit Deny); partner (another account) is granted some actions
// by app's resource policy.
const apiIAMConfig = `{"identities": [
  {"accessKeyId": "AKIANONE", "secretAccessKey": "none-secret", "arn": "arn:aws:iam::000000000000:user/none"},
  {"accessKeyId": "AKIAOTHER", "secretAccessKey": "other-secret", "arn": "arn:aws:iam::111111111111:user/other",
   "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}]},
  {"accessKeyId": "AKIAWRITER", "secretAccessKey": "writer-secret", "arn": "arn:aws:iam::000000000000:user/writer",
   "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}]},
  {"accessKeyId": "AKIAREADER", "secretAccessKey": "reader-secret", "arn": "arn:aws:iam::000000000000:user/reader",
   "policies": [{"Version": "2012-10-17", "Statement": [
     {"Effect": "Allow", "Action": ["lambda:GetFunction", "lambda:GetFunctionConfiguration"], "Resource": "arn:aws:lambda:us-east-1:000000000000:function:app"},
     {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:app:*"},
     {"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"}]}]},
  {"accessKeyId": "AKIADENIED", "secretAccessKey": "denied-secret", "arn": "arn:aws:iam::000000000000:user/denied",
   "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]},
                {"Version": "2012-10-17", "Statement": [{"Sid": "ReadOnly", "Effect": "Deny", "NotAction": ["lambda:Get*", "lambda:List*"], "Resource": "*"}]}]},
  {"accessKeyId": "AKIAPARTNER", "secretAccessKey": "partner-secret", "arn": "arn:aws:iam::222222222222:user/partner",
   "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}]}
]}`

func startAPIAuthzFurl(t *testing.T) *furl {
	t.Helper()
	path := filepath.Join(t.TempDir(), "iam.json")
	if err := os.WriteFile(path, []byte(apiIAMConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return startFurl(t, t.TempDir(), "127.0.0.1:0", "--verify-api-signatures", "--iam-config", path)
}

// clientAs is an SDK client signing with the given credentials.
func (f *furl) clientAs(key, secret string) *lambda.Client {
	return lambda.New(lambda.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
		BaseEndpoint: aws.String("http://" + f.addr), RetryMaxAttempts: 1})
}

// apiCall is one Lambda API operation made with the SDK.
type apiCall struct {
	action string
	call   func(ctx context.Context, c *lambda.Client) error
}

// writeCalls are the operations that change the account or run code, each
// aimed at app (whose alias live, URL, policy and event invoke config
// exist) or at the layer lib (whose version 1 exists). In this order, an
// identity granted them all can make each one.
func writeCalls(t *testing.T) []apiCall {
	app := aws.String("app")
	code := nodeZip(t, "intruder")
	return []apiCall{
		{"lambda:CreateFunction", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("intruder"), Runtime: types.RuntimeNodejs20x,
				Role: aws.String(testRole), Handler: aws.String("index.handler"), Code: &types.FunctionCode{ZipFile: code}})
			return err
		}},
		{"lambda:UpdateFunctionConfiguration", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: app,
				Environment: &types.Environment{Variables: map[string]string{"SECRET": "stolen"}}})
			return err
		}},
		{"lambda:UpdateFunctionCode", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: app, ZipFile: code})
			return err
		}},
		{"lambda:PublishVersion", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: app})
			return err
		}},
		{"lambda:CreateAlias", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: app, Name: aws.String("evil"), FunctionVersion: aws.String("1")})
			return err
		}},
		{"lambda:UpdateAlias", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: app, Name: aws.String("live"), Description: aws.String("changed")})
			return err
		}},
		{"lambda:AddPermission", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: app, StatementId: aws.String("everyone"),
				Action: aws.String("lambda:*"), Principal: aws.String("*")})
			return err
		}},
		{"lambda:RemovePermission", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: app, StatementId: aws.String("partner-invoke")})
			return err
		}},
		{"lambda:CreateFunctionUrlConfig", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: app, AuthType: types.FunctionUrlAuthTypeNone})
			return err
		}},
		{"lambda:UpdateFunctionUrlConfig", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{FunctionName: app, Qualifier: aws.String("live"),
				AuthType: types.FunctionUrlAuthTypeNone})
			return err
		}},
		{"lambda:DeleteFunctionUrlConfig", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: app, Qualifier: aws.String("live")})
			return err
		}},
		{"lambda:DeleteAlias", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: app, Name: aws.String("live")})
			return err
		}},
		{"lambda:PutFunctionConcurrency", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: app, ReservedConcurrentExecutions: aws.Int32(0)})
			return err
		}},
		{"lambda:DeleteFunctionConcurrency", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: app})
			return err
		}},
		{"lambda:TagResource", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(appARN), Tags: map[string]string{"owner": "intruder"}})
			return err
		}},
		{"lambda:UntagResource", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(appARN), TagKeys: []string{"team"}})
			return err
		}},
		{"lambda:PutFunctionEventInvokeConfig", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: app, MaximumRetryAttempts: aws.Int32(2)})
			return err
		}},
		{"lambda:UpdateFunctionEventInvokeConfig", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: app, MaximumEventAgeInSeconds: aws.Int32(60)})
			return err
		}},
		{"lambda:DeleteFunctionEventInvokeConfig", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: app})
			return err
		}},
		{"lambda:PublishLayerVersion", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("lib"), Content: &types.LayerVersionContentInput{ZipFile: code}})
			return err
		}},
		{"lambda:AddLayerVersionPermission", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.AddLayerVersionPermission(ctx, &lambda.AddLayerVersionPermissionInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(1),
				StatementId: aws.String("everyone"), Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("*")})
			return err
		}},
		{"lambda:DeleteLayerVersion", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(1)})
			return err
		}},
		{"lambda:InvokeFunction", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: app})
			return err
		}},
		{"lambda:InvokeFunction", func(ctx context.Context, c *lambda.Client) error {
			// InvokeWithResponseStream is authorized as InvokeFunction, as on AWS.
			out, err := c.InvokeWithResponseStream(ctx, &lambda.InvokeWithResponseStreamInput{FunctionName: app})
			if err != nil {
				return err
			}
			defer out.GetStream().Close()
			for range out.GetStream().Events() {
			}
			return out.GetStream().Err()
		}},
		{"lambda:DeleteFunction", func(ctx context.Context, c *lambda.Client) error {
			_, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: app})
			return err
		}},
	}
}

const appARN = "arn:aws:lambda:us-east-1:000000000000:function:app"

// appState is what the root sees of app: it must not change when a caller
// is refused.
func appState(t *testing.T, c *lambda.Client) string {
	t.Helper()
	fn, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	aliases, _ := c.ListAliases(ctx(t), &lambda.ListAliasesInput{FunctionName: aws.String("app")})
	versions, _ := c.ListVersionsByFunction(ctx(t), &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("app")})
	policy, _ := c.GetPolicy(ctx(t), &lambda.GetPolicyInput{FunctionName: aws.String("app")})
	urls, _ := c.ListFunctionUrlConfigs(ctx(t), &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("app")})
	list, _ := c.ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
	var names []string
	for _, f := range list.Functions {
		names = append(names, aws.ToString(f.FunctionName))
	}
	eic, _ := c.GetFunctionEventInvokeConfig(ctx(t), &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("app")})
	layers, _ := c.ListLayerVersions(ctx(t), &lambda.ListLayerVersionsInput{LayerName: aws.String("lib")})
	layerPolicy, _ := c.GetLayerVersionPolicy(ctx(t), &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(1)})
	var eventInvokeConfig, layerVersions any
	if eic != nil {
		eventInvokeConfig = []any{eic.MaximumRetryAttempts, eic.MaximumEventAgeInSeconds, eic.LastModified}
	}
	if layers != nil {
		layerVersions = layers.LayerVersions
	}
	var lp string
	if layerPolicy != nil {
		lp = aws.ToString(layerPolicy.Policy)
	}
	return jsonOf(map[string]any{"configuration": fn.Configuration, "tags": fn.Tags, "concurrency": fn.Concurrency,
		"aliases": aliases.Aliases, "versions": len(versions.Versions), "policy": aws.ToString(policy.Policy),
		"urls": urls.FunctionUrlConfigs, "functions": names, "eventInvokeConfig": eventInvokeConfig,
		"layerVersions": layerVersions, "layerPolicy": lp})
}

// --verify-api-signatures authorizes every operation as IAM does: callers
// without a grant are refused each write with AccessDeniedException naming
// the action, and nothing changes; granted ones are allowed; a resource
// policy's grant to another account works for the actions it names.
func TestAPIAuthorization(t *testing.T) {
	f := startAPIAuthzFurl(t)
	root := f.client()
	if _, err := root.CreateFunction(ctx(t), &lambda.CreateFunctionInput{FunctionName: aws.String("app"), Runtime: types.RuntimeNodejs20x,
		Role: aws.String(testRole), Handler: aws.String("index.handler"), Code: &types.FunctionCode{ZipFile: nodeZip(t, "app says hi")},
		Environment: &types.Environment{Variables: map[string]string{"SECRET": "s3cr3t"}}, Tags: map[string]string{"team": "core"}}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error {
			_, err := root.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: aws.String("app")})
			return err
		},
		func() error {
			_, err := root.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: aws.String("app"), Name: aws.String("live"), FunctionVersion: aws.String("1")})
			return err
		},
		func() error {
			_, err := root.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("app"), Qualifier: aws.String("live"),
				AuthType: types.FunctionUrlAuthTypeAwsIam})
			return err
		},
		func() error {
			_, err := root.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: aws.String("app"), StatementId: aws.String("partner-invoke"),
				Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("222222222222")})
			return err
		},
		func() error {
			_, err := root.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: aws.String("app"), StatementId: aws.String("partner-get"),
				Action: aws.String("lambda:GetFunction"), Principal: aws.String("222222222222")})
			return err
		},
		func() error {
			_, err := root.PutFunctionEventInvokeConfig(ctx(t), &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("app"), MaximumRetryAttempts: aws.Int32(1)})
			return err
		},
		func() error {
			_, err := root.PublishLayerVersion(ctx(t), &lambda.PublishLayerVersionInput{LayerName: aws.String("lib"),
				Content: &types.LayerVersionContentInput{ZipFile: nodeZip(t, "lib")}})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	before := appState(t, root)

	refusals := []struct {
		caller, arn, key, secret, why, logged string
	}{
		{"none", "arn:aws:iam::000000000000:user/none", "AKIANONE", "none-secret", "because no identity-based policy allows the ",
			"neither a policy of arn:aws:iam::000000000000:user/none nor the resource policy allows lambda:DeleteFunction"},
		{"other", "arn:aws:iam::111111111111:user/other", "AKIAOTHER", "other-secret", "because no resource-based policy allows the ",
			"the resource policy does not allow lambda:DeleteFunction to arn:aws:iam::111111111111:user/other"},
		{"denied", "arn:aws:iam::000000000000:user/denied", "AKIADENIED", "denied-secret", "with an explicit deny in an identity-based policy",
			`statement \"ReadOnly\" of a policy of arn:aws:iam::000000000000:user/denied denies lambda:DeleteFunction`},
	}
	for _, r := range refusals {
		t.Run("writes refused: "+r.caller, func(t *testing.T) {
			c := f.clientAs(r.key, r.secret)
			for _, op := range writeCalls(t) {
				err := op.call(ctx(t), c)
				msg := apiErrCode(t, err, "AccessDeniedException")
				if !strings.Contains(msg, "is not authorized to perform: "+op.action+" on resource: ") || !strings.Contains(msg, r.why) {
					t.Errorf("%s: message %q", op.action, msg)
				}
			}
			// InvokeAsync (lambda:InvokeAsync), deprecated on AWS, is not
			// built: every caller is answered so, and nothing runs. Once
			// it is, it belongs in writeCalls.
			//lint:ignore SA1019 deprecated on AWS, still an operation a caller may send
			_, err := c.InvokeAsync(ctx(t), &lambda.InvokeAsyncInput{FunctionName: aws.String("app"), InvokeArgs: strings.NewReader(`{}`)})
			apiErrCode(t, err, "NotImplementedException")
			// furl's log says which grant is missing.
			f.logs.waitFor(t, "op=DeleteFunction caller="+r.arn+" action=lambda:DeleteFunction resource="+appARN+` why="`+r.logged, 5*time.Second)
			if after := appState(t, root); after != before {
				t.Fatalf("refused calls changed the account:\nbefore %s\nafter %s", before, after)
			}
		})
	}

	t.Run("a signed upload larger than what is kept in memory", func(t *testing.T) {
		zip := urlFunction(t)
		out, err := root.CreateFunction(ctx(t), &lambda.CreateFunctionInput{FunctionName: aws.String("big"), Runtime: types.RuntimeProvidedal2023,
			Role: aws.String(testRole), Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: zip}})
		if err != nil || aws.ToString(out.CodeSha256) != codeSha256(zip) {
			t.Fatalf("CreateFunction with a %d-byte zip: %v", len(zip), err)
		}
		t.Logf("created a function from a %d-byte signed upload", len(zip))
		// The spooled body was unlinked at once: nothing is left behind.
		if leftovers, _ := filepath.Glob(filepath.Join(f.dataDir, "furl-body-*")); len(leftovers) > 0 {
			t.Errorf("spooled bodies left: %v", leftovers)
		}
		if _, err := root.DeleteFunction(ctx(t), &lambda.DeleteFunctionInput{FunctionName: aws.String("big")}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("reads granted by an identity policy", func(t *testing.T) {
		denied := f.clientAs("AKIADENIED", "denied-secret")
		out, err := denied.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("app")})
		if err != nil || out.Environment.Variables["SECRET"] != "s3cr3t" {
			t.Fatalf("denied may read: %v", err)
		}
		if _, err := denied.ListFunctions(ctx(t), &lambda.ListFunctionsInput{}); err != nil {
			t.Fatalf("denied may list: %v", err)
		}
		_, err = f.clientAs("AKIANONE", "none-secret").GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("app")})
		mustContain(t, apiErrCode(t, err, "AccessDeniedException"), "lambda:GetFunctionConfiguration")
	})

	t.Run("a narrow grant, qualified as Lambda qualifies it", func(t *testing.T) {
		reader := f.clientAs("AKIAREADER", "reader-secret")
		if _, err := reader.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("app")}); err != nil {
			t.Fatalf("GetFunction app: %v", err)
		}
		if _, err := reader.ListFunctions(ctx(t), &lambda.ListFunctionsInput{}); err != nil {
			t.Fatalf("ListFunctions: %v", err)
		}
		out, err := reader.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("app"), Qualifier: aws.String("live")})
		if err != nil || string(out.Payload) != `"app says hi"` {
			t.Fatalf("Invoke app:live: %v", err)
		}
		// A grant on function:app is not one on app:1, nor one on app:* on app.
		_, err = reader.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("app"), Qualifier: aws.String("1")})
		mustContain(t, apiErrCode(t, err, "AccessDeniedException"), "lambda:GetFunction on resource: "+appARN+":1 because")
		_, err = reader.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("app")})
		mustContain(t, apiErrCode(t, err, "AccessDeniedException"), "lambda:InvokeFunction on resource: "+appARN+" because")
		_, err = reader.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("intruder")})
		apiErrCode(t, err, "AccessDeniedException")
	})

	t.Run("another account, granted by the resource policy", func(t *testing.T) {
		partner := f.clientAs("AKIAPARTNER", "partner-secret")
		out, err := partner.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String(appARN)})
		if err != nil || string(out.Payload) != `"app says hi"` {
			t.Fatalf("Invoke: %v", err)
		}
		got, err := partner.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String(appARN)})
		if err != nil {
			t.Fatalf("GetFunction: %v", err)
		}
		// The alias has a resource policy of its own, which grants nothing.
		_, err = partner.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String(appARN + ":live")})
		mustContain(t, apiErrCode(t, err, "AccessDeniedException"), "because no resource-based policy allows the lambda:InvokeFunction action")
		_, err = partner.DeleteFunction(ctx(t), &lambda.DeleteFunctionInput{FunctionName: aws.String(appARN)})
		mustContain(t, apiErrCode(t, err, "AccessDeniedException"), "User: arn:aws:iam::222222222222:user/partner is not authorized to perform: lambda:DeleteFunction on resource: "+appARN+" because no resource-based policy allows the lambda:DeleteFunction action")

		// The code location is presigned: it works as given, and only so.
		loc := aws.ToString(got.Code.Location)
		resp, err := http.Get(loc)
		if err != nil {
			t.Fatal(err)
		}
		zip, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || codeSha256(zip) != aws.ToString(got.Configuration.CodeSha256) {
			t.Fatalf("Code.Location %s: %d, %d bytes", loc, resp.StatusCode, len(zip))
		}
		u, _ := url.Parse(loc)
		q := u.Query()
		q.Set("Signature", strings.Repeat("0", 64))
		for _, bad := range []string{u.Scheme + "://" + u.Host + u.Path, u.Scheme + "://" + u.Host + u.Path + "?" + q.Encode()} {
			resp, err := http.Get(bad)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-Errortype") != "AccessDeniedException" {
				t.Fatalf("%s: %d %s", bad, resp.StatusCode, body)
			}
		}
	})

	// Last, as it changes app and then deletes it: an identity of the
	// account whose policy grants lambda:* may make every write refused
	// above, and each takes effect.
	t.Run("writes granted: writer", func(t *testing.T) {
		c := f.clientAs("AKIAWRITER", "writer-secret")
		for _, op := range writeCalls(t) {
			if err := op.call(ctx(t), c); err != nil {
				t.Errorf("%s: %v", op.action, err)
			}
		}
		if _, err := root.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("app")}); err == nil {
			t.Error("app still exists after writer deleted it")
		}
		if _, err := root.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("intruder")}); err != nil {
			t.Errorf("the function writer created: %v", err)
		}
	})
}

// A request signed for one raw path and sent with another that Go's
// parser reads alike (/a/b%22c and /a%2Fb"c are both /a/b"c to it) is
// refused; sent as signed, the function sees the very path signed.
func TestSignedPathAltered(t *testing.T) {
	f := startIAMFurl(t)
	u, err := url.Parse(iamURL(t, f.client(), "private"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", u.String()+"a/b%22c", nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"},
		req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "close")
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(u.Host)
	send := func(target string) (int, string, string) {
		t.Helper()
		line, rest, _ := bytes.Cut(wire.Bytes(), []byte("\r\n"))
		if !bytes.Equal(line, []byte("GET /a/b%22c HTTP/1.1")) {
			t.Fatalf("request line %q", line)
		}
		conn, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write(append([]byte("GET "+target+" HTTP/1.1\r\n"), rest...)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), string(body)
	}
	// The function routes on requestContext.http.path, which Lambda
	// decodes (rawPath keeps %22).
	if status, _, body := send("/a/b%22c"); status != 404 || body != `no route /a/b"c` {
		t.Fatalf("as signed: %d %s", status, body)
	}
	status, errType, body := send(`/a%2Fb"c`)
	var msg struct{ Message string }
	json.Unmarshal([]byte(body), &msg)
	if status != 403 || errType != "InvalidSignatureException" || !strings.HasPrefix(msg.Message, "The request signature we calculated does not match") {
		t.Fatalf("altered: %d %s %s", status, errType, body)
	}
	f.logs.waitFor(t, "the signature does not match", 5*time.Second)
}
