package runtimeapi

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"testing/synctest"
)

// Everything relayed through the pipe arrives whole and in order, however
// the runtime's reads and the invoker's reads are cut.
func TestBodyPipeCarriesEverything(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reader func(io.Reader) io.Reader
		size   int
		bufLen int
	}{
		{"big reads", func(r io.Reader) io.Reader { return r }, 3*maxPipeBuffer + 12345, 256 << 10},
		{"half reads", iotest.HalfReader, 3*maxPipeBuffer + 12345, 1000},
		{"one-byte reads into a big buffer", iotest.OneByteReader, 100 << 10, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := make([]byte, tc.size)
			for i := range src {
				src[i] = byte(rand.IntN(256))
			}
			p := newBodyPipe()
			done := make(chan error, 1)
			go func() {
				total, relayed, err := relay(p, tc.reader(bytes.NewReader(src)), int64(len(src)))
				if err == nil && (total != int64(len(src)) || relayed != total) {
					err = errors.New("relay miscounted")
				}
				p.closeWriter()
				done <- err
			}()
			var got bytes.Buffer
			buf := make([]byte, tc.bufLen)
			for {
				n, err := p.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), src) {
				t.Fatalf("got %d bytes, not the %d sent", got.Len(), len(src))
			}
		})
	}
}

// ReadAll gets everything relayed, in order, whether the pipe wakes its
// reader at every fill or only when full, for a response smaller than the
// buffer and one several times larger; its slice is the response's size
// when the response fits the buffer.
func TestBodyPipeReadAll(t *testing.T) {
	for _, size := range []int{0, 1234, 3*maxPipeBuffer + 12345} {
		for _, whole := range []bool{false, true} {
			src := make([]byte, size)
			for i := range src {
				src[i] = byte(rand.IntN(256))
			}
			p := newBodyPipe()
			p.whole = whole
			done := make(chan error, 1)
			go func() {
				_, _, err := relay(p, iotest.HalfReader(bytes.NewReader(src)), int64(len(src)))
				p.closeWriter()
				done <- err
			}()
			got, err := p.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, src) || got == nil {
				t.Fatalf("size %d, whole %v: got %d bytes (nil %v), not the %d sent", size, whole, len(got), got == nil, len(src))
			}
			if size < maxPipeBuffer && whole && cap(got) != size {
				t.Errorf("size %d: ReadAll's slice has capacity %d", size, cap(got))
			}
		}
	}
	// A reader that leaves ends ReadAll with the pipe's error.
	p := newBodyPipe()
	go p.Close()
	if _, err := p.ReadAll(); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("ReadAll of a closed pipe: %v", err)
	}
}

// A runtime may run at most maxPipeBuffer bytes ahead of its invoker:
// then its side waits, having read from the runtime no more than it keeps.
func TestBodyPipeBackpressure(t *testing.T) {
	p := newBodyPipe()
	src := &countingReader{r: iotest.HalfReader(zeroReader{})}
	go relay(p, src, 1<<40)
	for p.Buffered() < maxPipeBuffer {
		goruntime.Gosched()
	}
	if read := src.n.Load(); read != maxPipeBuffer {
		t.Fatalf("the runtime's side read %d bytes with none taken; want exactly %d", read, maxPipeBuffer)
	}
	buf := make([]byte, 1000)
	if n, err := io.ReadFull(p, buf); n != 1000 || err != nil {
		t.Fatal(n, err)
	}
	for p.Buffered() < maxPipeBuffer {
		goruntime.Gosched()
	}
	if read := src.n.Load(); read != maxPipeBuffer+1000 {
		t.Fatalf("after 1000 bytes were taken the runtime's side had read %d", read)
	}
	p.Close()
}

// The invoker leaving drops what is buffered; the runtime's side goes on
// reading (the function runs on) without keeping anything.
func TestBodyPipeReaderGone(t *testing.T) {
	p := newBodyPipe()
	p.Close()
	total, relayed, err := relay(p, strings.NewReader(strings.Repeat("y", 3*maxPipeBuffer)), 1<<40)
	if err != nil || total != 3*maxPipeBuffer || relayed != 0 {
		t.Fatalf("total %d relayed %d err %v", total, relayed, err)
	}
	if n, err := p.Read(make([]byte, 10)); n != 0 || !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("read after Close: %d %v", n, err)
	}
}

// Past the limit, exactly the bytes up to it are delivered.
func TestRelayLimit(t *testing.T) {
	for _, limit := range []int64{0, 1, 9, 10, 32 << 10, math.MaxInt64} {
		want := min(limit, 40<<10)
		p := newBodyPipe()
		total, relayed, err := relay(p, iotest.HalfReader(strings.NewReader(strings.Repeat("z", 40<<10))), limit)
		p.closeWriter()
		got, _ := io.ReadAll(p)
		crossed := limit < 40<<10
		if err != nil || crossed && total <= limit || !crossed && total != 40<<10 || relayed != want || int64(len(got)) != want {
			t.Errorf("limit %d: total %d relayed %d got %d err %v", limit, total, relayed, len(got), err)
		}
	}
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// stalledReader hands the buffer of its one Read to the test, then waits
// to be told to scribble over it.
type stalledReader struct {
	reading chan []byte
	write   chan struct{}
}

func (s *stalledReader) Read(b []byte) (int, error) {
	s.reading <- b
	<-s.write
	for i := range b {
		b[i] = 'X'
	}
	return len(b), nil
}

// A pipe's buffer goes back to the pool only when nothing can write into
// it: an invoker leaving while the runtime's read is under way must not
// let that read scribble over the next pipe's bytes.
func TestBodyPipeRecyclesNoBufferStillBeingFilled(t *testing.T) {
	for range 20 {
		p1 := newBodyPipe()
		r1 := &stalledReader{reading: make(chan []byte), write: make(chan struct{})}
		filled := make(chan struct{})
		go func() {
			defer close(filled)
			p1.fill(r1, maxPipeBuffer, maxPipeBuffer)
		}()
		<-r1.reading
		p1.Close()

		p2 := newBodyPipe()
		want := []byte("the next invocation's response")
		if _, kept, _, err := p2.fill(bytes.NewReader(want), maxPipeBuffer, maxPipeBuffer); err != nil || kept != len(want) {
			t.Fatalf("fill: kept %d, %v", kept, err)
		}
		close(r1.write)
		<-filled
		p2.closeWriter()
		got, err := io.ReadAll(p2)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("second pipe read %q, %v; want %q", got, err, want)
		}
	}
}

// A pipe read to its end gives its buffer back, and reads on after that
// still end cleanly.
func TestBodyPipeEndsCleanlyAfterRecycling(t *testing.T) {
	p := newBodyPipe()
	if _, _, _, err := p.fill(strings.NewReader("hello"), maxPipeBuffer, maxPipeBuffer); err != nil {
		t.Fatal(err)
	}
	p.closeWriter()
	got, err := io.ReadAll(p)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	if p.buf != nil {
		t.Errorf("a drained pipe keeps its buffer")
	}
	if n, err := p.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("read after the end: %d, %v", n, err)
	}
	if _, _, gone, _ := p.fill(strings.NewReader("late"), maxPipeBuffer, maxPipeBuffer); !gone {
		t.Errorf("fill after the end was kept")
	}
	if p.Buffered() != 0 {
		t.Errorf("buffered %d after the end", p.Buffered())
	}
}

// A buffered invocation's pipe wakes its reader once, at the response's
// end, not at every fill; a streaming one at every fill; and a full
// buffer wakes even a whole-response reader, or the runtime's side would
// wait forever.
func TestPipeWakesAWholeResponseReaderOnce(t *testing.T) {
	for _, tc := range []struct {
		name        string
		whole       bool
		fill        int
		wokenByFill bool
	}{
		{"streaming", false, 3, true},
		{"buffered", true, 3, false},
		{"buffered, buffer full", true, maxPipeBuffer, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newBodyPipe()
				p.whole = tc.whole
				var got atomic.Int64
				go func() {
					n, _ := p.Read(make([]byte, 2*maxPipeBuffer))
					got.Store(int64(n))
				}()
				synctest.Wait()
				r := bytes.NewReader(make([]byte, tc.fill))
				for r.Len() > 0 {
					p.fill(r, tc.fill, tc.fill)
				}
				synctest.Wait()
				if woken := got.Load() == int64(tc.fill); woken != tc.wokenByFill {
					t.Fatalf("after a fill of %d bytes the reader has %d: woken %v, want %v", tc.fill, got.Load(), woken, tc.wokenByFill)
				}
				p.closeWriter()
				synctest.Wait()
				if got.Load() != int64(tc.fill) {
					t.Fatalf("after the end the reader has %d bytes, want %d", got.Load(), tc.fill)
				}
			})
		})
	}
}
