// Command badrt is a custom runtime (a provided.al2023 bootstrap) that
// speaks the Runtime API by hand, to misbehave in the ways the end-to-end
// tests need: streaming past the response cap, never polling again,
// exiting, polling twice at once, leaving processes behind, never polling
// at all. BAD_MODE chooses; MARK_DIR, when set, is where it leaves a file
// named by its pid (and its children's) so that a test can tell which
// processes it started.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

var api = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime"

// hang blocks forever. A bare select {} would not: once the HTTP client's
// connection goroutines end, Go finds every goroutine asleep and exits
// with "deadlock!", and a runtime meant to hang would exit instead.
func hang() {
	for {
		time.Sleep(time.Hour)
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		probe()
		return
	}
	mark("runtime", os.Getpid())
	switch mode := os.Getenv("BAD_MODE"); mode {
	case "neverpoll":
		hang()
	case "exit-at-init":
		os.Exit(1)
	case "overcap":
		id, _ := next()
		streamForever(id)
		hang()
	case "overcap-poll":
		// Streams on past the cap and, meanwhile, asks for its next event
		// and serves it as if it were free.
		id, _ := next()
		go streamForever(id)
		time.Sleep(200 * time.Millisecond)
		for {
			id, _ := next()
			respond(id, `{"served":true}`)
		}
	case "nopoll":
		id, _ := next()
		respond(id, `{"ok":true}`)
		hang()
	case "exit":
		next()
		os.Exit(3)
	case "polltwice":
		pollTwice()
	case "setsid":
		for {
			id, _ := next()
			respond(id, fmt.Sprintf(`{"child":%d}`, startOrphan()))
		}
	case "setsid-hang":
		next()
		startOrphan()
		hang()
	case "hold":
		// Each event is answered with itself once the file it names exists.
		for {
			id, payload := next()
			var ev struct{ Wait string }
			json.Unmarshal(payload, &ev)
			for ev.Wait != "" {
				if _, err := os.Stat(ev.Wait); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			respond(id, string(payload))
		}
	case "childpeer":
		// A process the runtime starts may use its Runtime API too.
		for {
			id, _ := next()
			out, err := exec.Command(os.Args[0], "probe").Output()
			if err != nil {
				respond(id, fmt.Sprintf(`{"error":%q}`, err.Error()))
				continue
			}
			respond(id, string(out))
		}
	default:
		fmt.Fprintln(os.Stderr, "badrt: unknown BAD_MODE", mode)
		os.Exit(2)
	}
}

// mark leaves MARK_DIR/<kind>-<pid>.
func mark(kind string, pid int) {
	if dir := os.Getenv("MARK_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, kind+"-"+strconv.Itoa(pid)), nil, 0o644)
	}
}

func next() (id string, payload []byte) {
	resp, err := http.Get(api + "/invocation/next")
	if err != nil {
		fmt.Fprintln(os.Stderr, "badrt: next:", err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	payload, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "badrt: next:", resp.Status, string(payload))
		os.Exit(1)
	}
	return resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), payload
}

func respond(id, body string) {
	resp, err := http.Post(api+"/invocation/"+id+"/response", "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "badrt: respond:", err)
		return
	}
	resp.Body.Close()
}

// streamForever streams a response that never ends, writing as fast as
// it can whatever happens to what it wrote, until furl closes the
// connection.
func streamForever(id string) {
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
	}()
	req, _ := http.NewRequest("POST", api+"/invocation/"+id+"/response", pr)
	req.Header.Set("Lambda-Runtime-Function-Response-Mode", "streaming")
	req.Header.Set("Content-Type", "application/octet-stream")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// pollTwice answers its first event, then polls twice at once, on two
// connections, while idle; the poll that gets the next event answers it
// with the other poll's status. It leaves a "polled" mark once each poll's
// request is written.
func pollTwice() {
	id, _ := next()
	respond(id, `{"first":true}`)
	type result struct {
		status  int
		id      string
		payload []byte
	}
	results := make(chan result, 2)
	for i := range 2 {
		go func() {
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { mark("polled", i) }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", api+"/invocation/next", nil)
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Do(req)
			if err != nil {
				results <- result{status: -1}
				return
			}
			payload, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), payload}
		}()
	}
	first := <-results
	second := <-results
	if first.status != http.StatusOK {
		first, second = second, first
	}
	respond(first.id, fmt.Sprintf(`{"second":%d,"body":%q}`, second.status, second.payload))
	for {
		id, _ := next()
		respond(id, `{"again":true}`)
	}
}

// startOrphan starts a process in a session of its own, as a daemon
// would, and returns its pid.
func startOrphan() int {
	cmd := exec.Command("sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "badrt: orphan:", err)
		return 0
	}
	mark("orphan", cmd.Process.Pid)
	go cmd.Wait()
	return cmd.Process.Pid
}

// probe asks the Runtime API for a route that does not exist and prints
// what it answered: 404 from the Runtime API's router means it was let in.
func probe() {
	resp, err := http.Get("http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/furl-probe")
	if err != nil {
		fmt.Printf(`{"error":%q}`, err.Error())
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf(`{"childStatus":%d,"body":%q}`, resp.StatusCode, body)
}
