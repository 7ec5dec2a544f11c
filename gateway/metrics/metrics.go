// Package metrics counts what furl's functions do, under the names
// CloudWatch gives Lambda's metrics (Invocations, Errors, Throttles,
// Duration, ConcurrentExecutions, the Url* metrics of function URLs),
// labelled with CloudWatch's dimension names, and serves them in
// Prometheus' text format. It hears everything through Observe, the hook
// the runtime and the gateway call, and reaches into nothing.
package metrics

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/furl-dev/furl/runtimeapi"
)

// Metrics is one furl's set of Lambda metrics.
type Metrics struct {
	reg *prometheus.Registry

	invocations *prometheus.CounterVec
	errors      *prometheus.CounterVec
	throttles   *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	concurrent  *prometheus.GaugeVec
	streamed    *prometheus.CounterVec

	urlRequests *prometheus.CounterVec
	url4xx      *prometheus.CounterVec
	url5xx      *prometheus.CounterVec
	urlLatency  *prometheus.HistogramVec
}

// Label names: CloudWatch's dimensions. Invocations are counted by the
// version that ran; URL requests by the resource the URL names (the
// function, or function:alias).
var (
	invocationLabels = []string{"FunctionName", "ExecutedVersion"}
	urlLabels        = []string{"FunctionName", "Resource"}
)

// millisecondBuckets span a warm call (under a millisecond) to Lambda's
// longest timeout (15 minutes).
var millisecondBuckets = []float64{0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000}

// New makes a set of metrics, with Go's and the process' own alongside.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "Invocations",
			Help: "Invocations that ran, successful or not (throttled ones are not counted), as CloudWatch's Lambda Invocations."}, invocationLabels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "Errors",
			Help: "Invocations that ended in a function error, as CloudWatch's Lambda Errors."}, invocationLabels),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "Throttles",
			Help: "Invocations refused for want of concurrency, as CloudWatch's Lambda Throttles."}, invocationLabels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "Duration",
			Help: "Time the function spent on an invocation, in milliseconds, as CloudWatch's Lambda Duration.", Buckets: millisecondBuckets}, invocationLabels),
		concurrent: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ConcurrentExecutions",
			Help: "Invocations running now, as CloudWatch's Lambda ConcurrentExecutions."}, invocationLabels),
		streamed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "StreamedOutboundBytes",
			Help: "Response bytes of streamed invocations, as CloudWatch's Lambda StreamedOutboundBytes."}, invocationLabels),
		urlRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "UrlRequestCount",
			Help: "Requests to function URLs, as CloudWatch's Lambda UrlRequestCount."}, urlLabels),
		url4xx: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "Url4xxCount",
			Help: "Function URL requests answered with a 4xx status, as CloudWatch's Lambda Url4xxCount."}, urlLabels),
		url5xx: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "Url5xxCount",
			Help: "Function URL requests answered with a 5xx status, as CloudWatch's Lambda Url5xxCount."}, urlLabels),
		urlLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "UrlRequestLatency",
			Help: "Time from a function URL request to the end of its answer, in milliseconds, as CloudWatch's Lambda UrlRequestLatency.", Buckets: millisecondBuckets}, urlLabels),
	}
	m.reg.MustRegister(m.invocations, m.errors, m.throttles, m.duration, m.concurrent, m.streamed,
		m.urlRequests, m.url4xx, m.url5xx, m.urlLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observe counts one event. It never blocks.
func (m *Metrics) Observe(ev runtimeapi.Event) {
	switch ev.Kind {
	case runtimeapi.EventStart:
		m.concurrent.WithLabelValues(ev.Function, ev.Version).Inc()
	case runtimeapi.EventEnd:
		l := []string{ev.Function, ev.Version}
		m.concurrent.WithLabelValues(l...).Dec()
		m.invocations.WithLabelValues(l...).Inc()
		if ev.ErrorType != "" {
			m.errors.WithLabelValues(l...).Inc()
		}
		// An environment that never started ran no function code.
		if ev.Duration > 0 {
			m.duration.WithLabelValues(l...).Observe(milliseconds(ev.Duration.Nanoseconds()))
		}
		if ev.Streaming {
			m.streamed.WithLabelValues(l...).Add(float64(ev.ResponseBytes))
		}
	case runtimeapi.EventThrottle:
		m.throttles.WithLabelValues(ev.Function, ev.Version).Inc()
	case runtimeapi.EventDeleted:
		// A deleted function's series go, so that they do not pile up as
		// functions come and go. ConcurrentExecutions stays: invocations
		// still under way count down on it.
		match := prometheus.Labels{"FunctionName": ev.Function}
		for _, v := range []*prometheus.CounterVec{m.invocations, m.errors, m.throttles, m.streamed, m.urlRequests, m.url4xx, m.url5xx} {
			v.DeletePartialMatch(match)
		}
		m.duration.DeletePartialMatch(match)
		m.urlLatency.DeletePartialMatch(match)
	case runtimeapi.EventURL:
		resource := ev.Function
		if ev.Version != "" {
			resource += ":" + ev.Version
		}
		l := []string{ev.Function, resource}
		m.urlRequests.WithLabelValues(l...).Inc()
		switch {
		case strings.HasPrefix(ev.Status, "4"):
			m.url4xx.WithLabelValues(l...).Inc()
		case strings.HasPrefix(ev.Status, "5"):
			m.url5xx.WithLabelValues(l...).Inc()
		}
		m.urlLatency.WithLabelValues(l...).Observe(milliseconds(ev.Duration.Nanoseconds()))
	}
}

// Handler serves the metrics in Prometheus' exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func milliseconds(ns int64) float64 { return float64(ns) / 1e6 }
