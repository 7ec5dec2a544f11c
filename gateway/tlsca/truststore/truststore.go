// Package truststore installs furl's local CA root into the trust stores
// a developer's tools read, and removes it again: the system store on
// Linux (what curl, Go, Python and most command-line tools trust) and the
// NSS databases that Chromium and Firefox read. It reports one Result per
// store, and runs nothing as root behind the user's back: without root the
// system store is skipped with the commands to run, unless the caller asks
// for them to run through sudo.
package truststore

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/furl-dev/furl/gateway/tlsca"
)

// Status is what happened to one store.
type Status string

// The statuses a Result has. Failed is the only one that means the caller
// asked for something furl could not do.
const (
	Installed      Status = "installed"
	AlreadyPresent Status = "already present"
	Removed        Status = "removed"
	NotPresent     Status = "not present"
	Skipped        Status = "skipped"
	Failed         Status = "failed"
)

// Result is the outcome for one store.
type Result struct {
	// Store names the store: its kind and where it is.
	Store string
	// Status is what happened.
	Status Status
	// Detail says what was done, or why not.
	Detail string
	// Manual is the shell command that does what furl did not, for the
	// user to run by hand; empty when there is nothing left to do.
	Manual string
}

// String is the result as one line: "store: status: detail; run: manual".
func (r Result) String() string {
	s := r.Store + ": " + string(r.Status)
	if r.Detail != "" {
		s += ": " + r.Detail
	}
	if r.Manual != "" {
		s += "; run by hand: " + r.Manual
	}
	return s
}

// AnyFailed says whether a store the caller asked for failed.
func AnyFailed(results []Result) bool {
	for _, r := range results {
		if r.Status == Failed {
			return true
		}
	}
	return false
}

// Request says what to do, and where.
type Request struct {
	// Uninstall removes the root instead of installing it.
	Uninstall bool
	// System is whether to act on the system store.
	System bool
	// NSS is whether to act on NSS databases: NSSDBs when it is not
	// empty, else the ones discovered under Home.
	NSS bool
	// NSSDBs are the NSS database directories to act on instead of the
	// discovered ones. A directory without a database gets an empty one.
	NSSDBs []string
}

// Truster acts on trust stores. New fills it from the running system;
// tests fill it by hand to point it at temporary directories and fake
// commands.
type Truster struct {
	// GOOS is the operating system whose stores apply. Only "linux" has
	// a system store and discovered NSS databases; elsewhere they are
	// skipped as unsupported.
	GOOS string
	// Systems are the Linux system stores, in the order they are tried:
	// the first whose anchor directory exists and whose update command is
	// found is the one used. Nil means none is found.
	Systems []System
	// Root says whether furl runs as root and may write the system store
	// itself.
	Root bool
	// Sudo is the command that runs the system store's commands as root
	// when Root is false: normally "sudo", which asks for the password on
	// the terminal. Empty means the system store is skipped without root,
	// with the commands to run by hand.
	Sudo string
	// Home is the user's home directory, under which NSS databases are
	// discovered. Empty means none are.
	Home string
	// Certutil is the path of NSS's certutil, or empty when it is not
	// installed; then NSS databases fail with how to install it.
	Certutil string
	// LookPath finds a command; nil means exec.LookPath, then /usr/sbin
	// and /sbin, which are not on a Debian user's PATH but hold
	// update-ca-certificates.
	LookPath func(string) (string, error)
	// SudoUser is $SUDO_USER: set when furl itself runs under sudo, where
	// the home directory and data directory may be root's rather than the
	// user's.
	SudoUser string
}

// New is a Truster for the running system; sudo says whether the system
// store's commands may run through sudo.
func New(sudo bool) *Truster {
	home, _ := os.UserHomeDir()
	certutil, _ := exec.LookPath("certutil")
	t := &Truster{
		GOOS:     runtime.GOOS,
		Systems:  LinuxSystems(),
		Root:     os.Geteuid() == 0,
		Home:     home,
		Certutil: certutil,
		SudoUser: os.Getenv("SUDO_USER"),
	}
	if sudo {
		t.Sudo = "sudo"
	}
	return t
}

// Run installs (or with req.Uninstall removes) the CA's root in the stores
// req names, and reports one Result per store, in order: the system store
// first, then each NSS database.
func (t *Truster) Run(ctx context.Context, ca *tlsca.CA, req Request) []Result {
	root := rootOf(ca)
	var results []Result
	if req.System {
		results = append(results, t.system(ctx, root, req.Uninstall))
	}
	if req.NSS {
		results = append(results, t.nss(ctx, root, req)...)
	}
	return results
}

// root is what the stores need of the CA.
type root struct {
	path string
	pem  []byte
	der  []byte
	// name identifies this root among others in a store: a file name
	// stem and an NSS nickname. It holds the start of the fingerprint,
	// so that a new root never takes an old one's place and removing
	// one root leaves every other alone.
	name string
}

func rootOf(ca *tlsca.CA) root {
	fp := strings.ToLower(strings.ReplaceAll(ca.Fingerprint(), ":", ""))
	return root{path: ca.RootPath(), pem: ca.RootPEM(), der: ca.Root().Raw, name: "furl-local-ca-" + fp[:16]}
}

// Nickname is the name the CA's root has in NSS databases and, with an
// extension, in the system store's anchor directory.
func Nickname(ca *tlsca.CA) string { return rootOf(ca).name }

// containsCert says whether the PEM bundle holds the certificate der.
func containsCert(bundle, der []byte) bool {
	for {
		var b *pem.Block
		b, bundle = pem.Decode(bundle)
		if b == nil {
			return false
		}
		if b.Type == "CERTIFICATE" && bytes.Equal(b.Bytes, der) {
			return true
		}
	}
}

// run runs a command and returns an error that carries its output, for a
// Result to show.
func run(ctx context.Context, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.Join(strings.Fields(string(out)), " ")
		if msg != "" {
			return fmt.Errorf("%s: %w: %s", argv[0], err, msg)
		}
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	return nil
}

func (t *Truster) lookPath(name string) (string, error) {
	if t.LookPath != nil {
		return t.LookPath(name)
	}
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if q, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return q, nil
		}
	}
	return "", err
}

// shellJoin renders argv as a line a POSIX shell runs as the same command.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:,=@+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// SudoWarning is a warning for a furl run under sudo, whose home (and so
// NSS databases and default data directory) may be root's and not the
// user's; empty otherwise.
func (t *Truster) SudoWarning() string {
	if !t.Root || t.SudoUser == "" {
		return ""
	}
	return fmt.Sprintf("furl runs under sudo: the NSS databases are those under %s and the CA is the one in the data directory given, which may be root's and not %s's; "+
		"run furl trust --sudo as %s instead, so that only the system store's commands run as root", t.Home, t.SudoUser, t.SudoUser)
}
