package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
	"time"
)

// Why a listener and not --cpu-profile FILE: a profile written at shutdown
// is lost when the process is killed (the e2e harness and many supervisors
// end furl with SIGKILL), covers start-up and idle time along with the load
// one wants to see, and gives one kind of profile per run. A listener
// answers go tool pprof and curl for CPU, heap, allocations, goroutines,
// mutex and block profiles of exactly the window one asks for.

// loopbackAddr reports whether addr is host:port with a loopback host
// (127.0.0.0/8, ::1 or localhost): profiles show request data and cost CPU,
// so they are never offered beyond this machine.
func loopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pprof %q is not host:port", addr)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("--pprof %q must be on a loopback address (127.0.0.1, ::1 or localhost): profiles show request data", addr)
	}
	return nil
}

// pprofMux serves net/http/pprof's handlers under /debug/pprof/, on a mux
// of its own: the gateway never serves them.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// startPprof listens on addr, which Validate checked is loopback, and
// serves the profiles until the returned stop is called; stop waits for
// the server's goroutine to end.
func startPprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: listen on %s: %w", addr, err)
	}
	// A CPU profile takes 30 s unless asked otherwise; the write timeout
	// leaves room for a longer one.
	srv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 10 * time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("the --pprof listener stopped", "err", err)
		}
	}()
	log.Info("profiles served (go tool pprof http://ADDR/debug/pprof/profile)", "pprof_addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}, nil
}
