package runtimeapi

import (
	"sort"
	"time"
)

// EnvironmentInfo describes a live execution environment, for furl's own
// views of what runs.
type EnvironmentInfo struct {
	Function string `json:"Function"`
	Version  string `json:"Version"`
	ID       string `json:"Id"`
	// Sandbox is where the runtime runs ("process", "docker"), or "" when
	// the sandbox does not say.
	Sandbox string `json:"Sandbox"`
	// State is "initializing", "idle" or "busy".
	State   string    `json:"State"`
	Started time.Time `json:"Started"`
}

// sandboxNamer is a Process that says which sandbox holds it.
type sandboxNamer interface{ Sandbox() string }

// Environments lists the live environments, by function, version and
// start.
func (m *Manager) Environments() []EnvironmentInfo {
	m.mu.Lock()
	pools := make([]*pool, 0, len(m.pools))
	for _, p := range m.pools {
		pools = append(pools, p)
	}
	m.mu.Unlock()
	var out []EnvironmentInfo
	for _, p := range pools {
		p.mu.Lock()
		for e := range p.all {
			if e.gone {
				continue
			}
			info := EnvironmentInfo{Function: e.fn.Name, Version: e.fn.Version, ID: e.id, State: "busy"}
			switch {
			case e.initializing:
				info.State = "initializing"
			case e.polling && !e.claimed:
				info.State = "idle"
			}
			e.mu.Lock()
			info.Started = e.initStart
			if n, ok := e.proc.(sandboxNamer); ok {
				info.Sandbox = n.Sandbox()
			}
			e.mu.Unlock()
			out = append(out, info)
		}
		p.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Function != b.Function {
			return a.Function < b.Function
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Started.Before(b.Started)
	})
	return out
}
