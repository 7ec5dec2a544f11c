package truststore

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// nssTrust is the trust furl's root gets in an NSS database: a CA trusted
// to issue server certificates, and nothing else (no S/MIME, no code
// signing).
const nssTrust = "C,,"

// certutilMissing says how to get certutil on the common families.
const certutilMissing = "certutil (NSS's tools) is not installed: install it with " +
	"sudo apt-get install libnss3-tools (Debian/Ubuntu), sudo dnf install nss-tools (Fedora/RHEL) " +
	"or sudo pacman -S nss (Arch), then run furl trust again"

// nssDB is one NSS database to act on.
type nssDB struct {
	dir string
	// of names the program that reads it, for the report.
	of string
	// create says whether to create the database when it does not exist
	// yet: for the one Chromium reads (it would create it there itself)
	// and those the user named.
	create bool
}

// nssDBs are the databases req names, or those discovered under Home:
// Chromium's (also snap Chromium's) and every Firefox profile's (also snap
// Firefox's).
func (t *Truster) nssDBs(req Request) []nssDB {
	if len(req.NSSDBs) > 0 {
		dbs := make([]nssDB, len(req.NSSDBs))
		for i, d := range req.NSSDBs {
			dbs[i] = nssDB{dir: d, create: true}
		}
		return dbs
	}
	if t.Home == "" {
		return nil
	}
	dbs := []nssDB{{dir: filepath.Join(t.Home, ".pki", "nssdb"), of: "Chromium", create: true}}
	if d := filepath.Join(t.Home, "snap", "chromium", "current", ".pki", "nssdb"); hasDB(d) {
		dbs = append(dbs, nssDB{dir: d, of: "snap Chromium"})
	}
	for _, ff := range []struct{ dir, of string }{
		{filepath.Join(t.Home, ".mozilla", "firefox"), "Firefox"},
		{filepath.Join(t.Home, "snap", "firefox", "common", ".mozilla", "firefox"), "snap Firefox"},
	} {
		// Profiles using the legacy cert8.db predate Firefox 58 and are
		// left alone.
		matches, _ := filepath.Glob(filepath.Join(ff.dir, "*", "cert9.db"))
		for _, m := range matches {
			dbs = append(dbs, nssDB{dir: filepath.Dir(m), of: ff.of})
		}
	}
	return dbs
}

func hasDB(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "cert9.db"))
	return err == nil
}

func (t *Truster) nss(ctx context.Context, r root, req Request) []Result {
	if len(req.NSSDBs) == 0 && t.GOOS != "linux" {
		return []Result{{Store: "NSS databases", Status: Skipped,
			Detail: fmt.Sprintf("finding them is not supported on %s yet; name one with --nss-db, or import %s into the browser by hand", t.GOOS, r.path)}}
	}
	dbs := t.nssDBs(req)
	if len(dbs) == 0 {
		return []Result{{Store: "NSS databases", Status: Skipped, Detail: "no home directory to find them in"}}
	}
	results := make([]Result, len(dbs))
	for i, db := range dbs {
		results[i] = t.nssOne(ctx, r, db, req.Uninstall)
	}
	return results
}

func (t *Truster) nssOne(ctx context.Context, r root, db nssDB, uninstall bool) Result {
	res := Result{Store: "NSS database " + db.dir}
	if db.of != "" {
		res.Store += " (" + db.of + ")"
	}
	exists := hasDB(db.dir)
	switch {
	case uninstall && !exists:
		res.Status, res.Detail = NotPresent, "no database there"
		return res
	case t.Certutil == "":
		res.Status, res.Detail = Failed, certutilMissing
		return res
	}
	sqlDir := "sql:" + db.dir
	add := []string{t.Certutil, "-A", "-d", sqlDir, "-t", nssTrust, "-n", r.name, "-i", r.path}
	del := []string{t.Certutil, "-D", "-d", sqlDir, "-n", r.name}
	if !exists {
		if err := t.createDB(ctx, db.dir); err != nil {
			res.Status, res.Detail = Failed, err.Error()
			res.Manual = shellJoin([]string{"mkdir", "-p", db.dir}) + " && " +
				shellJoin([]string{t.Certutil, "-N", "--empty-password", "-d", sqlDir}) + " && " + shellJoin(add)
			return res
		}
	}
	trust, found, err := t.lookup(ctx, db.dir, r)
	if err != nil {
		res.Status, res.Detail = Failed, err.Error()
		return res
	}
	if uninstall {
		if !found {
			res.Status = NotPresent
			return res
		}
		err := run(ctx, del)
		if err == nil {
			if _, still, lerr := t.lookup(ctx, db.dir, r); lerr != nil {
				err = lerr
			} else if still {
				err = fmt.Errorf("%q is still there after certutil -D", r.name)
			}
		}
		if err != nil {
			res.Status, res.Detail, res.Manual = Failed, err.Error(), shellJoin(del)
			return res
		}
		res.Status, res.Detail = Removed, fmt.Sprintf("deleted %q", r.name)
		return res
	}
	if found && trust == nssTrust {
		res.Status, res.Detail = AlreadyPresent, fmt.Sprintf("as %q with trust %s", r.name, trust)
		return res
	}
	// certutil -A also sets the trust of a certificate already there (as
	// one whose trust was never set, when its database asked for a
	// password furl could not give).
	err = run(ctx, add)
	if err == nil {
		if trust, found, err = t.lookup(ctx, db.dir, r); err == nil && (!found || trust != nssTrust) {
			err = fmt.Errorf("after certutil -A, %q has trust %q, not %s", r.name, trust, nssTrust)
		}
	}
	if err != nil {
		// A database with a password needs certutil run where it can ask.
		res.Status, res.Detail, res.Manual = Failed, err.Error(), shellJoin(add)
		return res
	}
	res.Status, res.Detail = Installed, fmt.Sprintf("as %q with trust %s", r.name, nssTrust)
	return res
}

// createDB makes an empty database, without a password, as Chromium would.
func (t *Truster) createDB(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the database: %w", err)
	}
	if err := run(ctx, []string{t.Certutil, "-N", "--empty-password", "-d", "sql:" + dir}); err != nil {
		return fmt.Errorf("create the database: %w", err)
	}
	return nil
}

// lookup finds the root's nickname in the database: whether it is there,
// and with what trust. A certificate under that nickname that is not this
// root is an error: furl leaves what it did not put there alone.
func (t *Truster) lookup(ctx context.Context, dir string, r root) (trust string, found bool, err error) {
	list, err := exec.CommandContext(ctx, t.Certutil, "-L", "-d", "sql:"+dir).CombinedOutput()
	if err != nil {
		return "", false, fmt.Errorf("certutil -L: %w: %s", err, strings.Join(strings.Fields(string(list)), " "))
	}
	for _, line := range strings.Split(string(list), "\n") {
		line = strings.TrimSpace(line)
		i := strings.LastIndexAny(line, " \t")
		if i < 0 || strings.TrimSpace(line[:i]) != r.name {
			continue
		}
		trust, found = line[i+1:], true
	}
	if !found {
		return "", false, nil
	}
	out, err := exec.CommandContext(ctx, t.Certutil, "-L", "-d", "sql:"+dir, "-n", r.name, "-a").Output()
	if err != nil {
		return "", false, fmt.Errorf("certutil -L -n %s: %w", r.name, err)
	}
	b, _ := pem.Decode(out)
	if b == nil || !bytes.Equal(b.Bytes, r.der) {
		return "", false, fmt.Errorf("the database holds another certificate named %q; furl leaves it alone", r.name)
	}
	return trust, true, nil
}
