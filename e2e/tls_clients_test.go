package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The real clients of furl's HTTPS listener: curl with --cacert, Go's
// client over h2 and HTTP/1.1, the AWS SDK for Go v2 and the AWS CLI with
// AWS_CA_BUNDLE. Each trusts furl's root from its file and nothing else.

// tlsPort is the port of furl's HTTPS listener.
func tlsPort(f *furl) string {
	_, port, _ := net.SplitHostPort(f.tlsAddr)
	return port
}

// plainPort is the port of furl's plain listener.
func plainPort(f *furl) string {
	_, port, _ := net.SplitHostPort(f.addr)
	return port
}

// tlsClient is Go's HTTP client trusting furl's root, resolving
// *.localhost to loopback, over the given protocols (h2 and HTTP/1.1 when
// nil) and with TLS capped at maxVersion (0: TLS 1.3).
func tlsClient(t testing.TB, f *furl, protocols *http.Protocols, maxVersion uint16) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:       localhostClient.Transport.(*http.Transport).DialContext,
		TLSClientConfig:   &tls.Config{RootCAs: furlRoots(t, f), MaxVersion: maxVersion},
		ForceAttemptHTTP2: protocols == nil,
		Protocols:         protocols,
	}}
}

// urlIDOf checks that a FunctionUrl is the https form on furl's TLS port
// and returns its URL id.
func urlIDOf(t testing.TB, f *furl, u string) string {
	t.Helper()
	m := regexp.MustCompile(`^https://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:` + tlsPort(f) + `/$`).FindStringSubmatch(u)
	if m == nil {
		t.Fatalf("FunctionUrl %q, want https://<id>.lambda-url.us-east-1.localhost:%s/", u, tlsPort(f))
	}
	return m[1]
}

// A function URL over every client and protocol: the FunctionUrl is the
// https form, the plain listener still answers the same id by Host, and the
// event tells the function how the client came (scheme, port, TLS version
// and cipher suite in AWS's spelling). Over h2 the response's header names
// are lower case.
func TestTLSFunctionURLEvent(t *testing.T) {
	f := startTLSFurl(t)
	c := f.client()
	createURLFunction(t, c, "echo", 10)
	u := publicURL(t, c, "echo", nil)
	id := urlIDOf(t, f, u)
	got, err := c.GetFunctionUrlConfig(ctx(t), &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("echo")})
	if err != nil || aws.ToString(got.FunctionUrl) != u {
		t.Fatalf("GetFunctionUrlConfig: %v, %v; want %s", got, err, u)
	}
	plainURL := "http://" + id + ".lambda-url.us-east-1.localhost:" + plainPort(f) + "/"

	var h1, h2only http.Protocols
	h1.SetHTTP1(true)
	h2only.SetHTTP2(true)
	goGet := func(client *http.Client) func(t *testing.T, u string) (string, []byte) {
		return func(t *testing.T, u string) (string, []byte) {
			resp, err := client.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d %s: %v", resp.StatusCode, body, err)
			}
			if resp.Header.Get("X-Amzn-Requestid") == "" {
				t.Errorf("no x-amzn-requestid: %v", resp.Header)
			}
			return resp.Proto, body
		}
	}
	// curlGet runs curl with furl's root and returns the status line and
	// the body; header names are checked raw, as curl printed them.
	curlGet := func(lower bool, args ...string) func(t *testing.T, u string) (string, []byte) {
		return func(t *testing.T, u string) (string, []byte) {
			out, err := exec.Command("curl", append([]string{"-s", "-i", "--max-time", "30", "--cacert", rootFile(f)}, append(args, u)...)...).Output()
			if err != nil {
				t.Fatalf("curl %v: %v", args, err)
			}
			head, body, _ := bytes.Cut(out, []byte("\r\n\r\n"))
			lines := strings.Split(string(head), "\r\n")
			found := false
			for _, l := range lines[1:] {
				name, _, _ := strings.Cut(l, ":")
				if lower && name != strings.ToLower(name) {
					t.Errorf("header %q is not lower case over h2", l)
				}
				found = found || strings.EqualFold(name, "x-amzn-requestid")
			}
			if !found {
				t.Errorf("no x-amzn-requestid in\n%s", head)
			}
			proto, _, _ := strings.Cut(lines[0], " ")
			return proto, body
		}
	}
	for _, tc := range []struct {
		name, proto, tlsVersion, cipher string
		get                             func(t *testing.T, u string) (string, []byte)
	}{
		{"Go h2 TLS 1.3", "HTTP/2.0", "TLSv1.3", "TLS_AES_128_GCM_SHA256", goGet(tlsClient(t, f, nil, 0))},
		{"Go h2 TLS 1.2", "HTTP/2.0", "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", goGet(tlsClient(t, f, &h2only, tls.VersionTLS12))},
		{"Go HTTP/1.1 TLS 1.3", "HTTP/1.1", "TLSv1.3", "TLS_AES_128_GCM_SHA256", goGet(tlsClient(t, f, &h1, 0))},
		{"curl h2 TLS 1.3", "HTTP/2", "TLSv1.3", "TLS_AES_128_GCM_SHA256", curlGet(true, "--http2")},
		{"curl HTTP/1.1 TLS 1.2", "HTTP/1.1", "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", curlGet(false, "--http1.1", "--tlsv1.2", "--tls-max", "1.2")},
		{"Go plain HTTP/1.1 by Host", "HTTP/1.1", "", "", goGet(localhostClient)},
		{"Go h2c by Host", "HTTP/2.0", "", "", goGet(h2cClient())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, scheme, port := u, "https", tlsPort(f)
			if tc.tlsVersion == "" {
				target, scheme, port = plainURL, "http", plainPort(f)
			}
			proto, body := tc.get(t, target+"echo")
			if proto != tc.proto {
				t.Errorf("protocol %s, want %s", proto, tc.proto)
			}
			var ev events.LambdaFunctionURLRequest
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Fatalf("event %s: %v", body, err)
			}
			h := ev.Headers
			want := map[string]string{"x-forwarded-proto": scheme, "x-forwarded-port": port,
				"x-amzn-tls-version": tc.tlsVersion, "x-amzn-tls-cipher-suite": tc.cipher}
			for k, v := range want {
				if h[k] != v {
					t.Errorf("event header %s: %q, want %q", k, h[k], v)
				}
			}
			if ev.RequestContext.DomainName != id+".lambda-url.us-east-1.localhost:"+port {
				t.Errorf("domainName %q", ev.RequestContext.DomainName)
			}
			if ev.RequestContext.APIID != id {
				t.Errorf("apiId %q, want %s", ev.RequestContext.APIID, id)
			}
		})
	}
}

// A gated stream reaches curl (--http2 and --http1.1, -N) and Go's client
// (h2 over TLS, and h2c) token by token: each token arrives while the
// function waits for the test to have it.
func TestTLSStreamingClients(t *testing.T) {
	f := startTLSFurl(t)
	c := f.client()
	createStreamFunction(t, c, "sse", "url", 60)
	u := streamingURL(t, c, "sse")
	id := urlIDOf(t, f, u)
	for _, tc := range []struct{ name, proto string }{{"--http2", "2"}, {"--http1.1", "1.1"}} {
		t.Run("curl "+tc.name, func(t *testing.T) {
			g := newGate(t)
			cmd, status, h, body := startCurl(t, u+"sse?n=4&gate="+g.query(), "--cacert", rootFile(f), tc.name)
			if status != 201 || h.Get("Content-Type") != "text/event-stream" || h.Get("X-Amzn-Requestid") == "" {
				t.Fatalf("status %d, headers %v", status, h)
			}
			readTokens(t, body, g, 4)
			if rest, _ := io.ReadAll(body); len(rest) != 0 {
				t.Errorf("after the last token: %q", rest)
			}
			if code := curlExit(cmd); code != 0 {
				t.Fatalf("curl exited %d", code)
			}
		})
	}
	for _, tc := range []struct {
		name, u string
		client  *http.Client
	}{
		{"Go h2 TLS", u, tlsClient(t, f, nil, 0)},
		{"Go h2c", "http://" + id + ".lambda-url.us-east-1.localhost:" + plainPort(f) + "/", h2cClient()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(t)
			resp, err := tc.client.Get(tc.u + "sse?n=4&gate=" + g.query())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 201 || resp.ProtoMajor != 2 || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("%s %d %v", resp.Proto, resp.StatusCode, resp.Header)
			}
			br := bufio.NewReader(resp.Body)
			readTokens(t, br, g, 4)
			if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
				t.Fatalf("after the last token: %q, %v", rest, err)
			}
		})
	}
}

// certNames lists the paths under furl's certificate store.
func certNames(t testing.TB, f *furl) []string {
	t.Helper()
	var names []string
	root := filepath.Join(f.dataDir, "tls", "certs")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		names = append(names, strings.TrimPrefix(p, root))
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return names
}

// A name furl does not serve gets no certificate: the handshake fails and
// nothing is issued or stored for it; a name it serves gets one, stored
// where the test looks.
func TestTLSUnknownNamesGetNoCertificate(t *testing.T) {
	f := startTLSFurl(t)
	port := tlsPort(f)
	for _, name := range []string{"evil.example", "abcdefghijklmnopqrstuvwxyz234567.lambda-url.us-east-1.localhost"} {
		out, err := exec.Command("curl", "-s", "-S", "--max-time", "30", "--cacert", rootFile(f),
			"--resolve", name+":"+port+":127.0.0.1", "https://"+name+":"+port+"/").CombinedOutput()
		if err == nil {
			t.Fatalf("curl to %s succeeded: %s", name, out)
		}
		// 35: the TLS handshake failed.
		if code := err.(*exec.ExitError).ExitCode(); code != 35 {
			t.Errorf("curl to %s exited %d (%s), want 35 (handshake failure)", name, code, out)
		}
	}
	for _, n := range certNames(t, f) {
		if strings.Contains(n, "evil") || strings.Contains(n, "abcdefghijklmnop") {
			t.Errorf("furl stored %s for a name it does not serve", n)
		}
	}
	status, _, _ := curl(t, "--cacert", rootFile(f), "https://localhost:"+port+"/_furl/health")
	if status != 200 {
		t.Fatalf("health over HTTPS: %d", status)
	}
	stored := strings.Join(certNames(t, f), "\n")
	if !strings.Contains(stored, "localhost") {
		t.Fatalf("no certificate for localhost in furl's store:\n%s", stored)
	}
}

// protoRecorder notes the protocol of every response the SDK gets.
type protoRecorder struct {
	next   sdkDoer
	mu     *sync.Mutex
	protos map[string]int
}

func (p protoRecorder) Do(r *http.Request) (*http.Response, error) {
	resp, err := p.next.Do(r)
	if err == nil {
		p.mu.Lock()
		p.protos[resp.Proto]++
		p.mu.Unlock()
	}
	return resp, err
}

// The AWS SDK for Go v2, given furl's HTTPS endpoint and its root through
// AWS_CA_BUNDLE as a user would, creates a function, invokes it and reads
// a gated InvokeWithResponseStream event by event, over HTTP/2; without
// the root it refuses furl's certificate.
func TestTLSSDKWithCABundle(t *testing.T) {
	f := startTLSFurl(t)
	zipped := streamFunction(t)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "https://localhost:"+tlsPort(f))
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	// Unset, not empty: an empty AWS_CA_BUNDLE turns verification off in
	// botocore, and this test is about a client that verifies.
	t.Setenv("AWS_CA_BUNDLE", "")
	os.Unsetenv("AWS_CA_BUNDLE")

	t.Run("without the root", func(t *testing.T) {
		cfg, err := config.LoadDefaultConfig(ctx(t), config.WithRetryMaxAttempts(1))
		if err != nil {
			t.Fatal(err)
		}
		_, err = lambda.NewFromConfig(cfg).ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
		if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("ListFunctions without furl's root: %v, want an unknown authority", err)
		}
	})

	t.Setenv("AWS_CA_BUNDLE", rootFile(f))
	cfg, err := config.LoadDefaultConfig(ctx(t), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	rec := protoRecorder{mu: &sync.Mutex{}, protos: map[string]int{}}
	c := lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		rec.next = streamSafeHTTP{o.HTTPClient}
		o.HTTPClient = rec
	})
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("reader"), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: zipped}, Timeout: aws.Int32(30),
		Environment: &types.Environment{Variables: map[string]string{"MODE": "reader"}},
	}); err != nil {
		t.Fatalf("CreateFunction over HTTPS: %v", err)
	}
	out, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("reader"), Payload: []byte(`{"tokens":2}`)})
	if err != nil || out.FunctionError != nil || string(out.Payload) != "data: token 1\n\ndata: token 2\n\n" {
		t.Fatalf("Invoke over HTTPS: %v %v %q", err, aws.ToString(out.FunctionError), out.Payload)
	}
	g := newGate(t)
	stream, err := c.InvokeWithResponseStream(ctx(t), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("reader"),
		Payload: []byte(fmt.Sprintf(`{"tokens":3,"gate":%q}`, g))})
	if err != nil {
		t.Fatalf("InvokeWithResponseStream over HTTPS: %v", err)
	}
	st := stream.GetStream()
	defer st.Close()
	var chunks []string
	completed := false
	for ev := range st.Events() {
		switch v := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			chunks = append(chunks, string(v.Value.Payload))
			g.open(t, len(chunks))
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			completed = v.Value.ErrorCode == nil
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("the event stream: %v", err)
	}
	if want := []string{"data: token 1\n\n", "data: token 2\n\n", "data: token 3\n\n"}; fmt.Sprint(chunks) != fmt.Sprint(want) || !completed {
		t.Fatalf("chunks %q, completed cleanly %v", chunks, completed)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.protos) != 1 || rec.protos["HTTP/2.0"] != 3 {
		t.Errorf("the SDK's responses came over %v, want 3 over HTTP/2.0", rec.protos)
	}
}

// The AWS CLI, given --endpoint-url https://localhost:<port> and furl's
// root through AWS_CA_BUNDLE, creates a function and its URL (the https
// form) and invokes it; without the root it refuses furl's certificate.
func TestTLSAWSCLIWithCABundle(t *testing.T) {
	for _, tc := range []struct {
		name string
		find func(*testing.T) string
		v2   bool
	}{{"v2", awsCLIv2, true}, {"v1", awsCLIv1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			cli := tc.find(t)
			f := startTLSFurl(t)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "function.zip"), nodeZip(t, "over https"), 0o644); err != nil {
				t.Fatal(err)
			}
			run := func(bundle bool, args ...string) (string, error) {
				cmd := exec.Command(cli, append([]string{"--endpoint-url", "https://localhost:" + tlsPort(f), "lambda"}, args...)...)
				cmd.Dir = dir
				// Without AWS_CA_BUNDLE at all: botocore verifies nothing when
				// it is set but empty.
				for _, kv := range clientEnv(f) {
					if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") {
						cmd.Env = append(cmd.Env, kv)
					}
				}
				if bundle {
					cmd.Env = append(cmd.Env, "AWS_CA_BUNDLE="+rootFile(f))
				}
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			must := func(args ...string) string {
				t.Helper()
				out, err := run(true, args...)
				if err != nil {
					t.Fatalf("aws lambda %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return out
			}
			if out, err := run(false, "list-functions"); err == nil || !strings.Contains(out, "CERTIFICATE_VERIFY_FAILED") {
				t.Fatalf("list-functions without furl's root: %v\n%s", err, out)
			}
			must("create-function", "--function-name", "cli", "--runtime", "nodejs20.x", "--handler", "index.handler",
				"--zip-file", "fileb://function.zip", "--role", testRole)
			var cfg struct{ FunctionUrl string }
			if err := json.Unmarshal([]byte(must("create-function-url-config", "--function-name", "cli", "--auth-type", "NONE")), &cfg); err != nil {
				t.Fatal(err)
			}
			urlIDOf(t, f, cfg.FunctionUrl)
			invoke := []string{"invoke", "--function-name", "cli", "--payload", `{}`}
			if tc.v2 {
				invoke = append(invoke, "--cli-binary-format", "raw-in-base64-out")
			}
			must(append(invoke, "out.json")...)
			if got, _ := os.ReadFile(filepath.Join(dir, "out.json")); string(got) != `"over https"` {
				t.Fatalf("invoke wrote %q", got)
			}
			noRefusals(t, f, cli)
		})
	}
}
