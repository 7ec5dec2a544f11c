package docker

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/furl-dev/furl/runtimeapi"
	ctypes "github.com/moby/moby/api/types/container"
)

func TestExitWordedAsOSExec(t *testing.T) {
	for _, tc := range []struct {
		code int64
		want string
	}{
		{0, ""},
		{1, "exit status 1"},
		{3, "exit status 3"},
		{137, "signal: killed"},
		{139, "signal: segmentation fault"},
		{143, "signal: terminated"},
		{255, "exit status 255"},
	} {
		err := exitError(ctypes.WaitResponse{StatusCode: tc.code})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("exit %d: %q, want %q", tc.code, got, tc.want)
		}
	}
	if err := exitError(ctypes.WaitResponse{Error: &ctypes.WaitExitError{Message: "boom"}}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a wait error: %v", err)
	}
}

func TestCommand(t *testing.T) {
	img := &imageInfo{entrypoint: []string{"/entry"}, cmd: []string{"handler.main"}}
	for _, tc := range []struct {
		name    string
		fn      runtimeapi.Function
		argv    []string
		workdir string
	}{
		{"managed runtime", runtimeapi.Function{Runtime: "python3.13", Handler: "app.handler"}, []string{"/lambda-entrypoint.sh", "app.handler"}, "/var/task"},
		{"os-only runtime", runtimeapi.Function{Runtime: "provided.al2023", Handler: "x"}, []string{"/var/task/bootstrap"}, "/var/task"},
		{"image as built", runtimeapi.Function{PackageType: "Image"}, []string{"/entry", "handler.main"}, ""},
		{"image, command overridden", runtimeapi.Function{PackageType: "Image", Image: runtimeapi.Image{Command: []string{"other.fn"}}}, []string{"/entry", "other.fn"}, ""},
		{"image, entrypoint and workdir overridden", runtimeapi.Function{PackageType: "Image", Image: runtimeapi.Image{EntryPoint: []string{"/mine", "-x"}, WorkingDirectory: "/w"}}, []string{"/mine", "-x", "handler.main"}, "/w"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv, wd, err := command(tc.fn, img)
			if err != nil || !slices.Equal(argv, tc.argv) || wd != tc.workdir {
				t.Errorf("got %q in %q (%v), want %q in %q", argv, wd, err, tc.argv, tc.workdir)
			}
		})
	}
	_, _, err := command(runtimeapi.Function{PackageType: "Image"}, &imageInfo{})
	var se *runtimeapi.StartError
	if !errors.As(err, &se) {
		t.Errorf("an image with nothing to run: %v, want a StartError", err)
	}
}

func TestEnvironOnABridge(t *testing.T) {
	s := &Sandbox{apiHost: hostGatewayName}
	spec := runtimeapi.Spec{Function: runtimeapi.Function{Name: "f", Runtime: "nodejs22.x", Handler: "index.handler"},
		RuntimeAPI: "172.17.0.1:4711", Endpoint: "http://127.0.0.1:4580"}
	env, err := s.environ(spec, &imageInfo{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"AWS_LAMBDA_RUNTIME_API=host.docker.internal:4711",
		"AWS_ENDPOINT_URL_LAMBDA=http://host.docker.internal:4580",
		"LAMBDA_TASK_ROOT=/var/task",
		"PATH=" + awsPath,
		"LD_LIBRARY_PATH=" + awsLibraryPath,
	} {
		if !slices.Contains(env, want) {
			t.Errorf("no %s in %q", want, env)
		}
	}
	if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "NODE_PATH=") }) {
		t.Error("furl set NODE_PATH, which the image's own must give")
	}
	spec.Function.Environment = map[string]string{"PATH": "/mine"}
	env, _ = s.environ(spec, &imageInfo{})
	if !slices.Contains(env, "PATH=/mine") {
		t.Error("the function's own PATH did not win")
	}
}

func TestContainerSafe(t *testing.T) {
	if got := containerSafe("my_fn-1"); got != "my_fn-1" {
		t.Errorf("%q", got)
	}
	if got := containerSafe(strings.Repeat("a", 64) + "/x"); len(got) != 40 || strings.Contains(got, "/") {
		t.Errorf("%q", got)
	}
}
