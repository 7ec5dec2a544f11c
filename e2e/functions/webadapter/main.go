// Command webadapter is an external extension that does what AWS's Lambda
// Web Adapter does: shipped in a layer as extensions/webadapter, it lets a
// plain web app (the function's bootstrap, an HTTP server on
// 127.0.0.1:$PORT that never talks to the Runtime API) answer function URL
// events.
//
// Like the real adapter it registers with the Extensions API for no
// events, and is itself the environment's runtime client: it polls
// /runtime/invocation/next, turns each URL event (payload 2.0) into an
// HTTP request to the app, and posts the app's answer, buffered as the
// URL result JSON or, with AWS_LWA_INVOKE_MODE=response_stream, streamed
// as an http-integration-response (a JSON prelude, 8 NUL bytes, then the
// body as the app writes it).
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

var (
	api  = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API")
	app  = "http://127.0.0.1:" + os.Getenv("PORT")
	name = "webadapter"
)

func main() {
	fmt.Println(name+":", run(context.Background()))
	os.Exit(1)
}

// run serves invocations until one fails: it returns only with the error
// (the end of the environment ends the adapter from its event/next call).
func run(ctx context.Context) error {
	id, err := register(ctx)
	if err != nil {
		return err
	}
	// Init ends only once every extension waits for its next event. None
	// ever comes to one registered for none: the call returns when the
	// environment ends, and so does the adapter.
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/2020-01-01/extension/event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		os.Exit(0)
	}()
	// As the real adapter, take events only once the app answers.
	if err := waitReady(ctx); err != nil {
		return err
	}
	streaming := os.Getenv("AWS_LWA_INVOKE_MODE") == "response_stream"
	for {
		if err := next(ctx, streaming); err != nil {
			return err
		}
	}
}

// register registers the adapter for no events and returns its id.
func register(ctx context.Context) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api+"/2020-01-01/extension/register", strings.NewReader(`{"events":[]}`))
	req.Header.Set("Lambda-Extension-Name", name)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("register: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("register: %s: %s", resp.Status, raw)
	}
	return resp.Header.Get("Lambda-Extension-Identifier"), nil
}

// waitReady waits until the app answers GET / with a status below 500.
func waitReady(ctx context.Context) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, app+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// next takes one invocation and answers it with the app's response.
func next(ctx context.Context, streaming bool) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/2018-06-01/runtime/invocation/next", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("next: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("next: %s", resp.Status)
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	ms, _ := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	ctx, cancel := context.WithDeadline(ctx, time.UnixMilli(ms))
	defer cancel()
	var ev events.LambdaFunctionURLRequest
	if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil {
		return postError(ctx, id, fmt.Errorf("decode the event: %w", err))
	}
	appResp, err := forward(ctx, &ev)
	if err != nil {
		return postError(ctx, id, err)
	}
	defer appResp.Body.Close()
	fmt.Printf("%s: %s %s -> %d\n", name, ev.RequestContext.HTTP.Method, ev.RawPath, appResp.StatusCode)
	if streaming {
		return postStream(ctx, id, appResp)
	}
	return postBuffered(ctx, id, appResp)
}

// forward sends the event to the app as the HTTP request it stands for.
func forward(ctx context.Context, ev *events.LambdaFunctionURLRequest) (*http.Response, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("decode the body: %w", err)
		}
	}
	u := app + ev.RawPath
	if ev.RawQueryString != "" {
		u += "?" + ev.RawQueryString
	}
	req, err := http.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("the app's request: %w", err)
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Host = ev.Headers["host"]
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("the app: %w", err)
	}
	return resp, nil
}

// headersOf are the app's response headers as a URL result has them:
// one value per name, cookies apart, and no framing headers, which the
// adapter's own answer replaces.
func headersOf(resp *http.Response) map[string]string {
	h := map[string]string{}
	for k, vs := range resp.Header {
		switch k {
		case "Set-Cookie", "Content-Length", "Transfer-Encoding", "Connection":
			continue
		}
		h[k] = strings.Join(vs, ",")
	}
	return h
}

// postBuffered posts the app's whole answer as the URL result JSON.
func postBuffered(ctx context.Context, id string, resp *http.Response) error {
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return postError(ctx, id, fmt.Errorf("the app's body: %w", err))
	}
	out := events.LambdaFunctionURLResponse{StatusCode: resp.StatusCode, Headers: headersOf(resp), Cookies: resp.Header.Values("Set-Cookie")}
	if utf8.Valid(body) {
		out.Body = string(body)
	} else {
		out.Body, out.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode the result: %w", err)
	}
	return post(ctx, id, "response", "application/json", nil, bytes.NewReader(raw))
}

// postStream streams the app's answer as it comes: the prelude (status,
// headers, cookies), 8 NUL bytes, then the body. A read error from the
// app aborts the post, and the URL's client sees a cut stream.
func postStream(ctx context.Context, id string, resp *http.Response) error {
	prelude, err := json.Marshal(struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers,omitempty"`
		Cookies    []string          `json:"cookies,omitempty"`
	}{resp.StatusCode, headersOf(resp), resp.Header.Values("Set-Cookie")})
	if err != nil {
		return fmt.Errorf("encode the prelude: %w", err)
	}
	body := io.MultiReader(bytes.NewReader(append(prelude, make([]byte, 8)...)), resp.Body)
	return post(ctx, id, "response", "application/vnd.awslambda.http-integration-response",
		http.Header{"Lambda-Runtime-Function-Response-Mode": {"streaming"}}, body)
}

// postError reports an invocation the adapter could not complete.
func postError(ctx context.Context, id string, cause error) error {
	raw, _ := json.Marshal(map[string]string{"errorType": "WebAdapter.Error", "errorMessage": cause.Error()})
	return post(ctx, id, "error", "application/json", nil, bytes.NewReader(raw))
}

func post(ctx context.Context, id, what, contentType string, h http.Header, body io.Reader) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api+"/2018-06-01/runtime/invocation/"+id+"/"+what, body)
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post the %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		raw, _ := io.ReadAll(resp.Body)
		return errors.New("post the " + what + ": " + resp.Status + ": " + string(raw))
	}
	return nil
}
