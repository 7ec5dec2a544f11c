package docker

import (
	"testing"

	"github.com/furl-dev/furl/runtimeapi/sandboxtest"
)

// The Docker sandbox passes the sandbox conformance suite, on the test's
// provided.al2023 image (scratch and a static busybox, built locally).
func TestConformance(t *testing.T) {
	sb := testSandbox(t, Options{})
	cli := engine(t)
	sandboxtest.Run(t, sandboxtest.Config{
		Sandbox: sb,
		Runtime: "provided.al2023",
		// What the sandbox still has is its containers, running or not.
		Leftovers: func(t *testing.T) []string {
			return containersOf(t, cli, labelInstance+"="+sb.instance)
		},
	})
}
