package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// BenchmarkHotReloadEdit measures edit to new code for a hot-reload
// function (S3Bucket "hot-reload"): from writing the handler file to the
// end of the first Invoke, which must answer with the new code (so it
// includes the folder's fingerprint, retiring the old environment, and the
// cold start of a new one). It reports the median and the slowest, in ms.
//
//	go test ./e2e -run XXX -bench HotReloadEdit -benchtime 20x
func BenchmarkHotReloadEdit(b *testing.B) {
	f := startFurl(b, b.TempDir(), "127.0.0.1:0", "--log-level", "info")
	c := f.client()
	for _, tc := range []struct {
		name, file, handler string
		runtime             types.Runtime
		code                func(string) string
	}{
		{"node", "index.js", "index.handler", types.RuntimeNodejs22x, func(v string) string { return "exports.handler = async () => '" + v + "';\n" }},
		{"python", "app.py", "app.handler", types.RuntimePython312, func(v string) string { return "def handler(e, c):\n    return '" + v + "'\n" }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, []byte(tc.code("v0")), 0o644); err != nil {
				b.Fatal(err)
			}
			name := "hot-" + tc.name
			if _, err := c.CreateFunction(ctx(b), &lambda.CreateFunctionInput{
				FunctionName: aws.String(name), Runtime: tc.runtime, Handler: aws.String(tc.handler),
				Role: aws.String("arn:aws:iam::000000000000:role/r"),
				Code: &types.FunctionCode{S3Bucket: aws.String("hot-reload"), S3Key: aws.String(dir)},
			}); err != nil {
				b.Fatal(err)
			}
			invoke := func() string {
				out, err := c.Invoke(ctx(b), &lambda.InvokeInput{FunctionName: aws.String(name)})
				if err != nil || out.FunctionError != nil {
					b.Fatalf("Invoke: %v %s", err, out.Payload)
				}
				return string(out.Payload)
			}
			invoke() // warm
			var took []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				v := fmt.Sprintf("v%d", i+1)
				start := time.Now()
				if err := os.WriteFile(path, []byte(tc.code(v)), 0o644); err != nil {
					b.Fatal(err)
				}
				if got := invoke(); got != `"`+v+`"` {
					b.Fatalf("the first Invoke after the edit answers %s, want %q", got, v)
				}
				took = append(took, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median")
			b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "ms-max")
		})
	}
}
