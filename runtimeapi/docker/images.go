package docker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/furl-dev/furl/runtimeapi"
	"github.com/moby/moby/client"
)

// baseImages are AWS's base images, by runtime identifier: every runtime
// AWS's runtime list names that has one (public.ecr.aws/lambda/<family>:
// <version>). The list is the developer guide's supported runtimes plus
// those AWS's CreateFunction accepts since (nodejs24.x, python3.14,
// java25, dotnet10), and provided, whose Amazon Linux 1 image furl keeps
// for old custom runtimes.
var baseImages = map[string]string{
	"nodejs18.x":      "nodejs:18",
	"nodejs20.x":      "nodejs:20",
	"nodejs22.x":      "nodejs:22",
	"nodejs24.x":      "nodejs:24",
	"python3.9":       "python:3.9",
	"python3.10":      "python:3.10",
	"python3.11":      "python:3.11",
	"python3.12":      "python:3.12",
	"python3.13":      "python:3.13",
	"python3.14":      "python:3.14",
	"java8.al2":       "java:8.al2",
	"java11":          "java:11",
	"java17":          "java:17",
	"java21":          "java:21",
	"java25":          "java:25",
	"dotnet8":         "dotnet:8",
	"dotnet10":        "dotnet:10",
	"ruby3.2":         "ruby:3.2",
	"ruby3.3":         "ruby:3.3",
	"ruby3.4":         "ruby:3.4",
	"provided":        "provided:alami",
	"provided.al2":    "provided:al2",
	"provided.al2023": "provided:al2023",
}

// DefaultImage is AWS's base image for a runtime identifier.
func DefaultImage(runtime string) (string, bool) {
	tag, ok := baseImages[runtime]
	if !ok {
		return "", false
	}
	return "public.ecr.aws/lambda/" + tag, true
}

// imageInfo is what furl needs to know of an image to start it.
type imageInfo struct {
	id         string
	digest     string // the registry digest, or "" for a local build
	arch       string
	entrypoint []string
	cmd        []string
	env        map[string]string // PATH and LD_LIBRARY_PATH, where set
	at         time.Time
}

// imageCacheTTL is how long an image's inspection stands in for asking
// again: long enough that a burst of cold starts asks once, short enough
// that a re-tagged image is noticed soon.
const imageCacheTTL = 10 * time.Second

// imageCache keeps image inspections per reference for a while, and
// whether each image (by id) has a /bin/sh, for good: an image id names
// its content.
type imageCache struct {
	mu    sync.Mutex
	refs  map[string]*imageInfo
	shell map[string]bool
	pulls map[string]*pullCall
}

type pullCall struct {
	done chan struct{}
	err  error
}

func (c *imageCache) get(ref string) *imageInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if info := c.refs[ref]; info != nil && time.Since(info.at) < imageCacheTTL {
		return info
	}
	return nil
}

func (c *imageCache) put(ref string, info *imageInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refs == nil {
		c.refs = map[string]*imageInfo{}
	}
	c.refs[ref] = info
}

// forget drops a reference whose image turned out to be gone.
func (c *imageCache) forget(ref string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.refs, ref)
}

func (c *imageCache) hasShell(id string) (has, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	has, known = c.shell[id]
	return has, known
}

func (c *imageCache) setShell(id string, has bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shell == nil {
		c.shell = map[string]bool{}
	}
	c.shell[id] = has
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// inspect reads an image's configuration, from the cache when fresh.
// found is false when no such image is present.
func (s *Sandbox) inspect(ctx context.Context, ref string) (info *imageInfo, found bool, err error) {
	if info := s.cache.get(ref); info != nil {
		return info, true, nil
	}
	res, err := s.cli.ImageInspect(ctx, ref)
	if isNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	info = &imageInfo{id: res.ID, arch: res.Architecture, env: map[string]string{}, at: time.Now()}
	for _, d := range res.RepoDigests {
		if _, digest, ok := strings.Cut(d, "@"); ok {
			info.digest = digest
			break
		}
	}
	if c := res.Config; c != nil {
		info.entrypoint, info.cmd = c.Entrypoint, c.Cmd
		for _, kv := range c.Env {
			if k, v, ok := strings.Cut(kv, "="); ok && (k == "PATH" || k == "LD_LIBRARY_PATH") {
				info.env[k] = v
			}
		}
	}
	s.cache.put(ref, info)
	return info, true, nil
}

// Present reports whether an image is present locally.
func (s *Sandbox) Present(ctx context.Context, ref string) (bool, error) {
	_, found, err := s.inspect(ctx, ref)
	return found, err
}

// Resolve is the digest ("sha256:…") of a local image, pulling it first if
// it is missing and the sandbox pulls: the registry's manifest digest
// where the image came from one, else the image's own id.
func (s *Sandbox) Resolve(ctx context.Context, ref string) (string, error) {
	info, err := s.image(ctx, ref)
	if err != nil {
		return "", err
	}
	if info.digest != "" {
		return info.digest, nil
	}
	return info.id, nil
}

// image inspects an image, pulling it first if it is missing and the
// sandbox pulls. A missing image is a StartError that says what to do.
func (s *Sandbox) image(ctx context.Context, ref string) (*imageInfo, error) {
	info, found, err := s.inspect(ctx, ref)
	if err != nil || found {
		return info, err
	}
	if !s.pull {
		return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: missingImage(ref, "")}
	}
	if err := s.pullOnce(ctx, ref); err != nil {
		return nil, &runtimeapi.StartError{Type: "Runtime.InvalidEntrypoint", Message: missingImage(ref, err.Error())}
	}
	info, found, err = s.inspect(ctx, ref)
	if err == nil && !found {
		err = fmt.Errorf("image %s is still missing after it was pulled", ref)
	}
	return info, err
}

// missingImage says what to do about an image that is not there.
func missingImage(ref, pullErr string) string {
	what := fmt.Sprintf("the image %s is not present locally", ref)
	if pullErr != "" {
		what = fmt.Sprintf("furl could not pull the image %s (%s)", ref, pullErr)
	}
	return what + ": pull it with `docker pull " + ref + "` (or build and tag it locally), " +
		"or map the runtime to a local image with furl's --image <runtime>=<image> flag"
}

// pullOnce pulls an image; concurrent callers for the same image share one
// pull.
func (s *Sandbox) pullOnce(ctx context.Context, ref string) error {
	s.cache.mu.Lock()
	if s.cache.pulls == nil {
		s.cache.pulls = map[string]*pullCall{}
	}
	pc := s.cache.pulls[ref]
	leader := pc == nil
	if leader {
		pc = &pullCall{done: make(chan struct{})}
		s.cache.pulls[ref] = pc
	}
	s.cache.mu.Unlock()
	if leader {
		// The pull is the sandbox's, not its first caller's: a caller
		// that goes away must not fail the others waiting for it.
		started := s.track(func() {
			ctx, cancel := context.WithTimeout(s.stopCtx, pullTimeout)
			defer cancel()
			pc.err = s.doPull(ctx, ref)
			s.cache.mu.Lock()
			delete(s.cache.pulls, ref)
			s.cache.mu.Unlock()
			close(pc.done)
		})
		if !started {
			s.cache.mu.Lock()
			delete(s.cache.pulls, ref)
			s.cache.mu.Unlock()
			return fmt.Errorf("the docker sandbox is closed")
		}
	}
	select {
	case <-pc.done:
		return pc.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pullProgressEvery is how often a pull under way is logged.
const pullProgressEvery = 3 * time.Second

// doPull pulls an image, logging its progress every few seconds.
func (s *Sandbox) doPull(ctx context.Context, ref string) error {
	s.log.Info("pulling image", "image", ref)
	start := time.Now()
	resp, err := s.cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer resp.Close()
	type layer struct{ current, total int64 }
	layers := map[string]*layer{}
	last := time.Now()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if msg.Error != nil {
			return fmt.Errorf("%s", msg.Error.Message)
		}
		if msg.ID != "" && msg.Progress != nil {
			l := layers[msg.ID]
			if l == nil {
				l = &layer{}
				layers[msg.ID] = l
			}
			l.current, l.total = msg.Progress.Current, msg.Progress.Total
		}
		if time.Since(last) >= pullProgressEvery {
			last = time.Now()
			var cur, total int64
			for _, l := range layers {
				cur += l.current
				total += l.total
			}
			s.log.Info("pulling image", "image", ref, "layers", len(layers), "mb", cur>>20, "of_mb", total>>20, "elapsed", time.Since(start).Round(time.Second))
		}
	}
	s.log.Info("pulled image", "image", ref, "elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}
