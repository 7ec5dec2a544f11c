package gateway

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An invocation's trace header is X-Ray's: a new root (the time in hex,
// 96 random bits) unless the caller's header has one, a new parent, and
// not sampled.
func TestTraceID(t *testing.T) {
	shape := regexp.MustCompile(`^Root=1-([0-9a-f]{8})-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`)
	m := shape.FindStringSubmatch(traceID(""))
	if m == nil {
		t.Fatalf("traceID(\"\") = %q", traceID(""))
	}
	secs, _ := strconv.ParseInt(m[1], 16, 64)
	if d := time.Since(time.Unix(secs, 0)); d < 0 || d > time.Minute {
		t.Errorf("the root's time %s is not now", m[1])
	}
	if first, second := traceID(""), traceID(""); first == second {
		t.Error("two new trace ids are the same")
	}
	got := traceID("Self=1-x;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
	if !strings.HasPrefix(got, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=") || !strings.HasSuffix(got, ";Sampled=0") {
		t.Errorf("the caller's root is not kept: %q", got)
	}
}
