package gateway

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/furl-dev/furl/authz"
	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// Every operation furl routes has an authorization rule, named as AWS
// names its action.
func TestEveryOperationHasAnAction(t *testing.T) {
	names := []string{"Invoke", "InvokeWithResponseStream"}
	for _, op := range newTestServer(t).operations() {
		names = append(names, op.name)
	}
	for _, name := range names {
		access, ok := apiAccessByOperation[name]
		if !ok {
			t.Errorf("%s has no authorization rule", name)
			continue
		}
		want := "lambda:" + name
		if name == "Invoke" || name == "InvokeWithResponseStream" {
			want = "lambda:InvokeFunction"
		}
		if access.action != want {
			t.Errorf("%s: action %s, want %s", name, access.action, want)
		}
	}
}

// newVerifyingServer is a gateway that verifies API signatures, knowing
// the root and these identities (--iam-config's format).
func newVerifyingServer(t testing.TB, identities string) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := urlconfig.Open(context.Background(), urlconfig.Options{
		Dir: filepath.Join(dir, "data"), Account: urlconfig.Account{ID: "000000000000", Region: "us-east-1"},
		Logger: slog.New(slog.DiscardHandler), FunctionURL: urlconfig.DefaultFunctionURL("us-east-1", 4580),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	path := filepath.Join(dir, "iam.json")
	if err := os.WriteFile(path, []byte(identities), 0o600); err != nil {
		t.Fatal(err)
	}
	ids, err := authz.LoadIdentities(path, "000000000000")
	if err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	return New(Config{Store: store, Logger: slog.New(slog.DiscardHandler), Identities: ids, VerifyAPISignatures: true, SpoolDir: spool,
		Invoker: refusingInvoker{}}), spool
}

// refusingInvoker routes the invoke operations but runs nothing: these
// tests are about who may ask.
type refusingInvoker struct{}

func (refusingInvoker) Invoke(context.Context, *runtimeapi.Invocation) (*runtimeapi.Result, error) {
	return nil, errors.New("this test runs no functions")
}

func (refusingInvoker) Retire(string) {}

// signedCall sends a request signed by key/secret to s and returns the
// answer.
func signedCall(t testing.TB, s *Server, key, secret, method, target string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1:4580"+target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// The action and resource each operation is authorized for, read from
// AWS's access-denied message that a caller without policies gets.
func TestAPIActionAndResource(t *testing.T) {
	s, _ := newVerifyingServer(t, `{"identities":[{"accessKeyId":"AKIANONE","secretAccessKey":"none","arn":"arn:aws:iam::000000000000:user/none"}]}`)
	const fn = "arn:aws:lambda:us-east-1:000000000000:function:app"
	tests := []struct {
		method, target, body string
		action, resource     string
	}{
		{"POST", "/2015-03-31/functions", `{"FunctionName":"fresh"}`, "lambda:CreateFunction", "arn:aws:lambda:us-east-1:000000000000:function:fresh"},
		{"POST", "/2015-03-31/functions", `{"FunctionName":"000000000000:function:fresh"}`, "lambda:CreateFunction", "arn:aws:lambda:us-east-1:000000000000:function:fresh"},
		{"GET", "/2015-03-31/functions", "", "lambda:ListFunctions", "*"},
		{"GET", "/2016-08-19/account-settings", "", "lambda:GetAccountSettings", "*"},
		{"GET", "/2015-03-31/functions/app", "", "lambda:GetFunction", fn},
		{"GET", "/2015-03-31/functions/app?Qualifier=live", "", "lambda:GetFunction", fn + ":live"},
		{"GET", "/2015-03-31/functions/app%3A1", "", "lambda:GetFunction", fn + ":1"},
		{"GET", "/2015-03-31/functions/" + fn + "/configuration?Qualifier=%24LATEST", "", "lambda:GetFunctionConfiguration", fn + ":$LATEST"},
		{"DELETE", "/2015-03-31/functions/app?Qualifier=3", "", "lambda:DeleteFunction", fn + ":3"},
		{"PUT", "/2015-03-31/functions/app/configuration?Qualifier=live", `{}`, "lambda:UpdateFunctionConfiguration", fn},
		{"PUT", "/2015-03-31/functions/app/code", `{}`, "lambda:UpdateFunctionCode", fn},
		{"POST", "/2015-03-31/functions/app/invocations?Qualifier=live", `{}`, "lambda:InvokeFunction", fn + ":live"},
		{"POST", "/2021-11-15/functions/app/response-streaming-invocations", `{}`, "lambda:InvokeFunction", fn},
		{"POST", "/2015-03-31/functions/app/versions", `{}`, "lambda:PublishVersion", fn},
		{"GET", "/2015-03-31/functions/app/versions", "", "lambda:ListVersionsByFunction", fn},
		{"POST", "/2015-03-31/functions/app/aliases", `{"Name":"x","FunctionVersion":"1"}`, "lambda:CreateAlias", fn},
		{"GET", "/2015-03-31/functions/app/aliases", "", "lambda:ListAliases", fn},
		{"GET", "/2015-03-31/functions/app/aliases/live", "", "lambda:GetAlias", fn},
		{"PUT", "/2015-03-31/functions/app/aliases/live", `{}`, "lambda:UpdateAlias", fn},
		{"DELETE", "/2015-03-31/functions/app/aliases/live", "", "lambda:DeleteAlias", fn},
		{"POST", "/2015-03-31/functions/app/policy?Qualifier=live", `{"StatementId":"s","Action":"lambda:*","Principal":"*"}`, "lambda:AddPermission", fn + ":live"},
		{"GET", "/2015-03-31/functions/app/policy", "", "lambda:GetPolicy", fn},
		{"DELETE", "/2015-03-31/functions/app/policy/s", "", "lambda:RemovePermission", fn},
		{"POST", "/2021-10-31/functions/app/url", `{"AuthType":"NONE"}`, "lambda:CreateFunctionUrlConfig", fn},
		{"GET", "/2021-10-31/functions/app/url?Qualifier=live", "", "lambda:GetFunctionUrlConfig", fn + ":live"},
		{"PUT", "/2021-10-31/functions/app/url", `{"AuthType":"NONE"}`, "lambda:UpdateFunctionUrlConfig", fn},
		{"DELETE", "/2021-10-31/functions/app/url", "", "lambda:DeleteFunctionUrlConfig", fn},
		{"GET", "/2021-10-31/functions/app/urls", "", "lambda:ListFunctionUrlConfigs", fn},
		{"PUT", "/2017-10-31/functions/app/concurrency", `{"ReservedConcurrentExecutions":1}`, "lambda:PutFunctionConcurrency", fn},
		{"GET", "/2019-09-30/functions/app/concurrency", "", "lambda:GetFunctionConcurrency", fn},
		{"DELETE", "/2017-10-31/functions/app/concurrency", "", "lambda:DeleteFunctionConcurrency", fn},
		{"POST", "/2017-03-31/tags/" + fn, `{"Tags":{"a":"b"}}`, "lambda:TagResource", fn},
		{"DELETE", "/2017-03-31/tags/" + fn + "?tagKeys=a", "", "lambda:UntagResource", fn},
		{"GET", "/2017-03-31/tags/" + fn, "", "lambda:ListTags", fn},
		// A name no operation accepts is authorized as what it says.
		{"GET", "/2015-03-31/functions/a%20b", "", "lambda:GetFunction", "arn:aws:lambda:us-east-1:000000000000:function:a b"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			rec := signedCall(t, s, "AKIANONE", "none", tc.method, tc.target, []byte(tc.body))
			var got struct{ Message string }
			json.Unmarshal(rec.Body.Bytes(), &got)
			want := "User: arn:aws:iam::000000000000:user/none is not authorized to perform: " + tc.action + " on resource: " + tc.resource +
				" because no identity-based policy allows the " + tc.action + " action"
			if rec.Code != http.StatusForbidden || errorType(rec) != "AccessDeniedException" || got.Message != want {
				t.Fatalf("%d %s %s\nwant message %q", rec.Code, errorType(rec), rec.Body.String(), want)
			}
		})
	}
}

// A qualified resource matches policies as Lambda matches them; condition
// keys come from the body, the stored state and the caller.
func TestAPIAuthorization(t *testing.T) {
	s, _ := newVerifyingServer(t, `{"identities":[
	 {"accessKeyId":"AKIAREADER","secretAccessKey":"r","arn":"arn:aws:iam::000000000000:user/reader","policies":[{"Version":"2012-10-17","Statement":[
	   {"Effect":"Allow","Action":"lambda:GetFunctionConfiguration","Resource":"arn:aws:lambda:us-east-1:000000000000:function:app"},
	   {"Effect":"Allow","Action":["lambda:GetPolicy","lambda:ListAliases"],"Resource":"arn:aws:lambda:us-east-1:000000000000:function:app:*"},
	   {"Effect":"Allow","Action":"lambda:GetAlias","Resource":"arn:aws:lambda:us-east-1:000000000000:function:app*"}]}]},
	 {"accessKeyId":"AKIAGRANTER","secretAccessKey":"g","arn":"arn:aws:sts::000000000000:assumed-role/deployer/ci","policies":[{"Version":"2012-10-17","Statement":[
	   {"Effect":"Allow","Action":["lambda:AddPermission","lambda:RemovePermission"],"Resource":"*","Condition":{"StringEquals":{"lambda:Principal":"111111111111"}}},
	   {"Effect":"Allow","Action":"lambda:*FunctionUrlConfig","Resource":"*","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"AWS_IAM"}}},
	   {"Effect":"Allow","Action":"lambda:GetAccountSettings","Resource":"*","Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::000000000000:role/deployer"}}}]}]}
	]}`)
	root := func(method, target, body string) {
		t.Helper()
		if rec := signedCall(t, s, "test", "test", method, target, []byte(body)); rec.Code >= 300 {
			t.Fatalf("root %s %s: %d %s", method, target, rec.Code, rec.Body.String())
		}
	}
	zip := base64Zip(t)
	root("POST", "/2015-03-31/functions", `{"FunctionName":"app","Runtime":"nodejs20.x","Role":"arn:aws:iam::000000000000:role/r","Handler":"index.handler","Code":{"ZipFile":"`+zip+`"}}`)
	root("POST", "/2015-03-31/functions/app/versions", `{}`)
	root("POST", "/2015-03-31/functions/app/aliases", `{"Name":"live","FunctionVersion":"1"}`)
	root("POST", "/2015-03-31/functions/app/policy", `{"StatementId":"root-grant","Action":"lambda:GetFunction","Principal":"111111111111"}`)
	root("POST", "/2015-03-31/functions/app/policy?Qualifier=live", `{"StatementId":"alias-grant","Action":"lambda:GetFunction","Principal":"111111111111"}`)
	root("POST", "/2021-10-31/functions/app/url", `{"AuthType":"NONE"}`)

	tests := []struct {
		name, key, secret, method, target, body string
		allowed                                 bool
	}{
		{"unqualified statement, unqualified request", "AKIAREADER", "r", "GET", "/2015-03-31/functions/app/configuration", "", true},
		{"unqualified statement, qualified request", "AKIAREADER", "r", "GET", "/2015-03-31/functions/app/configuration?Qualifier=1", "", false},
		{"unqualified statement, qualifier in the name", "AKIAREADER", "r", "GET", "/2015-03-31/functions/app:live/configuration", "", false},
		{"statement on :*, qualified request", "AKIAREADER", "r", "GET", "/2015-03-31/functions/app/policy?Qualifier=live", "", true},
		{"statement on :*, unqualified request", "AKIAREADER", "r", "GET", "/2015-03-31/functions/app/policy", "", false},
		{"statement on app*, another function's name", "AKIAREADER", "r", "GET", "/2015-03-31/functions/apple/aliases/live", "", true},
		{"a Qualifier an operation does not take changes nothing", "AKIAREADER", "r", "GET", "/2015-03-31/functions/app/aliases?Qualifier=x", "", false},
		{"lambda:Principal from the body, allowed", "AKIAGRANTER", "g", "POST", "/2015-03-31/functions/app/policy", `{"StatementId":"s","Action":"lambda:InvokeFunction","Principal":"111111111111"}`, true},
		{"lambda:Principal from the body, refused", "AKIAGRANTER", "g", "POST", "/2015-03-31/functions/app/policy", `{"StatementId":"t","Action":"lambda:InvokeFunction","Principal":"*"}`, false},
		{"lambda:Principal of the statement removed, allowed", "AKIAGRANTER", "g", "DELETE", "/2015-03-31/functions/app/policy/root-grant", "", true},
		{"lambda:FunctionUrlAuthType of the stored URL, refused", "AKIAGRANTER", "g", "GET", "/2021-10-31/functions/app/url", "", false},
		{"lambda:FunctionUrlAuthType from the body", "AKIAGRANTER", "g", "PUT", "/2021-10-31/functions/app/url", `{"AuthType":"AWS_IAM"}`, true},
		{"lambda:FunctionUrlAuthType of the stored URL, now allowed", "AKIAGRANTER", "g", "GET", "/2021-10-31/functions/app/url", "", true},
		{"lambda:FunctionUrlAuthType kept by an update", "AKIAGRANTER", "g", "PUT", "/2021-10-31/functions/app/url", `{"InvokeMode":"BUFFERED"}`, true},
		{"lambda:FunctionUrlAuthType given to a create", "AKIAGRANTER", "g", "POST", "/2021-10-31/functions/app/url?Qualifier=live", `{"AuthType":"NONE"}`, false},
		{"aws:PrincipalArn of a session is its role", "AKIAGRANTER", "g", "GET", "/2016-08-19/account-settings", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := signedCall(t, s, tc.key, tc.secret, tc.method, tc.target, []byte(tc.body))
			denied := rec.Code == http.StatusForbidden && errorType(rec) == "AccessDeniedException"
			if denied == tc.allowed {
				t.Fatalf("allowed %v, got %d %s", tc.allowed, rec.Code, rec.Body.String())
			}
		})
	}
	t.Run("explicit deny", func(t *testing.T) {
		// AddPermission writes only Allow statements: a Deny is an
		// identity's.
		d, _ := newVerifyingServer(t, `{"identities":[{"accessKeyId":"AKIAD","secretAccessKey":"d","arn":"arn:aws:iam::000000000000:user/d","policies":[{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Action":"lambda:*","Resource":"*"},{"Effect":"Deny","Action":"lambda:DeleteFunction","Resource":"*"}]}]}]}`)
		rec := signedCall(t, d, "AKIAD", "d", "DELETE", "/2015-03-31/functions/app", nil)
		want := `{"Message":"User: arn:aws:iam::000000000000:user/d is not authorized to perform: lambda:DeleteFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:app with an explicit deny in an identity-based policy"}`
		if rec.Code != http.StatusForbidden || rec.Body.String() != want {
			t.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
	})
}

// errorType is the x-amzn-ErrorType of an answer, as furl spells it.
func errorType(rec *httptest.ResponseRecorder) string {
	for name, v := range rec.Result().Header {
		if strings.EqualFold(name, "x-amzn-ErrorType") && len(v) == 1 {
			return v[0]
		}
	}
	return ""
}

// base64Zip is a small deployment package, base64 as the API takes it.
func base64Zip(t testing.TB) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("index.js")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "exports.handler = async () => 'ok';\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// A signed body above the spool threshold goes to a file, not to memory
// whole, and the operation reads it; the file is gone from the spool
// directory at once.
func TestSignedBodyIsSpooled(t *testing.T) {
	s, spool := newVerifyingServer(t, `{"identities":[]}`)
	const size = 24 << 20
	body := bytes.Repeat([]byte("x"), size)
	req := httptest.NewRequest("POST", "http://127.0.0.1:4580/2015-03-31/functions", bytes.NewReader(body))
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"},
		req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithValue(req.Context(), requestKey{}, &requestInfo{id: "r", log: s.log}))
	req = req.WithContext(ctx)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if !s.verifyAPIRequest(httptest.NewRecorder(), req) {
		t.Fatal("refused")
	}
	got := sha256.New()
	n, err := io.Copy(got, req.Body)
	runtime.ReadMemStats(&after)
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), sum[:]) {
		t.Fatalf("the operation read %d bytes (%v), not the body", n, err)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("verifying and reading a %d MiB body allocated %.1f MiB", size>>20, float64(allocated)/(1<<20))
	if allocated > size/4 {
		t.Errorf("verifying a %d-byte body allocated %d bytes: it is held in memory", size, allocated)
	}
	if entries, _ := os.ReadDir(spool); len(entries) != 0 {
		t.Errorf("the spool directory holds %d files", len(entries))
	}
	if callerFrom(ctx) == nil || callerFrom(ctx).ARN != "arn:aws:iam::000000000000:root" {
		t.Errorf("caller %+v", callerFrom(ctx))
	}
	cancel() // the request's end closes the file
}

// A small signed body stays in memory and is read back whole.
func TestSignedSmallBody(t *testing.T) {
	s, _ := newVerifyingServer(t, `{"identities":[]}`)
	rec := signedCall(t, s, "test", "test", "POST", "/2015-03-31/functions", []byte(`{"FunctionName":"x"}`))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "validation error") {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}

// A signed body is read no further than its operation takes: a forged
// signature cannot make furl spool more than that.
func TestSignedBodyBoundedByItsOperation(t *testing.T) {
	s, spool := newVerifyingServer(t, `{"identities":[]}`)
	for _, tc := range []struct {
		name, method, path string
		length             int64
		want               string
	}{
		{"declared", "PUT", "/2015-03-31/functions/f/configuration", maxOtherRequestBytes + 1,
			"Request must be smaller than 6291456 bytes for the UpdateFunctionConfiguration operation"},
		{"chunked", "PUT", "/2015-03-31/functions/f/configuration", -1,
			"Request must be smaller than 6291456 bytes for the UpdateFunctionConfiguration operation"},
		{"no operation reads one", "GET", "/2015-03-31/functions", -1,
			"Request must be smaller than 65536 bytes for the this operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counted := &countingReader{r: zeros{}}
			req := httptest.NewRequest(tc.method, "http://127.0.0.1:4580"+tc.path, io.LimitReader(counted, 100<<20))
			req.ContentLength = tc.length
			// Signed for some other body: the signature is checked last.
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"},
				req, strings.Repeat("0", 64), "lambda", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.WithValue(req.Context(), requestKey{}, &requestInfo{id: "r", log: s.log}))
			defer cancel()
			rec := httptest.NewRecorder()
			if s.verifyAPIRequest(rec, req.WithContext(ctx)) {
				t.Fatal("accepted")
			}
			if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if counted.n > maxOtherRequestBytes+64<<10 {
				t.Fatalf("read %d bytes of the body", counted.n)
			}
			cancel()
			if entries, _ := os.ReadDir(spool); len(entries) != 0 {
				t.Errorf("the spool directory holds %d files", len(entries))
			}
		})
	}
}

// Spooled bodies take upload slots: with one slot, a second large signed
// request is not read while the first holds it.
func TestSignedBodiesShareTheUploadSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := newVerifyingServer(t, `{"identities":[]}`)
		s.uploads = make(chan struct{}, 1)
		start := func() (*firstRead, *io.PipeWriter, chan struct{}) {
			pr, pw := io.Pipe()
			fr := &firstRead{Reader: pr, started: make(chan struct{})}
			req := httptest.NewRequest("PUT", "http://127.0.0.1:4580/2015-03-31/functions/f/configuration", fr)
			req.ContentLength = -1
			req.Header.Set("Content-Type", "application/json")
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"},
				req, strings.Repeat("0", 64), "lambda", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			// As net/http does, the request's context ends with its handler.
			ctx, cancel := context.WithCancel(req.Context())
			done := make(chan struct{})
			go func() {
				defer close(done)
				defer cancel()
				s.ServeHTTP(httptest.NewRecorder(), req.WithContext(ctx))
			}()
			return fr, pw, done
		}
		first, firstBody, firstDone := start()
		synctest.Wait()
		second, secondBody, secondDone := start()
		synctest.Wait()
		if !first.hasStarted() || second.hasStarted() {
			t.Fatalf("with one slot, bodies read: %v %v; want the first only", first.hasStarted(), second.hasStarted())
		}
		firstBody.Close()
		<-firstDone
		synctest.Wait()
		if !second.hasStarted() {
			t.Fatal("the second body is not read once the slot is free")
		}
		secondBody.Close()
		<-secondDone
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func (f *firstRead) hasStarted() bool {
	select {
	case <-f.started:
		return true
	default:
		return false
	}
}

// countingReader counts what is read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
