// Command gofn is a test function built with aws-lambda-go. The event's
// "action" chooses what it does, so that one binary covers the cases the
// end-to-end tests need.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// started identifies this process: invocations that report the same value
// ran in the same execution environment.
var started = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())

type event struct {
	Action string `json:"action"`
	Value  string `json:"value"`
	Millis int    `json:"millis"`
	Size   int    `json:"size"`
	Code   int    `json:"code"`
	File   string `json:"file"`
}

type reply struct {
	Env         string            `json:"env"`
	RequestID   string            `json:"requestId"`
	ARN         string            `json:"arn"`
	Value       string            `json:"value,omitempty"`
	Vars        map[string]string `json:"vars,omitempty"`
	HasDeadline bool              `json:"hasDeadline"`
	Custom      map[string]string `json:"custom,omitempty"`
}

func handle(ctx context.Context, e event) (any, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	_, hasDeadline := ctx.Deadline()
	r := reply{Env: started, RequestID: lc.AwsRequestID, ARN: lc.InvokedFunctionArn, HasDeadline: hasDeadline, Custom: lc.ClientContext.Custom}
	fmt.Printf("gofn %s action=%s\n", lc.AwsRequestID, e.Action)
	switch e.Action {
	case "echo":
		r.Value = e.Value
	case "env":
		r.Vars = map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			r.Vars[k] = v
		}
	case "error":
		return nil, errors.New(e.Value)
	case "panic":
		panic(e.Value)
	case "sleep":
		time.Sleep(time.Duration(e.Millis) * time.Millisecond)
	case "exit":
		os.Exit(e.Code)
	case "big":
		return strings.Repeat("x", e.Size), nil
	case "barrier":
		// Wait until Size invocations have reached the barrier directory
		// File: they must all be running at once.
		if err := os.WriteFile(filepath.Join(e.File, lc.AwsRequestID), nil, 0o644); err != nil {
			return nil, err
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			entries, err := os.ReadDir(e.File)
			if err != nil {
				return nil, err
			}
			if len(entries) >= e.Size {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("only %d of %d invocations ran at once", len(entries), e.Size)
			}
		}
	case "touch":
		if err := os.WriteFile(e.File, []byte(lc.AwsRequestID), 0o644); err != nil {
			return nil, err
		}
	case "gate":
		// Wait up to Millis for the file File to exist, then write the
		// marker file Value: the test decides when the function ends.
		for deadline := time.Now().Add(time.Duration(e.Millis) * time.Millisecond); ; time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(e.File); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return nil, errors.New("the gate stayed closed")
			}
		}
		if err := os.WriteFile(e.Value, []byte(lc.AwsRequestID), 0o644); err != nil {
			return nil, err
		}
	case "get":
		// GET the URL Value from inside the function; the answer's status
		// and body are the reply.
		resp, err := http.Get(e.Value)
		if err != nil {
			return nil, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r.Value = strconv.Itoa(resp.StatusCode) + " " + string(body)
	case "list":
		// Call the Lambda API the way a function's SDK does: furl gives
		// functions AWS_ENDPOINT_URL_LAMBDA and credentials.
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		out, err := awslambda.NewFromConfig(cfg).ListFunctions(ctx, &awslambda.ListFunctionsInput{})
		if err != nil {
			return nil, err
		}
		var names []string
		for _, f := range out.Functions {
			names = append(names, *f.FunctionName)
		}
		r.Value = strings.Join(names, ",")
	case "attempt":
		// Count the attempt in File, then fail as Value says: "error",
		// "exit" (a crash), "hang" for Millis (past a timeout), or not at
		// all.
		f, err := os.OpenFile(e.File, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(f, lc.AwsRequestID)
		f.Close()
		switch e.Value {
		case "error":
			return nil, errors.New("attempt failed")
		case "exit":
			os.Exit(1)
		case "hang":
			time.Sleep(time.Duration(e.Millis) * time.Millisecond)
		}
	}
	return r, nil
}

func main() {
	if code, err := strconv.Atoi(os.Getenv("INIT_EXIT_CODE")); err == nil {
		fmt.Println("gofn init: exiting with", code)
		os.Exit(code)
	}
	if ms, err := strconv.Atoi(os.Getenv("INIT_SLEEP_MS")); err == nil {
		fmt.Println("gofn init: sleeping", ms, "ms")
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	lambda.Start(handle)
}
