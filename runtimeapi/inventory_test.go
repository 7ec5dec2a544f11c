package runtimeapi

import (
	"context"
	"strings"
	"testing"
	"time"
)

// namedProcess says which sandbox holds it, as pick's processes do.
type namedProcess struct{ *fakeProcess }

func (namedProcess) Sandbox() string { return "docker" }

type namingSandbox struct{ *fakeSandbox }

func (s namingSandbox) Start(ctx context.Context, spec Spec) (Process, error) {
	p, err := s.fakeSandbox.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return namedProcess{p.(*fakeProcess)}, nil
}

// The inventory shows each live environment with its sandbox and state:
// busy while its runtime holds an event, idle once it polls again, gone
// once it ends.
func TestEnvironmentsInventory(t *testing.T) {
	sb := newFakeSandbox()
	m := newTestManager(t, namingSandbox{sb})
	fn := testFunction(t, 5*time.Second)
	if envs := m.Environments(); len(envs) != 0 {
		t.Fatalf("environments before any invocation: %+v", envs)
	}
	out, rt := startInvoke(t, m, sb, fn, `{}`)
	resp, _ := rt.do("GET", "/runtime/invocation/next", nil, nil)
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	envs := m.Environments()
	if len(envs) != 1 || envs[0].Function != fn.Name || envs[0].Version != fn.Version || envs[0].Sandbox != "docker" ||
		envs[0].State != "busy" || envs[0].Started.IsZero() || envs[0].ID == "" {
		t.Fatalf("while invoking: %+v", envs)
	}
	// The next poll makes it idle; it blocks, so it runs on its own.
	rt.do("POST", "/runtime/invocation/"+id+"/response", strings.NewReader(`"ok"`), nil)
	wait(t, out)
	go rt.c.Get(rt.base + "/runtime/invocation/next")
	deadline := time.Now().Add(10 * time.Second)
	for {
		envs = m.Environments()
		if len(envs) == 1 && envs[0].State == "idle" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the response and a poll: %+v", envs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.Retire(fn.Name)
	deadline = time.Now().Add(10 * time.Second)
	for len(m.Environments()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after Retire: %+v", m.Environments())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
