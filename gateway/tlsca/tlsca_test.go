package tlsca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoadCreatesOnceAndKeepsTheKeyPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls", "ca")
	if Exists(dir) {
		t.Fatal("Exists before Load")
	}
	ca, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !Exists(dir) {
		t.Fatal("no CA after Load")
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, want 0600", fi.Mode().Perm())
	}
	root := ca.Root()
	if !root.IsCA || !root.MaxPathLenZero || root.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("root is not a path-length-0 CA: IsCA=%v MaxPathLenZero=%v usage=%v", root.IsCA, root.MaxPathLenZero, root.KeyUsage)
	}
	if life := root.NotAfter.Sub(root.NotBefore); life < 9*365*24*time.Hour {
		t.Errorf("root lives %v, want years", life)
	}
	again, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Fingerprint() != ca.Fingerprint() {
		t.Errorf("a second Load made a new root: %s, then %s", ca.Fingerprint(), again.Fingerprint())
	}
	if len(strings.Split(ca.Fingerprint(), ":")) != 32 {
		t.Errorf("fingerprint %q is not 32 hex pairs", ca.Fingerprint())
	}
}

func TestLoadRefusesAMismatchedKey(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if _, err := Load(a); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(b); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(b, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, keyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(a); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("Load with another root's key: err = %v, want a mismatch", err)
	}
}

// served is an Allow that accepts the given names and counts its calls.
type served struct {
	names map[string]bool
	calls atomic.Int64
}

func (s *served) allow(_ context.Context, name string) error {
	s.calls.Add(1)
	if s.names[name] {
		return nil
	}
	return errors.New("furl does not serve this name")
}

// tlsServer serves TLS with m on a loopback port and answers every
// connection with "ok".
func tlsServer(t *testing.T, m *Manager) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", m.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := c.(*tls.Conn).Handshake(); err == nil {
					io.WriteString(c, "ok")
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func newManager(t *testing.T, dir string, s *served) *Manager {
	t.Helper()
	m, err := New(Config{Dir: dir, Allow: s.allow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func dial(addr, sni string, roots *x509.CertPool) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: sni, RootCAs: roots, NextProtos: []string{"h2"}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

func TestHandshakesGetCertificatesOnlyForServedNames(t *testing.T) {
	dir := t.TempDir()
	s := &served{names: map[string]bool{"abc.lambda-url.us-east-1.localhost": true, "localhost": true, "127.0.0.1": true}}
	m := newManager(t, dir, s)
	addr := tlsServer(t, m)
	roots := x509.NewCertPool()
	roots.AddCert(m.CA().Root())

	leaf, err := dial(addr, "abc.lambda-url.us-east-1.localhost", roots)
	if err != nil {
		t.Fatalf("handshake for a served name: %v", err)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 8*24*time.Hour {
		t.Errorf("leaf lives %v, want about a week", life)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "abc.lambda-url.us-east-1.localhost" {
		t.Errorf("leaf names %v, want just the name asked for", leaf.DNSNames)
	}
	if _, err := dial(addr, "localhost", roots); err != nil {
		t.Errorf("handshake for localhost: %v", err)
	}
	// A client that sends no SNI (it dialled an IP address) gets the
	// certificate of the address it reached; Go's client verifies it
	// against the IP.
	if _, err := dial(addr, "127.0.0.1", roots); err != nil {
		t.Errorf("handshake for 127.0.0.1: %v", err)
	}

	before := s.calls.Load()
	for _, name := range []string{"evil.example", "zzz.lambda-url.us-east-1.localhost"} {
		if _, err := dial(addr, name, roots); err == nil {
			t.Errorf("handshake for unserved %q succeeded", name)
		}
	}
	if s.calls.Load() == before {
		t.Error("unserved names were refused without asking Allow")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "certs", "certificates"))
	var kept []string
	for _, e := range entries {
		sub, _ := os.ReadDir(filepath.Join(dir, "certs", "certificates", e.Name()))
		for _, f := range sub {
			kept = append(kept, f.Name())
		}
	}
	for _, k := range kept {
		if strings.Contains(k, "evil") || strings.Contains(k, "zzz") {
			t.Errorf("a certificate was kept for an unserved name: %v", kept)
		}
	}
}

func TestLeavesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	s := &served{names: map[string]bool{"localhost": true}}
	m := newManager(t, dir, s)
	roots := x509.NewCertPool()
	roots.AddCert(m.CA().Root())
	first, err := dial(tlsServer(t, m), "localhost", roots)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()

	m2 := newManager(t, dir, s)
	second, err := dial(tlsServer(t, m2), "localhost", roots)
	if err != nil {
		t.Fatalf("after a restart, the same root does not verify: %v", err)
	}
	if first.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Errorf("a restart issued a new leaf (serial %v, then %v) instead of loading the kept one", first.SerialNumber, second.SerialNumber)
	}
}

func TestSignRefusesWhatAllowRefuses(t *testing.T) {
	ca, err := Load(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	s := &served{names: map[string]bool{"localhost": true}}
	csr := request(t, []string{"localhost", "bank.example"})
	if _, err := ca.Sign(context.Background(), csr, s.allow); err == nil {
		t.Fatal("signed a request that names an unserved host beside a served one")
	}
}

// TestRootIsNameConstrained: whoever reads the root's key can sign, but
// what they sign verifies only for local names, so the root in the user's
// trust stores cannot vouch for anyone else's site.
func TestRootIsNameConstrained(t *testing.T) {
	ca, err := LoadFor(filepath.Join(t.TempDir(), "ca"), []string{"devbox.lan", "192.168.1.20"})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	anything := func(context.Context, string) error { return nil }
	for _, tc := range []struct {
		name   string
		covers bool
	}{
		{"localhost", true},
		{"abc.lambda-url.us-east-1.localhost", true},
		{"127.0.0.1", true},
		{"::1", true},
		{"devbox.lan", true},
		{"abc.lambda-url.us-east-1.devbox.lan", true},
		{"192.168.1.20", true},
		{"bank.example", false},
		{"abc.lambda-url.us-east-1.on.aws", false},
		{"localhost.bank.example", false},
		{"192.168.1.21", false},
		{"8.8.8.8", false},
	} {
		if got := ca.Covers(tc.name); got != tc.covers {
			t.Errorf("Covers(%q) = %v, want %v", tc.name, got, tc.covers)
		}
		// Sign bypassing every check, as a thief of the key would, and
		// verify as a client does.
		var csr *x509.CertificateRequest
		if ip := net.ParseIP(tc.name); ip != nil {
			csr = requestIP(t, ip)
		} else {
			csr = request(t, []string{tc.name})
		}
		chain, err := ca.Sign(context.Background(), csr, anything)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(chain)
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		_, err = leaf.Verify(x509.VerifyOptions{DNSName: tc.name, Roots: roots})
		if (err == nil) != tc.covers {
			t.Errorf("a leaf for %q verifies: %v, want %v", tc.name, err, tc.covers)
		}
	}
}

func TestManagerRefusesNamesTheRootCannotCover(t *testing.T) {
	s := &served{names: map[string]bool{"bank.example": true, "localhost": true}}
	m := newManager(t, t.TempDir(), s)
	roots := x509.NewCertPool()
	roots.AddCert(m.CA().Root())
	addr := tlsServer(t, m)
	if _, err := dial(addr, "bank.example", roots); err == nil {
		t.Error("a name Allow accepts but the root cannot cover got a certificate")
	}
	if _, err := dial(addr, "localhost", roots); err != nil {
		t.Errorf("localhost: %v", err)
	}
}

// TestLeafRenewedBeforeItExpires: a leaf in the last third of its life is
// replaced by a new one at a handshake, from the same root.
func TestLeafRenewedBeforeItExpires(t *testing.T) {
	s := &served{names: map[string]bool{"localhost": true}}
	m := newManager(t, t.TempDir(), s)
	// Valid from an hour ago for an hour and two minutes: already in its
	// renewal window when issued.
	m.ca.leafLife.Store(int64(2 * time.Minute))
	roots := x509.NewCertPool()
	roots.AddCert(m.CA().Root())
	addr := tlsServer(t, m)
	first, err := dial(addr, "localhost", roots)
	if err != nil {
		t.Fatal(err)
	}
	m.ca.leafLife.Store(int64(LeafLifetime))
	deadline := time.Now().Add(20 * time.Second)
	for {
		leaf, err := dial(addr, "localhost", roots)
		if err != nil {
			t.Fatal(err)
		}
		if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			if leaf.NotAfter.Sub(leaf.NotBefore) < 24*time.Hour {
				t.Errorf("the renewed leaf lives %v", leaf.NotAfter.Sub(leaf.NotBefore))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a leaf in its renewal window was never renewed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
