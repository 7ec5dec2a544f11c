package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// Where things appear inside a container.
const (
	taskRoot   = "/var/task"
	runtimeDir = "/var/runtime"
	optDir     = "/opt"
	// outPath is the FIFO the runtime's stdout and stderr go to.
	outPath = "/furl/out"
	// gonePath is where the container writes once its external
	// extensions have all exited.
	gonePath = "/furl/extensions-gone"
)

// The PATH and LD_LIBRARY_PATH of AWS's base images.
const (
	awsPath        = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
	awsLibraryPath = "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)

// shellWrapper sends the runtime's output into the FIFO: the shell opens
// it, then becomes the runtime.
var shellWrapper = []string{"/bin/sh", "-c", `exec "$@" >` + outPath + ` 2>&1`, "sh"}

// extensionsWrapper is shellWrapper that first starts the external
// extensions named before a "--" argument, their output going where the
// runtime's does. A subshell starts them and waits for them all; when
// they have exited it writes to the gone FIFO, so that furl can tell, as
// it can for a process sandbox's extensions (an extension that exits
// during init fails it with Extension.Crash; a SHUTDOWN is over once they
// are gone).
var extensionsWrapper = []string{"/bin/sh", "-c", `exec >` + outPath + ` 2>&1
(while [ "$1" != -- ]; do "$1" & shift; done; wait; echo >` + gonePath + `) &
while [ "$1" != -- ]; do shift; done
shift
exec "$@"`, "sh"}

// pullTimeout bounds finding (and pulling) a function's image.
const pullTimeout = 30 * time.Minute

// lambdaProcesses is Lambda's quota of processes and threads.
var lambdaProcesses int64 = 1024

// startTimeout bounds the engine's work to start a container (not an
// image pull).
const startTimeout = time.Minute

// architectures maps Lambda's architecture names to Docker's.
var architectures = map[string]string{"x86_64": "amd64", "arm64": "arm64"}

// Start starts the runtime in a new container.
func (s *Sandbox) Start(ctx context.Context, spec runtimeapi.Spec) (runtimeapi.Process, error) {
	fn := spec.Function
	ref, err := s.ImageFor(fn)
	if err != nil {
		return nil, err
	}
	if err := runtimeapi.CheckBootstrap(spec); err != nil {
		return nil, err
	}
	// An image lookup, or a pull, must not hold the environment forever
	// on an engine that stops answering.
	imgCtx, cancelImg := context.WithTimeout(ctx, pullTimeout)
	info, err := s.image(imgCtx, ref)
	cancelImg()
	if err != nil {
		return nil, err
	}
	if want := architectures[fn.Architecture]; fn.Architecture != "" && want != info.arch {
		return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint",
			Message: fmt.Sprintf("the function's architecture is %s, but the image %s is for %s: use an image built for %s (docker pull --platform linux/%s %s), or set the function's architecture to match the image",
				fn.Architecture, ref, info.arch, want, want, ref)}
	}
	argv, workdir, err := command(fn, info)
	if err != nil {
		return nil, err
	}
	env, err := s.environ(spec, info)
	if err != nil {
		return nil, err
	}
	// The manager waits on Start without a deadline: an engine that
	// stops answering must not hold it forever.
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var suffix [4]byte
	rand.Read(suffix[:])
	name := "furl-" + containerSafe(fn.Name) + "-" + hex.EncodeToString(suffix[:])

	cfg := &ctypes.Config{
		Image:      info.id,
		User:       s.user,
		Env:        env,
		WorkingDir: workdir,
		Labels: map[string]string{
			labelInstance: s.instance,
			labelFunction: fn.Name,
			labelVersion:  fn.Version,
		},
	}
	storage := fn.EphemeralStorageMB
	if storage <= 0 {
		storage = 512
	}
	memory := int64(fn.MemoryMB) << 20
	host := &ctypes.HostConfig{
		NetworkMode:    ctypes.NetworkMode(s.network),
		ReadonlyRootfs: true,
		// A container whose runtime ends is removed by the engine even if
		// furl is gone: a runtime exits when its Runtime API vanishes, so a
		// killed furl leaves nothing behind once its runtimes notice.
		AutoRemove: true,
		Tmpfs:      map[string]string{"/tmp": fmt.Sprintf("rw,nosuid,nodev,size=%dm,mode=1777", storage)},
		ExtraHosts: s.extra,
		// What the runtime prints goes to furl, not to a log file too.
		LogConfig: ctypes.LogConfig{Type: "none"},
		CapDrop:   []string{"ALL"},
		// Lambda's quotas: 1,024 processes or threads and 1,024 open
		// files per environment; a fork bomb stays in its container.
		Resources: ctypes.Resources{Memory: memory, MemorySwap: memory, PidsLimit: &lambdaProcesses,
			Ulimits: []*ctypes.Ulimit{{Name: "nofile", Soft: 1024, Hard: 1024}}},
		SecurityOpt: []string{"no-new-privileges"},
	}
	if spec.Code != "" {
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeBind, Source: spec.Code, Target: taskRoot, ReadOnly: true})
	}
	if spec.Opt != "" && fn.PackageType != "Image" {
		// The function's layers, where Lambda puts them; an image has
		// none (it is the whole filesystem).
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeBind, Source: spec.Opt, Target: optDir, ReadOnly: true})
	}

	c := newContainer(s, name, spec.Output)
	if spec.Opt != "" && fn.PackageType != "Image" {
		names, err := runtimeapi.ExtensionNames(spec.Opt)
		if err != nil {
			s.log.Warn("furl cannot list the function's extensions", "function", fn.Name, "err", err)
		}
		c.extensions = names
	}
	shell, known := s.cache.hasShell(info.id)
	if !known || shell {
		// Most images have a shell (all of AWS's do): try the exact way
		// first, and learn once per image whether it works.
		id, err := s.createWithShell(ctx, c, ref, cfg, host, argv, !known)
		if err != nil {
			c.abandon()
			return nil, err
		}
		if id != "" {
			if !known {
				s.cache.setShell(info.id, true)
			}
			return s.run(ctx, c, id)
		}
		s.cache.setShell(info.id, false)
		s.log.Info("image has no /bin/sh: its runtime's output comes through Docker's attach stream, and the last lines of an invocation may come after its REPORT",
			"image", ref)
	}
	if len(c.extensions) > 0 {
		// Only a shell starts them.
		s.log.Warn("the function's image has no /bin/sh: its layers' extensions are not started", "function", fn.Name, "image", ref)
		c.extensions = nil
	}
	cfg.Entrypoint = argv
	cfg.AttachStdout, cfg.AttachStderr = true, true
	id, err := s.create(ctx, ref, name, cfg, host)
	if err != nil {
		c.abandon()
		return nil, err
	}
	if err := c.attach(ctx, id); err != nil {
		s.removeLater(id)
		c.abandon()
		return nil, err
	}
	return s.run(ctx, c, id)
}

// createWithShell creates the container with its output going into a
// FIFO. If probe is set and the image turns out to have no /bin/sh, it
// removes the container again and returns "".
func (s *Sandbox) createWithShell(ctx context.Context, c *container, ref string, cfg *ctypes.Config, host *ctypes.HostConfig, argv []string, probe bool) (string, error) {
	fifo, err := c.openFIFO(s.fifoDir)
	if err != nil {
		return "", err
	}
	cfg.Entrypoint = append(append([]string(nil), shellWrapper...), argv...)
	mounts := len(host.Mounts)
	host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeBind, Source: fifo, Target: outPath})
	if len(c.extensions) > 0 {
		gone, err := c.openGone(s.fifoDir)
		if err != nil {
			c.closeFIFO()
			host.Mounts = host.Mounts[:mounts]
			return "", err
		}
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeBind, Source: gone, Target: gonePath})
		cfg.Entrypoint = append([]string(nil), extensionsWrapper...)
		for _, name := range c.extensions {
			cfg.Entrypoint = append(cfg.Entrypoint, optDir+"/extensions/"+name)
		}
		cfg.Entrypoint = append(append(cfg.Entrypoint, "--"), argv...)
	}
	id, err := s.create(ctx, ref, c.name, cfg, host)
	host.Mounts = host.Mounts[:mounts]
	if err != nil {
		return "", err
	}
	if !probe {
		return id, nil
	}
	if _, err := s.cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: shellWrapper[0]}); err != nil {
		if !isNotFound(err) {
			s.removeLater(id)
			return "", fmt.Errorf("look for %s in the image: %w", shellWrapper[0], err)
		}
		if err := s.remove(ctx, id); err != nil {
			return "", err
		}
		c.closeFIFO()
		c.closeGone()
		return "", nil
	}
	return id, nil
}

// create creates a container, forgetting the image's inspection if the
// image has gone since.
func (s *Sandbox) create(ctx context.Context, ref, name string, cfg *ctypes.Config, host *ctypes.HostConfig) (string, error) {
	res, err := s.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: host})
	if err != nil {
		s.cache.forget(ref)
		if isNotFound(err) {
			return "", &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: missingImage(ref, "")}
		}
		return "", fmt.Errorf("create container: %w", err)
	}
	return res.ID, nil
}

// run starts a created container and watches it until it ends.
func (s *Sandbox) run(ctx context.Context, c *container, id string) (runtimeapi.Process, error) {
	c.id = id
	t0 := time.Now()
	if _, err := s.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		s.removeLater(id)
		c.abandon()
		return nil, fmt.Errorf("start container %s: %w", c.name, err)
	}
	t1 := time.Now()
	res, err := s.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	s.log.Debug("container started", "container", c.name, "start", t1.Sub(t0), "inspect", time.Since(t1))
	if isNotFound(err) {
		// The runtime ended at once and the engine removed its
		// container: watch reports the end, with what it printed.
		err = nil
	}
	if err != nil {
		s.removeLater(id)
		c.abandon()
		return nil, fmt.Errorf("inspect container %s: %w", c.name, err)
	}
	if st := res.Container.State; st != nil {
		c.setPid(st.Pid)
	}
	if ns := res.Container.NetworkSettings; ns != nil && !s.hostNet {
		if ep := ns.Networks[s.network]; ep != nil && ep.IPAddress.IsValid() {
			c.ip = ep.IPAddress
		}
	}
	if !s.track(c.watch) {
		s.removeLater(id)
		c.abandon()
		return nil, fmt.Errorf("the docker sandbox is closed")
	}
	return c, nil
}

// removeLater removes a container in the background.
func (s *Sandbox) removeLater(id string) {
	s.track(func() {
		ctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
		defer cancel()
		if err := s.remove(ctx, id); err != nil {
			s.log.Warn("could not remove a container", "container", id, "err", err)
		}
	})
}

// command is what a container runs, and where.
func command(fn runtimeapi.Function, info *imageInfo) (argv []string, workdir string, err error) {
	switch {
	case fn.PackageType == "Image":
		// Each of ImageConfig's overrides replaces the image's own.
		ep, cmd := fn.Image.EntryPoint, fn.Image.Command
		if len(ep) == 0 {
			ep = info.entrypoint
		}
		if len(cmd) == 0 {
			cmd = info.cmd
		}
		argv = append(append([]string(nil), ep...), cmd...)
		if len(argv) == 0 {
			return nil, "", &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint",
				Message: "the image has no ENTRYPOINT or CMD, and the function's ImageConfig sets none"}
		}
		return argv, fn.Image.WorkingDirectory, nil
	case strings.HasPrefix(fn.Runtime, "provided"):
		return []string{taskRoot + "/bootstrap"}, taskRoot, nil
	default:
		// Not wrapped in AWS_LAMBDA_EXEC_WRAPPER here: the image's own
		// /var/runtime/bootstrap applies it, as on Lambda, and wrapping
		// the entrypoint too would run the wrapper twice.
		return []string{"/lambda-entrypoint.sh", fn.Handler}, taskRoot, nil
	}
}

// environ is the runtime's environment with container paths; the image's
// own variables that furl does not set (NODE_PATH, say) stay.
func (s *Sandbox) environ(spec runtimeapi.Spec, info *imageInfo) ([]string, error) {
	api, err := s.advertised(spec.RuntimeAPI)
	if err != nil {
		return nil, err
	}
	p := runtimeapi.Paths{TaskRoot: taskRoot, RuntimeDir: runtimeDir, RuntimeAPI: api, Path: awsPath, LibraryPath: awsLibraryPath}
	if spec.Function.PackageType == "Image" {
		// An image function's image says where its programs are.
		if v, ok := info.env["PATH"]; ok {
			p.Path = v
		}
		if v, ok := info.env["LD_LIBRARY_PATH"]; ok {
			p.LibraryPath = v
		}
	}
	if spec.Endpoint != "" {
		p.Endpoint = spec.Endpoint
		// furl's own loopback address means nothing inside a container on
		// another network: it reaches furl's host by apiHost.
		if u, err := url.Parse(spec.Endpoint); err == nil && !s.hostNet && isLoopback(u.Hostname()) {
			u.Host = net.JoinHostPort(s.apiHost, u.Port())
			p.Endpoint = u.String()
		}
	}
	return spec.Environ(p), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// containerSafe keeps what Docker allows in a container name.
func containerSafe(name string) string {
	b := []byte(name)
	for i, ch := range b {
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-' || ch == '.'
		if !ok {
			b[i] = '-'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}
