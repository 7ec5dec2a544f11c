package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/furl-dev/furl/gateway/tlsca"
	"github.com/furl-dev/furl/gateway/tlsca/truststore"
)

// dirList is a repeatable flag of directories.
type dirList []string

func (d *dirList) String() string { return strings.Join(*d, ",") }

func (d *dirList) Set(v string) error {
	if v == "" {
		return errors.New("empty directory")
	}
	*d = append(*d, v)
	return nil
}

// trustCommand is "furl trust": install the local CA's root (created if
// missing) into the system store and the browsers' NSS databases, or with
// --uninstall remove it, and say per store what was done.
func trustCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("furl trust", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := caDataDirFlag(fs)
	uninstall := fs.Bool("uninstall", false, "remove the root from the stores instead of installing it")
	system := fs.Bool("system", true, "act on the system store (Debian/Ubuntu, Fedora/RHEL or Arch), which needs root")
	sudo := fs.Bool("sudo", false, "when not root, run the system store's commands through sudo (which asks for your password) instead of printing them")
	nss := fs.Bool("nss", true, "act on the NSS databases Chromium and Firefox read (needs certutil)")
	var dbs dirList
	fs.Var(&dbs, "nss-db", "an NSS database directory to act on instead of the discovered ones, even with --nss=false (repeatable; created if empty)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: furl trust [flags]

Install furl's local CA root (created if missing) where your tools look for
trusted roots: the system store, and the NSS databases of Chromium
(~/.pki/nssdb, created if missing) and Firefox (every profile). With
--uninstall, remove it again. Prints one line per store, and exits 1 when a
store failed.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "furl trust: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *dataDir == "" {
		fmt.Fprintln(stderr, "furl trust: --data-dir is empty and there is no home directory to default to")
		return 2
	}
	// Removing a root must not make one first.
	if *uninstall && !tlsca.Exists(caDir(*dataDir)) {
		fmt.Fprintf(stdout, "no local CA in %s: nothing to remove\n", caDir(*dataDir))
		return 0
	}
	ca, err := tlsca.Load(caDir(*dataDir))
	if err != nil {
		fmt.Fprintln(stderr, "furl trust:", err)
		return 1
	}
	t := truststore.New(*sudo)
	if w := t.SudoWarning(); w != "" {
		fmt.Fprintln(stderr, "furl trust: warning:", w)
	}
	// Ctrl-C while sudo or certutil waits for a password ends them too.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "furl local CA %s (SHA-256 %s)\n", ca.RootPath(), ca.Fingerprint())
	results := t.Run(ctx, ca, truststore.Request{Uninstall: *uninstall, System: *system, NSS: *nss || len(dbs) > 0, NSSDBs: dbs})
	for _, r := range results {
		fmt.Fprintln(stdout, r)
	}
	if len(results) == 0 {
		fmt.Fprintln(stdout, "no store asked for (--system=false --nss=false): nothing done")
	}
	if truststore.AnyFailed(results) {
		return 1
	}
	return 0
}
