// Command webapp is the function of the web-adapter test: a plain HTTP
// server on 127.0.0.1:$PORT, started as the function's bootstrap, that
// never talks to the Runtime API. The extension in functions/webadapter
// turns function URL events into requests to it, as AWS's Lambda Web
// Adapter does for web frameworks.
//
// GET /stream?n=N&gate=URL writes N lines, flushing each; before line i
// (i > 1) it waits for <gate>/<i-1> to answer 200, which the test makes
// so only once it has read line i-1. An adapter that buffered the answer
// would never let the test open the gate: streaming is proven by order,
// not by a clock.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// gateWait bounds a wait for a gate: a safety net that turns a buffering
// adapter into a visible failure, never a measurement.
const gateWait = 20 * time.Second

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo/", echo)
	mux.HandleFunc("GET /stream", stream)
	// The adapter's readiness check.
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ready\n") })
	addr := "127.0.0.1:" + os.Getenv("PORT")
	fmt.Println("webapp listening on", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		fmt.Println("webapp:", err)
		os.Exit(1)
	}
}

// echo answers, as JSON, what the request was.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cookie := ""
	if c, err := r.Cookie("session"); err == nil {
		cookie = c.Value
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Served-By", "webapp")
	http.SetCookie(w, &http.Cookie{Name: "seen", Value: "1", Path: "/"})
	http.SetCookie(w, &http.Cookie{Name: "flavour", Value: "oat"})
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]string{
		"method": r.Method,
		"path":   r.URL.Path,
		"query":  r.URL.RawQuery,
		"header": r.Header.Get("X-Echo"),
		"cookie": cookie,
		"body":   string(body),
	})
}

// stream writes n lines, each flushed, each after the gate of the one
// before.
func stream(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	gate := r.URL.Query().Get("gate")
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Served-By", "webapp")
	http.SetCookie(w, &http.Cookie{Name: "lines", Value: strconv.Itoa(n)})
	w.WriteHeader(http.StatusAccepted)
	var err error
	for i := 1; i <= n && err == nil; i++ {
		if i > 1 && !waitGate(gate, i-1) {
			fmt.Fprintf(w, "gate timeout before line %d\n", i)
			err = fmt.Errorf("gate %d never opened", i-1)
			break
		}
		if _, err = fmt.Fprintf(w, "line %d\n", i); err == nil {
			err = rc.Flush()
		}
	}
	fmt.Printf("webapp finished %d lines: %v\n", n, err)
}

// waitGate waits for gate i to open. The pause doubles from 2 ms to 32 ms:
// a gate the test opens at once is seen at once.
func waitGate(gate string, i int) bool {
	deadline := time.Now().Add(gateWait)
	for pause := 2 * time.Millisecond; time.Now().Before(deadline); pause = min(2*pause, 32*time.Millisecond) {
		resp, err := http.Get(gate + "/" + strconv.Itoa(i))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(pause)
	}
	return false
}
