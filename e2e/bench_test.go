package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// BenchmarkInvoke measures warm Invoke round trips through the real furl
// binary (HTTP in, Runtime API to an aws-lambda-go process, HTTP out) and,
// in the same run, a plain net/http server doing the same JSON work in
// process. Each sub-benchmark reports p50 and p99 latency and requests per
// second; furl's own overhead is furl's p50 minus plain's.
//
//	go test ./e2e -run XXX -bench Invoke -benchtime 3000x
func BenchmarkInvoke(b *testing.B) {
	f := startFurl(b, b.TempDir(), "127.0.0.1:0", "--log-level", "info")
	createGo(b, f.client(), "bench", 10, nil)
	payload := []byte(`{"action":"echo","value":"hello"}`)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct{ Action, Value string }
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"env": "plain", "requestId": "r", "arn": "a", "value": e.Value, "hasDeadline": true})
	}))
	defer plain.Close()

	for _, conc := range []int{1, 8} {
		for _, target := range []struct{ name, url string }{
			{"furl", f.url("/2015-03-31/functions/bench/invocations")},
			{"plain", plain.URL},
		} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", target.name, conc), func(b *testing.B) {
				measure(b, conc, func(client *http.Client) error {
					resp, err := client.Post(target.url, "application/json", bytes.NewReader(payload))
					if err != nil {
						return err
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" || !bytes.Contains(body, []byte(`"value":"hello"`)) {
						return fmt.Errorf("%d %s", resp.StatusCode, body)
					}
					return nil
				})
			})
		}
	}
}

// measure runs b.N requests from conc workers and reports p50 and p99
// latency and requests per second.
func measure(b *testing.B, conc int, one func(*http.Client) error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	timed := func() time.Duration {
		start := time.Now()
		if err := one(client); err != nil {
			b.Error(err)
		}
		return time.Since(start)
	}
	for i := 0; i < 2*conc; i++ { // warm every environment the run will use
		timed()
	}
	var mu sync.Mutex
	var lat []time.Duration
	work := make(chan struct{})
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for range work {
				mine = append(mine, timed())
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	for i := 0; i < b.N; i++ {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

// BenchmarkURL measures warm function URL requests (through the path
// form, so that the client needs no special resolver) to an aws-lambda-go
// function that echoes its event as JSON, and a plain net/http server that
// marshals the same request fields to JSON and answers them, at
// concurrency 1 and 8.
//
//	go test ./e2e -run XXX -bench URL -benchtime 3000x
func BenchmarkURL(b *testing.B) {
	f := startFurl(b, b.TempDir(), "127.0.0.1:0", "--log-level", "info")
	c := f.client()
	createURLFunction(b, c, "urlbench", 10)
	u := publicURL(b, c, "urlbench", nil)
	id := u[len("http://"):strings.Index(u, ".")]
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		headers := map[string]string{}
		for k, v := range r.Header {
			headers[strings.ToLower(k)] = strings.Join(v, ",")
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"rawPath": r.URL.Path, "rawQueryString": r.URL.RawQuery, "headers": headers, "body": string(body)})
	}))
	defer plain.Close()
	payload := []byte(`{"order":42}`)
	for _, conc := range []int{1, 8} {
		for _, target := range []struct{ name, url string }{
			{"furl", f.url("/lambda-url/" + id + "/echo?x=1")},
			{"plain", plain.URL + "/echo?x=1"},
		} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", target.name, conc), func(b *testing.B) {
				measure(b, conc, func(client *http.Client) error {
					resp, err := client.Post(target.url, "application/json", bytes.NewReader(payload))
					if err != nil {
						return err
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"rawPath":"/echo"`)) {
						return fmt.Errorf("%d %s", resp.StatusCode, body)
					}
					return nil
				})
			})
		}
	}
}

// BenchmarkColdStart measures the first Invoke after CreateFunction, which
// starts an execution environment: a Go bootstrap and a Node.js handler.
//
//	go test ./e2e -run XXX -bench ColdStart -benchtime 20x
func BenchmarkColdStart(b *testing.B) {
	f := startFurl(b, b.TempDir(), "127.0.0.1:0", "--log-level", "info")
	c := f.client()
	nodeCode := makeZip(b, map[string]string{"index.mjs": "export const handler = async (e) => ({ value: e.value });"})
	for _, kind := range []string{"go", "node"} {
		b.Run(kind, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				name := fmt.Sprintf("cold-%s-%d", kind, i)
				in := &lambda.CreateFunctionInput{FunctionName: aws.String(name), Role: aws.String(testRole), Timeout: aws.Int32(10)}
				if kind == "go" {
					in.Runtime, in.Handler, in.Code = types.RuntimeProvidedal2023, aws.String("bootstrap"), &types.FunctionCode{ZipFile: goFunction(b)}
				} else {
					in.Runtime, in.Handler, in.Code = types.RuntimeNodejs20x, aws.String("index.handler"), &types.FunctionCode{ZipFile: nodeCode}
				}
				if _, err := c.CreateFunction(ctx(b), in); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				out, err := c.Invoke(ctx(b), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"action":"echo","value":"x"}`)})
				total += time.Since(start)
				if err != nil || out.FunctionError != nil {
					b.Fatalf("cold invoke: %v %s", err, out.Payload)
				}
				b.StopTimer()
				// Keep the machine quiet for the next iteration.
				if _, err := c.DeleteFunction(ctx(b), &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/cold-invoke")
		})
	}
}
