// Command fn is the test function the Docker sandbox's tests run: a
// static aws-lambda-go binary that does what each event asks and reports
// what it sees of its environment.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	// Say is printed to stdout just before the handler returns.
	Say string `json:"say"`
	// SleepMS makes the handler sleep first.
	SleepMS int `json:"sleep_ms"`
	// Exit makes the runtime exit with this status instead of answering.
	Exit int `json:"exit"`
	// Probe reports the environment.
	Probe bool `json:"probe"`
}

type result struct {
	Echo      string            `json:"echo"`
	Env       map[string]string `json:"env,omitempty"`
	WriteTask string            `json:"write_task,omitempty"`
	WriteRoot string            `json:"write_root,omitempty"`
	WriteTmp  string            `json:"write_tmp,omitempty"`
	WriteOpt  string            `json:"write_opt,omitempty"`
	// Exe is the function's own executable, as it sees it.
	Exe      string `json:"exe,omitempty"`
	MemLimit string `json:"mem_limit,omitempty"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	Cwd      string `json:"cwd,omitempty"`
	// OwnAPI is the status the runtime's own Runtime API answers a
	// second connection of the runtime with (a bad path: 404 means it was
	// let in).
	OwnAPI int `json:"own_api,omitempty"`
}

func try(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func handle(ctx context.Context, ev event) (result, error) {
	if ev.SleepMS > 0 {
		fmt.Println("sleeping")
		time.Sleep(time.Duration(ev.SleepMS) * time.Millisecond)
	}
	if ev.Exit != 0 {
		fmt.Println("exiting with", ev.Exit)
		os.Exit(ev.Exit)
	}
	r := result{Echo: ev.Say, UID: os.Getuid(), GID: os.Getgid()}
	if ev.Probe {
		r.Env = map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			r.Env[k] = v
		}
		r.WriteTask = try(os.WriteFile("/var/task/probe", []byte("x"), 0o644))
		r.WriteRoot = try(os.WriteFile("/probe", []byte("x"), 0o644))
		r.WriteTmp = try(os.WriteFile("/tmp/probe", []byte("x"), 0o644))
		r.WriteOpt = try(os.WriteFile("/opt/probe", []byte("x"), 0o644))
		if exe, err := os.Executable(); err == nil {
			r.Exe = exe
		}
		for _, p := range []string{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"} {
			if b, err := os.ReadFile(p); err == nil {
				r.MemLimit = strings.TrimSpace(string(b))
				break
			}
		}
		r.Cwd, _ = os.Getwd()
		resp, err := http.Get("http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/probe")
		if err == nil {
			r.OwnAPI = resp.StatusCode
			resp.Body.Close()
		}
	}
	if ev.Say != "" {
		fmt.Println(ev.Say)
	}
	return r, nil
}

func main() { lambda.Start(handle) }
