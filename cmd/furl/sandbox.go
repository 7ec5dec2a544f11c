package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/furl-dev/furl/runtimeapi/pick"
	"github.com/furl-dev/furl/runtimeapi/process"
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

// newSandbox makes the sandbox --sandbox names. The returned func removes
// what the sandbox holds (containers) once the environments are closed.
func newSandbox(ctx context.Context, cfg serveConfig, log *slog.Logger) (*pick.Sandbox, func(), error) {
	mode, err := pick.ParseMode(cfg.Sandbox)
	if err != nil {
		return nil, nil, err
	}
	proc := process.New(process.Options{ClientsDir: filepath.Join(cfg.DataDir, "runtime", "clients"), Logger: log})
	s, err := pick.New(mode, proc, nil, log)
	if err != nil {
		return nil, nil, err
	}
	if mode != pick.ModeDocker {
		log.Warn("functions that run as processes on this host are not isolated from it or from each other")
	}
	return s, func() {}, nil
}
