package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// A URL's Cors config with curl as the browser: preflights answered by
// furl without running the function, actual requests given their headers,
// a config change taking effect at once, and a URL without Cors passing
// OPTIONS to its function.
func TestCORS(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createURLFunction(t, c, "api", 5)
	out, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("api"), AuthType: types.FunctionUrlAuthTypeNone,
		Cors: &types.Cors{AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"}, AllowHeaders: []string{"content-type", "x-api-key"},
			ExposeHeaders: []string{"x-method"}, AllowCredentials: aws.Bool(true), MaxAge: aws.Int32(600)}})
	if err != nil {
		t.Fatal(err)
	}
	grantURL(t, c, "api", nil)
	grantInvokeViaURL(t, c, "api", nil)
	u := aws.ToString(out.FunctionUrl) + "method"

	preflight := func(origin, method, headers string) (int, map[string]string, string) {
		args := []string{"-X", "OPTIONS", "-H", "Origin: " + origin, "-H", "Access-Control-Request-Method: " + method}
		if headers != "" {
			args = append(args, "-H", "Access-Control-Request-Headers: "+headers)
		}
		status, h, body := curl(t, append(args, u)...)
		got := map[string]string{}
		for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Allow-Credentials", "Access-Control-Max-Age", "X-Method"} {
			got[k] = h.Get(k)
		}
		return status, got, string(body)
	}
	status, h, body := preflight("https://app.example", "POST", "content-type,x-api-key")
	if status != 200 || body != "" || h["Access-Control-Allow-Origin"] != "https://app.example" || h["Access-Control-Allow-Methods"] != "POST" ||
		h["Access-Control-Allow-Headers"] != "content-type,x-api-key" || h["Access-Control-Allow-Credentials"] != "true" || h["Access-Control-Max-Age"] != "600" || h["X-Method"] != "" {
		t.Fatalf("allowed preflight: %d %v %q", status, h, body)
	}
	for _, bad := range [][3]string{
		{"https://evil.example", "POST", ""},
		{"https://app.example", "DELETE", ""},
		{"https://app.example", "POST", "x-secret"},
	} {
		status, h, body := preflight(bad[0], bad[1], bad[2])
		if status != 200 || body != "" || h["Access-Control-Allow-Origin"] != "" || h["X-Method"] != "" {
			t.Fatalf("refused preflight %v: %d %v %q", bad, status, h, body)
		}
	}
	f.logs.waitFor(t, "CORS preflight refused", 5*time.Second)
	if got := f.out.String(); strings.Contains(got, "START RequestId") {
		t.Fatalf("a preflight ran the function:\n%s", got)
	}

	status, hh, body2 := curl(t, "-H", "Origin: https://app.example", u)
	if status != 200 || string(body2) != "GET" || hh.Get("Access-Control-Allow-Origin") != "https://app.example" || hh.Get("Access-Control-Expose-Headers") != "x-method" ||
		hh.Get("Access-Control-Allow-Credentials") != "true" || hh.Get("Vary") != "Origin" || hh.Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("actual request: %d %v %s", status, hh, body2)
	}
	status, hh, _ = curl(t, "-H", "Origin: https://evil.example", u)
	if status != 200 || hh.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin: %d %v", status, hh)
	}
	status, hh, _ = curl(t, u)
	if status != 200 || hh.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("no origin: %d %v", status, hh)
	}
	// OPTIONS without Access-Control-Request-Method is no preflight: the
	// function answers it.
	status, hh, body2 = curl(t, "-X", "OPTIONS", "-H", "Origin: https://app.example", u)
	if status != 200 || string(body2) != "OPTIONS" || hh.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("plain OPTIONS: %d %v %s", status, hh, body2)
	}

	// A new config applies to the next request.
	if _, err := c.UpdateFunctionUrlConfig(ctx(t), &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("api"),
		Cors: &types.Cors{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}}}); err != nil {
		t.Fatal(err)
	}
	status, h, _ = preflight("http://localhost:5173", "DELETE", "")
	if status != 200 || h["Access-Control-Allow-Origin"] != "http://localhost:5173" || h["Access-Control-Allow-Methods"] != "DELETE" || h["Access-Control-Allow-Credentials"] != "" {
		t.Fatalf("after the update: %d %v", status, h)
	}

	// Without a Cors config (an empty one removes it, as Terraform does),
	// nothing is added and a preflight is the function's to answer.
	if _, err := c.UpdateFunctionUrlConfig(ctx(t), &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("api"), Cors: &types.Cors{}}); err != nil {
		t.Fatal(err)
	}
	status, hh, body2 = curl(t, "-X", "OPTIONS", "-H", "Origin: https://app.example", "-H", "Access-Control-Request-Method: GET", u)
	if status != 200 || string(body2) != "OPTIONS" || hh.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("Cors removed: %d %v %s", status, hh, body2)
	}
	createURLFunction(t, c, "plain", 5)
	plain := publicURL(t, c, "plain", nil) + "method"
	status, hh, body2 = curl(t, "-X", "OPTIONS", "-H", "Origin: https://app.example", "-H", "Access-Control-Request-Method: GET", plain)
	if status != 200 || string(body2) != "OPTIONS" || hh.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("no Cors config: %d %v %s", status, hh, body2)
	}
}
