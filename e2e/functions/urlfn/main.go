// Command urlfn is a function URL test function built with aws-lambda-go's
// events package. The request path chooses what it does.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	path := req.RequestContext.HTTP.Path
	switch {
	case path == "/echo" || path == "/":
		raw, _ := json.Marshal(req)
		return events.LambdaFunctionURLResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(raw)}, nil
	case path == "/mirror":
		// The request body, as bytes, back with the request's content type.
		body := []byte(req.Body)
		if req.IsBase64Encoded {
			var err error
			if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
				return events.LambdaFunctionURLResponse{}, err
			}
		}
		return events.LambdaFunctionURLResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": req.Headers["content-type"]},
			Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true}, nil
	case path == "/cookies":
		return events.LambdaFunctionURLResponse{StatusCode: 200, Cookies: []string{"session=abc; HttpOnly", "theme=dark"}, Body: "cookies set"}, nil
	case path == "/cookies/cross-site":
		// What a front end on another site can keep: only a cookie that is
		// both Secure and SameSite=None comes back on its fetches.
		return events.LambdaFunctionURLResponse{StatusCode: 200, Cookies: []string{"both=1; Secure; SameSite=None; Path=/",
			"lax=1; Path=/", "insecure=1; SameSite=None; Path=/"}, Body: "cookies set"}, nil
	case strings.HasPrefix(path, "/status/"):
		code, _ := strconv.Atoi(strings.TrimPrefix(path, "/status/"))
		return events.LambdaFunctionURLResponse{StatusCode: code, Headers: map[string]string{"Content-Type": "text/plain"}, Body: "status " + strconv.Itoa(code)}, nil
	case path == "/error":
		return events.LambdaFunctionURLResponse{}, errors.New("the function failed")
	case path == "/panic":
		panic("the function panicked")
	case path == "/exit":
		os.Exit(2)
	case path == "/sleep":
		time.Sleep(10 * time.Second)
	case path == "/big":
		return events.LambdaFunctionURLResponse{StatusCode: 200, Body: strings.Repeat("x", 7<<20)}, nil
	case path == "/method":
		return events.LambdaFunctionURLResponse{StatusCode: 200, Headers: map[string]string{"X-Method": req.RequestContext.HTTP.Method}, Body: req.RequestContext.HTTP.Method}, nil
	}
	return events.LambdaFunctionURLResponse{StatusCode: 404, Body: "no route " + path}, nil
}

func main() {
	lambda.Start(handle)
}
