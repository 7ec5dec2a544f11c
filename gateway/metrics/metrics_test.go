package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/furl-dev/furl/runtimeapi"
)

// scrape serves the metrics and parses them as Prometheus would.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/_furl/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, rec.Body)
	}
	return families
}

// value finds one series' value by its labels.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f := families[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	for _, m := range f.GetMetric() {
		match := len(m.GetLabel()) == len(labels)
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
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
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestObserveCountsAsCloudWatch(t *testing.T) {
	m := New()
	fn := func(kind runtimeapi.EventKind) runtimeapi.Event {
		return runtimeapi.Event{Kind: kind, Function: "web", Version: "$LATEST"}
	}
	m.Observe(fn(runtimeapi.EventStart))
	m.Observe(fn(runtimeapi.EventStart))
	end := fn(runtimeapi.EventEnd)
	end.Duration = 3 * time.Millisecond
	end.Streaming, end.ResponseBytes = true, 4096
	m.Observe(end)
	failed := end
	failed.Streaming = false
	failed.ErrorType = "Runtime.ExitError"
	m.Observe(failed)
	m.Observe(fn(runtimeapi.EventThrottle))
	m.Observe(fn(runtimeapi.EventStart)) // still running
	for _, status := range []string{"200", "403", "502", "200"} {
		m.Observe(runtimeapi.Event{Kind: runtimeapi.EventURL, Function: "web", Version: "live", Status: status, Duration: time.Millisecond})
	}

	got := scrape(t, m)
	inv := map[string]string{"FunctionName": "web", "ExecutedVersion": "$LATEST"}
	url := map[string]string{"FunctionName": "web", "Resource": "web:live"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"Invocations", inv, 2},
		{"Errors", inv, 1},
		{"Throttles", inv, 1},
		{"Duration", inv, 2},
		{"ConcurrentExecutions", inv, 1},
		{"StreamedOutboundBytes", inv, 4096},
		{"UrlRequestCount", url, 4},
		{"Url4xxCount", url, 1},
		{"Url5xxCount", url, 1},
		{"UrlRequestLatency", url, 4},
	} {
		if v := value(t, got, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if got["Duration"].GetType() != dto.MetricType_HISTOGRAM || got["Invocations"].GetType() != dto.MetricType_COUNTER {
		t.Errorf("types: Duration %v, Invocations %v", got["Duration"].GetType(), got["Invocations"].GetType())
	}
	if got["go_goroutines"] == nil {
		t.Error("no Go runtime metrics")
	}
}

// BenchmarkObserveInvocation is what the metrics cost one warm URL
// invocation: its start, its end and its URL request.
func BenchmarkObserveInvocation(b *testing.B) {
	m := New()
	events := []runtimeapi.Event{
		{Kind: runtimeapi.EventStart, Function: "fn", Version: "$LATEST"},
		{Kind: runtimeapi.EventEnd, Function: "fn", Version: "$LATEST", Duration: time.Millisecond},
		{Kind: runtimeapi.EventURL, Function: "fn", Status: "200", Duration: time.Millisecond},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, ev := range events {
			m.Observe(ev)
		}
	}
}

// A deleted function's series go; another function's stay.
func TestDeletedFunctionsSeriesGo(t *testing.T) {
	m := New()
	for _, fn := range []string{"gone", "kept"} {
		m.Observe(runtimeapi.Event{Kind: runtimeapi.EventEnd, Function: fn, Version: "$LATEST", Duration: time.Millisecond})
		m.Observe(runtimeapi.Event{Kind: runtimeapi.EventURL, Function: fn, Status: "200", Duration: time.Millisecond})
	}
	m.Observe(runtimeapi.Event{Kind: runtimeapi.EventDeleted, Function: "gone"})
	got := scrape(t, m)
	for _, name := range []string{"Invocations", "Duration", "UrlRequestCount", "UrlRequestLatency"} {
		for _, s := range got[name].GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "FunctionName" && l.GetValue() == "gone" {
					t.Errorf("%s still has a series of the deleted function", name)
				}
			}
		}
	}
	if v := value(t, got, "Invocations", map[string]string{"FunctionName": "kept", "ExecutedVersion": "$LATEST"}); v != 1 {
		t.Errorf("the other function's Invocations = %v", v)
	}
	// A function made again under the name counts from zero, in series
	// that are exported: none of the deleted one's lingers.
	// ConcurrentExecutions stays (invocations under way count down on it).
	running := value(t, got, "ConcurrentExecutions", map[string]string{"FunctionName": "gone", "ExecutedVersion": "$LATEST"})
	m.Observe(runtimeapi.Event{Kind: runtimeapi.EventStart, Function: "gone", Version: "$LATEST"})
	m.Observe(runtimeapi.Event{Kind: runtimeapi.EventEnd, Function: "gone", Version: "$LATEST", Duration: 3 * time.Millisecond})
	got = scrape(t, m)
	if v := value(t, got, "Invocations", map[string]string{"FunctionName": "gone", "ExecutedVersion": "$LATEST"}); v != 1 {
		t.Errorf("the new function's Invocations = %v, want 1", v)
	}
	if v := value(t, got, "ConcurrentExecutions", map[string]string{"FunctionName": "gone", "ExecutedVersion": "$LATEST"}); v != running {
		t.Errorf("ConcurrentExecutions after a call started and ended = %v, want %v as before", v, running)
	}
}
