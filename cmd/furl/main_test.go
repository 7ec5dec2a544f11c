package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{args: nil, code: 2, stderr: "Usage:"},
		{args: []string{"help"}, code: 0, stdout: "furl serve [flags]"},
		{args: []string{"--help"}, code: 0, stdout: "furl serve [flags]"},
		{args: []string{"version"}, code: 0, stdout: "furl "},
		{args: []string{"launch"}, code: 2, stderr: `unknown command "launch"`},
		{args: []string{"serve", "--help"}, code: 0, stderr: "-account-concurrency"},
		{args: []string{"serve", "extra"}, code: 2, stderr: `unexpected argument "extra"`},
		{args: []string{"serve", "--region", "moon-1"}, code: 2, stderr: `--region "moon-1" is not an AWS region name`},
		{args: []string{"serve", "--account-id", "42"}, code: 2, stderr: `--account-id "42" is not a 12-digit AWS account id`},
		{args: []string{"serve", "--log-level", "loud"}, code: 2, stderr: `--log-level "loud" is not one of`},
		{args: []string{"serve", "--account-concurrency", "0"}, code: 2, stderr: "--account-concurrency must be at least 1"},
		{args: []string{"serve", "--idle-timeout", "0s"}, code: 2, stderr: "--idle-timeout must be positive"},
		{args: []string{"serve", "--stream-bandwidth", "fast"}, code: 2, stderr: `--stream-bandwidth "fast" is not one of unshaped, aws`},
		{args: []string{"serve", "--stream-max-bytes", "0"}, code: 2, stderr: "--stream-max-bytes must be from 1 to 1099511627776 (1 TiB), not 0"},
		{args: []string{"serve", "--stream-max-bytes", "9223372036854775807"}, code: 2, stderr: "--stream-max-bytes must be from 1 to"},
		{args: []string{"serve", "--event-queue-max-bytes", "1048575"}, code: 2, stderr: "--event-queue-max-bytes must be at least 1048576 (one largest event), not 1048575"},
		{args: []string{"serve", "--event-queue-max-events", "0"}, code: 2, stderr: "--event-queue-max-events must be at least 1, not 0"},
		{args: []string{"serve", "--event-workers", "0"}, code: 2, stderr: "--event-workers must be from 1 to 1000, not 0"},
		{args: []string{"serve", "--event-time-scale", "0"}, code: 2, stderr: "--event-time-scale must be above 0 and at most 1, not 0"},
		{args: []string{"serve", "--event-time-scale", "NaN"}, code: 2, stderr: "--event-time-scale must be above 0 and at most 1, not NaN"},
		{args: []string{"serve", "--max-connections", "-1"}, code: 2, stderr: "--max-connections must be 0 (derived from the open-file limit) or more, not -1"},
		{args: []string{"serve", "--allowed-hosts", "furl.test,http://evil.example"}, code: 2, stderr: `--allowed-hosts: "http://evil.example" is not a host name or IP address`},
		{args: []string{"serve", "--allowed-hosts", "furl.test:4580"}, code: 2, stderr: `--allowed-hosts: "furl.test:4580" is not a host name`},
		{args: []string{"serve", "--listen-tls", "4443"}, code: 2, stderr: `--listen-tls "4443" is not host:port (give an empty value for no HTTPS)`},
		{args: []string{"serve", "--listen", "127.0.0.1:9000", "--listen-tls", "127.0.0.1:9000"}, code: 2, stderr: "--listen-tls and --listen are both 127.0.0.1:9000"},
		{args: []string{"ca", "--data-dir", ""}, code: 2, stderr: "furl ca: --data-dir is empty"},
		{args: []string{"ca", "--nope"}, code: 2, stderr: "flag provided but not defined: -nope"},
		{args: []string{"serve", "--allowed-hosts", "*"}, code: 2, stderr: `--allowed-hosts: "*" is not a host name`},
		{args: []string{"serve", "--pprof", "0.0.0.0:6060"}, code: 2, stderr: `--pprof "0.0.0.0:6060" must be on a loopback address`},
		{args: []string{"serve", "--pprof", ":6060"}, code: 2, stderr: `--pprof ":6060" must be on a loopback address`},
		{args: []string{"serve", "--pprof", "192.168.1.2:6060"}, code: 2, stderr: `--pprof "192.168.1.2:6060" must be on a loopback address`},
		{args: []string{"serve", "--pprof", "6060"}, code: 2, stderr: `--pprof "6060" is not host:port`},
		{args: []string{"serve", "--runtime-path", "node24"}, code: 2, stderr: `"node24" is not RUNTIME=PATH`},
		{args: []string{"serve", "--runtime-path", "java21=/usr/bin/java"}, code: 2, stderr: "runs nodejs and python runtimes on an interpreter, not java21"},
		{args: []string{"serve", "--listen", "127.0.0.1:9000", "--pprof", "127.0.0.1:9000"}, code: 2, stderr: "--pprof 127.0.0.1:9000 is the address of furl's API"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

func TestServeHelpNamesEveryFlagAndVariable(t *testing.T) {
	var stderr bytes.Buffer
	run([]string{"serve", "--help"}, &stderr, &stderr)
	for _, want := range []string{"-listen", "FURL_LISTEN", "-data-dir", "FURL_DATA_DIR", "-region", "FURL_REGION",
		"-account-id", "FURL_ACCOUNT_ID", "-log-level", "FURL_LOG_LEVEL", "-account-concurrency", "FURL_ACCOUNT_CONCURRENCY",
		"-idle-timeout", "FURL_IDLE_TIMEOUT", "-stream-bandwidth", "FURL_STREAM_BANDWIDTH",
		"-stream-max-bytes", "FURL_STREAM_MAX_BYTES", "-event-queue-max-bytes", "FURL_EVENT_QUEUE_MAX_BYTES",
		"-event-queue-max-events", "FURL_EVENT_QUEUE_MAX_EVENTS", "-event-workers", "FURL_EVENT_WORKERS",
		"-event-time-scale", "FURL_EVENT_TIME_SCALE", "-allowed-hosts", "FURL_ALLOWED_HOSTS", "-max-connections", "FURL_MAX_CONNECTIONS",
		"-max-env-memory", "FURL_MAX_ENV_MEMORY", "-listen-tls", "FURL_LISTEN_TLS", "-pprof", "FURL_PPROF",
		"-runtime-path", "FURL_RUNTIME_PATH"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("serve --help does not mention %s:\n%s", want, stderr.String())
		}
	}
}

func TestEnvironmentSetsDefaults(t *testing.T) {
	t.Setenv("FURL_REGION", "eu-west-1")
	t.Setenv("FURL_ACCOUNT_CONCURRENCY", "lots")
	t.Setenv("FURL_EVENT_WORKERS", "3")
	var cfg serveConfig
	fs := flagSet(&cfg, &bytes.Buffer{})
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || cfg.EventWorkers != 3 {
		t.Errorf("FURL_REGION gave region %q, FURL_EVENT_WORKERS %d workers", cfg.Region, cfg.EventWorkers)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `FURL_ACCOUNT_CONCURRENCY="lots" is not a number`) {
		t.Errorf("bad FURL_ACCOUNT_CONCURRENCY: %v", err)
	}
	// A flag wins over the environment.
	if err := fs.Parse([]string{"--region", "ap-south-1"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "ap-south-1" {
		t.Errorf("flag gave region %q", cfg.Region)
	}
}

// The README's commands rest on these defaults: the API and URLs on
// 127.0.0.1:4580 and HTTPS on 127.0.0.1:4443, loopback only.
func TestListenDefaults(t *testing.T) {
	for _, env := range []string{"FURL_LISTEN", "FURL_LISTEN_TLS"} {
		if v, ok := os.LookupEnv(env); ok {
			t.Setenv(env, v) // restored after the test
			os.Unsetenv(env)
		}
	}
	var cfg serveConfig
	if err := flagSet(&cfg, &bytes.Buffer{}).Parse(nil); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:4580" || cfg.ListenTLS != "127.0.0.1:4443" {
		t.Errorf("defaults: --listen %q, --listen-tls %q; want 127.0.0.1:4580 and 127.0.0.1:4443", cfg.Listen, cfg.ListenTLS)
	}
}

// --runtime-path repeats, and FURL_RUNTIME_PATH lists its values
// separated by commas.
func TestRuntimePaths(t *testing.T) {
	t.Setenv("FURL_RUNTIME_PATH", "nodejs24.x=/opt/node24/bin/node, python3.13=/usr/bin/python3.13")
	var cfg serveConfig
	fs := flagSet(&cfg, &bytes.Buffer{})
	if err := fs.Parse([]string{"--runtime-path", "nodejs22.x=/usr/local/bin/node22", "--runtime-path", "nodejs24.x=/usr/local/bin/node24"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.RuntimePaths.String(); got != "nodejs22.x=/usr/local/bin/node22,nodejs24.x=/usr/local/bin/node24,python3.13=/usr/bin/python3.13" {
		t.Errorf("runtime paths %s", got)
	}
	t.Setenv("FURL_RUNTIME_PATH", "python3.12")
	cfg = serveConfig{}
	if err := flagSet(&cfg, &bytes.Buffer{}).Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `FURL_RUNTIME_PATH: "python3.12" is not RUNTIME=PATH`) {
		t.Errorf("bad FURL_RUNTIME_PATH: %v", err)
	}
}

func TestAllowedHosts(t *testing.T) {
	cfg := serveConfig{AllowedHosts: " Furl.Test, my_service,,::1,[fe80::1],10.0.0.5 "}
	got, err := cfg.allowedHosts()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "furl.test my_service ::1 [fe80::1] 10.0.0.5" {
		t.Fatalf("allowed hosts %q", got)
	}
}

func TestCAPrintsTheRootItKeeps(t *testing.T) {
	dir := t.TempDir()
	var out, errs bytes.Buffer
	if code := run([]string{"ca", "--data-dir", dir, "--path"}, &out, &errs); code != 0 {
		t.Fatalf("furl ca --path: exit %d, %s", code, errs.String())
	}
	path := strings.TrimSpace(out.String())
	if path != filepath.Join(dir, "tls", "ca", "root.pem") {
		t.Fatalf("furl ca --path printed %q", path)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"ca", "--data-dir", dir}, &out, &errs); code != 0 {
		t.Fatalf("furl ca: exit %d, %s", code, errs.String())
	}
	block, _ := pem.Decode(first)
	sum := sha256.Sum256(block.Bytes)
	fp := strings.ToUpper(hex.EncodeToString(sum[:2]))
	if !strings.Contains(out.String(), path) || !strings.Contains(out.String(), "SHA-256 fingerprint: "+fp[:2]+":"+fp[2:4]+":") {
		t.Errorf("furl ca does not print the root's path and fingerprint (%s…):\n%s", fp, out.String())
	}
	again, _ := os.ReadFile(path)
	if !bytes.Equal(first, again) {
		t.Error("a second furl ca replaced the root")
	}
}

func TestPprofServesProfilesOnlyOnItsListener(t *testing.T) {
	if err := loopbackAddr("[::1]:0"); err != nil {
		t.Errorf("::1 refused: %v", err)
	}
	if err := loopbackAddr("localhost:0"); err != nil {
		t.Errorf("localhost refused: %v", err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	stop, err := startPprof("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`pprof_addr=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		stop()
		t.Fatalf("no pprof_addr in the log: %s", logs.String())
	}
	resp, err := http.Get("http://" + m[1] + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		stop()
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile:") {
		t.Errorf("goroutine profile: %d %.200s", resp.StatusCode, body)
	}
	stop()
	if _, err := http.Get("http://" + m[1] + "/debug/pprof/"); err == nil {
		t.Errorf("the pprof listener still answers after stop")
	}
}
