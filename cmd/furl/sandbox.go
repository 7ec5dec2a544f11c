package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/runtimeapi/docker"
	"github.com/furl-dev/furl/runtimeapi/pick"
	"github.com/furl-dev/furl/runtimeapi/process"
	"github.com/furl-dev/furl/urlconfig"
)

// imageMap is --image: runtime identifiers mapped to image references.
type imageMap map[string]string

var runtimeID = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z0-9]+)*(\.x)?$`)

func (m imageMap) String() string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String()
}

// Set reads one RUNTIME=IMAGE.
func (m imageMap) Set(v string) error {
	rt, ref, ok := strings.Cut(v, "=")
	rt, ref = strings.TrimSpace(rt), strings.TrimSpace(ref)
	if !ok || !runtimeID.MatchString(rt) || ref == "" || strings.ContainsAny(ref, " \t=") {
		return fmt.Errorf("%q is not RUNTIME=IMAGE (like nodejs22.x=my-node:22)", v)
	}
	m[rt] = ref
	return nil
}

// newSandbox makes the sandbox --sandbox names, and, when a Docker engine
// answers, the resolver of container images. The returned func removes
// the containers furl started; call it once the environments are closed.
func newSandbox(ctx context.Context, cfg serveConfig, log *slog.Logger) (*pick.Sandbox, urlconfig.ImageResolver, func(), error) {
	mode, err := pick.ParseMode(cfg.Sandbox)
	if err != nil {
		return nil, nil, nil, err
	}
	var proc runtimeapi.Sandbox
	if mode != pick.ModeDocker {
		proc = process.New(process.Options{ClientsDir: filepath.Join(cfg.DataDir, "runtime", "clients"), Logger: log, RuntimePaths: cfg.RuntimePaths})
	}
	var (
		dock     *docker.Sandbox
		resolver urlconfig.ImageResolver
		closeAll = func() {}
	)
	if mode != pick.ModeProcess {
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		dock, err = docker.New(pingCtx, docker.Options{Images: cfg.Images, Network: cfg.DockerNetwork,
			RuntimeAPIHost: cfg.RuntimeAPIHost, Instance: instanceLabel(cfg.DataDir), Pull: cfg.Pull, Logger: log})
		cancel()
		switch {
		case err != nil && mode == pick.ModeDocker:
			return nil, nil, nil, fmt.Errorf("--sandbox docker: %w", err)
		case err != nil:
			log.Info("no Docker engine answers: functions run as processes on this host", "err", err)
			dock = nil
		default:
			orphanCtx, cancel := context.WithTimeout(ctx, time.Minute)
			n, err := dock.RemoveOrphans(orphanCtx)
			cancel()
			if err != nil {
				log.Warn("removing containers a previous furl left failed", "err", err)
			} else if n > 0 {
				log.Info("removed containers a previous furl left", "containers", n)
			}
			resolver = dock
			closeAll = func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := dock.Close(ctx); err != nil {
					log.Warn("removing furl's containers failed", "err", err)
				}
			}
		}
	}
	var d pick.Docker
	if dock != nil {
		d = dock
	}
	s, err := pick.New(mode, proc, d, log)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	if mode != pick.ModeDocker {
		log.Warn("functions that run as processes on this host are not isolated from it or from each other")
	}
	return s, resolver, closeAll, nil
}

// instanceLabel names this furl's containers by its data directory: a furl
// that restarts on the same data finds the containers its crashed
// predecessor left, and furls on other data leave each other's alone.
func instanceLabel(dataDir string) string {
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	sum := sha256.Sum256([]byte(dataDir))
	return hex.EncodeToString(sum[:8])
}

// runtimeAdvice is the gateway's RuntimeAdvice: what the sandbox says of
// a runtime, with the image --image or AWS gives it.
func runtimeAdvice(s *pick.Sandbox, images imageMap) func(runtime, packageType string) string {
	image := func(rt string) (string, bool) {
		if ref, ok := images[rt]; ok {
			return ref, true
		}
		return docker.DefaultImage(rt)
	}
	return func(rt, pt string) string {
		return s.Advice(runtimeapi.Function{Runtime: rt, PackageType: pt}, image)
	}
}
