package furlctl

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// errFunctionFailed marks an invocation that reached the function and
// failed there: the command has said why and exits 1.
var errFunctionFailed = errors.New("the function failed")

// Invoke is "furl invoke FUNCTION": one invocation, buffered or streamed.
func Invoke(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("furl invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint, region := targetFlags(fs, osEnv)
	payloadArg := fs.String("payload", "{}", "the event: JSON, @FILE for a file's contents, or @- for standard input")
	qualifier := fs.String("qualifier", "", "the version or alias to invoke")
	stream := fs.Bool("stream", false, "call InvokeWithResponseStream and print the response as it arrives")
	showLog := fs.Bool("log", false, "print the tail of the invocation's log to standard error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: furl invoke FUNCTION [flags]\n\nInvoke a function of a running furl and print its response. Exits 1 when the\nfunction fails, naming the error.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	name, code, done := parseNamed(fs, args)
	if done {
		return code
	}
	payload, err := readPayload(*payloadArg, os.Stdin)
	if err != nil {
		fmt.Fprintln(stderr, "furl invoke: --payload:", err)
		return 2
	}
	t := newTarget(osEnv, *endpoint, *region)
	// An invocation runs as long as the function does; Ctrl-C ends it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	in := call{name: name, qualifier: *qualifier, payload: payload, log: *showLog}
	if *stream {
		err = invokeStream(ctx, t.client(), in, stdout, stderr)
	} else {
		err = invokeBuffered(ctx, t.client(), in, stdout, stderr)
	}
	switch {
	case errors.Is(err, errFunctionFailed):
		return 1
	case err != nil:
		fmt.Fprintln(stderr, "furl invoke:", describe(t.Endpoint, err))
		return 1
	}
	return 0
}

// call is one invocation's input.
type call struct {
	name, qualifier string
	payload         []byte
	log             bool
}

func (c call) logType() types.LogType {
	if c.log {
		return types.LogTypeTail
	}
	return types.LogTypeNone
}

func (c call) qualifierPtr() *string {
	if c.qualifier == "" {
		return nil
	}
	return aws.String(c.qualifier)
}

// readPayload is --payload's value: the JSON itself, or a file's contents
// after @ (@- is standard input).
func readPayload(arg string, stdin io.Reader) ([]byte, error) {
	file, ok := strings.CutPrefix(arg, "@")
	if !ok {
		return []byte(arg), nil
	}
	if file == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the payload: %w", err)
	}
	return b, nil
}

func invokeBuffered(ctx context.Context, c *lambda.Client, in call, stdout, stderr io.Writer) error {
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(in.name), Qualifier: in.qualifierPtr(),
		Payload: in.payload, LogType: in.logType()})
	if err != nil {
		return fmt.Errorf("Invoke %s: %w", in.name, err)
	}
	writeLine(stdout, out.Payload)
	if in.log {
		writeLog(stderr, aws.ToString(out.LogResult))
	}
	if fe := aws.ToString(out.FunctionError); fe != "" {
		fmt.Fprintln(stderr, "furl invoke:", functionFailure(in.name, fe, out.Payload))
		return errFunctionFailed
	}
	return nil
}

// invokeStream prints each PayloadChunk as it arrives. It reads one event
// stream on its client: smithy-go decodes every event stream of a client
// through one shared buffer, so two at once on one client would race.
func invokeStream(ctx context.Context, c *lambda.Client, in call, stdout, stderr io.Writer) error {
	out, err := c.InvokeWithResponseStream(ctx, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String(in.name),
		Qualifier: in.qualifierPtr(), Payload: in.payload, LogType: in.logType()})
	if err != nil {
		return fmt.Errorf("InvokeWithResponseStream %s: %w", in.name, err)
	}
	es := out.GetStream()
	defer es.Close()
	var done *types.InvokeWithResponseStreamCompleteEvent
	for ev := range es.Events() {
		switch ev := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			if _, err := stdout.Write(ev.Value.Payload); err != nil {
				return fmt.Errorf("writing the response: %w", err)
			}
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			done = &ev.Value
		}
	}
	if err := es.Err(); err != nil {
		return fmt.Errorf("InvokeWithResponseStream %s: the stream broke: %w", in.name, err)
	}
	if done == nil {
		return fmt.Errorf("InvokeWithResponseStream %s: the stream ended without InvokeComplete", in.name)
	}
	if in.log {
		writeLog(stderr, aws.ToString(done.LogResult))
	}
	if code := aws.ToString(done.ErrorCode); code != "" {
		fmt.Fprintf(stderr, "furl invoke: %s failed mid-stream (%s): %s\n", in.name, code, aws.ToString(done.ErrorDetails))
		return errFunctionFailed
	}
	return nil
}

// writeLine writes b and ends the line if b does not, so that a shell
// prompt does not follow a JSON answer on its line.
func writeLine(w io.Writer, b []byte) {
	w.Write(b)
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
		io.WriteString(w, "\n")
	}
}

// writeLog decodes a base64 log tail (X-Amz-Log-Result) onto w.
func writeLog(w io.Writer, encoded string) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		fmt.Fprintf(w, "furl invoke: the log tail is not base64: %v\n", err)
		return
	}
	writeLine(w, raw)
}

// functionFailure is the line that says how a function failed: its
// FunctionError type, and the runtime's errorType and errorMessage when
// the payload is the usual error object.
func functionFailure(name, functionError string, payload []byte) string {
	var body struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	msg := fmt.Sprintf("%s failed (%s)", name, functionError)
	if json.Unmarshal(payload, &body) != nil {
		return msg
	}
	var parts []string
	for _, p := range []string{body.ErrorType, body.ErrorMessage} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, ": ")
	}
	return msg
}
