package docker

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/runtimeapi/process"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// The images the tests build; none comes from a registry.
const (
	// baseImage stands for AWS's provided.al2023 image: a shell and
	// nothing else (the bootstrap comes with the function's code).
	baseImage = "furl-test/provided:al2023"
	// fnImage is an Image function built FROM scratch: the test function
	// as its entrypoint, no shell.
	fnImage = "furl-test/image-fn:latest"
	// fnShellImage is the same with a shell.
	fnShellImage = "furl-test/image-fn-sh:latest"
)

var fixtures struct {
	once sync.Once
	err  error
	dir  string
	cli  *client.Client
	zip  string // a provided.al2023 function's deployment package
	hash string
}

func TestMain(m *testing.M) {
	// The benchmarks compare with the process sandbox, whose environments
	// this binary supervises.
	process.RunSupervisorIfAsked()
	code := m.Run()
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
	os.Exit(code)
}

// engine connects to the Docker engine and builds the test images once.
// Without an engine the test is skipped, unless FURL_E2E_REQUIRE_DOCKER=1.
func engine(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
		cancel()
	}
	if err != nil {
		if os.Getenv("FURL_E2E_REQUIRE_DOCKER") == "1" {
			t.Fatalf("no Docker engine answers, and FURL_E2E_REQUIRE_DOCKER=1: %v", err)
		}
		t.Skipf("no Docker engine answers: %v", err)
	}
	fixtures.once.Do(func() {
		fixtures.cli = cli
		fixtures.err = buildFixtures(cli)
	})
	if fixtures.err != nil {
		t.Fatal(fixtures.err)
	}
	return fixtures.cli
}

func buildFixtures(cli *client.Client) error {
	dir, err := os.MkdirTemp("", "furl-docker-test-")
	if err != nil {
		return err
	}
	fixtures.dir = dir
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./testdata/fn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the test function: %v\n%s", err, out)
	}
	fn, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	busybox, err := staticBusybox()
	if err != nil {
		return err
	}
	shell := map[string]tarEntry{
		"bin/busybox": {mode: 0o755, data: busybox},
		"bin/sh":      {link: "busybox"},
	}
	if err := buildImage(cli, baseImage, "FROM scratch\nCOPY . /\n", shell); err != nil {
		return err
	}
	if err := buildImage(cli, fnImage, "FROM scratch\nCOPY bootstrap /bootstrap\nENTRYPOINT [\"/bootstrap\"]\n",
		map[string]tarEntry{"bootstrap": {mode: 0o755, data: fn}}); err != nil {
		return err
	}
	shell["bootstrap"] = tarEntry{mode: 0o755, data: fn}
	if err := buildImage(cli, fnShellImage, "FROM scratch\nCOPY . /\nENV PATH=/bin\nENTRYPOINT [\"/bootstrap\"]\n", shell); err != nil {
		return err
	}
	// The function's deployment package: the bootstrap alone.
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	w.Write(fn)
	if err := zw.Close(); err != nil {
		return err
	}
	fixtures.zip = filepath.Join(dir, "fn.zip")
	sum := sha256.Sum256(zb.Bytes())
	fixtures.hash = hex.EncodeToString(sum[:])
	return os.WriteFile(fixtures.zip, zb.Bytes(), 0o644)
}

// staticBusybox is the host's busybox, which must be statically linked to
// run FROM scratch (Debian: busybox-static).
func staticBusybox() ([]byte, error) {
	path, err := exec.LookPath("busybox")
	if err != nil {
		return nil, fmt.Errorf("the tests need a static busybox for an image with a shell (apt-get install busybox-static): %w", err)
	}
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s is not statically linked: install busybox-static", path)
		}
	}
	return os.ReadFile(path)
}

type tarEntry struct {
	mode int64
	data []byte
	link string
}

// buildImage builds an image from a Dockerfile and files, with the
// engine's classic builder (no registry, no BuildKit).
func buildImage(cli *client.Client, tag, dockerfile string, files map[string]tarEntry) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files["Dockerfile"] = tarEntry{mode: 0o644, data: []byte(dockerfile)}
	for name, f := range files {
		h := &tar.Header{Name: name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}
		if f.link != "" {
			h = &tar.Header{Name: name, Mode: 0o777, Typeflag: tar.TypeSymlink, Linkname: f.link}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if f.link == "" {
			tw.Write(f.data)
		}
	}
	delete(files, "Dockerfile")
	if err := tw.Close(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1})
	if err != nil {
		return fmt.Errorf("build %s: %w", tag, err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var msg jsonstream.Message
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("build %s: %w", tag, err)
		}
		if msg.Error != nil {
			return fmt.Errorf("build %s: %s", tag, msg.Error.Message)
		}
	}
}

// testSandbox makes a sandbox of an instance of its own, closed at the
// end of the test, which then checks that no container of it is left.
func testSandbox(t *testing.T, opts Options) *Sandbox {
	t.Helper()
	cli := engine(t)
	if opts.Instance == "" {
		opts.Instance = "test-" + randomHex(6)
	}
	if opts.Images == nil {
		opts.Images = map[string]string{"provided.al2023": baseImage}
	}
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if n := countContainers(t, cli, opts.Instance); n != 0 {
			t.Errorf("%d containers of instance %s are left after Close", n, opts.Instance)
		}
	})
	return s
}

// testLogger discards logs unless FURL_TEST_LOG=1.
func testLogger() *slog.Logger {
	if os.Getenv("FURL_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// countContainers counts an instance's containers, running or not.
func countContainers(t testing.TB, cli *client.Client, instance string) int {
	t.Helper()
	return len(containersOf(t, cli, labelInstance+"="+instance))
}

func containersOf(t testing.TB, cli *client.Client, labels ...string) []string {
	t.Helper()
	res, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", labels...)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range res.Items {
		ids = append(ids, c.ID)
	}
	return ids
}

// waitNoContainers waits for the containers with labels to be gone.
func waitNoContainers(t *testing.T, cli *client.Client, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for len(containersOf(t, cli, labels...)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("containers with labels %v are still there", labels)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// output collects what the manager prints, and wakes waiters for a line.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan struct{}
}

func newOutput() *output { return &output{ch: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.ch)
	o.ch = make(chan struct{})
	return len(p), nil
}

// waitFor waits until the output holds s.
func (o *output) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		o.mu.Lock()
		has, ch := strings.Contains(o.buf.String(), s), o.ch
		o.mu.Unlock()
		if has {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("the output never held %q", s)
		}
	}
}

func testManager(t *testing.T, sb runtimeapi.Sandbox, out io.Writer) *runtimeapi.Manager {
	t.Helper()
	m, err := runtimeapi.New(runtimeapi.Config{DataDir: t.TempDir(), Sandbox: sb, Logger: testLogger(), FunctionOutput: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// zipFunction is a provided.al2023 function whose bootstrap is the test
// function.
func zipFunction(name string, timeout time.Duration) runtimeapi.Function {
	return runtimeapi.Function{Name: name, Version: "$LATEST", Region: "us-east-1", AccountID: "000000000000",
		PackageType: "Zip", Runtime: "provided.al2023", Handler: "bootstrap", MemoryMB: 128, Timeout: timeout,
		Architecture: "x86_64", LogGroup: "/aws/lambda/" + name,
		CodeHash: fixtures.hash, CodePath: fixtures.zip, Fingerprint: "f-" + name}
}

type outcome struct {
	body string
	fe   *runtimeapi.FunctionError
	log  string
}

func invoke(t *testing.T, m *runtimeapi.Manager, fn runtimeapi.Function, payload string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := m.Invoke(ctx, &runtimeapi.Invocation{Function: fn, RequestID: randomHex(16), Payload: []byte(payload),
		InvokedARN: "arn:aws:lambda:us-east-1:000000000000:function:" + fn.Name})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fe := res.Wait()
	return outcome{body: string(body), fe: fe, log: string(res.LogTail(64 << 10))}
}

type probe struct {
	Echo      string            `json:"echo"`
	Env       map[string]string `json:"env"`
	WriteTask string            `json:"write_task"`
	WriteRoot string            `json:"write_root"`
	WriteTmp  string            `json:"write_tmp"`
	WriteOpt  string            `json:"write_opt"`
	Exe       string            `json:"exe"`
	MemLimit  string            `json:"mem_limit"`
	UID       int               `json:"uid"`
	GID       int               `json:"gid"`
	Cwd       string            `json:"cwd"`
	OwnAPI    int               `json:"own_api"`
}

func decodeProbe(t *testing.T, o outcome) probe {
	t.Helper()
	if o.fe != nil {
		t.Fatalf("the invocation failed: %s\nlog:\n%s", o.fe, o.log)
	}
	var p probe
	if err := json.Unmarshal([]byte(o.body), &p); err != nil {
		t.Fatalf("answer %q: %v", o.body, err)
	}
	return p
}

func TestZipFunctionRunsLikeOnLambda(t *testing.T) {
	sb := testSandbox(t, Options{})
	m := testManager(t, sb, io.Discard)
	fn := zipFunction("probe", 30*time.Second)
	fn.EphemeralStorageMB = 600
	fn.Environment = map[string]string{"MY_VAR": "mine"}
	p := decodeProbe(t, invoke(t, m, fn, `{"probe":true,"say":"hello"}`))

	if p.Echo != "hello" {
		t.Errorf("echo = %q", p.Echo)
	}
	wantUser := [2]int{993, 990}
	if os.Geteuid() != 0 {
		wantUser = [2]int{os.Geteuid(), os.Getegid()}
	}
	if got := [2]int{p.UID, p.GID}; got != wantUser {
		t.Errorf("runs as %v, want %v", got, wantUser)
	}
	if !strings.Contains(p.WriteTask, "read-only file system") {
		t.Errorf("writing /var/task: %s, want a read-only file system", p.WriteTask)
	}
	if !strings.Contains(p.WriteRoot, "read-only file system") {
		t.Errorf("writing /: %s, want a read-only file system", p.WriteRoot)
	}
	if p.WriteTmp != "ok" {
		t.Errorf("writing /tmp: %s", p.WriteTmp)
	}
	if p.MemLimit != "134217728" && p.MemLimit != "134217728\n" {
		t.Errorf("memory limit inside = %q, want 128 MB", p.MemLimit)
	}
	if p.Cwd != "/var/task" {
		t.Errorf("cwd = %q", p.Cwd)
	}
	if p.OwnAPI != http.StatusNotFound {
		t.Errorf("the runtime's own second connection to its Runtime API got %d, want 404 (let in, no such route)", p.OwnAPI)
	}
	for k, want := range map[string]string{
		"LAMBDA_TASK_ROOT":         "/var/task",
		"LAMBDA_RUNTIME_DIR":       "/var/runtime",
		"PATH":                     awsPath,
		"LD_LIBRARY_PATH":          awsLibraryPath,
		"AWS_LAMBDA_FUNCTION_NAME": "probe",
		"MY_VAR":                   "mine",
		"_HANDLER":                 "bootstrap",
	} {
		if got := p.Env[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if api := p.Env["AWS_LAMBDA_RUNTIME_API"]; !strings.HasPrefix(api, "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q", api)
	}

	// The engine's view of the container.
	ids := containersOf(t, fixtures.cli, labelFunction+"=probe", labelInstance+"="+sb.instance)
	if len(ids) != 1 {
		t.Fatalf("%d containers for the function, want 1", len(ids))
	}
	res, err := fixtures.cli.ContainerInspect(context.Background(), ids[0], client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hc := res.Container.HostConfig
	if !hc.ReadonlyRootfs || hc.Memory != 128<<20 || hc.MemorySwap != 128<<20 {
		t.Errorf("read-only rootfs %v, memory %d, swap %d", hc.ReadonlyRootfs, hc.Memory, hc.MemorySwap)
	}
	if tmp := hc.Tmpfs["/tmp"]; !strings.Contains(tmp, "size=600m") || !strings.Contains(tmp, "mode=1777") {
		t.Errorf("/tmp tmpfs options %q", tmp)
	}
	labels := res.Container.Config.Labels
	if labels[labelInstance] != sb.instance || labels[labelVersion] != "$LATEST" {
		t.Errorf("labels %v", labels)
	}
}

// TestLogsAreExact: a line printed just before the handler returns is in
// the invocation's log tail, before END, every time.
func TestLogsAreExact(t *testing.T) {
	sb := testSandbox(t, Options{})
	m := testManager(t, sb, io.Discard)
	fn := zipFunction("logs", 30*time.Second)
	for i := range 50 {
		line := fmt.Sprintf("last-line-%d", i)
		o := invoke(t, m, fn, `{"say":"`+line+`"}`)
		if o.fe != nil {
			t.Fatalf("invocation %d: %s", i, o.fe)
		}
		at, end := strings.Index(o.log, line+"\n"), strings.Index(o.log, "END RequestId")
		if at < 0 || end < 0 || at > end {
			t.Fatalf("invocation %d: %q is not before END in the tail:\n%s", i, line, o.log)
		}
	}
}

func TestTimeoutKillsTheContainer(t *testing.T) {
	sb := testSandbox(t, Options{})
	m := testManager(t, sb, io.Discard)
	fn := zipFunction("slow", time.Second)
	o := invoke(t, m, fn, `{"sleep_ms":60000}`)
	if o.fe == nil || o.fe.Type != "Sandbox.Timedout" {
		t.Fatalf("got %v, want Sandbox.Timedout", o.fe)
	}
	waitNoContainers(t, fixtures.cli, labelFunction+"=slow", labelInstance+"="+sb.instance)
}

func TestContainerKilledFromOutside(t *testing.T) {
	sb := testSandbox(t, Options{})
	out := newOutput()
	m := testManager(t, sb, out)
	fn := zipFunction("victim", time.Minute)
	done := make(chan outcome, 1)
	go func() { done <- invoke(t, m, fn, `{"sleep_ms":60000}`) }()
	out.waitFor(t, "sleeping")
	ids := containersOf(t, fixtures.cli, labelFunction+"=victim", labelInstance+"="+sb.instance)
	if len(ids) != 1 {
		t.Fatalf("%d containers, want 1", len(ids))
	}
	if _, err := fixtures.cli.ContainerKill(context.Background(), ids[0], client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-done:
		if o.fe == nil || o.fe.Type != "Runtime.ExitError" || !strings.Contains(string(o.fe.Payload), "signal: killed") {
			t.Fatalf("got %v, want Runtime.ExitError with signal: killed", o.fe)
		}
	case <-time.After(time.Minute):
		t.Fatal("the invocation never ended after its container was killed")
	}
	waitNoContainers(t, fixtures.cli, labelFunction+"=victim", labelInstance+"="+sb.instance)
}

func TestRuntimeExitIsWordedAsOnLambda(t *testing.T) {
	sb := testSandbox(t, Options{})
	m := testManager(t, sb, io.Discard)
	o := invoke(t, m, zipFunction("exits", time.Minute), `{"exit":3}`)
	if o.fe == nil || o.fe.Type != "Runtime.ExitError" || !strings.Contains(string(o.fe.Payload), "Runtime exited with error: exit status 3") {
		t.Fatalf("got %v", o.fe)
	}
	if !strings.Contains(o.log, "exiting with 3") {
		t.Errorf("the runtime's last line is not in the log:\n%s", o.log)
	}
}

// proxy stands between the sandbox and the engine, so that a test can cut
// the engine off.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		p.cutOff()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				up.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			wg.Go(func() { io.Copy(up, c); up.Close() })
			wg.Go(func() { io.Copy(c, up); c.Close() })
		}
	})
	return p
}

// cutOff closes the proxy and every connection through it.
func (p *proxy) cutOff() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestEngineGoneMidInvoke: when the engine stops answering while a
// function runs, the invocation ends with an error instead of hanging, and
// the runtime is killed all the same.
func TestEngineGoneMidInvoke(t *testing.T) {
	cli := engine(t)
	host := cli.DaemonHost()
	if !strings.HasPrefix(host, "unix://") {
		t.Skipf("the engine is at %s, not on a local socket", host)
	}
	px := startProxy(t, strings.TrimPrefix(host, "unix://"))
	t.Setenv("DOCKER_HOST", "unix://"+px.ln.Addr().String())
	instance := "test-" + randomHex(6)
	t.Cleanup(func() {
		for _, id := range containersOf(t, cli, labelInstance+"="+instance) {
			cli.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true})
		}
	})
	sb, err := New(context.Background(), Options{Instance: instance, Images: map[string]string{"provided.al2023": baseImage}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	out := newOutput()
	m := testManager(t, sb, out)
	fn := zipFunction("orphaned", 5*time.Minute)
	done := make(chan outcome, 1)
	go func() { done <- invoke(t, m, fn, `{"sleep_ms":300000}`) }()
	out.waitFor(t, "sleeping")
	px.cutOff()
	select {
	case o := <-done:
		if o.fe == nil || o.fe.Type != "Runtime.ExitError" || !strings.Contains(string(o.fe.Payload), "Docker engine") {
			t.Fatalf("got %v, want Runtime.ExitError naming the engine", o.fe)
		}
	case <-time.After(time.Minute):
		t.Fatal("the invocation hung when the engine went away")
	}
	// furl killed the runtime itself: the container stops, and the engine
	// (AutoRemove) may remove it as soon as it has.
	deadline := time.Now().Add(time.Minute)
	for {
		ids := containersOf(t, cli, labelInstance+"="+instance)
		if len(ids) > 1 {
			t.Fatalf("%d containers, want at most the one furl started", len(ids))
		}
		if len(ids) == 0 {
			break
		}
		res, err := cli.ContainerInspect(context.Background(), ids[0], client.ContainerInspectOptions{})
		if isNotFound(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !res.Container.State.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the runtime still runs after the engine went away")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sb.Close(ctx); err == nil {
		t.Error("Close without an engine reported no error")
	}
}

// TestBridgeNetwork: on a bridge network the runtime reaches furl through
// the host gateway, and the Runtime API answers only the container's own
// address.
func TestBridgeNetwork(t *testing.T) {
	t.Run("default bridge", func(t *testing.T) { testBridge(t, "bridge") })
	// A network of the user's own has a gateway of its own, which is not
	// the engine's host-gateway (docker0's address).
	t.Run("user network", func(t *testing.T) {
		name := "furl-test-" + randomHex(4)
		if out, err := exec.Command("docker", "network", "create", name).CombinedOutput(); err != nil {
			t.Fatalf("docker network create: %v\n%s", err, out)
		}
		t.Cleanup(func() { exec.Command("docker", "network", "rm", name).Run() })
		testBridge(t, name)
	})
}

func testBridge(t *testing.T, network string) {
	rec := &recorder{Sandbox: testSandbox(t, Options{Network: network})}
	if ip := net.ParseIP(rec.ListenHost()); ip == nil || ip.IsLoopback() {
		t.Fatalf("ListenHost = %q, want the bridge's gateway", rec.ListenHost())
	}
	m := testManager(t, rec, io.Discard)
	o := invoke(t, m, zipFunction("bridged", time.Minute), `{"probe":true,"say":"over-the-bridge"}`)
	p := decodeProbe(t, o)
	if api := p.Env["AWS_LAMBDA_RUNTIME_API"]; !strings.HasPrefix(api, hostGatewayName+":") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q", api)
	}
	if p.OwnAPI != http.StatusNotFound {
		t.Errorf("the runtime's own connection got %d, want 404", p.OwnAPI)
	}
	if !strings.Contains(o.log, "over-the-bridge\n") {
		t.Errorf("the function's line is not in the log:\n%s", o.log)
	}
	assertHostProcessRefused(t, rec)
}

// assertHostProcessRefused asks the first environment's Runtime API for an
// event from this test process, a host process that is not the
// container's: it must be refused.
func assertHostProcessRefused(t *testing.T, rec *recorder) {
	t.Helper()
	rec.mu.Lock()
	api := rec.specs[0].RuntimeAPI
	rec.mu.Unlock()
	resp, err := http.Get("http://" + api + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a host process got %d from the Runtime API, want 403", resp.StatusCode)
	}
}

func TestArchitectureMismatchIsRefused(t *testing.T) {
	sb := testSandbox(t, Options{})
	fn := zipFunction("arm", time.Minute)
	fn.Architecture = "arm64"
	code := t.TempDir()
	os.WriteFile(filepath.Join(code, "bootstrap"), []byte("#!/bin/sh\n"), 0o755)
	_, err := sb.Start(context.Background(), runtimeapi.Spec{Function: fn, Code: code, RuntimeAPI: "127.0.0.1:9", Output: io.Discard})
	var se *runtimeapi.StartError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "arm64") || !strings.Contains(se.Message, "amd64") {
		t.Fatalf("got %v, want a StartError naming both architectures", err)
	}
	if n := countContainers(t, fixtures.cli, sb.instance); n != 0 {
		t.Errorf("%d containers were made for a refused start", n)
	}
}

func TestStartErrorsSayWhatToDo(t *testing.T) {
	sb := testSandbox(t, Options{Images: map[string]string{"provided.al2023": "furl-test/absent:nope"}})
	empty := t.TempDir()
	code := t.TempDir()
	os.WriteFile(filepath.Join(code, "bootstrap"), []byte("#!/bin/sh\n"), 0o755)
	noexec := t.TempDir()
	os.WriteFile(filepath.Join(noexec, "bootstrap"), []byte("#!/bin/sh\n"), 0o644)
	odd := zipFunction("odd", time.Minute)
	odd.Runtime = "cobol85"
	for _, tc := range []struct {
		name string
		fn   runtimeapi.Function
		code string
		want []string
	}{
		{"missing image", zipFunction("f", time.Minute), code, []string{"docker pull furl-test/absent:nope", "--image <runtime>=<image>"}},
		{"unknown runtime", odd, code, []string{"cobol85", "--image cobol85=<image>"}},
		{"no bootstrap", zipFunction("f", time.Minute), empty, []string{"Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"}},
		{"bootstrap not executable", zipFunction("f", time.Minute), noexec, []string{"permission denied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sb.Start(context.Background(), runtimeapi.Spec{Function: tc.fn, Code: tc.code, RuntimeAPI: "127.0.0.1:9", Output: io.Discard})
			var se *runtimeapi.StartError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a StartError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(se.Message, w) {
					t.Errorf("%q does not say %q", se.Message, w)
				}
			}
		})
	}
}

func TestDefaultImages(t *testing.T) {
	for rt, want := range map[string]string{
		"nodejs22.x":      "public.ecr.aws/lambda/nodejs:22",
		"python3.13":      "public.ecr.aws/lambda/python:3.13",
		"java8.al2":       "public.ecr.aws/lambda/java:8.al2",
		"java21":          "public.ecr.aws/lambda/java:21",
		"dotnet8":         "public.ecr.aws/lambda/dotnet:8",
		"ruby3.3":         "public.ecr.aws/lambda/ruby:3.3",
		"provided.al2023": "public.ecr.aws/lambda/provided:al2023",
		"provided.al2":    "public.ecr.aws/lambda/provided:al2",
	} {
		if got, ok := DefaultImage(rt); !ok || got != want {
			t.Errorf("DefaultImage(%s) = %q, %v; want %q", rt, got, ok, want)
		}
	}
	if _, ok := DefaultImage("go1.x"); ok {
		t.Error("go1.x has an image; AWS publishes none")
	}
}

// recorder passes starts on to the Docker sandbox and keeps their specs.
type recorder struct {
	*Sandbox
	mu    sync.Mutex
	specs []runtimeapi.Spec
}

func (r *recorder) Start(ctx context.Context, spec runtimeapi.Spec) (runtimeapi.Process, error) {
	r.mu.Lock()
	r.specs = append(r.specs, spec)
	r.mu.Unlock()
	return r.Sandbox.Start(ctx, spec)
}

// TestPeerCheckRefusesHostProcesses: a host process that finds an
// environment's Runtime API port is refused; the container's runtime was
// let in (the probe's own second connection).
func TestPeerCheckRefusesHostProcesses(t *testing.T) {
	rec := &recorder{Sandbox: testSandbox(t, Options{})}
	m := testManager(t, rec, io.Discard)
	p := decodeProbe(t, invoke(t, m, zipFunction("guarded", time.Minute), `{"probe":true}`))
	if p.OwnAPI != http.StatusNotFound {
		t.Errorf("the runtime's own connection got %d, want 404", p.OwnAPI)
	}
	assertHostProcessRefused(t, rec)
}

// TestOrphansAndClose: a furl that crashed leaves containers; the next one
// of the same instance removes them at start. Close removes its own.
func TestOrphansAndClose(t *testing.T) {
	instance := "test-" + randomHex(6)
	crashed := testSandbox(t, Options{Instance: instance})
	m := testManager(t, crashed, io.Discard)
	for _, name := range []string{"a", "b"} {
		if o := invoke(t, m, zipFunction(name, time.Minute), `{}`); o.fe != nil {
			t.Fatal(o.fe)
		}
	}
	if n := countContainers(t, fixtures.cli, instance); n != 2 {
		t.Fatalf("%d containers, want 2", n)
	}
	next, err := New(context.Background(), Options{Instance: instance, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close(context.Background())
	n, err := next.RemoveOrphans(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("RemoveOrphans = %d, %v; want 2", n, err)
	}
	if n := countContainers(t, fixtures.cli, instance); n != 0 {
		t.Fatalf("%d containers left after RemoveOrphans", n)
	}
	// The environments whose containers went end, with an error; new ones
	// start in their place.
	if o := invoke(t, m, zipFunction("a", time.Minute), `{"say":"again"}`); o.fe != nil {
		t.Fatalf("after the orphans went: %s", o.fe)
	}
	// testSandbox's cleanup checks that Close leaves none.
}

func TestImageFunctionWithoutShell(t *testing.T) {
	sb := testSandbox(t, Options{})
	out := newOutput()
	m := testManager(t, sb, out)
	fn := runtimeapi.Function{Name: "img", Version: "$LATEST", Region: "us-east-1", AccountID: "000000000000",
		PackageType: "Image", Image: runtimeapi.Image{URI: fnImage}, MemoryMB: 128, Timeout: time.Minute,
		Architecture: "x86_64", Fingerprint: "img"}
	p := decodeProbe(t, invoke(t, m, fn, `{"probe":true,"say":"from-scratch"}`))
	if p.WriteTask == "ok" || p.WriteRoot == "ok" || p.WriteTmp != "ok" {
		t.Errorf("writes: task %s, root %s, tmp %s", p.WriteTask, p.WriteRoot, p.WriteTmp)
	}
	if _, ok := p.Env["_HANDLER"]; ok {
		t.Error("an Image function got _HANDLER")
	}
	// Through the attach stream the line arrives, if not always before REPORT.
	out.waitFor(t, "from-scratch")
	if has, known := sb.cache.hasShell(mustID(t, fnImage)); !known || has {
		t.Errorf("the image's shell: known %v, has %v; want known, none", known, has)
	}
}

func TestImageFunctionWithShellLogsExactly(t *testing.T) {
	sb := testSandbox(t, Options{})
	m := testManager(t, sb, io.Discard)
	fn := runtimeapi.Function{Name: "imgsh", Version: "$LATEST", Region: "us-east-1", AccountID: "000000000000",
		PackageType: "Image", Image: runtimeapi.Image{URI: fnShellImage, WorkingDirectory: "/tmp"}, MemoryMB: 128, Timeout: time.Minute,
		Architecture: "x86_64", Fingerprint: "imgsh"}
	for i := range 10 {
		line := fmt.Sprintf("image-line-%d", i)
		o := invoke(t, m, fn, `{"probe":true,"say":"`+line+`"}`)
		p := decodeProbe(t, o)
		if i == 0 && (p.Cwd != "/tmp" || p.Env["PATH"] != "/bin") {
			t.Errorf("cwd %q (want the ImageConfig's /tmp), PATH %q (want the image's /bin)", p.Cwd, p.Env["PATH"])
		}
		at, end := strings.Index(o.log, line+"\n"), strings.Index(o.log, "END RequestId")
		if at < 0 || at > end {
			t.Fatalf("invocation %d: %q is not before END:\n%s", i, line, o.log)
		}
	}
}

func mustID(t *testing.T, ref string) string {
	t.Helper()
	res, err := fixtures.cli.ImageInspect(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

func TestPresentAndResolve(t *testing.T) {
	sb := testSandbox(t, Options{})
	ctx := context.Background()
	if ok, err := sb.Present(ctx, fnImage); !ok || err != nil {
		t.Errorf("Present(%s) = %v, %v", fnImage, ok, err)
	}
	if ok, err := sb.Present(ctx, "furl-test/absent:nope"); ok || err != nil {
		t.Errorf("Present(absent) = %v, %v", ok, err)
	}
	d, err := sb.Resolve(ctx, fnImage)
	if err != nil || d != mustID(t, fnImage) {
		t.Errorf("Resolve = %q, %v; want the image id of a local build", d, err)
	}
	if _, err := sb.Resolve(ctx, "furl-test/absent:nope"); err == nil {
		t.Error("Resolve of an absent image gave no error")
	}
}

// BenchmarkStart measures a cold start: container created and started,
// runtime asking for its first event.
func BenchmarkStart(b *testing.B) {
	engine(b)
	s, err := New(context.Background(), Options{Instance: "bench-" + randomHex(6), Images: map[string]string{"provided.al2023": baseImage}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	code := b.TempDir()
	bin, _ := os.ReadFile(filepath.Join(fixtures.dir, "bootstrap"))
	os.WriteFile(filepath.Join(code, "bootstrap"), bin, 0o755)
	os.Chmod(code, 0o755)
	fn := zipFunction("bench", time.Minute)
	for b.Loop() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		p, err := s.Start(context.Background(), runtimeapi.Spec{Function: fn, Code: code, RuntimeAPI: ln.Addr().String(), Output: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		conn, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil || !strings.HasSuffix(req.URL.Path, "/next") {
			b.Fatalf("first request %v, %v", req, err)
		}
		b.StopTimer()
		conn.Close()
		ln.Close()
		p.Kill()
		<-p.Done()
		b.StartTimer()
	}
}
