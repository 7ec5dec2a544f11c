package sandboxtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
)

// startInvoke: a cold start answers the event, in Lambda's environment,
// with the code readable at LAMBDA_TASK_ROOT and furl's endpoint reachable.
func (s *suite) startInvoke(t *testing.T) {
	m := s.manager(t, 0)
	fn := s.function("suite-start", defaultTimeout, map[string]string{"SUITE_VAR": "conformance"})
	payload := `{"do":"echo","nonce":"` + nonce() + `"}`
	o := invoke(t, m, fn, payload)
	must(t, "the first invocation", o)
	var r report
	if err := json.Unmarshal([]byte(o.body), &r); err != nil {
		t.Fatalf("echo answered %q: %v", o.body, err)
	}
	if string(r.Event) != payload {
		t.Errorf("the function got the event %s, want %s", r.Event, payload)
	}
	for k, want := range map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_REGION":                      fn.Region,
		"SUITE_VAR":                       "conformance",
	} {
		if got, ok := r.Env[k]; !ok || got != want {
			t.Errorf("%s = %q (set: %v), want %q", k, got, ok, want)
		}
	}
	for _, k := range []string{"LAMBDA_TASK_ROOT", "AWS_LAMBDA_RUNTIME_API", "AWS_ENDPOINT_URL_LAMBDA"} {
		if r.Env[k] == "" {
			t.Errorf("%s is empty or unset", k)
		}
	}
	if r.Code != s.bootstrapSHA {
		t.Errorf("$LAMBDA_TASK_ROOT/bootstrap: %s, want the package's bootstrap (SHA-256 %s)", r.Code, s.bootstrapSHA)
	}
	if r.Cwd != r.Env["LAMBDA_TASK_ROOT"] {
		t.Errorf("the runtime runs in %q, not in LAMBDA_TASK_ROOT %q", r.Cwd, r.Env["LAMBDA_TASK_ROOT"])
	}
	if r.AliveErr != "" {
		t.Errorf("the function cannot reach AWS_ENDPOINT_URL_LAMBDA (%s): %s", r.Env["AWS_ENDPOINT_URL_LAMBDA"], r.AliveErr)
	} else {
		s.ep.waitUp(t, r.Instance)
	}
	if !strings.Contains(o.log, "START RequestId: ") || !strings.Contains(o.log, "REPORT RequestId: ") {
		t.Errorf("the invocation's log lacks Lambda's START or REPORT line:\n%s", o.log)
	}
	if total, _ := m.Stats(fn.Name, fn.Version); total != 1 {
		t.Errorf("the Manager counts %d environments, want 1", total)
	}
}

// warmReuse: a second invocation runs in the environment of the first.
func (s *suite) warmReuse(t *testing.T) {
	m := s.manager(t, 0)
	fn := s.function("suite-warm", defaultTimeout, nil)
	first := echo(t, m, fn)
	waitIdle(t, m, fn)
	second := echo(t, m, fn)
	if second.Instance != first.Instance || second.PID != first.PID || second.Hostname != first.Hostname {
		t.Errorf("the second invocation ran in instance %s (pid %d, host %q), not the first's %s (pid %d, host %q)",
			second.Instance, second.PID, second.Hostname, first.Instance, first.PID, first.Hostname)
	}
	if first.Count != 1 || second.Count != 2 {
		t.Errorf("the runtime counted invocations %d then %d, want 1 then 2", first.Count, second.Count)
	}
	if total, _ := m.Stats(fn.Name, fn.Version); total != 1 {
		t.Errorf("the Manager counts %d environments, want 1", total)
	}
}

// streaming: each chunk reaches the invoker while the function waits, at
// the gate after it, for the suite to have received it. A sandbox or relay
// that buffered would hold chunk 1 until the function ends, which it
// cannot before the suite opens gate 1: order proves streaming, no clock.
func (s *suite) streaming(t *testing.T) {
	m := s.manager(t, 0)
	fn := s.function("suite-stream", defaultTimeout, nil)
	const chunks = 4
	gate := nonce()
	res := start(t, m, fn, fmt.Sprintf(`{"do":"stream","gate":%q,"chunks":%d}`, gate, chunks), true)
	r := readStream(t, res.Body)
	want := ""
	for i := 1; i <= chunks; i++ {
		want += fmt.Sprintf("chunk %d\n", i)
		r.until(t, want)
		s.ep.open(gate, strconv.Itoa(i))
	}
	if body := r.rest(t); body != want {
		t.Errorf("the stream is %q, want %q", body, want)
	}
	if fe := wait(t, res); fe != nil {
		t.Errorf("the stream failed: %s: %s", fe.Type, fe.Payload)
	}
}

// errorTrailer: a failure after the stream began is the invocation's
// error, with the type and body the runtime sent in its trailers, after
// the bytes sent before it.
func (s *suite) errorTrailer(t *testing.T) {
	m := s.manager(t, 0)
	fn := s.function("suite-trailer", defaultTimeout, nil)
	gate := nonce()
	res := start(t, m, fn, fmt.Sprintf(`{"do":"stream-error","gate":%q,"chunks":2}`, gate), true)
	r := readStream(t, res.Body)
	r.until(t, "chunk 1\n")
	s.ep.open(gate, "1")
	r.until(t, "chunk 1\nchunk 2\n")
	s.ep.open(gate, "2")
	if body := r.rest(t); body != "chunk 1\nchunk 2\n" {
		t.Errorf("the stream is %q, want the two chunks sent before the error", body)
	}
	fe := wait(t, res)
	if fe == nil {
		t.Fatal("a stream that failed in its trailers succeeded")
	}
	if fe.Type != "Suite.StreamFailed" {
		t.Errorf("error type %q, want the trailer's Suite.StreamFailed (payload %s)", fe.Type, fe.Payload)
	}
	if msg := errorMessage(t, fe); msg != "failed on purpose after 2 chunks" {
		t.Errorf("error message %q, want the trailer's body", msg)
	}
}

// timeout: a function past its timeout fails with Sandbox.Timedout, its
// runtime is killed, and the next invocation gets a fresh environment.
func (s *suite) timeout(t *testing.T) {
	m := s.manager(t, 0)
	fn := s.function("suite-timeout", 2*time.Second, nil)
	before := echo(t, m, fn)
	o := invoke(t, m, fn, `{"do":"sleep"}`)
	if o.fe == nil || o.fe.Type != "Sandbox.Timedout" {
		t.Fatalf("a function sleeping past its timeout: %s; want Sandbox.Timedout", describe(o))
	}
	if msg := errorMessage(t, o.fe); !strings.Contains(msg, "Task timed out after 2.00 seconds") {
		t.Errorf("timeout message %q lacks Lambda's \"Task timed out after 2.00 seconds\"", msg)
	}
	s.ep.waitDown(t, before.Instance)
	after := echo(t, m, fn)
	if after.Instance == before.Instance || after.Count != 1 {
		t.Errorf("after a timeout the function ran in instance %s (invocation %d); want a fresh one, not %s",
			after.Instance, after.Count, before.Instance)
	}
}

// crash: a runtime that exits during an invocation fails it with
// Runtime.ExitError and its exit status; the next gets a fresh environment.
func (s *suite) crash(t *testing.T) {
	m := s.manager(t, 0)
	fn := s.function("suite-crash", defaultTimeout, nil)
	before := echo(t, m, fn)
	o := invoke(t, m, fn, `{"do":"crash","code":2}`)
	if o.fe == nil || o.fe.Type != "Runtime.ExitError" {
		t.Fatalf("a runtime that exited mid-invocation: %s; want Runtime.ExitError", describe(o))
	}
	if msg := errorMessage(t, o.fe); !strings.Contains(msg, "exit status 2") {
		t.Errorf("exit message %q does not give the exit status 2", msg)
	}
	s.ep.waitDown(t, before.Instance)
	after := echo(t, m, fn)
	if after.Instance == before.Instance || after.Count != 1 {
		t.Errorf("after a crash the function ran in instance %s (invocation %d); want a fresh one, not %s",
			after.Instance, after.Count, before.Instance)
	}
}

// initFailure: a runtime that fails init fails the invocation waiting for
// it with the init error type, and what it printed during init is in the
// invocation's log.
func (s *suite) initFailure(t *testing.T) {
	for _, tc := range []struct {
		mode, typ, msg, printed string
	}{
		{"exit", "Runtime.ExitError", "exit status 3", "suite function: exiting during init, as asked"},
		{"error", "Suite.InitFailed", "init failed on purpose", "suite function: reporting an init error, as asked"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			m := s.manager(t, 0)
			fn := s.function("suite-init-"+tc.mode, defaultTimeout, map[string]string{"SUITE_INIT": tc.mode})
			o := invoke(t, m, fn, `{"do":"echo"}`)
			if o.fe == nil || o.fe.Type != tc.typ {
				t.Fatalf("init %s: %s; want %s", tc.mode, describe(o), tc.typ)
			}
			if msg := errorMessage(t, o.fe); !strings.Contains(msg, tc.msg) {
				t.Errorf("init error message %q lacks %q", msg, tc.msg)
			}
			if !strings.Contains(o.log, tc.printed) {
				t.Errorf("the invocation's log lacks the line printed during init, %q:\n%s", tc.printed, o.log)
			}
			eventually(t, "the failed environment to go", s.noEnvironments(m, fn.Name))
		})
	}
}

// logCapture: lines printed on stdout and stderr just before the runtime
// answers are in that invocation's log, before its END line, every time.
func (s *suite) logCapture(t *testing.T) {
	m := s.manager(t, 0)
	fn := s.function("suite-log", defaultTimeout, nil)
	const rounds, lines = 20, 3
	for round := 1; round <= rounds; round++ {
		if round > 1 {
			// Every round in the same, warm environment: its output path
			// is the one under test, not the Manager's scale-out.
			waitIdle(t, m, fn)
		}
		tag := fmt.Sprintf("round-%d-%s", round, nonce())
		o := invoke(t, m, fn, fmt.Sprintf(`{"do":"log","tag":%q,"lines":%d}`, tag, lines))
		must(t, "round "+strconv.Itoa(round), o)
		end := strings.Index(o.log, "END RequestId: ")
		if end < 0 {
			t.Fatalf("round %d: no END line in the log:\n%s", round, o.log)
		}
		for i := 1; i <= lines; i++ {
			for _, stream := range []string{"stdout", "stderr"} {
				line := fmt.Sprintf("%s %s %d\n", tag, stream, i)
				at := strings.Index(o.log, line)
				if at < 0 || at > end {
					t.Fatalf("round %d: %q is not in the invocation's log before its END line (at %d, END at %d):\n%s",
						round, line, at, end, o.log)
				}
			}
		}
	}
}

// fsProbe is what the function could not write, as it reports it.
type fsProbe struct {
	TaskRootFile  string `json:"taskRootFile"`
	TaskRootMkdir string `json:"taskRootMkdir"`
	Tmp           string `json:"tmp"`
}

func (s *suite) probeFS(t *testing.T) fsProbe {
	t.Helper()
	m := s.manager(t, 0)
	fn := s.function("suite-fs", defaultTimeout, nil)
	o := invoke(t, m, fn, `{"do":"fs"}`)
	must(t, "the file system probe", o)
	var p fsProbe
	if err := json.Unmarshal([]byte(o.body), &p); err != nil {
		t.Fatalf("the probe answered %q: %v", o.body, err)
	}
	return p
}

// codeReadOnly: the function cannot change its code.
func (s *suite) codeReadOnly(t *testing.T) {
	p := s.probeFS(t)
	if p.TaskRootFile == "" {
		t.Error("the function created a file in LAMBDA_TASK_ROOT")
	}
	if p.TaskRootMkdir == "" {
		t.Error("the function created a directory in LAMBDA_TASK_ROOT")
	}
}

// tmpWritable: /tmp is the function's to write.
func (s *suite) tmpWritable(t *testing.T) {
	if p := s.probeFS(t); p.Tmp != "" {
		t.Errorf("the function cannot write /tmp: %s", p.Tmp)
	}
}

// reap: an environment left idle past the IdleTimeout ends by itself, and
// the next invocation starts a fresh one.
func (s *suite) reap(t *testing.T) {
	m := s.manager(t, 300*time.Millisecond)
	fn := s.function("suite-reap", defaultTimeout, nil)
	before := echo(t, m, fn)
	// Nothing but the idle timeout can end it now.
	s.ep.waitDown(t, before.Instance)
	eventually(t, "the Manager to forget the reaped environment", s.noEnvironments(m, fn.Name))
	after := echo(t, m, fn)
	if after.Instance == before.Instance || after.Count != 1 {
		t.Errorf("after reaping the function ran in instance %s (invocation %d); want a fresh one, not %s",
			after.Instance, after.Count, before.Instance)
	}
}

// shutdown: Manager.Close ends every environment, idle or busy, and what
// their runtimes started; invocations after it fail with ErrClosed.
func (s *suite) shutdown(t *testing.T) {
	m := s.manager(t, 0)
	idle := echo(t, m, s.function("suite-shutdown-idle", defaultTimeout, nil))
	child := s.spawn(t, m, s.function("suite-shutdown-spawn", defaultTimeout, nil))

	// A stream held mid-way: its runtime is busy when Close comes.
	busyFn := s.function("suite-shutdown-busy", defaultTimeout, nil)
	res := start(t, m, busyFn, fmt.Sprintf(`{"do":"stream","gate":%q,"chunks":2}`, nonce()), true)
	r := readStream(t, res.Body)
	r.until(t, "chunk 1\n")

	closeManager(t, m)
	for _, id := range []string{idle.Instance, child} {
		s.ep.waitDown(t, id)
	}
	r.rest(t)
	if fe := wait(t, res); fe == nil {
		t.Error("a stream cut off by Close succeeded")
	}
	for _, fn := range []string{"suite-shutdown-idle", "suite-shutdown-spawn", "suite-shutdown-busy"} {
		if total, _ := m.Stats(fn, "$LATEST"); total != 0 {
			t.Errorf("after Close the Manager still counts %d environments of %s", total, fn)
		}
	}
	_, err := m.Invoke(t.Context(), &runtimeapi.Invocation{Function: busyFn, RequestID: "after-close", Payload: []byte(`{"do":"echo"}`)})
	if !errors.Is(err, runtimeapi.ErrClosed) {
		t.Errorf("Invoke after Close: %v, want ErrClosed", err)
	}
}

// spawn has the function start a child that outlives its handler, and
// returns the child's id once it is up.
func (s *suite) spawn(t *testing.T, m *runtimeapi.Manager, fn runtimeapi.Function) string {
	t.Helper()
	id := "child-" + nonce()
	o := invoke(t, m, fn, fmt.Sprintf(`{"do":"spawn","child":%q}`, id))
	must(t, "spawning a child", o)
	s.ep.waitUp(t, id)
	return id
}

// noLeftovers: once its Manager is closed, nothing the suite started runs
// any more: not in the sandbox's view, not in the Manager's, and no process
// holds a connection to the suite. Earlier cases' leftovers count too.
func (s *suite) noLeftovers(t *testing.T) {
	m := s.manager(t, 0)
	fn := s.function("suite-leftovers", defaultTimeout, nil)
	echo(t, m, fn)
	s.spawn(t, m, fn)
	closeManager(t, m)
	if total, _ := m.Stats(fn.Name, fn.Version); total != 0 {
		t.Errorf("after Close the Manager still counts %d environments", total)
	}
	eventually(t, "every process the suite started to end", func() (bool, string) {
		live := s.ep.live()
		return len(live) == 0, fmt.Sprintf("these still hold their connection to the suite: %v", live)
	})
	if s.cfg.Leftovers == nil {
		return
	}
	eventually(t, "the sandbox to list no leftovers", func() (bool, string) {
		left := s.cfg.Leftovers(t)
		return len(left) == 0, fmt.Sprintf("the sandbox lists %q", left)
	})
}

// waitIdle waits until fn's one environment is idle again: its runtime
// is back in /next. The Manager starts another environment for an
// invocation that finds none idle, even one a moment from being idle, so
// a case that means to reuse an environment waits for it.
func waitIdle(t *testing.T, m *runtimeapi.Manager, fn runtimeapi.Function) {
	t.Helper()
	eventually(t, "the environment to be idle", func() (bool, string) {
		total, idle := m.Stats(fn.Name, fn.Version)
		return total == 1 && idle == 1, fmt.Sprintf("%d environments, %d idle", total, idle)
	})
}

// noEnvironments is a condition for eventually: the Manager counts no
// environment of the function.
func (s *suite) noEnvironments(m *runtimeapi.Manager, name string) func() (bool, string) {
	return func() (bool, string) {
		total, _ := m.Stats(name, "$LATEST")
		return total == 0, fmt.Sprintf("the Manager counts %d environments of %s", total, name)
	}
}
