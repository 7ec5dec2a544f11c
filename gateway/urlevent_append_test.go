package gateway

import (
	"testing"
	"time"
)

// benchURLRequest is the e2e URL function's /echo request as the gateway
// sees it.
func benchURLRequest() *urlRequest {
	return &urlRequest{Method: "POST", RawPath: "/echo", RawQuery: "x=1", Host: "127.0.0.1:4580",
		Header: map[string][]string{"Content-Type": {"application/json"}, "User-Agent": {"Go-http-client/1.1"}, "Accept-Encoding": {"gzip"}},
		Body:   []byte(`{"order":42}`), SourceIP: "127.0.0.1", Proto: "http", Port: "4580", URLID: "abc", RequestID: "r", TraceID: "Root=1-x",
		Time: time.Date(2025, 8, 10, 14, 16, 29, 839_000_000, time.UTC)}
}

func BenchmarkBuildURLEvent(b *testing.B) {
	r := benchURLRequest()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildURLEvent(r); err != nil {
			b.Fatal(err)
		}
	}
}
