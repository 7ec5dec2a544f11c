package furlctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
)

// Logs is "furl logs FUNCTION [-f]": a function's recent log lines, and
// with -f the new ones as they come, from a running furl's
// GET /_furl/events.
func Logs(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("furl logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint, region := targetFlags(fs, osEnv)
	follow := fs.Bool("f", false, "keep printing new lines as they come, until Ctrl-C")
	fs.BoolVar(follow, "follow", false, "the same as -f")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: furl logs FUNCTION [-f] [flags]\n\nPrint what a function of a running furl logged lately (what it printed, and\nLambda's START, END and REPORT lines), oldest first; -f keeps following.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	name, code, done := parseNamed(fs, args)
	if done {
		return code
	}
	t := newTarget(osEnv, *endpoint, *region)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !*follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	err := printLogs(ctx, t, name, *follow, stdout, stderr)
	switch {
	case err == nil, *follow && ctx.Err() != nil:
		// Ctrl-C is how a follow ends.
		return 0
	default:
		fmt.Fprintln(stderr, "furl logs:", describe(t.Endpoint, err))
		return 1
	}
}

// printLogs prints the log events of one function, one line each.
func printLogs(ctx context.Context, t target, name string, follow bool, stdout, stderr io.Writer) error {
	q := url.Values{"kind": {string(runtimeapi.EventLog)}}
	if follow {
		q.Set("follow", "true")
	}
	resp, err := t.getSigned(ctx, "/_furl/events/"+url.PathEscape(name)+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	// A log line is at most 256 KB; its JSON a little more.
	sc.Buffer(make([]byte, 0, 64<<10), 2<<20)
	for sc.Scan() {
		var ev struct {
			runtimeapi.Event
			Dropped uint64 `json:"dropped"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("furl sent a line that is not an event: %w", err)
		}
		if ev.Kind == "gap" {
			fmt.Fprintf(stderr, "furl logs: %d lines were skipped: this terminal fell behind\n", ev.Dropped)
			continue
		}
		fmt.Fprintf(stdout, "%s %s\n", ev.Time.UTC().Format("2006-01-02T15:04:05.000Z"), ev.Line)
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("reading the log: %w", err)
	}
	return nil
}

// apiError is the error an AWS-shaped error answer carries.
func apiError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Type    string `json:"Type"`
		Message string `json:"Message"`
		Lower   string `json:"message"`
	}
	json.Unmarshal(raw, &body)
	typ := resp.Header.Get("X-Amzn-Errortype")
	if i := strings.IndexByte(typ, ':'); i >= 0 {
		typ = typ[:i]
	}
	msg := body.Message
	if msg == "" {
		msg = body.Lower
	}
	if typ == "" && msg == "" {
		return errors.New(resp.Status)
	}
	return fmt.Errorf("%s: %s", typ, msg)
}
