package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The identities of the IAM tests, as --iam-config lists them.
const iamConfig = `{"identities": [
  {"accessKeyId": "AKIAALICE", "secretAccessKey": "alice-secret", "arn": "arn:aws:iam::000000000000:user/alice"},
  {"accessKeyId": "AKIACAROL", "secretAccessKey": "carol-secret", "arn": "arn:aws:iam::000000000000:user/carol",
   "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"], "Resource": "*"}]}]},
  {"accessKeyId": "ASIASAM", "secretAccessKey": "sam-secret", "sessionToken": "sam-token", "arn": "arn:aws:sts::000000000000:assumed-role/app/sam-session",
   "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:Invoke*", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:private"}]}]},
  {"accessKeyId": "AKIADAVE", "secretAccessKey": "dave-secret", "arn": "arn:aws:iam::111111111111:user/dave",
   "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"], "Resource": "*"}]}]},
  {"accessKeyId": "AKIAERIN", "secretAccessKey": "erin-secret", "arn": "arn:aws:iam::111111111111:user/erin"}
]}`

func startIAMFurl(t *testing.T, extra ...string) *furl {
	t.Helper()
	path := filepath.Join(t.TempDir(), "iam.json")
	if err := os.WriteFile(path, []byte(iamConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return startFurl(t, t.TempDir(), "127.0.0.1:0", append([]string{"--iam-config", path}, extra...)...)
}

// sigv4Do sends a request signed by the AWS SDK for Go's signer, with
// edit applied after signing, and returns the status, headers and body.
func sigv4Do(t *testing.T, method, u string, body []byte, creds aws.Credentials, region string, at time.Time, edit func(*http.Request)) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", region, at); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := localhostClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

func iamURL(t *testing.T, c *lambda.Client, name string) string {
	t.Helper()
	createURLFunction(t, c, name, 5)
	out, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(name), AuthType: types.FunctionUrlAuthTypeAwsIam})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.FunctionUrl)
}

// An AWS_IAM URL with the AWS SDK's signer: the root, a signature that is
// wrong in each of its parts, identities with and without permission, a
// session, and callers from another account.
func TestIAMURLWithSDKSigner(t *testing.T) {
	f := startIAMFurl(t)
	c := f.client()
	u := iamURL(t, c, "private") + "echo?q=1"
	root := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	body := []byte(`{"order":42}`)
	now := time.Now()

	t.Run("root", func(t *testing.T) {
		status, h, raw := sigv4Do(t, "POST", u, body, root, "us-east-1", now, nil)
		if status != 200 {
			t.Fatalf("%d %v %s", status, h, raw)
		}
		var ev events.LambdaFunctionURLRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		iam := ev.RequestContext.Authorizer.IAM
		if iam == nil || iam.AccessKey != "test" || iam.AccountID != "000000000000" || iam.UserARN != "arn:aws:iam::000000000000:root" ||
			iam.UserID != "000000000000" || iam.CallerID != "000000000000" || ev.RequestContext.AccountID != "000000000000" {
			t.Errorf("authorizer %+v, accountId %s", iam, ev.RequestContext.AccountID)
		}
		if _, ok := ev.Headers["authorization"]; ok || ev.Headers["x-amz-date"] == "" {
			t.Errorf("headers %v: authorization must be gone, x-amz-date kept", ev.Headers)
		}
		if ev.Body != string(body) {
			t.Errorf("body %q", ev.Body)
		}
	})
	refusals := []struct {
		name, errorType, message, why string
		creds                         aws.Credentials
		region                        string
		at                            time.Time
		edit                          func(*http.Request)
	}{
		{name: "unsigned", errorType: "AccessDeniedException", message: "Forbidden. For troubleshooting", why: "no Authorization header",
			edit: func(r *http.Request) { r.Header.Del("Authorization") }},
		{name: "wrong secret", errorType: "InvalidSignatureException", message: "The request signature we calculated does not match", why: "the signature does not match",
			creds: aws.Credentials{AccessKeyID: "test", SecretAccessKey: "guess"}},
		{name: "tampered body", errorType: "InvalidSignatureException", message: "The request signature we calculated does not match", why: "the signature does not match",
			edit: func(r *http.Request) {
				r.Body, r.ContentLength = io.NopCloser(strings.NewReader(`{"order":99}`)), 12
			}},
		{name: "a pair added to the query", errorType: "InvalidSignatureException", message: "The request signature we calculated does not match", why: "the signature does not match",
			edit: func(r *http.Request) { r.URL.RawQuery += "&role=admin" }},
		{name: "stale date", errorType: "InvalidSignatureException", message: "Signature expired: ", why: "more than 15 minutes before",
			at: now.Add(-20 * time.Minute)},
		{name: "wrong region", errorType: "InvalidSignatureException", message: "Credential should be scoped to a valid region.", why: "the request was signed for region",
			region: "eu-west-1"},
		{name: "unknown key", errorType: "UnrecognizedClientException", message: "The security token included in the request is invalid.", why: "AKIAGHOST",
			creds: aws.Credentials{AccessKeyID: "AKIAGHOST", SecretAccessKey: "x"}},
		{name: "same account without a grant", errorType: "AccessDeniedException", message: "Forbidden. For troubleshooting", why: "neither a policy of arn:aws:iam::000000000000:user/alice nor the resource policy allows",
			creds: aws.Credentials{AccessKeyID: "AKIAALICE", SecretAccessKey: "alice-secret"}},
		{name: "session without its token", errorType: "UnrecognizedClientException", message: "The security token included in the request is invalid.", why: "must carry their session token",
			creds: aws.Credentials{AccessKeyID: "ASIASAM", SecretAccessKey: "sam-secret"}},
		{name: "other account, its own policy but no grant here", errorType: "AccessDeniedException", message: "Forbidden", why: "the resource policy does not allow lambda:InvokeFunctionUrl to arn:aws:iam::111111111111:user/dave",
			creds: aws.Credentials{AccessKeyID: "AKIADAVE", SecretAccessKey: "dave-secret"}},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			creds, region, at := root, "us-east-1", now
			if tc.creds.AccessKeyID != "" {
				creds = tc.creds
			}
			if tc.region != "" {
				region = tc.region
			}
			if !tc.at.IsZero() {
				at = tc.at
			}
			status, h, raw := sigv4Do(t, "POST", u, body, creds, region, at, tc.edit)
			if status != 403 || h.Get("X-Amzn-Errortype") != tc.errorType || !strings.Contains(string(raw), tc.message) {
				t.Fatalf("%d %s %s", status, h.Get("X-Amzn-Errortype"), raw)
			}
			f.logs.waitFor(t, tc.why, 5*time.Second)
		})
	}
	t.Run("path form", func(t *testing.T) {
		// A client that cannot set the URL's host signs the path form,
		// host 127.0.0.1:<port> included.
		id := u[len("http://"):strings.Index(u, ".")]
		status, _, raw := sigv4Do(t, "POST", f.url("/lambda-url/"+id+"/echo?q=1"), body, root, "us-east-1", now, nil)
		if status != 200 || !strings.Contains(string(raw), `"accessKey":"test"`) {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("same account, identity policy", func(t *testing.T) {
		if status, _, raw := sigv4Do(t, "POST", u, body, aws.Credentials{AccessKeyID: "AKIACAROL", SecretAccessKey: "carol-secret"}, "us-east-1", now, nil); status != 200 {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("session", func(t *testing.T) {
		status, _, raw := sigv4Do(t, "GET", u, nil, aws.Credentials{AccessKeyID: "ASIASAM", SecretAccessKey: "sam-secret", SessionToken: "sam-token"}, "us-east-1", now, nil)
		var ev events.LambdaFunctionURLRequest
		json.Unmarshal(raw, &ev)
		if status != 200 || ev.RequestContext.Authorizer.IAM.UserARN != "arn:aws:sts::000000000000:assumed-role/app/sam-session" ||
			!strings.HasSuffix(ev.RequestContext.Authorizer.IAM.UserID, ":sam-session") || ev.RequestContext.Authorizer.IAM.AccessKey != "ASIASAM" {
			t.Fatalf("%d %s", status, raw)
		}
	})
	t.Run("other account, granted on both sides", func(t *testing.T) {
		for _, in := range []*lambda.AddPermissionInput{
			{FunctionName: aws.String("private"), StatementId: aws.String("url-111"), Action: aws.String("lambda:InvokeFunctionUrl"),
				Principal: aws.String("111111111111"), FunctionUrlAuthType: types.FunctionUrlAuthTypeAwsIam},
			{FunctionName: aws.String("private"), StatementId: aws.String("invoke-111"), Action: aws.String("lambda:InvokeFunction"),
				Principal: aws.String("111111111111"), InvokedViaFunctionUrl: aws.Bool(true)},
		} {
			if _, err := c.AddPermission(ctx(t), in); err != nil {
				t.Fatal(err)
			}
		}
		status, _, raw := sigv4Do(t, "POST", u, body, aws.Credentials{AccessKeyID: "AKIADAVE", SecretAccessKey: "dave-secret"}, "us-east-1", now, nil)
		var ev events.LambdaFunctionURLRequest
		json.Unmarshal(raw, &ev)
		if status != 200 || ev.RequestContext.AccountID != "111111111111" {
			t.Fatalf("%d %s", status, raw)
		}
		// Erin's account is granted too, but Erin has no policy of her own.
		status, h, raw := sigv4Do(t, "POST", u, body, aws.Credentials{AccessKeyID: "AKIAERIN", SecretAccessKey: "erin-secret"}, "us-east-1", now, nil)
		if status != 403 || h.Get("X-Amzn-Errortype") != "AccessDeniedException" {
			t.Fatalf("erin: %d %s", status, raw)
		}
		f.logs.waitFor(t, "no policy of arn:aws:iam::111111111111:user/erin allows lambda:InvokeFunctionUrl", 5*time.Second)
	})
}

// curl's own SigV4 (--aws-sigv4), an implementation independent of the
// AWS SDKs, against the same kind of URL.
func TestIAMURLWithCurl(t *testing.T) {
	f := startIAMFurl(t)
	u := iamURL(t, f.client(), "private")
	sig := []string{"--aws-sigv4", "aws:amz:us-east-1:lambda"}
	status, _, body := curl(t, append(sig, "--user", "test:test", "-H", "Content-Type: application/json", "-d", `{"hello":"curl"}`, u+"echo?a=b&c=d%20e")...)
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(body, &ev); status != 200 || err != nil || ev.Body != `{"hello":"curl"}` || ev.RequestContext.Authorizer.IAM.AccessKey != "test" {
		t.Fatalf("POST signed by curl: %d %s", status, body)
	}
	// (A path with escapes or reserved characters is left out: curl 7.88
	// signs the raw path as it is, where AWS's services other than S3
	// escape it once more, so AWS refuses that signature too.)
	if status, _, body := curl(t, append(sig, "--user", "AKIACAROL:carol-secret", u+"method")...); status != 200 || string(body) != "GET" {
		t.Fatalf("GET signed by curl as carol: %d %s", status, body)
	}
	status, h, body := curl(t, append(sig, "--user", "test:wrong", u+"echo")...)
	if status != 403 || h.Get("X-Amzn-Errortype") != "InvalidSignatureException" {
		t.Fatalf("wrong secret: %d %v %s", status, h, body)
	}
	status, h, body = curl(t, "--aws-sigv4", "aws:amz:eu-west-1:lambda", "--user", "test:test", u+"echo")
	if status != 403 || h.Get("X-Amzn-Errortype") != "InvalidSignatureException" {
		t.Fatalf("wrong region: %d %v %s", status, h, body)
	}
	status, h, body = curl(t, append(sig, "--user", "AKIAALICE:alice-secret", u+"echo")...)
	if status != 403 || h.Get("X-Amzn-Errortype") != "AccessDeniedException" {
		t.Fatalf("alice: %d %v %s", status, h, body)
	}
}

// --verify-api-signatures holds the Lambda API to the same rules.
func TestVerifyAPISignatures(t *testing.T) {
	f := startIAMFurl(t, "--verify-api-signatures")
	if _, err := f.client().ListFunctions(ctx(t), &lambda.ListFunctionsInput{}); err != nil {
		t.Fatalf("signed by the root: %v", err)
	}
	carol := lambda.New(lambda.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIACAROL", "carol-secret", ""),
		BaseEndpoint: aws.String("http://" + f.addr), RetryMaxAttempts: 1})
	// Carol is known, but her policies grant only invocations.
	_, err := carol.ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
	mustContain(t, apiErrCode(t, err, "AccessDeniedException"),
		"User: arn:aws:iam::000000000000:user/carol is not authorized to perform: lambda:ListFunctions on resource: * because no identity-based policy allows the lambda:ListFunctions action")
	wrong := lambda.New(lambda.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "wrong", ""),
		BaseEndpoint: aws.String("http://" + f.addr), RetryMaxAttempts: 1})
	_, err = wrong.ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
	apiErrCode(t, err, "InvalidSignatureException")
	resp, body := f.do("GET", "/2015-03-31/functions", "", nil)
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" || string(body) != `{"message":"Missing Authentication Token"}` {
		t.Fatalf("unsigned: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if out, err := exec.Command("curl", "-s", f.url("/_furl/health")).Output(); err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("health must stay open: %s %v", out, err)
	}
}
