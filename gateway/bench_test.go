package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGetFunctionConfiguration compares furl answering
// GetFunctionConfiguration (routing, validation, a store read, JSON) with a
// plain net/http server that encodes the same answer from memory: the
// ratio of the two is what furl's control plane costs over the floor.
func BenchmarkGetFunctionConfiguration(b *testing.B) {
	s := newTestServer(b)
	create, _ := json.Marshal(apiScenario(b)[0].body)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "http://127.0.0.1/2015-03-31/functions", bytes.NewReader(create))
	req.Header.Set("Content-Type", "application/json")
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		b.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/2015-03-31/functions/shop/configuration", nil))
	var answer map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		b.Fatal(err)
	}
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer)
	})
	for _, tc := range []struct {
		name    string
		handler http.Handler
	}{{"furl", s}, {"plain", plain}} {
		b.Run(tc.name, func(b *testing.B) {
			ts := httptest.NewServer(tc.handler)
			defer ts.Close()
			client := ts.Client()
			url := ts.URL + "/2015-03-31/functions/shop/configuration"
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(url)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
			})
		})
	}
}
