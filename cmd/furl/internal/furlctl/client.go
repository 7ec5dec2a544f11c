// Package furlctl holds the commands that talk to a running furl over its
// Lambda API, as any AWS SDK would: furl ls, furl urls and furl invoke.
// They work against whichever furl (or Lambda API) the user points them at.
package furlctl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
)

// Defaults of a furl started with no flags (DESIGN.md, contracts).
const (
	DefaultEndpoint = "http://127.0.0.1:4580"
	DefaultRegion   = "us-east-1"
)

// target is the furl a command talks to, and as whom.
type target struct {
	Endpoint string
	Region   string
	creds    aws.CredentialsProvider
}

// lookupEnv is os.LookupEnv, replaced in tests.
type lookupEnv func(string) (string, bool)

// firstEnv is the first of the variables that is set and not empty, or
// def.
func firstEnv(env lookupEnv, def string, names ...string) string {
	for _, n := range names {
		if v, ok := env(n); ok && v != "" {
			return v
		}
	}
	return def
}

// targetFlags declares --endpoint and --region, defaulting from the
// environment as the brief of every furlctl command says: FURL_* first,
// then what the AWS CLI and SDKs read.
func targetFlags(fs *flag.FlagSet, env lookupEnv) (endpoint, region *string) {
	endpoint = fs.String("endpoint", firstEnv(env, DefaultEndpoint, "FURL_ENDPOINT", "AWS_ENDPOINT_URL_LAMBDA"),
		"the furl to talk to (env FURL_ENDPOINT, then AWS_ENDPOINT_URL_LAMBDA)")
	region = fs.String("region", firstEnv(env, DefaultRegion, "FURL_REGION", "AWS_REGION"),
		"the region furl serves (env FURL_REGION, then AWS_REGION)")
	return endpoint, region
}

// newTarget is the furl at endpoint, with the credentials of the usual AWS
// environment variables, or furl's default root identity test/test.
func newTarget(env lookupEnv, endpoint, region string) target {
	key, secret := firstEnv(env, "", "AWS_ACCESS_KEY_ID"), firstEnv(env, "", "AWS_SECRET_ACCESS_KEY")
	token := firstEnv(env, "", "AWS_SESSION_TOKEN")
	if key == "" || secret == "" {
		key, secret, token = "test", "test", ""
	}
	return target{Endpoint: strings.TrimRight(endpoint, "/"), Region: region,
		creds: credentials.NewStaticCredentialsProvider(key, secret, token)}
}

// TargetFlags declares --endpoint and --region for any furl command that
// talks to a running furl, with the defaults every such command uses.
func TargetFlags(fs *flag.FlagSet) (endpoint, region *string) {
	return targetFlags(fs, os.LookupEnv)
}

// Client is a Lambda client for the furl at endpoint, as every furl
// command that talks to a running furl makes it: the credentials of the
// usual AWS environment variables, or furl's root test/test (never a
// profile's, so no real account's keys go to furl by accident), and no
// retries.
func Client(endpoint, region string) *lambda.Client {
	return newTarget(os.LookupEnv, endpoint, region).client()
}

// client is a Lambda client for the target. It does not retry: a local
// furl answers at once or not at all, and a user waiting on retries of a
// refused connection learns nothing more.
func (t target) client() *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           t.Region,
		Credentials:      t.creds,
		BaseEndpoint:     aws.String(t.Endpoint),
		RetryMaxAttempts: 1,
		HTTPClient:       streamSafeHTTP{http.DefaultClient},
	})
}

// streamSafeHTTP hides the request body's WriteTo. smithy-go closes the
// request body as soon as the response headers are in; for a streamed
// response that can be before net/http has finished its post-body check,
// and the closed body's WriteTo then answers io.EOF, which net/http takes
// for a write error and closes the connection the stream is still being
// read from. Without WriteTo, net/http reads, and a closed body's Read
// answers a clean io.EOF.
type streamSafeHTTP struct{ next *http.Client }

func (s streamSafeHTTP) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return s.next.Do(r)
}

// emptySHA256 is the payload hash of a request without a body.
var emptySHA256 = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// getSigned sends a GET for one of furl's own views, signed as the Lambda
// API's requests are (furl authorizes them as it does ListFunctions).
func (t target) getSigned(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Endpoint+path, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	creds, err := t.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "lambda", t.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("signing GET %s: %w", path, err)
	}
	return http.DefaultClient.Do(req)
}

// describe is the one line a command prints for err: a furl that does not
// answer says how to start one, an API error is AWS's type and message.
func describe(endpoint string, err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Sprintf("no furl answers at %s: start it with furl serve", endpoint)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Sprintf("%s: %s", ae.ErrorCode(), ae.ErrorMessage())
	}
	return err.Error()
}

// parseFlags parses a command's flags: 0 and done for --help, 2 and done
// for a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	return 0, false
}

// parseNamed parses the flags of a command that takes one FUNCTION,
// before or after its flags (people type it first): the name, or 0 or 2
// and done for --help, a bad flag or a missing or extra argument.
func parseNamed(fs *flag.FlagSet, args []string) (name string, code int, done bool) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if code, done := parseFlags(fs, args); done {
		return "", code, true
	}
	rest := fs.Args()
	if name == "" && len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if name == "" || len(rest) > 0 {
		fs.Usage()
		return "", 2, true
	}
	return name, 0, false
}

// commandContext bounds a command that lists: a furl that accepted the
// connection but never answers should not hang the terminal.
func commandContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

var osEnv lookupEnv = os.LookupEnv
