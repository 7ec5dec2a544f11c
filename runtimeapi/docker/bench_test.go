package docker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/runtimeapi/process"
)

// benchManager is a manager on the named sandbox: "docker" or "process".
func benchManager(b *testing.B, kind string) *runtimeapi.Manager {
	b.Helper()
	engine(b)
	var sb runtimeapi.Sandbox
	switch kind {
	case "docker":
		s, err := New(context.Background(), Options{Instance: "bench-" + randomHex(6), Images: map[string]string{"provided.al2023": baseImage}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close(context.Background()) })
		sb = s
	case "process":
		sb = process.New(process.Options{ClientsDir: filepath.Join(b.TempDir(), "clients"), Logger: slog.New(slog.DiscardHandler)})
	}
	m, err := runtimeapi.New(runtimeapi.Config{DataDir: b.TempDir(), Sandbox: sb, Logger: slog.New(slog.DiscardHandler), FunctionOutput: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

func benchInvoke(b *testing.B, m *runtimeapi.Manager, fn runtimeapi.Function, payload string) {
	res, err := m.Invoke(context.Background(), &runtimeapi.Invocation{Function: fn, RequestID: randomHex(16), Payload: []byte(payload),
		InvokedARN: "arn:aws:lambda:us-east-1:000000000000:function:" + fn.Name})
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if fe := res.Wait(); fe != nil {
		b.Fatal(fe)
	}
	res.LogTail(4096)
}

// BenchmarkColdInvoke: a function invoked for the first time (a new
// environment: container started, runtime initialised, event answered).
// It reports the median besides the mean.
func BenchmarkColdInvoke(b *testing.B) {
	for _, kind := range []string{"docker", "process"} {
		b.Run(kind, func(b *testing.B) {
			m := benchManager(b, kind)
			var took []time.Duration
			i := 0
			for b.Loop() {
				i++
				fn := zipFunction(fmt.Sprintf("cold%d", i), time.Minute)
				start := time.Now()
				benchInvoke(b, m, fn, `{"say":"x"}`)
				took = append(took, time.Since(start))
				b.StopTimer()
				m.Retire(fn.Name)
				b.StartTimer()
			}
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "median-ms")
		})
	}
}

// BenchmarkWarmInvoke: invocations of a warm environment, one after
// another and from as many callers as there are CPUs, with the log tail
// read as a LogType Tail caller would.
func BenchmarkWarmInvoke(b *testing.B) {
	for _, kind := range []string{"docker", "process"} {
		b.Run(kind+"/serial", func(b *testing.B) {
			m := benchManager(b, kind)
			fn := zipFunction("warm", time.Minute)
			benchInvoke(b, m, fn, `{}`)
			for b.Loop() {
				benchInvoke(b, m, fn, `{"say":"a line"}`)
			}
		})
		b.Run(kind+"/parallel", func(b *testing.B) {
			m := benchManager(b, kind)
			fn := zipFunction("warmp", time.Minute)
			benchInvoke(b, m, fn, `{}`)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					benchInvoke(b, m, fn, `{"say":"a line"}`)
				}
			})
		})
	}
}
