package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests check the fixture, not furl: the stand-ins for AWS's Lambda
// base images that scripts/test-images.sh builds. They drive the docker
// CLI directly and run every container the way furl's sandbox does: a
// read-only root, a tmpfs /tmp, an unprivileged user and, here, no network
// (fixtureRun).

// fixtureImageLabel marks an image as furl's stand-in, not AWS's.
const fixtureImageLabel = "dev.furl.test-image"

// fixtureRun is the docker command line of a container here: the flags of
// every one, then opts, the image and its args.
func fixtureRun(opts []string, ref string, args ...string) []string {
	cmd := []string{"run", "--rm", "--read-only", "--tmpfs", "/tmp", "--user", "1000:1000", "--network", "none"}
	cmd = append(cmd, opts...)
	cmd = append(cmd, ref)
	return append(cmd, args...)
}

// fixtureFail is how a test reports that the fixture is not there: a skip,
// unless FURL_E2E_REQUIRE_DOCKER=1 (scripts/test.sh sets it after building
// the images), and then a failure.
func fixtureFail(t *testing.T) func(format string, args ...any) {
	if os.Getenv("FURL_E2E_REQUIRE_DOCKER") == "1" {
		return t.Fatalf
	}
	return t.Skipf
}

// fixtureImages lists furl's stand-in images by reference
// (repository:tag), after checking that an engine answers.
func fixtureImages(t *testing.T) []string {
	t.Helper()
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		fixtureFail(t)("no Docker engine answers: %v\n%s", err, out)
	}
	out, err := exec.Command("docker", "images", "--filter", "label="+fixtureImageLabel+"=1",
		"--format", "{{.Repository}}:{{.Tag}}").Output()
	if err != nil {
		t.Fatalf("docker images: %v", err)
	}
	var refs []string
	for _, ref := range strings.Fields(string(out)) {
		if strings.HasPrefix(ref, "public.ecr.aws/lambda/") {
			refs = append(refs, ref)
		}
	}
	return refs
}

// fixtureResult is what one container did.
type fixtureResult struct {
	stdout, stderr string
	code           int
}

// runFixture runs docker with the args and returns what the container
// printed and its exit code; it fails the test if docker itself could not
// run it (exit 125: the container never started).
func runFixture(t *testing.T, args ...string) fixtureResult {
	t.Helper()
	// A bound on a hung container, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := fixtureResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	if r.code == 125 {
		t.Fatalf("docker %s could not run the container:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// fixtureConfig is the part of an image's configuration AWS's base images
// define and furl relies on.
type fixtureConfig struct {
	Env        []string
	Entrypoint []string
	Cmd        []string
	WorkingDir string
	Labels     map[string]string
}

func inspectFixture(t *testing.T, ref string) fixtureConfig {
	t.Helper()
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{json .Config}}", ref).Output()
	if err != nil {
		t.Fatalf("docker image inspect %s: %v", ref, err)
	}
	var c fixtureConfig
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("image %s's config: %v\n%s", ref, err, out)
	}
	return c
}

// TestFixtureImages checks each stand-in image: it is configured as AWS's
// image of its name is, its interpreter is the version its tag names, and
// its /lambda-entrypoint.sh behaves as AWS's does when furl sets
// AWS_LAMBDA_RUNTIME_API, and says it has no emulator when nothing does.
func TestFixtureImages(t *testing.T) {
	refs := fixtureImages(t)
	kinds := map[string][]string{}
	for _, ref := range refs {
		family := strings.TrimPrefix(ref[:strings.LastIndex(ref, ":")], "public.ecr.aws/lambda/")
		kinds[family] = append(kinds[family], ref)
	}
	for _, family := range []string{"provided", "nodejs", "python", "java", "ruby", "dotnet"} {
		if len(kinds[family]) == 0 {
			fixtureFail(t)("no furl test image public.ecr.aws/lambda/%s:* (scripts/test-images.sh builds them); have %q", family, refs)
		}
	}
	if !slices.Contains(refs, "public.ecr.aws/lambda/provided:al2023") {
		t.Errorf("the provided image is not tagged provided:al2023: have %q", kinds["provided"])
	}
	for _, ref := range refs {
		family, tag, _ := strings.Cut(strings.TrimPrefix(ref, "public.ecr.aws/lambda/"), ":")
		t.Run(family+":"+tag, func(t *testing.T) {
			t.Parallel()
			checkFixtureConfig(t, ref, family)
			checkFixtureLayout(t, ref)
			checkFixtureEntrypoint(t, ref, family)
			switch family {
			case "java", "ruby", "dotnet":
				checkFixtureStandin(t, ref, family, tag)
			case "nodejs":
				checkFixtureNode(t, ref, tag)
			case "python":
				checkFixturePython(t, ref, tag)
			}
		})
	}
}

func checkFixtureConfig(t *testing.T, ref, family string) {
	c := inspectFixture(t, ref)
	if got := c.Labels[fixtureImageLabel]; got != "1" {
		t.Errorf("label %s = %q, want 1", fixtureImageLabel, got)
	}
	if got := c.Labels["dev.furl.inputs"]; !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(got) {
		t.Errorf("label dev.furl.inputs = %q, want a sha256", got)
	}
	if want := []string{"/lambda-entrypoint.sh"}; strings.Join(c.Entrypoint, " ") != strings.Join(want, " ") {
		t.Errorf("entrypoint %q, want %q", c.Entrypoint, want)
	}
	if c.WorkingDir != "/var/task" {
		t.Errorf("working directory %q, want /var/task", c.WorkingDir)
	}
	want := map[string]string{
		"LAMBDA_TASK_ROOT":   "/var/task",
		"LAMBDA_RUNTIME_DIR": "/var/runtime",
		"LANG":               "en_US.UTF-8",
		"TZ":                 ":/etc/localtime",
	}
	lang := "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
	var cmd []string
	switch family {
	case "provided":
		want["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		want["LD_LIBRARY_PATH"] = strings.TrimPrefix(lang, "/var/lang/lib:")
	case "nodejs":
		want["PATH"] = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
		want["LD_LIBRARY_PATH"] = lang
		major := ref[strings.LastIndex(ref, ":")+1:]
		want["NODE_PATH"] = "/opt/nodejs/node" + major + "/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task"
		cmd = []string{"index.handler"}
	case "python":
		want["PATH"] = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
		want["LD_LIBRARY_PATH"] = lang
		want["PYTHONPATH"] = "/var/runtime"
		cmd = []string{"lambda_function.handler"}
	case "java", "ruby", "dotnet":
		// AWS's images of these runtimes have no default handler either.
		want["PATH"] = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
		want["LD_LIBRARY_PATH"] = lang
		want["FURL_STANDIN_IMAGE"] = strings.TrimPrefix(ref, "public.ecr.aws/lambda/")
	}
	env := map[string]string{}
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("ENV %s=%q, want %q", k, env[k], v)
		}
	}
	if strings.Join(c.Cmd, " ") != strings.Join(cmd, " ") {
		t.Errorf("CMD %q, want %q", c.Cmd, cmd)
	}
}

// checkFixtureLayout: the directories AWS's images have, /var/task empty,
// the root read-only and /tmp the one writable place.
func checkFixtureLayout(t *testing.T, ref string) {
	script := `for d in /var/task /var/runtime /var/lang /opt /tmp; do [ -d "$d" ] || echo "missing $d"; done
echo "task:$(ls -A /var/task)"
echo x 2>/dev/null >/tmp/w && echo tmp-writable
echo x 2>/dev/null >/var/task/w && echo task-writable
echo x 2>/dev/null >/w && echo root-writable
exit 0`
	r := runFixture(t, fixtureRun([]string{"--entrypoint", "/bin/sh"}, ref, "-c", script)...)
	if want := "task:\ntmp-writable\n"; r.stdout != want || r.code != 0 {
		t.Errorf("layout check printed %q (stderr %q, exit %d), want %q", r.stdout, r.stderr, r.code, want)
	}
}

func checkFixtureEntrypoint(t *testing.T, ref, family string) {
	var handler []string
	if family != "nodejs" && family != "python" {
		// The OS-only image, and the stand-ins, have no CMD: the handler
		// comes from the caller.
		handler = []string{"function.handler"}
	}
	t.Run("no-runtime-api", func(t *testing.T) {
		r := runFixture(t, fixtureRun(nil, ref, handler...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "AWS_LAMBDA_RUNTIME_API is not set") ||
			!strings.Contains(r.stderr, "no Runtime Interface Emulator") {
			t.Errorf("exit %d, stderr %q: want non-zero and that there is no emulator", r.code, r.stderr)
		}
	})
	t.Run("handler-count", func(t *testing.T) {
		r := runFixture(t, fixtureRun([]string{"-e", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9"}, ref, "a.handler", "b.handler")...)
		if r.code != 142 || !strings.Contains(r.stderr, "want one argument, the handler; got 2") {
			t.Errorf("exit %d, stderr %q: want 142 and that it takes one handler", r.code, r.stderr)
		}
	})
	t.Run("execs-bootstrap", func(t *testing.T) {
		// A bootstrap of the test's own, mounted over the image's (provided
		// has none), proves the entry point execs it with _HANDLER set.
		bootstrap := filepath.Join(t.TempDir(), "bootstrap")
		if err := os.WriteFile(bootstrap, []byte("#!/bin/sh\necho \"bootstrap $0 handler=$_HANDLER api=$AWS_LAMBDA_RUNTIME_API pid=$$\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		r := runFixture(t, fixtureRun([]string{"-e", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9",
			"-v", bootstrap + ":/var/runtime/bootstrap:ro"}, ref, "my.handler")...)
		// pid 1: exec'd in place of the entry point, not run as its child.
		if want := "bootstrap /var/runtime/bootstrap handler=my.handler api=127.0.0.1:9 pid=1\n"; r.stdout != want || r.code != 0 {
			t.Errorf("printed %q (stderr %q, exit %d), want %q", r.stdout, r.stderr, r.code, want)
		}
	})
	if family == "provided" {
		return
	}
	t.Run("furl-client", func(t *testing.T) {
		// The image's own bootstrap runs furl's runtime client, which finds
		// nothing listening at the Runtime API address (there is no network)
		// and says so.
		r := runFixture(t, fixtureRun([]string{"-e", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9"}, ref, handler...)...)
		want := map[string]string{"nodejs": "ECONNREFUSED 127.0.0.1:9", "python": "ConnectionRefusedError"}[family]
		if want == "" {
			want = "standin-runtime: next invocation: Get \"http://127.0.0.1:9/2018-06-01/runtime/invocation/next\""
		}
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("exit %d, output %q: want non-zero and %q", r.code, r.stdout+r.stderr, want)
		}
	})
}

// checkFixtureStandin: a stand-in image (java, ruby, dotnet) carries no
// language runtime, only the stand-in client, a static program that needs
// no library: the image stays small.
func checkFixtureStandin(t *testing.T, ref, family, tag string) {
	r := runFixture(t, fixtureRun([]string{"--entrypoint", "/bin/sh"}, ref, "-c", "ls -A /var/lang/lib; ls -A /var/runtime; echo $FURL_STANDIN_IMAGE")...)
	if want := "bootstrap\n" + family + ":" + tag + "\n"; r.stdout != want || r.code != 0 {
		t.Errorf("printed %q (stderr %q, exit %d), want %q", r.stdout, r.stderr, r.code, want)
	}
	// A bound, with room: the stand-in is a few MB; a real runtime would be hundreds.
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Size}}", ref).Output()
	if err != nil {
		t.Fatal(err)
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	t.Logf("%s: %d bytes", ref, size)
	if err != nil || size > 40<<20 {
		t.Errorf("image size %q (%v), want at most 40 MiB", out, err)
	}
}

func checkFixtureNode(t *testing.T, ref, major string) {
	r := runFixture(t, fixtureRun([]string{"--entrypoint", "node"}, ref,
		"-e", `console.log(process.execPath, process.versions.node.split(".")[0])`)...)
	if want := "/var/lang/bin/node " + major + "\n"; r.stdout != want || r.code != 0 {
		t.Errorf("node printed %q (stderr %q, exit %d), want %q", r.stdout, r.stderr, r.code, want)
	}
}

func checkFixturePython(t *testing.T, ref, version string) {
	r := runFixture(t, fixtureRun([]string{"--entrypoint", "python3"}, ref, "-c",
		`import encodings, json, ssl, sys; print(sys.executable, sys.prefix, "%d.%d" % sys.version_info[:2], json.dumps({"ssl": ssl.OPENSSL_VERSION.split()[0]}))`)...)
	want := "/var/lang/bin/python3 /var/lang " + version + ` {"ssl": "OpenSSL"}` + "\n"
	if r.stdout != want || r.code != 0 {
		t.Errorf("python3 printed %q (stderr %q, exit %d), want %q", r.stdout, r.stderr, r.code, want)
	}
}

// TestFixtureImagesRebuildOnlyOnChange runs scripts/test-images.sh twice
// for the small provided and java images: whatever the first run does, the
// second finds them up to date and leaves them as they are. The java
// stand-in's bootstrap is compiled on each run, so this also proves that
// build is reproducible.
func TestFixtureImagesRebuildOnlyOnChange(t *testing.T) {
	fixtureImages(t) // an engine answers
	if out, err := exec.Command("ldd", "/bin/busybox").CombinedOutput(); err == nil || !strings.Contains(string(out), "not a dynamic executable") {
		fixtureFail(t)("/bin/busybox is not busybox-static (%v: %s); scripts/test.sh installs it", err, out)
	}
	refs := []string{"public.ecr.aws/lambda/provided:al2023", "public.ecr.aws/lambda/java:21"}
	run := func() (string, []string) {
		out, err := exec.Command("../scripts/test-images.sh", "provided", "java").CombinedOutput()
		if err != nil {
			t.Fatalf("scripts/test-images.sh provided java: %v\n%s", err, out)
		}
		var ids []string
		for _, ref := range refs {
			ids = append(ids, dockerImageID(t, ref))
		}
		return string(out), ids
	}
	_, first := run()
	out, second := run()
	for _, ref := range refs {
		if !strings.Contains(out, ref+" is up to date") {
			t.Errorf("second run did not find %s up to date:\n%s", ref, out)
		}
	}
	if strings.Contains(out, "imported") {
		t.Errorf("second run imported again:\n%s", out)
	}
	if !slices.Equal(first, second) {
		t.Errorf("image ids changed from %s to %s on a run with the same inputs", first, second)
	}
}

func dockerImageID(t *testing.T, ref string) string {
	t.Helper()
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", ref).Output()
	if err != nil {
		t.Fatalf("docker image inspect %s: %v", ref, err)
	}
	return strings.TrimSpace(string(out))
}
