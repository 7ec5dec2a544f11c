package truststore

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/furl-dev/furl/gateway/tlsca"
)

// certutil finds NSS's certutil. Without it the test skips, unless
// FURL_E2E_REQUIRE_CERTUTIL is set (scripts/test.sh sets it and installs
// libnss3-tools) and then it fails.
func certutil(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("certutil")
	if err == nil {
		return p
	}
	if os.Getenv("FURL_E2E_REQUIRE_CERTUTIL") != "" {
		t.Fatal("no certutil found (install Debian's libnss3-tools; scripts/test.sh does)")
	}
	t.Skip("no certutil found; scripts/test.sh installs libnss3-tools")
	return ""
}

// newDB creates an empty NSS database in dir, as a browser would.
func newDB(t *testing.T, certutil, dir string, args ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if len(args) == 0 {
		args = []string{"--empty-password"}
	}
	if out, err := exec.Command(certutil, append([]string{"-N", "-d", "sql:" + dir}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v: %s", err, out)
	}
}

// listed is the database's nicknames and their trust, as certutil -L
// shows them, read independently of the code under test.
func listed(t *testing.T, certutil, dir string) map[string]string {
	t.Helper()
	out, err := exec.Command(certutil, "-L", "-d", "sql:"+dir).CombinedOutput()
	if err != nil {
		t.Fatalf("certutil -L: %v: %s", err, out)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && strings.HasPrefix(f[0], "furl-") {
			m[f[0]] = f[1]
		}
	}
	return m
}

func TestNSSDiscoveredDatabases(t *testing.T) {
	cu := certutil(t)
	home := t.TempDir()
	firefox := filepath.Join(home, ".mozilla", "firefox", "abc.default-release")
	snapChromium := filepath.Join(home, "snap", "chromium", "current", ".pki", "nssdb")
	snapFirefox := filepath.Join(home, "snap", "firefox", "common", ".mozilla", "firefox", "xyz.default")
	for _, d := range []string{firefox, snapChromium, snapFirefox} {
		newDB(t, cu, d)
	}
	// A profile of a Firefox before 58, with only the legacy database,
	// is left alone.
	legacy := filepath.Join(home, ".mozilla", "firefox", "old.default")
	if err := os.MkdirAll(legacy, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(legacy, "cert8.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	chromium := filepath.Join(home, ".pki", "nssdb") // absent: created

	ca := newCA(t)
	tr := &Truster{GOOS: "linux", Home: home, Certutil: cu}
	results := tr.Run(context.Background(), ca, Request{NSS: true})
	want := []string{
		"NSS database " + chromium + " (Chromium)",
		"NSS database " + snapChromium + " (snap Chromium)",
		"NSS database " + firefox + " (Firefox)",
		"NSS database " + snapFirefox + " (snap Firefox)",
	}
	if len(results) != len(want) {
		t.Fatalf("results:\n%v\nwant one for each of:\n%s", results, strings.Join(want, "\n"))
	}
	nick := Nickname(ca)
	for i, r := range results {
		if r.Store != want[i] || r.Status != Installed {
			t.Errorf("result %d: %s; want %s installed", i, r, want[i])
		}
	}
	for _, d := range []string{chromium, snapChromium, firefox, snapFirefox} {
		if got := listed(t, cu, d)[nick]; got != "C,," {
			t.Errorf("%s: %s has trust %q, want C,,", d, nick, got)
		}
	}
	if _, err := os.Stat(filepath.Join(legacy, "cert9.db")); !os.IsNotExist(err) {
		t.Errorf("the legacy profile got a new database: %v", err)
	}

	results = tr.Run(context.Background(), ca, Request{NSS: true, Uninstall: true})
	for i, r := range results {
		if r.Status != Removed {
			t.Errorf("uninstall, result %d: %s; want removed", i, r)
		}
	}
	for _, d := range []string{chromium, snapChromium, firefox, snapFirefox} {
		if got, ok := listed(t, cu, d)[nick]; ok {
			t.Errorf("%s still holds %s (trust %q)", d, nick, got)
		}
	}
}

func TestNSSDatabase(t *testing.T) {
	cu := certutil(t)
	type state struct {
		db    string
		ca    *tlsca.CA
		other *tlsca.CA
	}
	tests := []struct {
		name      string
		certutil  string // "" for the real one; "none" for none installed; "lying" for one whose -A adds nothing
		before    func(t *testing.T, s *state)
		uninstall bool
		status    Status
		detail    string
		manual    bool
		check     func(t *testing.T, s *state)
	}{
		{
			name: "install into a new database", status: Installed, detail: `with trust C,,`,
		},
		{
			name:   "install again: already present, once",
			before: func(t *testing.T, s *state) { installNSS(t, cu, s.db, s.ca) },
			status: AlreadyPresent,
			check: func(t *testing.T, s *state) {
				out, err := exec.Command(cu, "-L", "-d", "sql:"+s.db).Output()
				if err != nil || strings.Count(string(out), Nickname(s.ca)) != 1 {
					t.Errorf("the root is listed %d times, want once: %v\n%s", strings.Count(string(out), Nickname(s.ca)), err, out)
				}
			},
		},
		{
			name: "present without trust: trust set",
			before: func(t *testing.T, s *state) {
				newDB(t, cu, s.db)
				certutilRun(t, cu, "-A", "-d", "sql:"+s.db, "-t", ",,", "-n", Nickname(s.ca), "-i", s.ca.RootPath())
			},
			status: Installed,
		},
		{
			name: "a second root sits beside the first",
			before: func(t *testing.T, s *state) {
				s.other = newCA(t)
				installNSS(t, cu, s.db, s.other)
			},
			status: Installed,
			check: func(t *testing.T, s *state) {
				if got := listed(t, cu, s.db)[Nickname(s.other)]; got != "C,," {
					t.Errorf("the first root's trust is %q after the second came, want C,,", got)
				}
			},
		},
		{
			name: "uninstall removes only this root", uninstall: true,
			before: func(t *testing.T, s *state) {
				s.other = newCA(t)
				installNSS(t, cu, s.db, s.other)
				installNSS(t, cu, s.db, s.ca)
			},
			status: Removed,
			check: func(t *testing.T, s *state) {
				if got := listed(t, cu, s.db)[Nickname(s.other)]; got != "C,," {
					t.Errorf("the other root's trust is %q after uninstall, want C,,", got)
				}
			},
		},
		{
			name: "uninstall when absent", uninstall: true,
			before: func(t *testing.T, s *state) { newDB(t, cu, s.db) },
			status: NotPresent,
		},
		{
			name: "uninstall without a database", uninstall: true, status: NotPresent, detail: "no database",
			check: func(t *testing.T, s *state) {
				if hasDB(s.db) {
					t.Error("uninstall created a database")
				}
			},
		},
		{
			name: "another certificate under the nickname is left alone",
			before: func(t *testing.T, s *state) {
				newDB(t, cu, s.db)
				s.other = newCA(t)
				certutilRun(t, cu, "-A", "-d", "sql:"+s.db, "-t", "C,,", "-n", Nickname(s.ca), "-i", s.other.RootPath())
			},
			status: Failed, detail: "another certificate",
			check: func(t *testing.T, s *state) {
				out, err := exec.Command(cu, "-L", "-d", "sql:"+s.db, "-n", Nickname(s.ca), "-a").Output()
				if b, _ := pem.Decode(out); err != nil || b == nil || !bytes.Equal(b.Bytes, s.other.Root().Raw) {
					t.Errorf("the other certificate changed: %v\n%s", err, out)
				}
			},
		},
		{
			name: "a database with a password: fails, with the command to run",
			before: func(t *testing.T, s *state) {
				pw := filepath.Join(t.TempDir(), "pw")
				if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				newDB(t, cu, s.db, "-f", pw)
			},
			status: Failed, detail: "certutil", manual: true,
		},
		{
			name: "no certutil", certutil: "none", status: Failed, detail: "libnss3-tools",
		},
		{
			name: "certutil -A succeeds but adds nothing", certutil: "lying", status: Failed, detail: "after certutil -A", manual: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &state{db: filepath.Join(t.TempDir(), "nssdb"), ca: newCA(t)}
			if tc.before != nil {
				tc.before(t, s)
			}
			tr := &Truster{GOOS: "linux", Certutil: cu}
			switch tc.certutil {
			case "none":
				tr.Certutil = ""
			case "lying":
				tr.Certutil = filepath.Join(t.TempDir(), "certutil")
				script := "#!/bin/sh\n[ \"$1\" = -A ] && exit 0\nexec " + cu + " \"$@\"\n"
				if err := os.WriteFile(tr.Certutil, []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			results := tr.Run(context.Background(), s.ca, Request{NSS: true, NSSDBs: []string{s.db}, Uninstall: tc.uninstall})
			if len(results) != 1 {
				t.Fatalf("%d results, want 1: %v", len(results), results)
			}
			r := results[0]
			if r.Store != "NSS database "+s.db || r.Status != tc.status || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("got %s; want status %q with detail containing %q", r, tc.status, tc.detail)
			}
			if tc.manual && !strings.Contains(r.Manual, " -A -d sql:"+s.db+" -t C,, -n "+Nickname(s.ca)+" -i "+s.ca.RootPath()) {
				t.Errorf("manual command %q does not add the root", r.Manual)
			}
			var trust string
			var present bool
			if hasDB(s.db) {
				trust, present = listed(t, cu, s.db)[Nickname(s.ca)]
			}
			switch {
			case tc.status == Installed || tc.status == AlreadyPresent:
				if trust != "C,," {
					t.Errorf("after %s, the root has trust %q (present %v), want C,,", r.Status, trust, present)
				}
			case tc.status == Removed || tc.status == NotPresent:
				if present {
					t.Errorf("after %s, the root is still there", r.Status)
				}
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func certutilRun(t *testing.T, cu string, args ...string) {
	t.Helper()
	if out, err := exec.Command(cu, args...).CombinedOutput(); err != nil {
		t.Fatalf("certutil %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// installNSS installs ca into the database in dir with the code under test.
func installNSS(t *testing.T, cu, dir string, ca *tlsca.CA) {
	t.Helper()
	tr := &Truster{GOOS: "linux", Certutil: cu}
	if r := tr.Run(context.Background(), ca, Request{NSS: true, NSSDBs: []string{dir}}); r[0].Status != Installed {
		t.Fatalf("setting up: %s", r[0])
	}
}
