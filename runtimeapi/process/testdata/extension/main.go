// Command extension is an external extension for furl's tests: it
// registers for INVOKE and SHUTDOWN, logs each event, takes half a second
// over each INVOKE before it asks for the next, and exits on SHUTDOWN.
// With EXTENSION_CRASH set, it exits at once instead.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if os.Getenv("EXTENSION_CRASH") != "" {
		fmt.Println("extension: crashing")
		os.Exit(1)
	}
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2020-01-01/extension"
	req, _ := http.NewRequest("POST", base+"/register", strings.NewReader(`{"events":["INVOKE","SHUTDOWN"]}`))
	// The name is the file's under /opt/extensions, as AWS's examples do.
	req.Header.Set("Lambda-Extension-Name", filepath.Base(os.Args[0]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		fmt.Println("extension: register failed:", err, resp)
		os.Exit(1)
	}
	id := resp.Header.Get("Lambda-Extension-Identifier")
	resp.Body.Close()
	fmt.Println("extension: registered")
	for {
		req, _ := http.NewRequest("GET", base+"/event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println("extension: next failed:", err)
			os.Exit(1)
		}
		var ev struct {
			EventType      string `json:"eventType"`
			RequestID      string `json:"requestId"`
			ShutdownReason string `json:"shutdownReason"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		if err != nil {
			fmt.Println("extension: bad event:", err)
			os.Exit(1)
		}
		switch ev.EventType {
		case "INVOKE":
			fmt.Println("extension: INVOKE " + ev.RequestID)
			// The invocation must not end before this extension asks
			// for its next event.
			time.Sleep(500 * time.Millisecond)
			fmt.Println("extension: done with " + ev.RequestID)
		case "SHUTDOWN":
			fmt.Println("extension: SHUTDOWN " + ev.ShutdownReason)
			os.Exit(0)
		default:
			fmt.Println("extension: unexpected event", ev.EventType)
			os.Exit(1)
		}
	}
}
