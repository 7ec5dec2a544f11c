package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// BenchmarkSandboxes compares the Docker sandbox with the process sandbox
// in one run, on two furl binaries started side by side: cold start (from
// CreateFunction, through CreateFunctionUrlConfig and its permissions, to
// the first answer of the function's URL) and warm URL throughput at
// concurrency 1 and 8. The two alternate round by round, and the medians are
// reported with their ratio, since this machine is shared and noisy.
//
//	go test ./e2e -run XXX -bench Sandboxes -benchtime 10x
func BenchmarkSandboxes(b *testing.B) {
	requireDocker(b, providedImage)
	kinds := []string{"process", "docker"}
	furls := map[string]*furl{}
	for _, k := range kinds {
		furls[k] = startFurl(b, b.TempDir(), "127.0.0.1:0", "--sandbox", k, "--log-level", "info")
	}
	created := 0 // b.Run runs its function more than once: names stay unique
	b.Run("cold-start", func(b *testing.B) {
		cold := map[string][]time.Duration{}
		for i := 0; i < b.N; i++ {
			created++
			for _, k := range kinds {
				cold[k] = append(cold[k], coldURL(b, furls[k].client(), fmt.Sprintf("cold-%s-%d", k, created)))
			}
		}
		for _, k := range kinds {
			b.ReportMetric(ms(median(cold[k])), k+"-p50-ms")
		}
		b.ReportMetric(float64(median(cold["docker"]))/float64(median(cold["process"])), "docker/process")
	})
	urls := map[string]string{}
	for _, k := range kinds {
		c := furls[k].client()
		createURLFunction(b, c, "warm", 10)
		u := publicURL(b, c, "warm", nil)
		urls[k] = furls[k].url("/lambda-url/" + u[len("http://"):strings.Index(u, ".")] + "/echo")
	}
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("warm-url-c%d", conc), func(b *testing.B) {
			rates := map[string][]float64{}
			for round := 0; round < 5; round++ {
				for _, k := range kinds {
					rates[k] = append(rates[k], throughput(b, urls[k], conc, b.N*20))
				}
			}
			for _, k := range kinds {
				sort.Float64s(rates[k])
				b.ReportMetric(rates[k][len(rates[k])/2], k+"-req/s")
			}
			b.ReportMetric(rates["docker"][2]/rates["process"][2], "docker/process")
		})
	}
}

// coldURL creates a function with a public URL and times it from
// CreateFunction to the URL's first answer.
func coldURL(b *testing.B, c *lambda.Client, name string) time.Duration {
	start := time.Now()
	if _, err := c.CreateFunction(ctx(b), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: urlFunction(b)}, Timeout: aws.Int32(10),
	}); err != nil {
		b.Fatal(err)
	}
	u := publicURL(b, c, name, nil)
	resp, err := localhostClient.Get(u + "echo")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"rawPath":"/echo"`)) {
		b.Fatalf("cold URL answered %d %s", resp.StatusCode, body)
	}
	if _, err := c.DeleteFunction(ctx(b), &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}); err != nil {
		b.Fatal(err)
	}
	return d
}

// throughput sends n requests from conc workers and returns requests per
// second.
func throughput(b *testing.B, url string, conc, n int) float64 {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	one := func() {
		resp, err := client.Post(url, "application/json", strings.NewReader(`{"order":42}`))
		if err != nil {
			b.Error(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"rawPath":"/echo"`)) {
			b.Errorf("%d %s", resp.StatusCode, body)
		}
	}
	for range 2 * conc {
		one()
	}
	work := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				one()
			}
		}()
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
