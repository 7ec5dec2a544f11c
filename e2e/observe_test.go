package e2e

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// furl logs prints a function's log, and with -f follows it as the
// function runs; it names an unknown function's error.
func TestFurlLogsFollows(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	endpoint := "--endpoint=http://" + f.addr
	createURLFunction(t, c, "noisy", 7)
	createURLFunction(t, c, "quiet", 7)

	out, errOut, code := runCtl(t, "logs", "noisy", endpoint)
	if code != 0 || out != "" {
		t.Fatalf("furl logs before any invocation: exit %d, %q %q", code, out, errOut)
	}

	follow := exec.Command(furlBin, "logs", "noisy", "-f", endpoint)
	follow.Env = ctlEnv()
	followed := &syncBuffer{changed: make(chan struct{})}
	follow.Stdout, follow.Stderr = followed, followed
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follow.Process.Kill(); follow.Wait() })

	first := invokeID(t, c, "noisy")
	followed.waitFor(t, "REPORT RequestId: "+first, 30*time.Second)
	quiet := invokeID(t, c, "quiet")
	second := invokeID(t, c, "noisy")
	followed.waitFor(t, "REPORT RequestId: "+second, 30*time.Second)
	got := followed.String()
	for _, want := range []string{"START RequestId: " + first + " Version: $LATEST", "END RequestId: " + first,
		"START RequestId: " + second, "Init Duration: "} {
		if !strings.Contains(got, want) {
			t.Errorf("furl logs -f printed no %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, quiet) {
		t.Errorf("furl logs -f noisy printed another function's lines:\n%s", got)
	}
	// Each line starts with its time, as CloudWatch shows it.
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", strings.Fields(line)[0]); err != nil {
			t.Errorf("line %q does not start with a time: %v", line, err)
		}
	}

	// Without -f: the same lines, and the command ends.
	out, errOut, code = runCtl(t, "logs", "noisy", endpoint)
	if code != 0 || strings.Count(out, "REPORT RequestId: ") != 2 || !strings.Contains(out, "REPORT RequestId: "+second) {
		t.Fatalf("furl logs: exit %d\n%s%s", code, out, errOut)
	}

	_, errOut, code = runCtl(t, "logs", "nobody", endpoint)
	if code != 1 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Fatalf("furl logs of an unknown function: exit %d, %q", code, errOut)
	}
}

// invokeID invokes a function and returns the request id of the call.
func invokeID(t *testing.T, c *lambda.Client, name string) string {
	t.Helper()
	res, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"requestContext":{"http":{"path":"/echo"}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	id, ok := awsmiddleware.GetRequestIDMetadata(res.ResultMetadata)
	if !ok {
		t.Fatal("the invocation has no request id")
	}
	return id
}

// scrapeMetrics reads /_furl/metrics as Prometheus does and parses it
// with Prometheus' own text parser.
func scrapeMetrics(t testing.TB, f *furl) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(f.url("/_furl/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /_furl/metrics: %d %s", resp.StatusCode, raw)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("parsing /_furl/metrics: %v\n%s", err, raw)
	}
	return families
}

// metricValue is one series' value (a histogram's sample count), or -1
// when there is no such series.
func metricValue(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	for _, m := range families[name].GetMetric() {
		match := len(m.GetLabel()) == len(labels)
		for _, l := range m.GetLabel() {
			match = match && labels[l.GetName()] == l.GetValue()
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// /_furl/metrics counts invocations, errors, throttles and URL requests
// under CloudWatch's names, as the function URL and Invoke see them; it
// answers a scraper without a signature, and no web page.
func TestMetricsCountAsCloudWatch(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--verify-api-signatures")
	c := f.client()
	createURLFunction(t, c, "counted", 7)
	url := strings.TrimSuffix(publicURL(t, c, "counted", nil), "/")

	for _, path := range []string{"/echo", "/echo", "/status/404", "/error"} {
		resp, err := localhostClient.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Reserved concurrency zero: Invoke is throttled.
	if _, err := c.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("counted"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("counted")}); err == nil {
		t.Fatal("an invocation with reserved concurrency 0 ran")
	}

	got := scrapeMetrics(t, f)
	inv := map[string]string{"FunctionName": "counted", "ExecutedVersion": "$LATEST"}
	res := map[string]string{"FunctionName": "counted", "Resource": "counted"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"Invocations", inv, 4},
		{"Errors", inv, 1},
		{"Throttles", inv, 1},
		{"Duration", inv, 4},
		{"ConcurrentExecutions", inv, 0},
		{"UrlRequestCount", res, 4},
		{"Url4xxCount", res, 1},
		{"Url5xxCount", res, 1},
		{"UrlRequestLatency", res, 4},
	} {
		if v := metricValue(got, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}

	// A page in a browser cannot read them.
	req, _ := http.NewRequest("GET", f.url("/_furl/metrics"), nil)
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(raw), "Invocations") {
		t.Errorf("a web page's scrape: %d %s", resp.StatusCode, raw)
	}
	// The event feed, unlike the metrics, is signed as the API is.
	resp, err = http.Get(f.url("/_furl/events/counted"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(raw), "REPORT") {
		t.Errorf("an unsigned read of the event feed: %d %s", resp.StatusCode, raw)
	}
}

// Under --verify-api-signatures the event feed of one function needs what
// GetFunction needs on it, and the feed of every function needs
// GetFunction on every function: a caller who may read one function and
// list the others reads only that one's log.
func TestEventFeedAuthorized(t *testing.T) {
	f := startAPIAuthzFurl(t)
	root := f.client()
	for _, name := range []string{"app", "other"} {
		if _, err := root.CreateFunction(ctx(t), &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: types.RuntimeNodejs20x,
			Role: aws.String(testRole), Handler: aws.String("index.handler"), Code: &types.FunctionCode{ZipFile: nodeZip(t, name+" says hi")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := root.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	reader := aws.Credentials{AccessKeyID: "AKIAREADER", SecretAccessKey: "reader-secret"}
	rootCreds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	for _, c := range []struct {
		who    string
		creds  aws.Credentials
		path   string
		status int
	}{
		{"reader, its function", reader, "/_furl/events/app", 200},
		{"reader, another function", reader, "/_furl/events/other", 403},
		{"reader, every function", reader, "/_furl/events", 403},
		{"root, every function", rootCreds, "/_furl/events", 200},
	} {
		status, _, body := sigv4Do(t, "GET", f.url(c.path), nil, c.creds, "us-east-1", time.Now(), nil)
		if status != c.status {
			t.Errorf("%s: %d %s, want %d", c.who, status, body, c.status)
			continue
		}
		if status == 200 && !strings.Contains(string(body), "START RequestId") {
			t.Errorf("%s: no log lines in %s", c.who, body)
		}
		if status != 200 && strings.Contains(string(body), "START RequestId") {
			t.Errorf("%s: refused, yet the answer holds log lines: %s", c.who, body)
		}
	}
}
