package pick

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
)

// started records which sandbox was asked to start a runtime.
type fakeSandbox struct {
	name    string
	host    string
	started []string
	proc    runtimeapi.Process // what Start returns; nil: a nopProcess
}

func (f *fakeSandbox) ListenHost() string { return f.host }
func (f *fakeSandbox) Start(_ context.Context, spec runtimeapi.Spec) (runtimeapi.Process, error) {
	f.started = append(f.started, spec.Function.Name)
	if f.proc != nil {
		return f.proc, nil
	}
	return nopProcess{}, nil
}

type fakeDocker struct {
	fakeSandbox
	present  map[string]bool
	pullable map[string]bool
	pulls    int
}

func (d *fakeDocker) ImageFor(fn runtimeapi.Function) (string, error) {
	if fn.PackageType == "Image" {
		return fn.Image.URI, nil
	}
	switch fn.Runtime {
	case "nodejs20.x":
		return "public.ecr.aws/lambda/nodejs:20", nil
	case "java21":
		return "public.ecr.aws/lambda/java:21", nil
	case "provided.al2023":
		return "public.ecr.aws/lambda/provided:al2023", nil
	}
	return "", errors.New("no image for " + fn.Runtime)
}

func (d *fakeDocker) Present(_ context.Context, ref string) (bool, error) { return d.present[ref], nil }

func (d *fakeDocker) Resolve(_ context.Context, ref string) (string, error) {
	d.pulls++
	if d.pullable[ref] {
		d.present[ref] = true
		return "sha256:00", nil
	}
	return "", errors.New("pull access denied")
}

type nopProcess struct{}

func (nopProcess) Done() <-chan struct{} { return nil }
func (nopProcess) Err() error            { return nil }
func (nopProcess) Kill()                 {}
func (nopProcess) MaxMemoryMB() int      { return 0 }
func (nopProcess) Quiet(time.Duration)   {}
func (nopProcess) Peer(net.Conn) error   { return nil }

// extProcess started external extensions; watchedProcess also tells when
// they have all exited.
type (
	extProcess     struct{ nopProcess }
	watchedProcess struct{ extProcess }
)

func (extProcess) Extensions() []string { return []string{"logger"} }

var extensionsGone = make(chan struct{})

func (watchedProcess) ExtensionsGone() <-chan struct{} { return extensionsGone }

// The runtime a sandbox started keeps, once placed, the optional methods
// runtimeapi looks for, and gains none: without them init would neither
// wait for its external extensions nor see them crash.
func TestPlacedKeepsExtensionMethods(t *testing.T) {
	for _, tc := range []struct {
		name           string
		proc           runtimeapi.Process
		starts, watchs bool
	}{
		{"no extensions", nopProcess{}, false, false},
		{"extensions", extProcess{}, true, false},
		{"extensions, watched", watchedProcess{}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proc := &fakeSandbox{host: "127.0.0.1", proc: tc.proc}
			s, err := New(ModeProcess, proc, nil, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Start(context.Background(), runtimeapi.Spec{Function: runtimeapi.Function{Name: "fn", Runtime: "provided.al2023"}})
			if err != nil {
				t.Fatal(err)
			}
			xs, starts := p.(interface{ Extensions() []string })
			w, watchs := p.(interface{ ExtensionsGone() <-chan struct{} })
			if starts != tc.starts || watchs != tc.watchs {
				t.Fatalf("placed: Extensions %v, ExtensionsGone %v; want %v, %v", starts, watchs, tc.starts, tc.watchs)
			}
			if starts && len(xs.Extensions()) != 1 {
				t.Errorf("Extensions() = %v", xs.Extensions())
			}
			if watchs && w.ExtensionsGone() != extensionsGone {
				t.Errorf("ExtensionsGone() is not the sandbox's channel")
			}
			if got := p.(interface{ Sandbox() string }).Sandbox(); got != "process" {
				t.Errorf("Sandbox() = %q", got)
			}
		})
	}
}

func TestPlacement(t *testing.T) {
	node := runtimeapi.Function{Name: "node", Runtime: "nodejs20.x"}
	java := runtimeapi.Function{Name: "java", Runtime: "java21"}
	image := runtimeapi.Function{Name: "img", PackageType: "Image", Image: runtimeapi.Image{URI: "mine:1"}}
	odd := runtimeapi.Function{Name: "odd", Runtime: "python3.99"}
	for _, tc := range []struct {
		name     string
		mode     Mode
		noDocker bool
		present  []string
		pullable []string
		fn       runtimeapi.Function
		want     string
	}{
		{name: "process mode", mode: ModeProcess, present: []string{"public.ecr.aws/lambda/nodejs:20"}, fn: node, want: "process"},
		{name: "docker mode", mode: ModeDocker, fn: node, want: "docker"},
		{name: "auto, image present", mode: ModeAuto, present: []string{"public.ecr.aws/lambda/nodejs:20"}, fn: node, want: "docker"},
		{name: "auto, image pulled", mode: ModeAuto, pullable: []string{"public.ecr.aws/lambda/nodejs:20"}, fn: node, want: "docker"},
		{name: "auto, image missing", mode: ModeAuto, fn: node, want: "process"},
		{name: "auto, no engine", mode: ModeAuto, noDocker: true, fn: node, want: "process"},
		{name: "auto, runtime only a container runs", mode: ModeAuto, fn: java, want: "docker"},
		{name: "auto, image function", mode: ModeAuto, fn: image, want: "docker"},
		{name: "auto, runtime with no image", mode: ModeAuto, fn: odd, want: "process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proc := &fakeSandbox{name: "process", host: "127.0.0.1"}
			dock := &fakeDocker{fakeSandbox: fakeSandbox{name: "docker", host: "127.0.0.1"}, present: map[string]bool{}, pullable: map[string]bool{}}
			for _, r := range tc.present {
				dock.present[r] = true
			}
			for _, r := range tc.pullable {
				dock.pullable[r] = true
			}
			var d Docker = dock
			if tc.noDocker {
				d = nil
			}
			s, err := New(tc.mode, proc, d, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Start(context.Background(), runtimeapi.Spec{Function: tc.fn})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.(interface{ Sandbox() string }).Sandbox(); got != tc.want {
				t.Fatalf("ran in %s, want %s", got, tc.want)
			}
			ran := proc.started
			if tc.want == "docker" {
				ran = dock.started
			}
			if len(ran) != 1 || ran[0] != tc.fn.Name {
				t.Fatalf("the %s sandbox started %v", tc.want, ran)
			}
		})
	}
}

// A missing image is looked for again only after a while: cold starts do
// not each try a pull.
func TestMissingImageIsRememberedForAWhile(t *testing.T) {
	proc := &fakeSandbox{host: "127.0.0.1"}
	dock := &fakeDocker{present: map[string]bool{}, pullable: map[string]bool{}}
	s, err := New(ModeAuto, proc, dock, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	fn := runtimeapi.Function{Name: "node", Runtime: "nodejs20.x"}
	for range 3 {
		s.Start(context.Background(), runtimeapi.Spec{Function: fn})
	}
	if dock.pulls != 1 {
		t.Fatalf("%d pulls for three cold starts, want 1", dock.pulls)
	}
	dock.pullable["public.ecr.aws/lambda/nodejs:20"] = true
	now = now.Add(retryMissing + time.Second)
	p, _ := s.Start(context.Background(), runtimeapi.Spec{Function: fn})
	if got := p.(interface{ Sandbox() string }).Sandbox(); got != "docker" || dock.pulls != 2 {
		t.Fatalf("after the wait: ran in %s after %d pulls", got, dock.pulls)
	}
}

func TestDockerModeNeedsAnEngine(t *testing.T) {
	if _, err := New(ModeDocker, &fakeSandbox{}, nil, nil); err == nil {
		t.Fatal("docker mode started with no engine")
	}
	for _, tc := range []struct {
		in   string
		want Mode
		ok   bool
	}{{"", ModeAuto, true}, {"Docker", ModeDocker, true}, {"process", ModeProcess, true}, {"podman", "", false}} {
		got, err := ParseMode(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseMode(%q) = %q, %v", tc.in, got, err)
		}
	}
}

// checkingProcess is a process sandbox that runs the runtimes it lists.
type checkingProcess struct {
	fakeSandbox
	runs map[string]bool
}

func (p *checkingProcess) CheckRuntime(rt string) error {
	if p.runs[rt] {
		return nil
	}
	return errors.New("cannot run " + rt)
}

func TestAdvice(t *testing.T) {
	images := func(rt string) (string, bool) {
		if rt == "java21" {
			return "public.ecr.aws/lambda/java:21", true
		}
		return "", false
	}
	for _, tc := range []struct {
		name     string
		mode     Mode
		noDocker bool
		runtime  string
		images   func(string) (string, bool)
		want     string // "" for no advice
	}{
		{name: "process runs node", mode: ModeProcess, noDocker: true, runtime: "nodejs20.x"},
		{name: "process, java", mode: ModeProcess, noDocker: true, runtime: "java21", images: images,
			want: "cannot run java21: run furl with --sandbox docker (or auto) and a Docker engine, which runs it on public.ecr.aws/lambda/java:21"},
		{name: "process, no image known", mode: ModeProcess, noDocker: true, runtime: "ruby9", images: images,
			want: "cannot run ruby9: run furl with --sandbox docker (or auto) and a Docker engine and --image ruby9=<image>"},
		{name: "auto without engine, java", mode: ModeAuto, noDocker: true, runtime: "java21", images: images,
			want: "cannot run java21: start a Docker engine and restart furl (--sandbox auto places the function in a container) on public.ecr.aws/lambda/java:21"},
		{name: "auto with engine, java", mode: ModeAuto, runtime: "java21"},
		{name: "auto with engine, no image, process runs it", mode: ModeAuto, runtime: "nodejs20.x"},
		{name: "auto with engine, no image, process cannot", mode: ModeAuto, runtime: "python3.99",
			want: "cannot run python3.99; and no image for python3.99"},
		{name: "docker with image", mode: ModeDocker, runtime: "java21"},
		{name: "docker without image", mode: ModeDocker, runtime: "ruby9", want: "no image for ruby9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proc := &checkingProcess{runs: map[string]bool{"nodejs20.x": true}}
			var d Docker
			if !tc.noDocker {
				d = &fakeDocker{present: map[string]bool{}, pullable: map[string]bool{}}
			}
			s, err := New(tc.mode, proc, d, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Advice(runtimeapi.Function{Runtime: tc.runtime}, tc.images); got != tc.want {
				t.Fatalf("advice %q, want %q", got, tc.want)
			}
		})
	}
}
