package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's five lines for a front end over HTTPS, run as written
// against a fresh furl: furl trust finds the browser's NSS database in
// $HOME (a throw-away home here; the system store is left alone, as it is
// the machine's), deploy prints the https URL, and the URL answers a
// credentialed cross-origin request from the page's origin as AWS would,
// with the page's cookies passed to the function, on a certificate of the
// root that trust installed.
func TestReadmeHTTPSFiveLines(t *testing.T) {
	certutil := certutilBin(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile("(?s)\n## HTTPS and HTTP/2\n(.*?)\n## ").FindSubmatch(readme)
	if section == nil {
		t.Fatal("README.md has no HTTPS and HTTP/2 section")
	}
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindSubmatch(section[1])
	if block == nil {
		t.Fatal("the HTTPS section has no shell block")
	}
	lines := strings.Split(strings.TrimSuffix(string(block[1]), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("the README promises five lines and shows %d:\n%s", len(lines), block[1])
	}
	// furl serve runs here as the test's furl, on free ports; trust may
	// not touch the machine's system store.
	var script []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "go run ./cmd/furl serve"):
			continue
		case strings.HasPrefix(l, "go run ./cmd/furl trust"):
			l = strings.Replace(l, "go run ./cmd/furl trust", "go run ./cmd/furl trust --system=false", 1)
		}
		script = append(script, strings.ReplaceAll(l, "go run ./cmd/furl", furlBin))
	}
	if len(script) != 4 {
		t.Fatalf("the five lines have no furl serve line:\n%s", block[1])
	}
	origin := regexp.MustCompile(`"allowOrigins": \["([^"]+)"\]`).FindStringSubmatch(string(block[1]))
	if origin == nil {
		t.Fatal("the five lines name no page origin in furl.json")
	}

	dataDir := t.TempDir()
	f := startFurl(t, dataDir, "127.0.0.1:0", "--listen-tls", "127.0.0.1:0")
	home := t.TempDir()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.Join(script, "\n"))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "FURL_DATA_DIR="+dataDir, "FURL_ENDPOINT=http://"+f.addr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the five lines failed: %v\n%s", err, out)
	}
	port := f.tlsAddr[strings.LastIndex(f.tlsAddr, ":")+1:]
	m := regexp.MustCompile(`(?m)^(https://[a-z0-9]{32}\.lambda-url\.us-east-1\.localhost:` + port + `/)$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("deploy printed no https URL on furl's TLS port %s:\n%s", port, out)
	}
	fnURL := string(m[1])

	// trust put furl's root into the NSS database Chromium reads from
	// $HOME, which it created.
	nssDir := filepath.Join(home, ".pki", "nssdb")
	list, err := exec.Command(certutil, "-L", "-d", "sql:"+nssDir).CombinedOutput()
	if err != nil {
		t.Fatalf("certutil -L on %s: %v\n%s\nfurl trust said:\n%s", nssDir, err, list, out)
	}
	if !regexp.MustCompile(`(?m)^furl-local-ca-[0-9a-f]{16}\s+C,,\s*$`).Match(list) {
		t.Fatalf("furl's root is not trusted for TLS servers in %s:\n%s", nssDir, list)
	}

	// The page's credentialed call, as the browser sends it, with the
	// client trusting only furl's root.
	// (Go's resolver does not resolve names under localhost to loopback,
	// as browsers and curl do: dial furl's TLS port instead.)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: furlRoots(t, f)}, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, f.tlsAddr)
		}}}
	req, err := http.NewRequest(http.MethodGet, fnURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin[1])
	req.Header.Set("Cookie", "session=s1; theme=dark")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s with furl's root: %v", fnURL, err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || body != "cookies: session=s1,theme=dark" {
		t.Fatalf("GET %s: %s over %s, %q", fnURL, resp.Status, resp.Proto, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin[1] {
		t.Errorf("Access-Control-Allow-Origin %q, want the page's %q", got, origin[1])
	}
	if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("Access-Control-Allow-Credentials %q, want true", got)
	}
}
