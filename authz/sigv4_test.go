package authz

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var signedAt = time.Date(2025, 8, 10, 14, 16, 29, 0, time.UTC)

func testIdentities() *Identities {
	s := NewIdentities("000000000000")
	s.byKey["ASIASESSION"] = &Identity{AccessKeyID: "ASIASESSION", SecretAccessKey: "session-secret", SessionToken: "the-token",
		ARN: "arn:aws:sts::000000000000:assumed-role/app/s1", Account: "000000000000", UserID: "AROAEXAMPLE:s1"}
	return s
}

// signed builds a request as a client sends it, signed by the AWS SDK's
// signer, then received by a server: what Verify sees.
func signed(t *testing.T, method, target string, body []byte, creds aws.Credentials, region string, at time.Time, edit func(*http.Request)) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if edit != nil {
		edit(req)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", region, at); err != nil {
		t.Fatal(err)
	}
	return req
}

func hashOf(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func TestVerify(t *testing.T) {
	v := &Verifier{Identities: testIdentities(), Now: func() time.Time { return signedAt.Add(3 * time.Minute) }}
	root := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	session := aws.Credentials{AccessKeyID: "ASIASESSION", SecretAccessKey: "session-secret", SessionToken: "the-token"}
	body := []byte(`{"order":42}`)
	const url = "http://abc.lambda-url.us-east-1.localhost:4580/orders/a%20b?x=1&y=%2F"
	tests := []struct {
		name     string
		req      func() *http.Request
		body     []byte // what the server received; nil means body
		wantCode string
		wantARN  string
		reason   string
	}{
		{name: "root", req: func() *http.Request { return signed(t, "POST", url, body, root, "us-east-1", signedAt, nil) },
			wantARN: "arn:aws:iam::000000000000:root"},
		{name: "session with token", req: func() *http.Request { return signed(t, "POST", url, body, session, "us-east-1", signedAt, nil) },
			wantARN: "arn:aws:sts::000000000000:assumed-role/app/s1"},
		{name: "signed content sha256", req: func() *http.Request {
			return signed(t, "POST", url, body, root, "us-east-1", signedAt, func(r *http.Request) {
				sum := sha256.Sum256(body)
				r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			})
		}, wantARN: "arn:aws:iam::000000000000:root"},
		{name: "unsigned", req: func() *http.Request { return httptest.NewRequest("GET", url, nil) }, wantCode: CodeMissingAuth},
		{name: "wrong secret", req: func() *http.Request {
			return signed(t, "POST", url, body, aws.Credentials{AccessKeyID: "test", SecretAccessKey: "nope"}, "us-east-1", signedAt, nil)
		}, wantCode: CodeInvalidSignature, reason: "the signature does not match"},
		{name: "tampered body", req: func() *http.Request { return signed(t, "POST", url, body, root, "us-east-1", signedAt, nil) },
			body: []byte(`{"order":43}`), wantCode: CodeInvalidSignature},
		{name: "tampered signed header", req: func() *http.Request {
			r := signed(t, "POST", url, body, root, "us-east-1", signedAt, nil)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, wantCode: CodeInvalidSignature},
		{name: "tampered path", req: func() *http.Request {
			r := signed(t, "POST", url, body, root, "us-east-1", signedAt, nil)
			r.RequestURI = "/orders/other?x=1&y=%2F"
			return r
		}, wantCode: CodeInvalidSignature},
		{name: "origin form of the path signed", req: func() *http.Request {
			r := signed(t, "POST", url, body, root, "us-east-1", signedAt, nil)
			r.RequestURI = "/orders/a%20b?x=1&y=%2F"
			return r
		}, wantARN: "arn:aws:iam::000000000000:root"},
		{name: "a raw path Go decodes alike", req: func() *http.Request {
			// Signed for /a/b%22c, sent as /a%2Fb"c: both are /a/b"c to
			// Go's parser, but the function would see the second.
			r := signed(t, "POST", "http://h/a/b%22c", body, root, "us-east-1", signedAt, nil)
			r.RequestURI = `/a%2Fb"c`
			return r
		}, wantCode: CodeInvalidSignature, reason: "the signature does not match"},
		{name: "an escape in other case", req: func() *http.Request {
			r := signed(t, "POST", "http://h/a%2Fb", body, root, "us-east-1", signedAt, nil)
			r.RequestURI = "/a%2fb"
			return r
		}, wantCode: CodeInvalidSignature, reason: "the signature does not match"},
		{name: "a dot segment", req: func() *http.Request {
			r := signed(t, "POST", "http://h/a/b", body, root, "us-east-1", signedAt, nil)
			r.RequestURI = "/a/./b"
			return r
		}, wantCode: CodeInvalidSignature, reason: "the signature does not match"},
		{name: "asterisk form", req: func() *http.Request {
			r := signed(t, "OPTIONS", "http://h/", nil, root, "us-east-1", signedAt, nil)
			r.RequestURI = "*"
			return r
		}, body: []byte{}, wantCode: CodeInvalidSignature, reason: "is not a path"},
		{name: "an unsigned header may change", req: func() *http.Request {
			r := signed(t, "POST", url, body, root, "us-east-1", signedAt, nil)
			r.Header.Set("User-Agent", "changed")
			r.Header.Set("X-Extra", "added after signing")
			return r
		}, wantARN: "arn:aws:iam::000000000000:root"},
		{name: "stale date", req: func() *http.Request {
			return signed(t, "POST", url, body, root, "us-east-1", signedAt.Add(-13*time.Minute), nil)
		},
			wantCode: CodeInvalidSignature, reason: "more than 15 minutes before"},
		{name: "future date", req: func() *http.Request {
			return signed(t, "POST", url, body, root, "us-east-1", signedAt.Add(19*time.Minute), nil)
		},
			wantCode: CodeInvalidSignature, reason: "more than 15 minutes after"},
		{name: "wrong region", req: func() *http.Request { return signed(t, "POST", url, body, root, "eu-west-1", signedAt, nil) },
			wantCode: CodeInvalidSignature, reason: `signed for region "eu-west-1"`},
		{name: "unknown key", req: func() *http.Request {
			return signed(t, "POST", url, body, aws.Credentials{AccessKeyID: "AKIAGHOST", SecretAccessKey: "x"}, "us-east-1", signedAt, nil)
		}, wantCode: CodeUnrecognizedClient},
		{name: "session without token", req: func() *http.Request {
			c := session
			c.SessionToken = ""
			return signed(t, "POST", url, body, c, "us-east-1", signedAt, nil)
		}, wantCode: CodeUnrecognizedClient, reason: "must carry their session token"},
		{name: "session with a wrong token", req: func() *http.Request {
			c := session
			c.SessionToken = "forged"
			return signed(t, "POST", url, body, c, "us-east-1", signedAt, nil)
		}, wantCode: CodeUnrecognizedClient},
		{name: "token on permanent credentials", req: func() *http.Request {
			c := root
			c.SessionToken = "extra"
			return signed(t, "POST", url, body, c, "us-east-1", signedAt, nil)
		}, wantCode: CodeUnrecognizedClient},
		{name: "unsigned payload", req: func() *http.Request {
			return signed(t, "POST", url, body, root, "us-east-1", signedAt, func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") })
		}, wantCode: CodeInvalidSignature, reason: "UNSIGNED-PAYLOAD"},
		{name: "declared hash not the body's", req: func() *http.Request {
			return signed(t, "POST", url, body, root, "us-east-1", signedAt, func(r *http.Request) {
				r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
			})
		}, wantCode: CodeInvalidSignature, reason: "not the SHA-256 of the body"},
		{name: "malformed authorization", req: func() *http.Request {
			r := httptest.NewRequest("GET", url, nil)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20250810/us-east-1/lambda/aws4_request")
			r.Header.Set("X-Amz-Date", "20250810T141629Z")
			return r
		}, wantCode: CodeIncompleteSignature, reason: "has no SignedHeaders, Signature"},
		{name: "a pair added to the query", req: func() *http.Request {
			r := signed(t, "POST", url, body, root, "us-east-1", signedAt, nil)
			r.URL.RawQuery += "&role=admin"
			return r
		}, wantCode: CodeInvalidSignature, reason: "the signature does not match"},
		{name: "an unparsable pair added to the query", req: func() *http.Request {
			r := signed(t, "POST", url, body, root, "us-east-1", signedAt, nil)
			r.URL.RawQuery += "&role=admin%zz"
			return r
		}, wantCode: CodeInvalidSignature, reason: "does not parse"},
		{name: "a semicolon pair added to the query", req: func() *http.Request {
			r := signed(t, "POST", url, body, root, "us-east-1", signedAt, nil)
			r.URL.RawQuery += "&role;x=admin"
			return r
		}, wantCode: CodeInvalidSignature, reason: "does not parse"},
		{name: "a second x-amz-date", req: func() *http.Request {
			r := signed(t, "POST", url, body, root, "us-east-1", signedAt, nil)
			r.Header.Add("X-Amz-Date", "20990101T000000Z")
			return r
		}, wantCode: CodeInvalidSignature, reason: "more than once"},
		{name: "a second token", req: func() *http.Request {
			r := signed(t, "POST", url, body, session, "us-east-1", signedAt, nil)
			r.Header.Add("X-Amz-Security-Token", "other")
			return r
		}, wantCode: CodeInvalidSignature, reason: "more than once"},
		{name: "a value added to a signed header", req: func() *http.Request {
			r := signed(t, "POST", url, body, root, "us-east-1", signedAt, nil)
			r.Header.Add("Content-Type", "text/html")
			return r
		}, wantCode: CodeInvalidSignature, reason: "the signature does not match"},
		{name: "presigned", req: func() *http.Request { return httptest.NewRequest("GET", url+"&X-Amz-Signature=abc", nil) },
			wantCode: CodeMissingAuth, reason: "presigned"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req()
			received := body
			if tc.body != nil {
				received = tc.body
			}
			id, err := v.Verify(context.Background(), req, hashOf(received), "us-east-1", "lambda")
			if tc.wantCode != "" {
				if err == nil || err.Code != tc.wantCode || !strings.Contains(err.Reason, tc.reason) {
					t.Fatalf("got %v, want %s (%s)", err, tc.wantCode, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if id.ARN != tc.wantARN {
				t.Fatalf("caller %s, want %s", id.ARN, tc.wantARN)
			}
		})
	}
}

// AWS's own words for an expired signature.
func TestVerifyExpiredMessage(t *testing.T) {
	v := &Verifier{Identities: testIdentities(), Now: func() time.Time { return signedAt.Add(20 * time.Minute) }}
	req := signed(t, "GET", "http://h/", nil, aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, "us-east-1", signedAt, nil)
	_, err := v.Verify(context.Background(), req, hashOf(nil), "us-east-1", "lambda")
	want := "Signature expired: 20250810T141629Z is now earlier than 20250810T142129Z (20250810T143629Z - 15 min.)"
	if err == nil || err.Message != want {
		t.Fatalf("got %+v, want %q", err, want)
	}
}

func TestParseAuthorization(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	good := "AWS4-HMAC-SHA256 Credential=AKID/20250810/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig
	a, err := ParseAuthorization(good)
	if err != nil || a.AccessKeyID != "AKID" || a.Region != "us-east-1" || a.Service != "lambda" || strings.Join(a.SignedHeaders, ";") != "host;x-amz-date" || a.Signature != sig {
		t.Fatalf("%+v %v", a, err)
	}
	// curl writes no spaces after the commas.
	if _, err := ParseAuthorization(strings.ReplaceAll(good, ", ", ",")); err != nil {
		t.Fatalf("without spaces: %v", err)
	}
	for _, bad := range []string{
		"",
		"AWS4-HMAC-SHA1 Credential=AKID/20250810/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250810/us-east-1/lambda/aws4_request, SignedHeaders=host",
		"AWS4-HMAC-SHA256 Credential=AKID/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250810/us-east-1/lambda/aws4_request, SignedHeaders=x-amz-date;host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250810/us-east-1/lambda/aws4_request, SignedHeaders=Host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250810/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=xyz",
		"AWS4-HMAC-SHA256 Credential=AKID/20250810/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=" + sig + ", Extra=1",
		"AWS4-HMAC-SHA256 Credential=A/20250810/us-east-1/lambda/aws4_request, Credential=B/20250810/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=" + sig,
	} {
		if a, err := ParseAuthorization(bad); err == nil {
			t.Errorf("accepted %q as %+v", bad, a)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20250810/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=/,=,")
	f.Add("AWS4-HMAC-SHA256 ")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			return
		}
		if a.AccessKeyID == "" || len(a.Signature) != 64 || len(a.SignedHeaders) == 0 {
			t.Fatalf("accepted %q as %+v", h, a)
		}
		for i := 1; i < len(a.SignedHeaders); i++ {
			if a.SignedHeaders[i-1] >= a.SignedHeaders[i] {
				t.Fatalf("unsorted signed headers accepted: %q", h)
			}
		}
	})
}

func TestAuthorize(t *testing.T) {
	fnARN := "arn:aws:lambda:us-east-1:000000000000:function:f"
	allowURL := func(principal string) *Policy {
		p, err := ParsePolicy([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"s","Effect":"Allow","Principal":{"AWS":"` + principal +
			`"},"Action":"lambda:InvokeFunctionUrl","Resource":"` + fnARN + `","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"AWS_IAM"}}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	denyURL := func(principal string) *Policy {
		p, err := ParsePolicy([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"no","Effect":"Deny","Principal":{"AWS":"` + principal +
			`"},"Action":"lambda:InvokeFunctionUrl","Resource":"` + fnARN + `"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	identityAllow, _ := ParsePolicy([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunctionUrl","Resource":"*"}]}`))
	identityDeny, _ := ParsePolicy([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"no","Effect":"Deny","Action":"lambda:*","Resource":"*"}]}`))
	alice := &Identity{ARN: "arn:aws:iam::000000000000:user/alice", Account: "000000000000"}
	aliceWithPolicy := &Identity{ARN: alice.ARN, Account: alice.Account, Policies: []*Policy{identityAllow}}
	aliceDenied := &Identity{ARN: alice.ARN, Account: alice.Account, Policies: []*Policy{identityAllow, identityDeny}}
	root := &Identity{ARN: "arn:aws:iam::000000000000:root", Account: "000000000000"}
	bob := &Identity{ARN: "arn:aws:iam::111111111111:user/bob", Account: "111111111111"}
	bobWithPolicy := &Identity{ARN: bob.ARN, Account: bob.Account, Policies: []*Policy{identityAllow}}
	otherRoot := &Identity{ARN: "arn:aws:iam::111111111111:root", Account: "111111111111"}
	req := Request{Action: "lambda:InvokeFunctionUrl", Resource: fnARN, Context: map[string][]string{"lambda:FunctionUrlAuthType": {"AWS_IAM"}}}
	tests := []struct {
		name   string
		id     *Identity
		policy *Policy
		want   Decision
		by     PolicyKind
	}{
		{"same account: nothing allows", alice, nil, ImplicitDeny, IdentityBased},
		{"same account: identity policy", aliceWithPolicy, nil, Allow, ""},
		{"same account: resource policy", alice, allowURL(alice.ARN), Allow, ""},
		{"same account: resource policy naming the caller's account leaves it to the caller's policies", alice, allowURL("000000000000"), ImplicitDeny, IdentityBased},
		{"same account: the same, with the caller's own grant", aliceWithPolicy, allowURL("000000000000"), Allow, ""},
		{"same account: resource policy naming the account's root, for a user", alice, allowURL("arn:aws:iam::000000000000:root"), ImplicitDeny, IdentityBased},
		{"same account: resource policy for everyone", alice, allowURL("*"), Allow, ""},
		{"same account: root", root, nil, Allow, ""},
		{"same account: explicit deny wins", aliceDenied, allowURL(alice.ARN), ExplicitDeny, IdentityBased},
		{"same account: a resource policy's deny", aliceWithPolicy, denyURL(alice.ARN), ExplicitDeny, ResourceBased},
		{"cross account: resource policy only", bob, allowURL(bob.ARN), ImplicitDeny, IdentityBased},
		{"cross account: identity policy only", bobWithPolicy, nil, ImplicitDeny, ResourceBased},
		{"cross account: both", bobWithPolicy, allowURL("111111111111"), Allow, ""},
		{"cross account root: resource policy", otherRoot, allowURL("arn:aws:iam::111111111111:root"), Allow, ""},
		{"cross account root: no grant", otherRoot, nil, ImplicitDeny, ResourceBased},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Authorize(tc.id, "000000000000", tc.policy, req)
			if v.Decision != tc.want || v.By != tc.by {
				t.Fatalf("%v by %q (%s), want %v by %q", v.Decision, v.By, v.Why, tc.want, tc.by)
			}
			if v.Decision != Allow && v.Why == "" {
				t.Fatal("a refusal without a reason")
			}
		})
	}
}

func TestLoadIdentities(t *testing.T) {
	write := func(s string) string {
		p := filepath.Join(t.TempDir(), "iam.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ids, err := LoadIdentities(write(`{"identities":[
		{"accessKeyId":"AKIAALICE","secretAccessKey":"a","arn":"arn:aws:iam::000000000000:user/alice",
		 "policies":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunctionUrl","Resource":"*"}]}]},
		{"accessKeyId":"ASIABOB","secretAccessKey":"b","sessionToken":"t","arn":"arn:aws:sts::111111111111:assumed-role/deployer/ci"}]}`), "000000000000")
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := ids.Lookup("AKIAALICE"), ids.Lookup("ASIABOB")
	if ids.Len() != 3 || ids.Lookup("test") == nil || alice == nil || bob == nil {
		t.Fatalf("identities: %d", ids.Len())
	}
	if alice.Account != "000000000000" || !strings.HasPrefix(alice.UserID, "AIDA") || len(alice.UserID) != 21 || len(alice.Policies) != 1 {
		t.Errorf("alice %+v", alice)
	}
	if bob.Account != "111111111111" || !strings.HasPrefix(bob.UserID, "AROA") || !strings.HasSuffix(bob.UserID, ":ci") || bob.SessionToken != "t" {
		t.Errorf("bob %+v", bob)
	}
	for name, doc := range map[string]string{
		"not JSON":       `{`,
		"unknown member": `{"identities":[{"accessKeyId":"A","secretAccessKey":"s","arn":"arn:aws:iam::000000000000:user/a","colour":"red"}]}`,
		"no secret":      `{"identities":[{"accessKeyId":"A","arn":"arn:aws:iam::000000000000:user/a"}]}`,
		"root's key":     `{"identities":[{"accessKeyId":"test","secretAccessKey":"s","arn":"arn:aws:iam::000000000000:user/a"}]}`,
		"bad arn":        `{"identities":[{"accessKeyId":"A","secretAccessKey":"s","arn":"arn:aws:s3:::bucket"}]}`,
		"principal":      `{"identities":[{"accessKeyId":"A","secretAccessKey":"s","arn":"arn:aws:iam::000000000000:user/a","policies":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}]}]}`,
		"bad policy":     `{"identities":[{"accessKeyId":"A","secretAccessKey":"s","arn":"arn:aws:iam::000000000000:user/a","policies":[{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}]}]}`,
	} {
		if _, err := LoadIdentities(write(doc), "000000000000"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadIdentities(filepath.Join(t.TempDir(), "missing.json"), "000000000000"); err == nil {
		t.Error("a missing file was accepted")
	}
}

// BenchmarkVerify measures a signature check against what a plain server
// would at least do: compute the signature once with the same signer.
//
//	go test ./authz -run XXX -bench Verify
func BenchmarkVerify(b *testing.B) {
	v := &Verifier{Identities: testIdentities(), Now: func() time.Time { return signedAt }}
	body := []byte(`{"order":42}`)
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	req := httptest.NewRequest("POST", "http://abc.lambda-url.us-east-1.localhost:4580/orders?x=1", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "lambda", "us-east-1", signedAt); err != nil {
		b.Fatal(err)
	}
	b.Run("furl-verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := v.Verify(context.Background(), req, hashOf(body), "us-east-1", "lambda"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain-sign-once", func(b *testing.B) {
		for b.Loop() {
			r := req.Clone(context.Background())
			s := sha256.Sum256(body)
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(s[:]), "lambda", "us-east-1", signedAt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzSignedPath signs a request for any path with the AWS SDK's signer,
// sends it as Go's HTTP client does and reads it back as Go's server does:
// it must verify, and furl must read back the very path the SDK signed.
// The same signature with any other raw path must be refused.
func FuzzSignedPath(f *testing.F) {
	for _, seed := range [][2]string{
		{`/a/b"c`, `/a%2Fb"c`},
		{"/orders/a b", "/orders/a+b"},
		{"/a%2Fb", "/a/b"},
		{"/a%2Fb", "/a%2fb"},
		{"/", "//"},
		{"/x", "/x/"},
		{"/café", "/caf%C3%A9"},
		{"/a/./b", "/a/b"},
		{"/a/../b", "/b"},
		{"/a+b", "/a%2Bb"},
		{"/~user", "/%7Euser"},
		{"/a;b=c,d", "/a%3Bb=c,d"},
		{"", "/"},
	} {
		f.Add(seed[0], seed[1])
	}
	v := &Verifier{Identities: testIdentities(), Now: func() time.Time { return signedAt }}
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	f.Fuzz(func(t *testing.T, path, other string) {
		req, err := http.NewRequest("GET", "http://abc.lambda-url.us-east-1.localhost:4580/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Path = path
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashOf(nil), "lambda", "us-east-1", signedAt); err != nil {
			t.Fatal(err)
		}
		var wire bytes.Buffer
		if err := req.Write(&wire); err != nil {
			return // Go's client would not send it
		}
		got, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire.Bytes())))
		if err != nil {
			return // nor Go's server take it
		}
		if !strings.HasPrefix(got.RequestURI, "/") {
			// Go's client writes a path without its leading slash as it
			// is ("*", "A:"): not the origin form, it names no path, and
			// Verify refuses it (TestVerify).
			return
		}
		if want := req.URL.EscapedPath(); RawPath(got) != want && !(want == "" && RawPath(got) == "/") {
			t.Fatalf("the SDK signed path %q, furl read %q", want, RawPath(got))
		}
		if _, serr := v.Verify(context.Background(), got, hashOf(nil), "us-east-1", "lambda"); serr != nil {
			t.Fatalf("path %q, sent as %q: refused: %v", path, got.RequestURI, serr)
		}

		// The same bytes with another request target.
		line, rest, _ := bytes.Cut(wire.Bytes(), []byte("\r\n"))
		if !bytes.HasPrefix(line, []byte("GET ")) {
			t.Fatalf("request line %q", line)
		}
		replayed := append([]byte("GET "+other+" HTTP/1.1\r\n"), rest...)
		alt, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(replayed)))
		if err != nil || RawPath(alt) == RawPath(got) || alt.URL.RawQuery != "" || alt.Host != got.Host {
			return // not a request with another raw path
		}
		if id, serr := v.Verify(context.Background(), alt, hashOf(nil), "us-east-1", "lambda"); serr == nil {
			t.Fatalf("signed for %q, accepted as %q (caller %s)", got.RequestURI, alt.RequestURI, id.ARN)
		}
	})
}
