package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/furl-dev/furl/gateway/tlsca"
)

// Every case turns the system store and NSS discovery off: a test must not
// touch the machine's trust stores or the user's browsers.
func TestTrustCommand(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		createCA bool // whether the CA exists afterwards
	}{
		{name: "help", args: []string{"--help"}, code: 0, stderr: "-nss-db"},
		{name: "extra argument", args: []string{"--system=false", "--nss=false", "now"}, code: 2, stderr: `unexpected argument "now"`},
		{name: "bad flag", args: []string{"--system=maybe"}, code: 2, stderr: "invalid boolean"},
		{name: "nothing asked", args: []string{"--system=false", "--nss=false"}, code: 0, stdout: "nothing done", createCA: true},
		{name: "uninstall without a CA makes none", args: []string{"--system=false", "--nss=false", "--uninstall"}, code: 0, stdout: "nothing to remove"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"trust", "--data-dir", dataDir}, tc.args...), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
			}
			if got := tlsca.Exists(filepath.Join(dataDir, "tls", "ca")); got != tc.createCA {
				t.Errorf("CA exists afterwards: %v, want %v", got, tc.createCA)
			}
		})
	}
}

func TestUsageNamesTrust(t *testing.T) {
	var stdout bytes.Buffer
	run([]string{"help"}, &stdout, &stdout)
	if !strings.Contains(stdout.String(), "furl trust [flags]") {
		t.Fatalf("usage does not name furl trust:\n%s", stdout.String())
	}
}
