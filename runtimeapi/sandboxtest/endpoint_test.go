package sandboxtest

import (
	"io"
	"net/http"
	"slices"
	"testing"
)

// The endpoint sees a process come and go by its alive connection alone,
// and lets a function past a gate the suite opens. (That a gate holds
// until then, the suite's Streaming case proves by order.)
func TestEndpointLivesAndGates(t *testing.T) {
	ep := startEndpoint(t, "127.0.0.1")
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}

	resp, err := c.Get(ep.url + "/alive/p1")
	if err != nil {
		t.Fatal(err)
	}
	ep.waitUp(t, "p1")
	if got := ep.live(); !slices.Equal(got, []string{"p1"}) {
		t.Fatalf("live = %q, want [p1]", got)
	}
	if again, err := c.Get(ep.url + "/alive/p1"); err != nil || again.StatusCode != http.StatusConflict {
		t.Fatalf("a second alive for p1: %v %v, want 409", again.StatusCode, err)
	}
	// Closing the body drops the connection, as a process' end does.
	resp.Body.Close()
	ep.waitDown(t, "p1")
	if got := ep.live(); len(got) != 0 {
		t.Fatalf("live = %q after p1 ended, want none", got)
	}

	passed := make(chan int, 1)
	go func() {
		resp, err := c.Get(ep.url + "/gate/g/1")
		if err != nil {
			passed <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		passed <- resp.StatusCode
	}()
	ep.open("g", "1")
	if code := <-passed; code != http.StatusOK {
		t.Fatalf("the opened gate answered %d, want 200", code)
	}
}
