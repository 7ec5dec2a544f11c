package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// reboundClient is the AWS SDK for Go as a page that rebound its DNS name
// to furl would use it: it addresses attacker.example, signs for that
// host, and its connections reach furl's address.
func reboundClient(f *furl, host string) *lambda.Client {
	_, port, _ := net.SplitHostPort(f.addr)
	rebound := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, f.addr)
		},
	}}
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String("http://" + host + ":" + port),
		HTTPClient:       rebound,
		RetryMaxAttempts: 1,
	})
}

// DNS rebinding, emulated: requests whose Host is a name someone else owns
// reach furl's address. The Lambda API refuses them, signed or not, and
// says so in the log; the same client by an --allowed-hosts name works.
func TestReboundHostRefused(t *testing.T) {
	for _, verify := range []bool{false, true} {
		name := "unsigned API"
		var extra []string
		if verify {
			name = "--verify-api-signatures, signed as test/test"
			extra = []string{"--verify-api-signatures"}
		}
		t.Run(name, func(t *testing.T) {
			f := startFurl(t, t.TempDir(), "127.0.0.1:0", append(extra, "--allowed-hosts", "furl.test")...)
			createFunction(t, f.client(), "secret")

			evil := reboundClient(f, "attacker.example")
			_, err := evil.ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
			msg := apiErrCode(t, err, "AccessDeniedException")
			mustContain(t, msg, `its Host "attacker.example:`)
			_, err = evil.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("secret")})
			apiErrCode(t, err, "AccessDeniedException")
			_, err = evil.CreateFunction(ctx(t), &lambda.CreateFunctionInput{FunctionName: aws.String("evil"), Runtime: types.RuntimeNodejs20x,
				Role: aws.String(testRole), Handler: aws.String("index.handler"), Code: &types.FunctionCode{ZipFile: nodeZip(t, "evil")}})
			apiErrCode(t, err, "AccessDeniedException")
			_, err = evil.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("secret")})
			apiErrCode(t, err, "AccessDeniedException")
			f.logs.waitFor(t, `to_allow="if you reach furl by this name on purpose, start it with --allowed-hosts=attacker.example`, 5*time.Second)

			out, err := f.client().ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
			if err != nil || len(out.Functions) != 1 {
				t.Fatalf("ListFunctions after the refusals: %v %s", err, jsonOf(out))
			}

			allowed := reboundClient(f, "furl.test")
			if _, err := allowed.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("secret")}); err != nil {
				t.Fatalf("Invoke by an --allowed-hosts name: %v", err)
			}
		})
	}
}

// Function URLs answer only on names that cannot be rebound: the host form
// ending in .localhost, the path form on one of furl's own Hosts.
func TestURLsOnReboundHostsRefused(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createURLFunction(t, c, "page", 5)
	u := publicURL(t, c, "page", nil)
	id := strings.TrimPrefix(strings.Split(u, ".")[0], "http://")
	_, port, _ := net.SplitHostPort(f.addr)

	get := func(host, path string) (int, string) {
		req, err := http.NewRequest("GET", "http://"+f.addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype")
	}
	for _, tc := range []struct {
		host, path string
		served     bool
	}{
		{id + ".lambda-url.us-east-1.localhost:" + port, "/method", true},
		{"127.0.0.1:" + port, "/lambda-url/" + id + "/method", true},
		{id + ".lambda-url.us-east-1.attacker.example:" + port, "/method", false},
		{"attacker.example:" + port, "/lambda-url/" + id + "/method", false},
	} {
		status, errType := get(tc.host, tc.path)
		if served := status == 200; served != tc.served || (!served && (status != 403 || errType != "AccessDeniedException")) {
			t.Errorf("Host %s, path %s: %d %s, want served %v", tc.host, tc.path, status, errType, tc.served)
		}
	}
	f.logs.waitFor(t, `--allowed-hosts=attacker.example (or FURL_ALLOWED_HOSTS)`, 5*time.Second)
}

// A request's line and headers may take AWS's 1 MB, no more.
func TestHeaderQuota(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	for _, tc := range []struct {
		size int
		want int
	}{{900 << 10, 200}, {1100 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
		req, _ := http.NewRequest("GET", f.url("/_furl/health"), nil)
		req.Header.Set("X-Padding", strings.Repeat("a", tc.size))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%d bytes of headers: %v", tc.size, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%d bytes of headers: %d, want %d", tc.size, resp.StatusCode, tc.want)
		}
	}
}
