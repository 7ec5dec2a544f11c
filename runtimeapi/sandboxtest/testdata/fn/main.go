// Command fn is the sandbox conformance suite's function: a bare Lambda
// Runtime API client (no SDK, so that the suite controls every byte the
// runtime sends). The event says what each invocation does:
//
//	{"do":"echo"}                          report the event, the environment and who runs it
//	{"do":"stream","gate":G,"chunks":N}    stream N chunks, waiting after each for the suite to open its gate
//	{"do":"stream-error",...}              the same, then fail in the response's trailers
//	{"do":"sleep"}                         sleep far past any timeout
//	{"do":"crash","code":C}                exit with code C during the invocation
//	{"do":"log","tag":T,"lines":N}         print N lines to stdout and to stderr, then answer at once
//	{"do":"fs"}                            try to write into LAMBDA_TASK_ROOT and into /tmp
//	{"do":"spawn","child":ID}              start a child in a session of its own that outlives the handler
//
// SUITE_INIT chooses how init goes: "exit" exits before polling for an
// event, "error" posts /runtime/init/error and exits.
//
// The function reaches the suite through AWS_ENDPOINT_URL_LAMBDA, the one
// address every sandbox must make reachable besides the Runtime API: it
// waits there for the gates of streams, and holds a connection open there
// for as long as it lives (GET /alive/<id>), so that the suite sees an
// environment end the same way whatever runs it.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// event is what an invocation asks for.
type event struct {
	Do     string `json:"do"`
	Gate   string `json:"gate"`
	Chunks int    `json:"chunks"`
	Code   int    `json:"code"`
	Tag    string `json:"tag"`
	Lines  int    `json:"lines"`
	Child  string `json:"child"`
}

var (
	api      = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime"
	endpoint = strings.TrimSuffix(os.Getenv("AWS_ENDPOINT_URL_LAMBDA"), "/")
	// client has no timeout: /next waits as long as the environment is idle.
	client = &http.Client{}
)

func main() {
	if os.Getenv("SUITE_ROLE") == "child" {
		child()
		return
	}
	instance := randomID()
	switch os.Getenv("SUITE_INIT") {
	case "exit":
		fmt.Println("suite function: exiting during init, as asked")
		os.Exit(3)
	case "error":
		fmt.Println("suite function: reporting an init error, as asked")
		body := `{"errorMessage":"init failed on purpose","errorType":"Suite.InitFailed"}`
		req, _ := http.NewRequest("POST", api+"/init/error", strings.NewReader(body))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Suite.InitFailed")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
		os.Exit(4)
	}
	aliveErr := ""
	if err := holdAlive(instance); err != nil {
		aliveErr = err.Error()
	}
	count := 0
	for {
		resp, err := client.Get(api + "/invocation/next")
		if err != nil {
			fail("next: %v", err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			fail("next: status %d, %v: %s", resp.StatusCode, err, raw)
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		count++
		var ev event
		if err := json.Unmarshal(raw, &ev); err != nil {
			postError(id, "Suite.BadEvent", err.Error())
			continue
		}
		switch ev.Do {
		case "echo":
			postJSON(id, echo(raw, instance, count, aliveErr))
		case "stream", "stream-error":
			stream(id, ev)
		case "sleep":
			time.Sleep(time.Hour)
			postJSON(id, "slept")
		case "crash":
			fmt.Println("suite function: crashing, as asked")
			os.Exit(ev.Code)
		case "log":
			for i := 1; i <= ev.Lines; i++ {
				fmt.Fprintf(os.Stdout, "%s stdout %d\n", ev.Tag, i)
				fmt.Fprintf(os.Stderr, "%s stderr %d\n", ev.Tag, i)
			}
			postJSON(id, "logged")
		case "fs":
			postJSON(id, probeFS(instance))
		case "spawn":
			pid, err := spawn(ev.Child)
			if err != nil {
				postError(id, "Suite.SpawnFailed", err.Error())
				continue
			}
			postJSON(id, map[string]any{"child": ev.Child, "pid": pid})
		default:
			postError(id, "Suite.UnknownAction", "no action "+ev.Do)
		}
	}
}

// report is what echo answers.
type report struct {
	Event    json.RawMessage   `json:"event"`
	Instance string            `json:"instance"`
	Count    int               `json:"count"`
	PID      int               `json:"pid"`
	Hostname string            `json:"hostname"`
	Cwd      string            `json:"cwd"`
	Env      map[string]string `json:"env"`
	// Code is the SHA-256 of $LAMBDA_TASK_ROOT/bootstrap, or why it
	// could not be read.
	Code     string `json:"code"`
	AliveErr string `json:"aliveErr"`
}

func echo(raw []byte, instance string, count int, aliveErr string) report {
	r := report{Event: raw, Instance: instance, Count: count, PID: os.Getpid(), Env: map[string]string{}, AliveErr: aliveErr}
	r.Hostname, _ = os.Hostname()
	if wd, err := os.Getwd(); err == nil {
		r.Cwd = wd
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		r.Env[k] = v
	}
	code, err := os.ReadFile(filepath.Join(os.Getenv("LAMBDA_TASK_ROOT"), "bootstrap"))
	if err != nil {
		r.Code = "unreadable: " + err.Error()
	} else {
		sum := sha256.Sum256(code)
		r.Code = hex.EncodeToString(sum[:])
	}
	return r
}

// stream sends chunk i, then waits for the suite to open gate i, for
// each chunk: a chunk the suite has not received holds back the next.
func stream(id string, ev event) {
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", api+"/invocation/"+id+"/response", pr)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Lambda-Runtime-Function-Response-Mode", "streaming")
	req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	sent := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				err = fmt.Errorf("response: status %d", resp.StatusCode)
			}
		}
		pr.CloseWithError(errors.New("the request is over"))
		sent <- err
	}()
	failed := func(typ, msg string) {
		body, _ := json.Marshal(map[string]string{"errorMessage": msg, "errorType": typ})
		req.Trailer.Set("Lambda-Runtime-Function-Error-Type", typ)
		req.Trailer.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString(body))
	}
	for i := 1; i <= ev.Chunks; i++ {
		if _, err := fmt.Fprintf(pw, "chunk %d\n", i); err != nil {
			break
		}
		if err := waitGate(ev.Gate, i); err != nil {
			failed("Suite.GateFailed", err.Error())
			break
		}
	}
	if ev.Do == "stream-error" && req.Trailer.Get("Lambda-Runtime-Function-Error-Type") == "" {
		failed("Suite.StreamFailed", fmt.Sprintf("failed on purpose after %d chunks", ev.Chunks))
	}
	pw.Close()
	if err := <-sent; err != nil {
		fmt.Fprintln(os.Stderr, "suite function: streaming the response:", err)
	}
}

func waitGate(gate string, i int) error {
	resp, err := client.Get(fmt.Sprintf("%s/gate/%s/%d", endpoint, gate, i))
	if err != nil {
		return fmt.Errorf("gate %d: %w", i, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gate %d: status %d", i, resp.StatusCode)
	}
	return nil
}

// fsReport is what the function could not write: each field is the
// error, empty when the write succeeded.
type fsReport struct {
	TaskRootFile  string `json:"taskRootFile"`
	TaskRootMkdir string `json:"taskRootMkdir"`
	Tmp           string `json:"tmp"`
}

func probeFS(instance string) fsReport {
	root := os.Getenv("LAMBDA_TASK_ROOT")
	r := fsReport{
		TaskRootFile:  errText(os.WriteFile(filepath.Join(root, "written-"+instance), []byte("x"), 0o644)),
		TaskRootMkdir: errText(os.Mkdir(filepath.Join(root, "dir-"+instance), 0o755)),
	}
	tmp := filepath.Join(os.TempDir(), "suite-"+instance)
	want := []byte("written by " + instance)
	if err := os.WriteFile(tmp, want, 0o600); err != nil {
		r.Tmp = err.Error()
	} else if got, err := os.ReadFile(tmp); err != nil || !bytes.Equal(got, want) {
		r.Tmp = fmt.Sprintf("read back %q, %v", got, err)
	}
	os.Remove(tmp)
	return r
}

func errText(err error) string {
	if err != nil {
		return err.Error()
	}
	return ""
}

// spawn starts this executable again as a child in a session of its own,
// and returns once the child holds its alive connection.
func spawn(id string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "SUITE_ROLE=child", "SUITE_CHILD_ID="+id)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		return 0, fmt.Errorf("the child said %q, %v", line, err)
	}
	return cmd.Process.Pid, nil
}

func child() {
	if err := holdAlive(os.Getenv("SUITE_CHILD_ID")); err != nil {
		fmt.Println("child:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	select {}
}

// holdAlive opens GET <endpoint>/alive/<id> and keeps it open for as long
// as this process lives: its end tells the suite the process is gone.
func holdAlive(id string) error {
	if endpoint == "" {
		return errors.New("no AWS_ENDPOINT_URL_LAMBDA")
	}
	resp, err := client.Get(endpoint + "/alive/" + id)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("alive: status %d", resp.StatusCode)
	}
	go func() {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	return nil
}

func postJSON(id string, v any) {
	body, _ := json.Marshal(v)
	resp, err := client.Post(api+"/invocation/"+id+"/response", "application/json", bytes.NewReader(body))
	if err != nil {
		fail("response: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func postError(id, typ, msg string) {
	body, _ := json.Marshal(map[string]string{"errorMessage": msg, "errorType": typ})
	req, _ := http.NewRequest("POST", api+"/invocation/"+id+"/error", bytes.NewReader(body))
	req.Header.Set("Lambda-Runtime-Function-Error-Type", typ)
	resp, err := client.Do(req)
	if err != nil {
		fail("error: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "suite function: "+format+"\n", args...)
	os.Exit(1)
}

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
