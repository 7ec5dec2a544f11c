// Command standin-runtime is the runtime interface client of furl's
// stand-ins for AWS's java, ruby and dotnet base images, which
// scripts/test-images.sh builds: there is no registry, JVM, Ruby or .NET
// here. It is not a language runtime. It proves furl's side of running
// those runtimes in Docker: that furl chose the image of the function's
// runtime, mounted the code at /var/task, started the image's
// /lambda-entrypoint.sh with the handler as its one argument (which the
// entry point exports as _HANDLER and then execs /var/runtime/bootstrap,
// this program), and gave it a Runtime API to speak to.
//
// Each event is answered with what the runtime saw: the image it stands in
// for (FURL_STANDIN_IMAGE, set by the image), the handler, its working
// directory, the files of /var/task and the event itself.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime"
	for {
		if err := serveOne(api); err != nil {
			// The image's tests look for the reason, as a real runtime
			// client prints it when the Runtime API is not there.
			fmt.Fprintf(os.Stderr, "standin-runtime: %v\n", err)
			os.Exit(1)
		}
	}
}

// serveOne takes the next event and posts its answer.
func serveOne(api string) error {
	resp, err := http.Get(api + "/invocation/next")
	if err != nil {
		return fmt.Errorf("next invocation: %w", err)
	}
	event, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read event: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("next invocation: status %d: %s", resp.StatusCode, event)
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	fmt.Printf("standin-runtime %s handler=%s request=%s\n", os.Getenv("FURL_STANDIN_IMAGE"), os.Getenv("_HANDLER"), id)

	cwd, _ := os.Getwd()
	var task []string
	if entries, err := os.ReadDir(os.Getenv("LAMBDA_TASK_ROOT")); err == nil {
		for _, e := range entries {
			task = append(task, e.Name())
		}
	}
	if !json.Valid(event) {
		event, _ = json.Marshal(string(event))
	}
	body, err := json.Marshal(map[string]any{
		"standin":  os.Getenv("FURL_STANDIN_IMAGE"),
		"handler":  os.Getenv("_HANDLER"),
		"cwd":      cwd,
		"task":     task,
		"function": os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
		"event":    json.RawMessage(event),
	})
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	post, err := http.Post(api+"/invocation/"+id+"/response", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post response: %w", err)
	}
	io.Copy(io.Discard, post.Body)
	post.Body.Close()
	if post.StatusCode != http.StatusAccepted {
		return fmt.Errorf("post response: status %d", post.StatusCode)
	}
	return nil
}
