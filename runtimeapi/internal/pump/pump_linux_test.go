package pump

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// slowBuffer is a syncBuffer whose writes take a millisecond each.
type slowBuffer struct{ syncBuffer }

func (b *slowBuffer) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return b.syncBuffer.Write(p)
}

// Quiet stops draining at its bound: given a pipe holding far more than
// it passes on within it (a 1 MiB pipe, full, and a writer downstream
// that takes a millisecond a chunk), it returns with most still in the
// pipe, which run then passes on, whole and in order.
func TestQuietStopsAtItsBound(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	const size = 1 << 20
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, size); err != nil {
		t.Skipf("cannot make a 1 MiB pipe here: %v", err)
	}
	var want bytes.Buffer
	for i := 0; want.Len() < size; i++ {
		want.WriteString(strings.Repeat(string(rune('a'+i%26)), 1000) + "\n")
	}
	want.Truncate(size)
	if _, err := w.Write(want.Bytes()); err != nil {
		t.Fatal(err)
	}
	dst := &slowBuffer{}
	p, err := Start(r, dst)
	if err != nil {
		t.Fatal(err)
	}
	p.Quiet(2 * time.Millisecond)
	if n := len(dst.String()); n > size-4*len(p.buf) {
		t.Errorf("Quiet passed on %d of %d bytes before it returned: it did not stop at its bound", n, size)
	}
	w.Close()
	<-p.Done()
	if got := dst.String(); got != want.String() {
		t.Fatalf("passed on %d bytes, want the %d written, in order", len(got), want.Len())
	}
}
