package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/furl-dev/furl/gateway/tlsca"
)

// caDir is where furl keeps its local CA under a data directory.
func caDir(dataDir string) string { return filepath.Join(dataDir, "tls", "ca") }

// caDataDirFlag declares --data-dir for the commands that use the CA,
// defaulting as furl serve's does.
func caDataDirFlag(fs *flag.FlagSet) *string {
	dataDir := defaultDataDir()
	if v, ok := os.LookupEnv("FURL_DATA_DIR"); ok {
		dataDir = v
	}
	return fs.String("data-dir", dataDir, "directory holding furl's state, the CA included (env FURL_DATA_DIR)")
}

// caCommand is "furl ca": where the local CA's root is, and its
// fingerprint, for tools that take a CA file. It creates the CA when
// there is none yet, as furl serve would.
func caCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("furl ca", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := caDataDirFlag(fs)
	pathOnly := fs.Bool("path", false, "print only the root certificate's path")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: furl ca [flags]\n\nPrint the path and SHA-256 fingerprint of furl's local CA root (created if missing),\nfor tools that take a CA file.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dataDir == "" {
		fmt.Fprintln(stderr, "furl ca: --data-dir is empty and there is no home directory to default to")
		return 2
	}
	ca, err := tlsca.Load(caDir(*dataDir))
	if err != nil {
		fmt.Fprintln(stderr, "furl ca:", err)
		return 1
	}
	if *pathOnly {
		fmt.Fprintln(stdout, ca.RootPath())
		return 0
	}
	p := ca.RootPath()
	fmt.Fprintf(stdout, `root certificate:    %s
SHA-256 fingerprint: %s
subject:             %s

Trust it everywhere with "furl trust", or give it to a tool that takes a CA file:
  curl --cacert %s https://localhost:4443/_furl/health
  export AWS_CA_BUNDLE=%s        # the AWS CLI and SDKs
  export NODE_EXTRA_CA_CERTS=%s  # Node.js
  export SSL_CERT_FILE=%s        # Python's ssl, Go (replaces the system roots)
`, p, ca.Fingerprint(), ca.Root().Subject.CommonName, p, p, p, p)
	return 0
}
