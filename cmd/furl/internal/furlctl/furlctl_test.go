package furlctl

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/smithy-go"
)

func ptr[T any](v T) *T { return &v }

func TestWriteFunctions(t *testing.T) {
	tests := []struct {
		name string
		fns  []Function
		want string
	}{
		{"none", nil, "NAME  RUNTIME  TYPE  STATE  MEMORY  TIMEOUT  RESERVED  ALIASES  SANDBOX  URL  AUTH  MODE\n"},
		{
			name: "no URL, not furl",
			fns:  []Function{{Name: "fn", Runtime: "nodejs22.x", PackageType: "Zip", State: "Active", MemoryMB: 128, TimeoutSec: 3}},
			want: "" +
				"NAME  RUNTIME     TYPE  STATE   MEMORY  TIMEOUT  RESERVED  ALIASES  SANDBOX  URL  AUTH  MODE\n" +
				"fn    nodejs22.x  Zip   Active  128 MB  3 s      -         -        -        -    -     -\n",
		},
		{
			name: "image, two URLs, live environments",
			fns: []Function{{Name: "img", Image: "repo/img:1", PackageType: "Image", State: "Active", MemoryMB: 512, TimeoutSec: 30,
				Reserved: ptr(int32(0)), Aliases: []string{"live:2"},
				URLs: []URL{
					{URL: "http://a/", Function: "img", AuthType: "NONE", InvokeMode: "RESPONSE_STREAM"},
					{URL: "http://b/", Function: "img", Qualifier: "live", AuthType: "AWS_IAM", InvokeMode: "BUFFERED"},
				},
				Environments: []Environment{{Sandbox: "docker", State: "idle"}, {Sandbox: "docker", State: "busy"}}}},
			want: "" +
				"NAME  RUNTIME     TYPE   STATE   MEMORY  TIMEOUT  RESERVED  ALIASES  SANDBOX                 URL               AUTH     MODE\n" +
				"img   repo/img:1  Image  Active  512 MB  30 s     0         live:2   docker: 1 busy, 1 idle  http://a/         NONE     RESPONSE_STREAM\n" +
				"                                                                                             http://b/ (live)  AWS_IAM  BUFFERED\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			writeFunctions(&b, tc.fns)
			if b.String() != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
}

func TestWriteURLs(t *testing.T) {
	var b strings.Builder
	writeURLs(&b, []URL{
		{URL: "http://a/", Function: "f", AuthType: "NONE", InvokeMode: "BUFFERED"},
		{URL: "http://bb/", Function: "g", Qualifier: "7", AuthType: "AWS_IAM", InvokeMode: "RESPONSE_STREAM", CORSOrigins: []string{"https://x", "https://y"}},
	})
	want := "" +
		"URL         FUNCTION  QUALIFIER  AUTH     MODE             CORS ORIGINS\n" +
		"http://a/   f         -          NONE     BUFFERED         -\n" +
		"http://bb/  g         7          AWS_IAM  RESPONSE_STREAM  https://x,https://y\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestSandboxSummary(t *testing.T) {
	tests := []struct {
		name string
		envs []Environment
		want string
	}{
		{"endpoint does not say", nil, "-"},
		{"none live", []Environment{}, "none live"},
		{"one", []Environment{{Sandbox: "process", State: "initializing"}}, "process: 1 initializing"},
		{"sandboxes and states sorted", []Environment{{Sandbox: "process", State: "idle"}, {Sandbox: "docker", State: "busy"},
			{Sandbox: "process", State: "busy"}, {Sandbox: "process", State: "idle"}}, "docker: 1 busy; process: 1 busy, 2 idle"},
		{"unnamed sandbox", []Environment{{State: "idle"}}, "unknown: 1 idle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sandboxSummary(tc.envs); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestQualifierOf(t *testing.T) {
	tests := map[string]string{
		"arn:aws:lambda:us-east-1:000000000000:function:f":      "",
		"arn:aws:lambda:us-east-1:000000000000:function:f:live": "live",
		"arn:aws:lambda:us-east-1:000000000000:function:f:3":    "3",
		"not-an-arn": "",
	}
	for arn, want := range tests {
		if got := qualifierOf(arn); got != want {
			t.Errorf("qualifierOf(%q) = %q, want %q", arn, got, want)
		}
	}
}

func TestTargetFromFlagsAndEnv(t *testing.T) {
	tests := []struct {
		name                   string
		env                    map[string]string
		args                   []string
		endpoint, region, user string
	}{
		{"defaults", nil, nil, DefaultEndpoint, DefaultRegion, "test"},
		{"AWS variables", map[string]string{"AWS_ENDPOINT_URL_LAMBDA": "http://aws:1", "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"},
			nil, "http://aws:1", "eu-west-1", "AK"},
		{"FURL variables win", map[string]string{"FURL_ENDPOINT": "http://furl:2/", "AWS_ENDPOINT_URL_LAMBDA": "http://aws:1", "FURL_REGION": "ap-south-1", "AWS_REGION": "eu-west-1"},
			nil, "http://furl:2", "ap-south-1", "test"},
		{"flags win", map[string]string{"FURL_ENDPOINT": "http://furl:2", "FURL_REGION": "ap-south-1"},
			[]string{"--endpoint", "http://flag:3", "--region", "us-west-2"}, "http://flag:3", "us-west-2", "test"},
		{"empty variables are unset", map[string]string{"FURL_ENDPOINT": "", "AWS_REGION": ""}, nil, DefaultEndpoint, DefaultRegion, "test"},
		{"a key without its secret is no credential", map[string]string{"AWS_ACCESS_KEY_ID": "AK"}, nil, DefaultEndpoint, DefaultRegion, "test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			endpoint, region := targetFlags(fs, env)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			tg := newTarget(env, *endpoint, *region)
			creds, err := tg.creds.Retrieve(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tg.Endpoint != tc.endpoint || tg.Region != tc.region || creds.AccessKeyID != tc.user {
				t.Fatalf("got %s %s %s, want %s %s %s", tg.Endpoint, tg.Region, creds.AccessKeyID, tc.endpoint, tc.region, tc.user)
			}
		})
	}
}

func TestReadPayload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(file, []byte(`{"from":"file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg, want string
		err       bool
	}{
		{`{"a":1}`, `{"a":1}`, false},
		{"@" + file, `{"from":"file"}`, false},
		{"@-", `{"from":"stdin"}`, false},
		{"@" + file + ".missing", "", true},
	}
	for _, tc := range tests {
		got, err := readPayload(tc.arg, strings.NewReader(`{"from":"stdin"}`))
		if (err != nil) != tc.err || string(got) != tc.want {
			t.Errorf("readPayload(%q) = %q, %v; want %q (error %v)", tc.arg, got, err, tc.want, tc.err)
		}
	}
}

func TestFunctionFailure(t *testing.T) {
	tests := []struct {
		payload, want string
	}{
		{`{"errorMessage":"boom","errorType":"Error"}`, "fn failed (Unhandled): Error: boom"},
		{`{"errorMessage":"boom"}`, "fn failed (Unhandled): boom"},
		{`{"errorType":"Runtime.ExitError"}`, "fn failed (Unhandled): Runtime.ExitError"},
		{`"just a string"`, "fn failed (Unhandled)"},
		{``, "fn failed (Unhandled)"},
	}
	for _, tc := range tests {
		if got := functionFailure("fn", "Unhandled", []byte(tc.payload)); got != tc.want {
			t.Errorf("payload %s: got %q, want %q", tc.payload, got, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused", fmt.Errorf("ListFunctions: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}),
			"no furl answers at http://127.0.0.1:9: start it with furl serve"},
		{"API error", fmt.Errorf("Invoke f: %w", &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Function not found: f"}),
			"ResourceNotFoundException: Function not found: f"},
		{"read error after connecting", fmt.Errorf("Invoke f: %w", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}),
			"Invoke f: read tcp: connection reset by peer"},
		{"other", errors.New("odd"), "odd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe("http://127.0.0.1:9", tc.err); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWriteLine(t *testing.T) {
	for in, want := range map[string]string{"": "", "{}": "{}\n", "a\n": "a\n"} {
		var b strings.Builder
		writeLine(&b, []byte(in))
		if b.String() != want {
			t.Errorf("writeLine(%q) wrote %q, want %q", in, b.String(), want)
		}
	}
}
