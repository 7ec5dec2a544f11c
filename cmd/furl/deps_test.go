package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHeavyImportsStayInTheirRooms keeps each heavy dependency behind the
// one package that owns it (DESIGN.md): the rest of furl reaches it only
// through that package's small API, so it can be replaced in one place.
func TestHeavyImportsStayInTheirRooms(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list imports with")
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "github.com/furl-dev/furl/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	owners := map[string]string{
		"github.com/caddyserver/certmagic": "github.com/furl-dev/furl/gateway/tlsca",
		"go.uber.org/zap":                  "github.com/furl-dev/furl/gateway/tlsca",
		"github.com/moby/moby/client":      "github.com/furl-dev/furl/runtimeapi/docker",
		// Prometheus' client counts and serves furl's metrics in one place.
		"github.com/prometheus/client_golang": "github.com/furl-dev/furl/gateway/metrics",
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := f[0]
		for _, imp := range f[1:] {
			for dep, owner := range owners {
				if imp != dep && !strings.HasPrefix(imp, dep+"/") {
					continue
				}
				if pkg != owner {
					t.Errorf("%s imports %s, which only %s may import", pkg, imp, owner)
				}
				seen[dep] = true
			}
		}
	}
	for dep, owner := range owners {
		if !seen[dep] {
			t.Errorf("%s no longer imports %s: update this test", owner, dep)
		}
	}
}
