package truststore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// System is one Linux family's system trust store: a directory of anchor
// certificates that the administrator adds to, and the command that
// rebuilds from it the bundle that curl, Go, Python and OpenSSL read.
type System struct {
	// Name is the family, for the report: "Debian/Ubuntu".
	Name string
	// Dir is the anchor directory; the root goes there as
	// <nickname><Ext>.
	Dir string
	// Ext is the extension the update command picks files by.
	Ext string
	// Update rebuilds the bundle from Dir; its first word is looked up
	// on PATH (and in /usr/sbin and /sbin).
	Update []string
	// Bundle is the PEM file Update writes. furl reads it to tell whether
	// the root is trusted, and to check that an update took.
	Bundle string
}

// LinuxSystems are the system stores furl knows, in the order they are
// tried. Arch's is its anchor directory with update-ca-trust, which is
// what "trust anchor --store" amounts to, and which undoes as simply (a
// file removed, the same command run) as the others.
func LinuxSystems() []System {
	return []System{
		{
			Name:   "Debian/Ubuntu",
			Dir:    "/usr/local/share/ca-certificates",
			Ext:    ".crt", // update-ca-certificates reads only *.crt here
			Update: []string{"update-ca-certificates"},
			Bundle: "/etc/ssl/certs/ca-certificates.crt",
		},
		{
			Name:   "Fedora/RHEL",
			Dir:    "/etc/pki/ca-trust/source/anchors",
			Ext:    ".pem",
			Update: []string{"update-ca-trust", "extract"},
			Bundle: "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		},
		{
			Name:   "Arch",
			Dir:    "/etc/ca-certificates/trust-source/anchors",
			Ext:    ".crt",
			Update: []string{"update-ca-trust", "extract"},
			Bundle: "/etc/ssl/certs/ca-certificates.crt",
		},
	}
}

// detect is the first of t.Systems present on this machine, with the path
// of its update command.
func (t *Truster) detect() (System, string, bool) {
	for _, s := range t.Systems {
		if fi, err := os.Stat(s.Dir); err != nil || !fi.IsDir() {
			continue
		}
		if p, err := t.lookPath(s.Update[0]); err == nil {
			return s, p, true
		}
	}
	return System{}, "", false
}

func (t *Truster) system(ctx context.Context, r root, uninstall bool) Result {
	if t.GOOS != "linux" {
		return Result{Store: "system store", Status: Skipped,
			Detail: fmt.Sprintf("not supported on %s yet; add %s to the system's trusted roots by hand", t.GOOS, r.path)}
	}
	s, update, ok := t.detect()
	if !ok {
		var looked []string
		for _, s := range t.Systems {
			looked = append(looked, s.Dir+" with "+s.Update[0])
		}
		return Result{Store: "system store", Status: Skipped,
			Detail: fmt.Sprintf("no known one on this Linux (looked for %s); add %s to the system's trusted roots by hand", strings.Join(looked, ", "), r.path)}
	}
	res := Result{Store: fmt.Sprintf("system store (%s, %s)", s.Name, s.Dir)}
	dst := filepath.Join(s.Dir, r.name+s.Ext)
	file, err := os.ReadFile(dst)
	ours := err == nil && bytes.Equal(file, r.pem)
	bundle, _ := os.ReadFile(s.Bundle)
	trusted := containsCert(bundle, r.der)

	// The steps, as commands for sudo or the user; as root furl writes or
	// removes the file itself.
	var steps [][]string
	switch {
	case !uninstall && trusted:
		res.Status, res.Detail = AlreadyPresent, "in "+s.Bundle
		return res
	case !uninstall && !ours:
		steps = append(steps, []string{"install", "-m", "0644", r.path, dst})
	case uninstall && err != nil:
		res.Status, res.Detail = NotPresent, "no "+dst
		if trusted {
			res.Detail += fmt.Sprintf(" (but %s holds the root from another file)", s.Bundle)
		}
		return res
	case uninstall:
		steps = append(steps, []string{"rm", "-f", dst})
	}
	steps = append(steps, s.Update)

	switch {
	case t.Root:
		res.Manual = joinSteps("", steps)
		err = t.systemAsRoot(ctx, r, dst, update, s.Update[1:], uninstall)
	case t.Sudo != "":
		res.Manual = joinSteps("sudo", steps)
		err = t.systemWithSudo(ctx, steps)
	default:
		res.Status = Skipped
		res.Detail = "changing it needs root (or furl trust --sudo)"
		res.Manual = joinSteps("sudo", steps)
		return res
	}
	if err == nil {
		err = checkBundle(s.Bundle, r.der, !uninstall)
	}
	if err != nil {
		res.Status, res.Detail = Failed, err.Error()
		return res
	}
	res.Manual = ""
	if uninstall {
		res.Status, res.Detail = Removed, fmt.Sprintf("removed %s, ran %s", dst, strings.Join(s.Update, " "))
	} else {
		res.Status, res.Detail = Installed, fmt.Sprintf("wrote %s, ran %s", dst, strings.Join(s.Update, " "))
	}
	return res
}

func (t *Truster) systemAsRoot(ctx context.Context, r root, dst, update string, updateArgs []string, uninstall bool) error {
	if uninstall {
		if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove the root: %w", err)
		}
	} else if err := writeFile(dst, r.pem); err != nil {
		return err
	}
	return run(ctx, append([]string{update}, updateArgs...))
}

func (t *Truster) systemWithSudo(ctx context.Context, steps [][]string) error {
	for _, s := range steps {
		if err := run(ctx, append([]string{t.Sudo}, s...)); err != nil {
			return err
		}
	}
	return nil
}

// writeFile puts data at path whole or not at all, readable by all, as the
// other anchors are.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".furl-*")
	if err != nil {
		return fmt.Errorf("write the root: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write the root: %w", err)
	}
	return nil
}

// checkBundle confirms that the update did what it was run for: that the
// bundle holds the root (want) or no longer does.
func checkBundle(path string, der []byte, want bool) error {
	bundle, err := os.ReadFile(path)
	if err != nil && want {
		return fmt.Errorf("read %s after the update: %w", path, err)
	}
	switch got := containsCert(bundle, der); {
	case want && !got:
		return fmt.Errorf("the update ran, but %s does not hold the root", path)
	case !want && got:
		return fmt.Errorf("the update ran, but %s still holds the root (from another file in the anchor directory?)", path)
	}
	return nil
}

// joinSteps renders steps as one shell line, each through prefix.
func joinSteps(prefix string, steps [][]string) string {
	lines := make([]string, len(steps))
	for i, s := range steps {
		if prefix != "" {
			s = append([]string{prefix}, s...)
		}
		lines[i] = shellJoin(s)
	}
	return strings.Join(lines, " && ")
}
