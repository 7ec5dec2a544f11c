package process

import (
	"slices"
	"testing"

	"github.com/furl-dev/furl/runtimeapi"
)

// The layers join the search paths where AWS's runtimes put /opt's; what
// the function sets itself stays.
func TestOptEnvOrder(t *testing.T) {
	base := []string{"LANG=en_US.UTF-8", "PATH=/usr/bin:/bin", "NODE_PATH=/code/node_modules:/code"}
	for _, tc := range []struct {
		name string
		fn   runtimeapi.Function
		want []string
	}{
		{"node", runtimeapi.Function{Runtime: "nodejs22.x"}, []string{"LANG=en_US.UTF-8", "PATH=/usr/bin:/bin:/L/bin",
			"NODE_PATH=/L/nodejs/node22/node_modules:/L/nodejs/node_modules:/code/node_modules:/code", "LD_LIBRARY_PATH=/L/lib"}},
		{"python", runtimeapi.Function{Runtime: "python3.13"}, []string{"LANG=en_US.UTF-8", "PATH=/usr/bin:/bin:/L/bin",
			"NODE_PATH=/code/node_modules:/code", "LD_LIBRARY_PATH=/L/lib", "PYTHONPATH=/L/python/lib/python3.13/site-packages:/L/python"}},
		{"function's own", runtimeapi.Function{Runtime: "python3.13", Environment: map[string]string{"PATH": "/mine", "PYTHONPATH": "/mine"}},
			[]string{"LANG=en_US.UTF-8", "PATH=/usr/bin:/bin", "NODE_PATH=/code/node_modules:/code", "LD_LIBRARY_PATH=/L/lib"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := optEnv(tc.fn, slices.Clone(base), "/L"); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
