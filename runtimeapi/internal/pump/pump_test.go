package pump

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPump starts a pump from a fresh pipe to dst and returns the
// pipe's write end.
func startPump(t *testing.T, dst io.Writer) (*os.File, *Pump) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(r, dst)
	if err != nil {
		t.Fatal(err)
	}
	return w, p
}

// Once Quiet returns, everything written to the pipe before it was called
// has been passed on, however long it may wait; with nothing written it
// returns at once.
func TestQuietMeansPassedOn(t *testing.T) {
	dst := &syncBuffer{}
	w, p := startPump(t, dst)
	defer func() {
		w.Close()
		<-p.Done()
	}()
	p.Quiet(0)
	var want strings.Builder
	for i := range 200 {
		line := strings.Repeat("x", i*50) + "\n"
		w.WriteString(line)
		want.WriteString(line)
		p.Quiet(1 << 62)
		if got := dst.String(); got != want.String() {
			t.Fatalf("after line %d, %d bytes passed on, want %d", i, len(got), want.Len())
		}
	}
}

// While a writer keeps writing and Quiet keeps passing on what waits (as
// run does too), every byte comes out once, in order.
func TestQuietAndRunPassOnInOrder(t *testing.T) {
	dst := &syncBuffer{}
	w, p := startPump(t, dst)
	var want strings.Builder
	written := make(chan struct{})
	go func() {
		defer close(written)
		for i := range 3000 {
			line := strconv.Itoa(i) + strings.Repeat(".", i%300) + "\n"
			w.WriteString(line)
			want.WriteString(line)
		}
	}()
	for quiet := true; quiet; {
		select {
		case <-written:
			quiet = false
		default:
		}
		p.Quiet(time.Second)
	}
	w.Close()
	<-p.Done()
	if got := dst.String(); got != want.String() {
		t.Fatalf("passed on %d bytes, want %d, or out of order", len(got), want.Len())
	}
}
