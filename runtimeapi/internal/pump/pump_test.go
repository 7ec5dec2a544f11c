package pump

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
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

// Once Quiet returns, everything written to the pipe before it was called
// has been passed on, however long it may wait; with nothing written it
// returns at once.
func TestQuietMeansPassedOn(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	dst := &syncBuffer{}
	p, err := Start(r, dst)
	if err != nil {
		t.Fatal(err)
	}
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
