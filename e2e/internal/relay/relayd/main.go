// Command relayd runs the minimal relay (package relay) as a process of its
// own, as furl runs: the floor benchmarks measure both from a load
// generator in another process, so that neither shares the generator's Go
// runtime. It prints the address it serves on, then serves until it is
// killed or stdin closes.
//
//	relayd -bootstrap ./bootstrap -n 8 -mode url [-env K=V ...]
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/furl-dev/furl/e2e/internal/relay"
)

func main() {
	bootstrap := flag.String("bootstrap", "", "the function's executable")
	n := flag.Int("n", 1, "how many environments to start")
	mode := flag.String("mode", "url", "url, stream, invoke or invokestream")
	var env []string
	flag.Func("env", "a K=V variable for the function (repeatable)", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("%q is not K=V", s)
		}
		env = append(env, s)
		return nil
	})
	flag.Parse()
	modes := map[string]relay.Mode{"url": relay.URL, "stream": relay.Stream, "invoke": relay.Invoke, "invokestream": relay.InvokeStream}
	m, ok := modes[*mode]
	if !ok || *bootstrap == "" {
		flag.Usage()
		os.Exit(2)
	}
	r, err := relay.Start(*bootstrap, *n, m, env...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relayd:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.Close()
		fmt.Fprintln(os.Stderr, "relayd:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: r}
	go func() {
		// The benchmark holds stdin open while it needs the relay: its end
		// (the benchmark gone, even killed) ends the relay and its
		// functions.
		io.Copy(io.Discard, os.Stdin)
		srv.Close()
	}()
	fmt.Println(ln.Addr().String())
	srv.Serve(ln)
	r.Close()
}
