// Package pick chooses, for each execution environment, the sandbox it
// runs in: furl's --sandbox process, docker or auto. In auto, a function
// runs in a container when a Docker engine answers and the function's image
// is present (or can be pulled), and as a host process otherwise; what it
// chose for a function is logged whenever the choice changes, and each
// environment's process says where it runs.
package pick

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
)

// Docker is what pick needs of the container sandbox.
type Docker interface {
	runtimeapi.Sandbox
	// ImageFor names the image a function runs; an error when there is
	// none for its runtime.
	ImageFor(fn runtimeapi.Function) (string, error)
	// Present says whether an image is in the engine's store.
	Present(ctx context.Context, ref string) (bool, error)
	// Resolve finds an image's digest, pulling it first where the sandbox
	// pulls missing images.
	Resolve(ctx context.Context, ref string) (string, error)
}

// Mode is how functions are placed.
type Mode string

const (
	ModeProcess Mode = "process"
	ModeDocker  Mode = "docker"
	ModeAuto    Mode = "auto"
)

// ParseMode reads a --sandbox value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case ModeProcess, ModeDocker, ModeAuto:
		return m, nil
	case "":
		return ModeAuto, nil
	}
	return "", fmt.Errorf("unknown sandbox %q: use process, docker or auto", s)
}

// retryMissing is how long auto trusts that an image it could not find or
// pull is still missing before it looks again: a cold start should not try
// a pull each time.
const retryMissing = 30 * time.Second

// Sandbox places each environment in the process or the Docker sandbox.
type Sandbox struct {
	mode    Mode
	process runtimeapi.Sandbox
	docker  Docker // nil: no engine
	log     *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	missing map[string]time.Time // image ref -> when auto last found it missing
	chosen  map[string]string    // function name -> where it last ran, for the log
}

var _ runtimeapi.Sandbox = (*Sandbox)(nil)

// New places environments by mode. process may be nil in docker mode;
// docker is nil when no engine answers, and required in docker mode.
func New(mode Mode, process runtimeapi.Sandbox, docker Docker, log *slog.Logger) (*Sandbox, error) {
	if log == nil {
		log = slog.Default()
	}
	switch {
	case mode == ModeDocker && docker == nil:
		return nil, fmt.Errorf("--sandbox docker needs a Docker engine, and none answers")
	case mode != ModeDocker && process == nil:
		return nil, fmt.Errorf("--sandbox %s needs the process sandbox", mode)
	}
	return &Sandbox{mode: mode, process: process, docker: docker, log: log, now: time.Now,
		missing: map[string]time.Time{}, chosen: map[string]string{}}, nil
}

// ListenHost is where every environment's Runtime API listens. Host
// processes can reach any of the host's addresses, so the Docker
// sandbox's choice serves both.
func (s *Sandbox) ListenHost() string {
	if s.docker != nil {
		return s.docker.ListenHost()
	}
	return s.process.ListenHost()
}

// Start starts the runtime where the mode places it.
func (s *Sandbox) Start(ctx context.Context, spec runtimeapi.Spec) (runtimeapi.Process, error) {
	kind, why := s.place(ctx, spec.Function)
	s.note(spec.Function, kind, why)
	var (
		p   runtimeapi.Process
		err error
	)
	if kind == "docker" {
		p, err = s.docker.Start(ctx, spec)
	} else {
		p, err = s.process.Start(ctx, spec)
	}
	if err != nil {
		return nil, err
	}
	return place(p, kind), nil
}

// place decides where a function's environment runs, and why.
func (s *Sandbox) place(ctx context.Context, fn runtimeapi.Function) (kind, why string) {
	switch s.mode {
	case ModeProcess:
		return "process", "--sandbox process"
	case ModeDocker:
		return "docker", "--sandbox docker"
	}
	if s.docker == nil {
		return "process", "no Docker engine answered when furl started"
	}
	ref, err := s.docker.ImageFor(fn)
	if err != nil {
		// The process sandbox may still run it (or say why it cannot).
		return "process", err.Error()
	}
	if fn.PackageType == "Image" || !processRuns(fn.Runtime) {
		// Only a container can run it: the Docker sandbox says what to
		// do if the image is missing.
		return "docker", "only a container runs " + describe(fn)
	}
	s.mu.Lock()
	since, known := s.missing[ref]
	s.mu.Unlock()
	if known && s.now().Sub(since) < retryMissing {
		return "process", "image " + ref + " is missing"
	}
	if ok, err := s.docker.Present(ctx, ref); err == nil && ok {
		return "docker", "image " + ref
	}
	if _, err := s.docker.Resolve(ctx, ref); err == nil {
		return "docker", "image " + ref + " (pulled)"
	}
	s.mu.Lock()
	s.missing[ref] = s.now()
	s.mu.Unlock()
	return "process", "image " + ref + " is missing and could not be pulled"
}

// note logs where a function runs when that changes.
func (s *Sandbox) note(fn runtimeapi.Function, kind, why string) {
	s.mu.Lock()
	prev := s.chosen[fn.Name]
	s.chosen[fn.Name] = kind + ": " + why
	s.mu.Unlock()
	if prev != kind+": "+why {
		s.log.Info("function sandbox", "function", fn.Name, "sandbox", kind, "why", why)
	}
}

// processRuns says whether the process sandbox can run a runtime at all.
func processRuns(runtime string) bool {
	for _, p := range []string{"provided", "nodejs", "python3"} {
		if strings.HasPrefix(runtime, p) {
			return true
		}
	}
	return false
}

func describe(fn runtimeapi.Function) string {
	if fn.PackageType == "Image" {
		return "container image functions"
	}
	return fn.Runtime
}

// runtimeChecker is a sandbox that can say, before it starts anything,
// whether it runs a runtime as named: the process sandbox.
type runtimeChecker interface {
	CheckRuntime(runtime string) error
}

// Advice says, for a function just created or reconfigured, why the
// sandbox would not run it on the runtime it names, and what would: ""
// when it would. images names the image the Docker sandbox runs a runtime
// on (for advice when no engine answers); nil names none. It starts and
// pulls nothing.
func (s *Sandbox) Advice(fn runtimeapi.Function, images func(runtime string) (string, bool)) string {
	if fn.PackageType == "Image" || fn.Runtime == "" {
		return ""
	}
	if s.docker != nil {
		_, err := s.docker.ImageFor(fn)
		switch {
		case err == nil:
			// docker mode runs it on its image, and auto places it there
			// whenever the process sandbox cannot.
			return ""
		case s.mode == ModeDocker:
			return err.Error()
		}
		// auto without an image for the runtime: the process sandbox
		// runs it, if it can.
		if c, ok := s.process.(runtimeChecker); ok {
			if perr := c.CheckRuntime(fn.Runtime); perr != nil {
				return perr.Error() + "; and " + err.Error()
			}
		}
		return ""
	}
	c, ok := s.process.(runtimeChecker)
	if !ok {
		return ""
	}
	err := c.CheckRuntime(fn.Runtime)
	if err == nil {
		return ""
	}
	fix := "run furl with --sandbox docker (or auto) and a Docker engine"
	if images != nil {
		if ref, ok := images(fn.Runtime); ok {
			fix += ", which runs it on " + ref
		} else {
			fix += " and --image " + fn.Runtime + "=<image>"
		}
	}
	if s.mode == ModeAuto {
		fix = "start a Docker engine and restart furl (--sandbox auto places the function in a container)"
		if images != nil {
			if ref, ok := images(fn.Runtime); ok {
				fix += " on " + ref
			}
		}
	}
	return err.Error() + ": " + fix
}

// placed is a started runtime that knows which sandbox holds it.
type placed struct {
	runtimeapi.Process
	kind string
}

// Sandbox names the sandbox the runtime runs in.
func (p placed) Sandbox() string { return p.kind }

// The optional methods a sandbox's Process may have, which runtimeapi
// looks for: a wrapper that embeds only runtimeapi.Process hides them,
// and init would then neither wait for the external extensions nor see
// them crash.
type (
	extensionStarter interface{ Extensions() []string }
	extensionWatcher interface{ ExtensionsGone() <-chan struct{} }
)

// placedExtensions is placed for a runtime started with external
// extensions; placedWatched, for one whose sandbox also tells when they
// have all exited.
type (
	placedExtensions struct {
		placed
		extensionStarter
	}
	placedWatched struct {
		placed
		extensionStarter
		extensionWatcher
	}
)

// place wraps p with its sandbox's name, keeping the optional methods it
// has, and only those.
func place(p runtimeapi.Process, kind string) runtimeapi.Process {
	pl := placed{Process: p, kind: kind}
	xs, starts := p.(extensionStarter)
	if !starts {
		return pl
	}
	if w, ok := p.(extensionWatcher); ok {
		return placedWatched{pl, xs, w}
	}
	return placedExtensions{pl, xs}
}
