package process

import (
	"log/slog"
	"strings"

	"github.com/furl-dev/furl/runtimeapi"
)

// optRoot is where Lambda puts a function's layers.
const optRoot = "/opt"

// layersEnv is env with the search paths of Lambda's runtimes reaching the
// function's layers: under /opt where the environment has them mounted
// there, else under their merged directory on the host, which only these
// paths reach (a function that opens an absolute /opt path gets the
// host's /opt).
func (s *Sandbox) layersEnv(spec runtimeapi.Spec, env []string, mounted bool) []string {
	if spec.Opt == "" {
		return env
	}
	if mounted {
		// start says so once the mount is made.
		return optEnv(spec.Function, env, optRoot)
	}
	if !s.optWarned.Swap(true) {
		s.log.Warn("furl cannot mount functions' layers at /opt here (that needs root and mount namespaces): PATH, LD_LIBRARY_PATH, NODE_PATH and PYTHONPATH name their merged directory instead, and absolute /opt paths do not reach them; run furl as root, or with --sandbox docker, for /opt itself")
	}
	s.log.Debug("the function's layers are not at /opt: its search paths name their merged directory", "function", spec.Function.Name, "dir", spec.Opt)
	return optEnv(spec.Function, env, spec.Opt)
}

// optEnv adds the layers under root to the variables Lambda's runtimes
// search, where AWS's runtimes add /opt's: /opt/bin last in PATH,
// /opt/lib last in LD_LIBRARY_PATH, the version's and the common
// node_modules first in NODE_PATH, and the version's site-packages, then
// /opt/python, in PYTHONPATH. What the function sets itself stays as it
// set it (NODE_PATH aside, which the sandbox owns).
func optEnv(fn runtimeapi.Function, env []string, root string) []string {
	rt := fn.Runtime
	add := func(key string, value func(old string) string) {
		if _, own := fn.Environment[key]; own && key != "NODE_PATH" {
			return
		}
		prefix := key + "="
		// The last of a variable's entries is the one the runtime gets.
		for i := len(env) - 1; i >= 0; i-- {
			if kv := env[i]; strings.HasPrefix(kv, prefix) {
				env[i] = prefix + value(kv[len(prefix):])
				return
			}
		}
		env = append(env, prefix+value(""))
	}
	join := func(a, b string) string {
		if a == "" || b == "" {
			return a + b
		}
		return a + ":" + b
	}
	add("PATH", func(old string) string { return join(old, root+"/bin") })
	add("LD_LIBRARY_PATH", func(old string) string { return join(old, root+"/lib") })
	switch {
	case strings.HasPrefix(rt, "nodejs"):
		major := strings.TrimSuffix(strings.TrimPrefix(rt, "nodejs"), ".x")
		add("NODE_PATH", func(old string) string {
			return join(root+"/nodejs/node"+major+"/node_modules:"+root+"/nodejs/node_modules", old)
		})
	case strings.HasPrefix(rt, "python3"):
		version := strings.TrimPrefix(rt, "python")
		add("PYTHONPATH", func(old string) string {
			return join(root+"/python/lib/python"+version+"/site-packages:"+root+"/python", old)
		})
	}
	return env
}

// extensionNames lists the external extensions among a function's
// layers, logging why when it cannot.
func extensionNames(opt string, log *slog.Logger) []string {
	names, err := runtimeapi.ExtensionNames(opt)
	if err != nil {
		log.Warn("furl cannot list the function's extensions", "dir", opt, "err", err)
	}
	return names
}
