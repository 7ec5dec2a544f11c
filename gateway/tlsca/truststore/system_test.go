package truststore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/furl-dev/furl/gateway/tlsca"
)

// fakeSystem is a Debian-like system store in a temporary directory whose
// update command is a script: it logs its calls and, like
// update-ca-certificates, rebuilds the bundle from the anchors.
type fakeSystem struct {
	sys     System
	log     string // the update command's calls, one a line
	sudoLog string // the fake sudo's calls
	sudo    string // a fake sudo: logs, then runs its arguments
}

func newFakeSystem(t *testing.T, update string) *fakeSystem {
	t.Helper()
	dir := t.TempDir()
	f := &fakeSystem{log: filepath.Join(dir, "update.log"), sudoLog: filepath.Join(dir, "sudo.log"), sudo: filepath.Join(dir, "sudo")}
	anchors := filepath.Join(dir, "anchors")
	bundle := filepath.Join(dir, "bundle.crt")
	if err := os.Mkdir(anchors, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"$*\" >> " + f.log + "\n" + update + "\n"
	script = strings.NewReplacer("ANCHORS", anchors, "BUNDLE", bundle).Replace(script)
	cmd := filepath.Join(dir, "fake-update-ca-certificates")
	if err := os.WriteFile(cmd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.sudo, []byte("#!/bin/sh\necho \"$*\" >> "+f.sudoLog+"\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.sys = System{Name: "Debian/Ubuntu", Dir: anchors, Ext: ".crt", Update: []string{cmd}, Bundle: bundle}
	return f
}

// rebuild is what update-ca-certificates does, for the fake: the bundle is
// every anchor.
const rebuild = "cat ANCHORS/*.crt > BUNDLE 2>/dev/null || : > BUNDLE"

func (f *fakeSystem) calls(t *testing.T, log string) []string {
	t.Helper()
	raw, err := os.ReadFile(log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
}

func (f *fakeSystem) trusts(t *testing.T, ca *tlsca.CA) bool {
	t.Helper()
	b, _ := os.ReadFile(f.sys.Bundle)
	return containsCert(b, ca.Root().Raw)
}

func (f *fakeSystem) anchor(ca *tlsca.CA) string {
	return filepath.Join(f.sys.Dir, Nickname(ca)+".crt")
}

func newCA(t *testing.T) *tlsca.CA {
	t.Helper()
	ca, err := tlsca.Load(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestSystemStore(t *testing.T) {
	type state struct {
		f       *fakeSystem
		ca      *tlsca.CA
		other   *tlsca.CA // another furl's root, installed before
		results []Result
	}
	tests := []struct {
		name      string
		update    string // the fake update command's body
		root      bool
		sudo      bool
		before    func(t *testing.T, s *state) // what the store holds first
		uninstall bool
		status    Status
		detail    string // a part of the Detail
		manual    string // the Manual, with ROOT and ANCHOR for the paths
		check     func(t *testing.T, s *state)
	}{
		{
			name: "install as root", update: rebuild, root: true,
			status: Installed, detail: "ran ",
			check: func(t *testing.T, s *state) {
				got, err := os.ReadFile(s.f.anchor(s.ca))
				if err != nil || string(got) != string(s.ca.RootPEM()) {
					t.Errorf("the anchor holds %q (%v), want the root's PEM", got, err)
				}
				if fi, err := os.Stat(s.f.anchor(s.ca)); err != nil || fi.Mode().Perm() != 0o644 {
					t.Errorf("the anchor's mode: %v %v, want 0644", fi, err)
				}
				if !s.f.trusts(t, s.ca) {
					t.Error("the bundle does not hold the root")
				}
				if c := s.f.calls(t, s.f.log); len(c) != 1 {
					t.Errorf("update ran %d times, want once", len(c))
				}
			},
		},
		{
			name: "already trusted", update: rebuild, root: true,
			before: func(t *testing.T, s *state) { install(t, s.f, s.ca) },
			status: AlreadyPresent, detail: "in ",
			check: func(t *testing.T, s *state) {
				if c := s.f.calls(t, s.f.log); len(c) != 1 {
					t.Errorf("update ran %d times, want only the first install's", len(c))
				}
			},
		},
		{
			name: "anchor written but the bundle never rebuilt", update: rebuild, root: true,
			before: func(t *testing.T, s *state) {
				if err := os.WriteFile(s.f.anchor(s.ca), s.ca.RootPEM(), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			status: Installed,
			check: func(t *testing.T, s *state) {
				if !s.f.trusts(t, s.ca) {
					t.Error("the bundle does not hold the root")
				}
			},
		},
		{
			name: "not root, no sudo: skipped with the commands", update: rebuild,
			status: Skipped, detail: "needs root", manual: "sudo install -m 0644 ROOT ANCHOR && sudo UPDATE",
			check: func(t *testing.T, s *state) {
				if _, err := os.Stat(s.f.anchor(s.ca)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the anchor was written without root: %v", err)
				}
				if c := s.f.calls(t, s.f.log); c != nil {
					t.Errorf("update ran without root: %q", c)
				}
			},
		},
		{
			name: "not root, through sudo", update: rebuild, sudo: true,
			status: Installed,
			check: func(t *testing.T, s *state) {
				want := []string{"install -m 0644 " + s.ca.RootPath() + " " + s.f.anchor(s.ca), s.f.sys.Update[0]}
				if got := s.f.calls(t, s.f.sudoLog); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("sudo ran %q, want %q", got, want)
				}
				if !s.f.trusts(t, s.ca) {
					t.Error("the bundle does not hold the root")
				}
			},
		},
		{
			name: "update fails", update: "echo boom >&2; exit 3", root: true,
			status: Failed, detail: "exit status 3: boom", manual: "install -m 0644 ROOT ANCHOR && UPDATE",
		},
		{
			name: "update runs but the bundle lacks the root", update: ": > BUNDLE", root: true,
			status: Failed, detail: "does not hold the root", manual: "install -m 0644 ROOT ANCHOR && UPDATE",
		},
		{
			name: "uninstall as root", update: rebuild, root: true, uninstall: true,
			before: func(t *testing.T, s *state) { install(t, s.f, s.ca) },
			status: Removed,
			check: func(t *testing.T, s *state) {
				if _, err := os.Stat(s.f.anchor(s.ca)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the anchor is still there: %v", err)
				}
				if s.f.trusts(t, s.ca) {
					t.Error("the bundle still holds the root")
				}
			},
		},
		{
			name: "uninstall leaves another root alone", update: rebuild, root: true, uninstall: true,
			before: func(t *testing.T, s *state) {
				s.other = newCA(t)
				install(t, s.f, s.other)
				install(t, s.f, s.ca)
			},
			status: Removed,
			check: func(t *testing.T, s *state) {
				if !s.f.trusts(t, s.other) {
					t.Error("removing one root removed the other from the bundle")
				}
				if _, err := os.Stat(s.f.anchor(s.other)); err != nil {
					t.Errorf("the other root's anchor: %v", err)
				}
			},
		},
		{
			name: "uninstall when not present", update: rebuild, uninstall: true,
			status: NotPresent,
			check: func(t *testing.T, s *state) {
				if c := s.f.calls(t, s.f.log); c != nil {
					t.Errorf("update ran for nothing: %q", c)
				}
			},
		},
		{
			name: "uninstall, not root: skipped with the commands", update: rebuild, uninstall: true,
			before: func(t *testing.T, s *state) { install(t, s.f, s.ca) },
			status: Skipped, manual: "sudo rm -f ANCHOR && sudo UPDATE",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &state{f: newFakeSystem(t, tc.update), ca: newCA(t)}
			if tc.before != nil {
				tc.before(t, s)
			}
			tr := &Truster{GOOS: "linux", Systems: []System{s.f.sys}, Root: tc.root}
			if tc.sudo {
				tr.Sudo = s.f.sudo
			}
			s.results = tr.Run(context.Background(), s.ca, Request{System: true, Uninstall: tc.uninstall})
			if len(s.results) != 1 {
				t.Fatalf("%d results, want 1: %v", len(s.results), s.results)
			}
			r := s.results[0]
			if r.Status != tc.status || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("got %s, want status %q with detail containing %q", r, tc.status, tc.detail)
			}
			want := strings.NewReplacer("ROOT", s.ca.RootPath(), "ANCHOR", s.f.anchor(s.ca), "UPDATE", s.f.sys.Update[0]).Replace(tc.manual)
			if r.Manual != want {
				t.Errorf("manual command %q, want %q", r.Manual, want)
			}
			if AnyFailed(s.results) != (tc.status == Failed) {
				t.Errorf("AnyFailed = %v for %s", AnyFailed(s.results), r.Status)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

// install puts ca in the fake store as root would.
func install(t *testing.T, f *fakeSystem, ca *tlsca.CA) {
	t.Helper()
	tr := &Truster{GOOS: "linux", Systems: []System{f.sys}, Root: true}
	if r := tr.Run(context.Background(), ca, Request{System: true}); r[0].Status != Installed {
		t.Fatalf("setting up: %s", r[0])
	}
}

func TestSystemDetection(t *testing.T) {
	dir := t.TempDir()
	debian, fedora, arch := filepath.Join(dir, "debian"), filepath.Join(dir, "fedora"), filepath.Join(dir, "arch")
	systems := []System{
		{Name: "Debian/Ubuntu", Dir: debian, Update: []string{"update-ca-certificates"}},
		{Name: "Fedora/RHEL", Dir: fedora, Update: []string{"update-ca-trust", "extract"}},
		{Name: "Arch", Dir: arch, Update: []string{"update-ca-trust", "extract"}},
	}
	tests := []struct {
		name     string
		goos     string
		dirs     []string
		commands []string
		want     string // the Store of the result, or a part of a Skipped's Detail
	}{
		{"debian", "linux", []string{debian}, []string{"update-ca-certificates"}, "Debian/Ubuntu"},
		{"fedora", "linux", []string{fedora}, []string{"update-ca-trust"}, "Fedora/RHEL"},
		{"arch", "linux", []string{arch}, []string{"update-ca-trust"}, "Arch"},
		{"debian's directory without its command", "linux", []string{debian, fedora}, []string{"update-ca-trust"}, "Fedora/RHEL"},
		{"the first that applies wins", "linux", []string{debian, fedora}, []string{"update-ca-certificates", "update-ca-trust"}, "Debian/Ubuntu"},
		{"none", "linux", nil, []string{"update-ca-certificates"}, "no known one on this Linux"},
		{"macOS", "darwin", []string{debian}, []string{"update-ca-certificates"}, "not supported on darwin yet"},
		{"Windows", "windows", nil, nil, "not supported on windows yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range []string{debian, fedora, arch} {
				os.RemoveAll(d)
			}
			for _, d := range tc.dirs {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			ca := newCA(t)
			tr := &Truster{GOOS: tc.goos, Systems: systems, LookPath: func(name string) (string, error) {
				for _, c := range tc.commands {
					if c == name {
						return "/nonexistent/" + name, nil
					}
				}
				return "", errors.New("not found")
			}}
			// Not root and no sudo: detection only, nothing runs.
			r := tr.Run(context.Background(), ca, Request{System: true})[0]
			if r.Status == Skipped && r.Manual == "" {
				if !strings.Contains(r.Detail, tc.want) || !strings.Contains(r.Detail, ca.RootPath()) {
					t.Fatalf("got %s, want a skip saying %q and naming the root's file", r, tc.want)
				}
				return
			}
			if !strings.HasPrefix(r.Store, "system store ("+tc.want+", ") {
				t.Fatalf("got %s, want the %s store", r, tc.want)
			}
		})
	}
}
