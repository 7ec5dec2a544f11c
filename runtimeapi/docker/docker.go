// Package docker is furl's container sandbox: it runs each execution
// environment's runtime in a Docker container, on AWS's base image for the
// function's runtime (or the function's own image), with the code mounted
// read-only at /var/task and its layers, merged, at /opt. furl's Runtime API stays outside the container:
// the runtime is pointed at it with AWS_LAMBDA_RUNTIME_API, which makes
// AWS's /lambda-entrypoint.sh run the runtime directly instead of the
// emulator, so responses stream as they do in the process sandbox.
//
// It talks to the engine through github.com/moby/moby/client, which
// honours DOCKER_HOST and the rest of Docker's environment.
package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/furl-dev/furl/runtimeapi"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Options configure a Sandbox.
type Options struct {
	// Images maps a runtime identifier to the image its functions run on,
	// overriding DefaultImage.
	Images map[string]string
	// Network is "host" (the default; Linux, local engine) or the name of
	// a Docker network, such as "bridge".
	Network string
	// RuntimeAPIHost is the name or address containers on a network other
	// than host reach furl by. Empty means host.docker.internal, which
	// each container maps to the engine's host gateway.
	RuntimeAPIHost string
	// Instance names this furl: its containers carry the label
	// furl.instance=<Instance>, by which Close and RemoveOrphans find
	// them. Empty means "furl".
	Instance string
	// Pull pulls an image that is not present locally; otherwise a
	// missing image is an init failure that says how to get it.
	Pull bool
	// Logger receives the sandbox's notes and warnings. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// The labels furl puts on its containers.
const (
	labelInstance = "furl.instance"
	labelFunction = "furl.function"
	labelVersion  = "furl.version"
)

// hostGatewayName is the name containers on a bridge network reach furl by
// unless told otherwise.
const hostGatewayName = "host.docker.internal"

// Sandbox runs runtimes in Docker containers.
type Sandbox struct {
	cli      *client.Client
	log      *slog.Logger
	images   map[string]string
	network  string
	hostNet  bool
	apiHost  string // what containers call furl: 127.0.0.1, or RuntimeAPIHost
	listen   string // where furl's Runtime APIs listen
	extra    []string
	instance string
	pull     bool
	user     string
	// fifoDir holds the FIFOs runtimes write their output to; furl's
	// alone (0700), so that no other host user can read or forge a
	// function's logs.
	fifoDir string

	cache imageCache

	// bg counts the sandbox's own goroutines (removals, waits), which
	// Close waits for.
	bg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	// stop ends the sandbox's own work that outlives a caller (pulls)
	// when it closes.
	stopCtx context.Context
	stop    context.CancelFunc
}

var _ runtimeapi.Sandbox = (*Sandbox)(nil)

// pingTimeout bounds the wait for an engine to answer at New.
const pingTimeout = 5 * time.Second

// New connects to the Docker engine the environment names (DOCKER_HOST
// and so on, else the local socket) and fails when none answers. The
// client negotiates the API version down to the engine's (1.41 for
// Docker 20.10) at the first request.
func New(ctx context.Context, opts Options) (*Sandbox, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	s, err := newSandbox(ctx, cli, opts)
	if err != nil {
		cli.Close()
		return nil, err
	}
	return s, nil
}

func newSandbox(ctx context.Context, cli *client.Client, opts Options) (*Sandbox, error) {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return nil, fmt.Errorf("no Docker engine answers at %s: %w", cli.DaemonHost(), err)
	}
	s := &Sandbox{
		cli:      cli,
		log:      opts.Logger,
		images:   opts.Images,
		network:  opts.Network,
		instance: opts.Instance,
		pull:     opts.Pull,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.instance == "" {
		s.instance = "furl"
	}
	if s.network == "" {
		s.network = "host"
	}
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	s.hostNet = s.network == "host"
	if s.hostNet {
		s.listen, s.apiHost = "127.0.0.1", "127.0.0.1"
	} else {
		res, err := cli.NetworkInspect(ctx, s.network, client.NetworkInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("docker network %q: %w", s.network, err)
		}
		for _, c := range res.Network.IPAM.Config {
			if c.Gateway.Is4() {
				s.listen = c.Gateway.String()
				break
			}
		}
		if s.listen == "" {
			// Some engines leave the default bridge's gateway out of its
			// IPAM configuration: it is the bridge interface's address.
			s.listen = interfaceIPv4(res.Network.Options["com.docker.network.bridge.name"])
		}
		if s.listen == "" {
			return nil, fmt.Errorf("docker network %q has no IPv4 gateway for furl to listen on", s.network)
		}
		s.apiHost = opts.RuntimeAPIHost
		if s.apiHost == "" {
			// The name maps to the address furl listens on: the
			// engine's host-gateway is docker0's, which on a network of
			// the user's own is not this network's gateway.
			s.apiHost = hostGatewayName
			s.extra = []string{hostGatewayName + ":" + s.listen}
		}
	}
	// A non-root furl runs functions as itself, so that it can read their
	// processes' /proc (for the peer check) and they can read the code it
	// extracted; a root furl runs them as Lambda's own user, never root.
	if uid := os.Geteuid(); uid != 0 {
		s.user = strconv.Itoa(uid) + ":" + strconv.Itoa(os.Getegid())
	} else {
		s.user = lambdaUser
	}
	dir, err := os.MkdirTemp("", "furl-docker-")
	if err != nil {
		return nil, fmt.Errorf("directory for runtime output: %w", err)
	}
	s.fifoDir = dir
	return s, nil
}

// interfaceIPv4 is the first IPv4 address of a host interface, or "".
func interfaceIPv4(name string) string {
	if name == "" {
		return ""
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return ""
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// lambdaUser is sbx_user1051, the user Lambda runs functions as.
const lambdaUser = "993:990"

// ListenHost is where an environment's Runtime API listens: loopback on
// the host network, the network's gateway otherwise.
func (s *Sandbox) ListenHost() string { return s.listen }

// ImageFor is the image a function runs: its own for an Image function,
// else the one its runtime is mapped to, else AWS's base image.
func (s *Sandbox) ImageFor(fn runtimeapi.Function) (string, error) {
	if fn.PackageType == "Image" {
		if fn.Image.URI == "" {
			return "", &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: "the function is an Image function without an image URI"}
		}
		return fn.Image.URI, nil
	}
	if ref, ok := s.images[fn.Runtime]; ok && ref != "" {
		return ref, nil
	}
	if ref, ok := DefaultImage(fn.Runtime); ok {
		return ref, nil
	}
	return "", &runtimeapi.StartError{Type: "Runtime.InvalidRuntime",
		Message: fmt.Sprintf("furl knows no image for runtime %s: map it to a local image with furl's --image %s=<image> flag", fn.Runtime, fn.Runtime)}
}

// track runs f as one of the sandbox's own goroutines, unless the sandbox
// is closed.
func (s *Sandbox) track(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		f()
	}()
	return true
}

// removeTimeout bounds one container removal.
const removeTimeout = 30 * time.Second

// remove kills and removes a container; one that is already gone, or
// going (another of furl's removals is under way), is fine.
func (s *Sandbox) remove(ctx context.Context, id string) error {
	_, err := s.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	switch {
	case err == nil || isNotFound(err):
		return nil
	case cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress"):
		// The engine is removing it already (AutoRemove, or another
		// call): it is removed when that is done.
		w := s.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: ctypes.WaitConditionRemoved})
		select {
		case <-w.Result:
			return nil
		case err := <-w.Error:
			if isNotFound(err) {
				return nil
			}
			return fmt.Errorf("wait for the removal of container %.12s: %w", id, err)
		}
	}
	return fmt.Errorf("remove container %.12s: %w", id, err)
}

// mine lists this instance's containers, running or not.
func (s *Sandbox) mine(ctx context.Context) ([]string, error) {
	res, err := s.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: client.Filters{}.Add("label", labelInstance+"="+s.instance),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	ids := make([]string, 0, len(res.Items))
	for _, c := range res.Items {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// removeAll removes the given containers, a few at a time.
func (s *Sandbox) removeAll(ctx context.Context, ids []string) (int, error) {
	var (
		mu   sync.Mutex
		n    int
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, 4)
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := s.remove(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			n++
		}()
	}
	wg.Wait()
	return n, errors.Join(errs...)
}

// RemoveOrphans removes the containers a furl of the same instance left
// behind when it ended without cleaning up: call it at start, before the
// first environment.
func (s *Sandbox) RemoveOrphans(ctx context.Context) (int, error) {
	ids, err := s.mine(ctx)
	if err != nil {
		return 0, err
	}
	return s.removeAll(ctx, ids)
}

// Close kills and removes every container of this instance and waits
// (until ctx ends) for the sandbox's goroutines.
func (s *Sandbox) Close(ctx context.Context) error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return nil
	}
	s.stop()
	var errs []error
	ids, err := s.mine(ctx)
	if err != nil {
		errs = append(errs, err)
	} else if _, err := s.removeAll(ctx, ids); err != nil {
		errs = append(errs, err)
	}
	waited := make(chan struct{})
	go func() {
		s.bg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("docker sandbox: environments still ending: %w", ctx.Err()))
	}
	os.RemoveAll(s.fifoDir)
	s.cli.Close()
	return errors.Join(errs...)
}

// advertised is how a container reaches a host address furl listens on.
func (s *Sandbox) advertised(hostport string) (string, error) {
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("runtime API address %q: %w", hostport, err)
	}
	return net.JoinHostPort(s.apiHost, port), nil
}
