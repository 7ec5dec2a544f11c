package runtimeapi

import (
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
)

// CheckBootstrap refuses a custom-runtime (provided.*) zip function whose
// code has no executable bootstrap, with Lambda's error and, after it, a
// hint at the packaging mistake that usually causes it. Sandboxes call it
// before they start such a runtime.
func CheckBootstrap(spec Spec) error {
	fn := spec.Function
	if fn.PackageType == "Image" || !strings.HasPrefix(fn.Runtime, "provided") {
		return nil
	}
	fi, err := os.Stat(filepath.Join(spec.Code, "bootstrap"))
	if err != nil || fi.IsDir() {
		return &StartError{Type: "Runtime.InvalidEntrypoint",
			Message: "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]" + nestedBootstrapHint(spec.Code)}
	}
	if fi.Mode()&0o111 == 0 {
		return &StartError{Type: "Runtime.InvalidEntrypoint",
			Message: "fork/exec /var/task/bootstrap: permission denied" +
				hint("the bootstrap in the zip is not executable: chmod +x bootstrap before zipping (archives made on Windows lose the bit)")}
	}
	return nil
}

// ExecHint is the hint for an exec failure's message, or "".
func ExecHint(msg string) string {
	if strings.Contains(msg, "exec format error") {
		return hint("the bootstrap is not a Linux " + goruntime.GOARCH + " executable (built for macOS or another CPU?): " +
			"build it with GOOS=linux GOARCH=" + goruntime.GOARCH + " CGO_ENABLED=0 go build -o bootstrap, or start a script with #!")
	}
	return ""
}

// nestedBootstrapHint says so when the bootstrap sits one folder down: the
// folder was zipped instead of its contents.
func nestedBootstrapHint(code string) string {
	entries, err := os.ReadDir(code)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if fi, err := os.Stat(filepath.Join(code, e.Name(), "bootstrap")); err == nil && !fi.IsDir() {
			return hint("the zip has " + e.Name() + "/bootstrap: zip the folder's contents, not the folder (cd " + e.Name() + " && zip -r ../function.zip .)")
		}
	}
	return ""
}

// hint is furl's addition to one of Lambda's messages, marked as furl's.
func hint(s string) string { return " (furl: " + s + ")" }
