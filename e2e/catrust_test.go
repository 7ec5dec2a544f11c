package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// certutilBin finds NSS's certutil. Without it the test skips, unless
// FURL_E2E_REQUIRE_CERTUTIL is set (scripts/test.sh sets it and installs
// libnss3-tools) and then it fails.
func certutilBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("certutil"); err == nil {
		return p
	}
	if os.Getenv("FURL_E2E_REQUIRE_CERTUTIL") != "" {
		t.Fatal("no certutil found (install Debian's libnss3-tools; scripts/test.sh does)")
	}
	t.Skip("no certutil found; scripts/test.sh installs libnss3-tools")
	return ""
}

// furlCommand runs the furl binary to its end with HOME in a temporary
// directory, so that nothing it does can reach the user's browsers, and
// returns its stdout and exit code.
func furlCommand(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(furlBin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("furl %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("furl %s → exit %d\nstdout:\n%sstderr:\n%s", strings.Join(args, " "), cmd.ProcessState.ExitCode(), stdout.String(), stderr.String())
	return stdout.String(), cmd.ProcessState.ExitCode()
}

// nssEntries is the database's nicknames with their trust, as certutil
// lists them.
func nssEntries(t *testing.T, certutil, db string) map[string][]string {
	t.Helper()
	out, err := exec.Command(certutil, "-L", "-d", "sql:"+db).CombinedOutput()
	if err != nil {
		t.Fatalf("certutil -L: %v\n%s", err, out)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			m[f[0]] = append(m[f[0]], f[1])
		}
	}
	return m
}

func derOf(t *testing.T, what string, pemBytes []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(pemBytes)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("%s holds no PEM certificate:\n%s", what, pemBytes)
	}
	return b.Bytes
}

// furl trust, run as a user would, against a throw-away NSS database:
// the root lands there with trust C,, under a nickname that carries its
// fingerprint, exactly once however often trust runs; a TLS client that
// trusts only what the database holds reaches furl's HTTPS listener; and
// --uninstall takes it out again.
func TestTrustInstallsIntoNSSDatabase(t *testing.T) {
	certutil := certutilBin(t)
	dataDir := t.TempDir()
	db := filepath.Join(t.TempDir(), "nssdb") // absent: furl creates it

	out, code := furlCommand(t, "trust", "--data-dir", dataDir, "--system=false", "--nss-db", db)
	if code != 0 {
		t.Fatalf("furl trust exited %d", code)
	}
	caOut, code := furlCommand(t, "ca", "--data-dir", dataDir)
	fp := regexp.MustCompile(`SHA-256 fingerprint: (\S+)`).FindStringSubmatch(caOut)
	if code != 0 || fp == nil {
		t.Fatalf("furl ca exited %d without a fingerprint", code)
	}
	nick := "furl-local-ca-" + strings.ToLower(strings.ReplaceAll(fp[1], ":", ""))[:16]
	mustContain(t, out, "NSS database "+db+`: installed: as "`+nick+`" with trust C,,`)
	if got := nssEntries(t, certutil, db)[nick]; len(got) != 1 || got[0] != "C,," {
		t.Fatalf("certutil lists %s with trust %q, want once with C,,", nick, got)
	}
	exported, err := exec.Command(certutil, "-L", "-d", "sql:"+db, "-n", nick, "-a").Output()
	if err != nil {
		t.Fatalf("certutil -L -n %s -a: %v", nick, err)
	}
	rootPEM, err := os.ReadFile(filepath.Join(dataDir, "tls", "ca", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(derOf(t, "certutil's export", exported), derOf(t, "furl ca's root.pem", rootPEM)) {
		t.Fatalf("the database's %s is not furl's root:\n%s\nwant\n%s", nick, exported, rootPEM)
	}

	out, code = furlCommand(t, "trust", "--data-dir", dataDir, "--system=false", "--nss-db", db)
	if code != 0 {
		t.Fatalf("furl trust, again, exited %d", code)
	}
	mustContain(t, out, "NSS database "+db+`: already present: as "`+nick+`" with trust C,,`)
	if got := nssEntries(t, certutil, db)[nick]; len(got) != 1 {
		t.Fatalf("after a second furl trust, certutil lists %s %d times, want once", nick, len(got))
	}

	// The root as the database holds it is all the client trusts.
	f := startFurl(t, dataDir, "127.0.0.1:0", "--listen-tls", "127.0.0.1:0")
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(exported) {
		t.Fatal("certutil's export does not parse")
	}
	resp, err := httpsClient(f.tlsAddr, pool).Get("https://localhost/_furl/health")
	if err != nil {
		t.Fatalf("GET /_furl/health over TLS trusting the NSS database's root: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Fatalf("GET /_furl/health over TLS: %s over %s, want 200 over HTTP/2", resp.Status, resp.Proto)
	}
	// A client that trusts another furl's root refuses the same server:
	// the success above is the installed root's doing.
	otherDir := t.TempDir()
	if _, code := furlCommand(t, "ca", "--data-dir", otherDir); code != 0 {
		t.Fatalf("furl ca for another root exited %d", code)
	}
	otherPEM, err := os.ReadFile(filepath.Join(otherDir, "tls", "ca", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	other := x509.NewCertPool()
	other.AppendCertsFromPEM(otherPEM)
	var unknown x509.UnknownAuthorityError
	if _, err := httpsClient(f.tlsAddr, other).Get("https://localhost/_furl/health"); !errors.As(err, &unknown) {
		t.Fatalf("a client trusting another root: %v, want an unknown-authority error", err)
	}

	out, code = furlCommand(t, "trust", "--data-dir", dataDir, "--system=false", "--nss-db", db, "--uninstall")
	if code != 0 {
		t.Fatalf("furl trust --uninstall exited %d", code)
	}
	mustContain(t, out, "NSS database "+db+`: removed: deleted "`+nick+`"`)
	if got, ok := nssEntries(t, certutil, db)[nick]; ok {
		t.Fatalf("after --uninstall, certutil still lists %s (%q)", nick, got)
	}
	out, code = furlCommand(t, "trust", "--data-dir", dataDir, "--system=false", "--nss-db", db, "--uninstall")
	if code != 0 {
		t.Fatalf("furl trust --uninstall, again, exited %d", code)
	}
	mustContain(t, out, "NSS database "+db+": not present")
}

// A store that cannot take the root fails the command: here an NSS
// database with a password, which certutil cannot open without a
// terminal. furl says what to run by hand and exits non-zero.
func TestTrustFailureExitsNonZero(t *testing.T) {
	certutil := certutilBin(t)
	db := filepath.Join(t.TempDir(), "nssdb")
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(certutil, "-N", "-d", "sql:"+db, "-f", pw).CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v\n%s", err, out)
	}
	out, code := furlCommand(t, "trust", "--data-dir", t.TempDir(), "--system=false", "--nss-db", db)
	if code != 1 {
		t.Fatalf("furl trust into a password-protected database exited %d, want 1", code)
	}
	mustContain(t, out, "NSS database "+db+": failed: ")
	mustContain(t, out, "; run by hand: "+certutil+" -A -d sql:"+db+" -t C,, -n furl-local-ca-")
}

// httpsClient speaks HTTPS (HTTP/2 when the server offers it) to addr
// whatever the URL's host, trusting only roots.
func httpsClient(addr string, roots *x509.CertPool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr}
}
