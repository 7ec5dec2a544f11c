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
