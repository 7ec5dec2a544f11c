package runtimeapi

import (
	"io"
	"sync"
)

// Buffer sizes of a bodyPipe. It starts small, as most responses are, and
// grows while a runtime sends faster than its invoker reads, up to
// maxPipeBuffer unread bytes; then the runtime's side waits.
const (
	minPipeBuffer = 64 << 10
	minFillRoom   = 32 << 10
	maxPipeBuffer = 1 << 20
)

// bodyPipe carries a response from the Runtime API to its invoker. Unlike
// io.Pipe it buffers, so the runtime's side need not wait for the invoker
// at every chunk; the runtime's bytes are read straight into its buffer,
// sparing a copy; and a read takes all that has arrived, so many small
// chunks from a fast runtime reach a client in fewer, larger writes.
type bodyPipe struct {
	mu      sync.Mutex
	changed sync.Cond
	buf     []byte // the unread bytes are buf[off:]
	off     int
	// writerDone: the response is complete; reads drain buf, then EOF.
	// readerGone: the invoker left; nothing more is kept.
	writerDone, readerGone bool
	// filling: a fill is reading into buf with the lock released, so buf
	// may not go back to pipeBuffers yet.
	filling bool
	// whole: the invoker reads the response only as a whole (a buffered
	// invocation), so a fill wakes it only when the buffer is full; the
	// writer's end wakes it once for everything, sparing a hand-off.
	whole bool
	// caughtUp is closed once the reader has taken the end (its read
	// returned EOF, so it has passed on all it read before) or has left.
	caughtUp     chan struct{}
	caughtUpDone bool
}

// pipeBuffers hold the minPipeBuffer-sized buffers of pipes that are
// done: most responses fit in one, and a fresh 64 KiB per invocation is
// most of what the warm path allocates.
var pipeBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, minPipeBuffer)
	return &b
}}

// recycleLocked gives buf back to pipeBuffers once no one can touch it
// again: its reader has gone, or has read it all after the writer's end,
// and no fill is reading into it.
func (p *bodyPipe) recycleLocked() {
	if p.filling || p.buf == nil || !(p.readerGone || p.writerDone && p.off == len(p.buf)) {
		return
	}
	if cap(p.buf) == minPipeBuffer {
		b := p.buf[:0]
		pipeBuffers.Put(&b)
	}
	p.buf, p.off = nil, 0
}

func newBodyPipe() *bodyPipe {
	p := &bodyPipe{caughtUp: make(chan struct{})}
	p.changed.L = &p.mu
	return p
}

// catchUpLocked marks the reader as done with the response.
func (p *bodyPipe) catchUpLocked() {
	if !p.caughtUpDone {
		p.caughtUpDone = true
		close(p.caughtUp)
	}
}

// fill reads once from r into the buffer, at most most bytes, and keeps
// the first keep of them. It waits while the buffer is full. gone reports
// that the reader has left or the response has ended: nothing was kept,
// and nothing more will be.
func (p *bodyPipe) fill(r io.Reader, most, keep int) (read, kept int, gone bool, err error) {
	p.mu.Lock()
	for !p.readerGone && !p.writerDone && len(p.buf)-p.off >= maxPipeBuffer {
		p.changed.Wait()
	}
	if p.readerGone || p.writerDone {
		p.mu.Unlock()
		return 0, 0, true, nil
	}
	switch {
	case p.off == len(p.buf):
		p.buf, p.off = p.buf[:0], 0
	case p.off > 0 && cap(p.buf)-len(p.buf) < minFillRoom:
		n := copy(p.buf, p.buf[p.off:])
		p.buf, p.off = p.buf[:n], 0
	}
	switch {
	case p.buf == nil:
		p.buf, p.off = (*pipeBuffers.Get().(*[]byte))[:0], 0
	case cap(p.buf)-len(p.buf) < minFillRoom:
		grown := make([]byte, len(p.buf), max(minPipeBuffer, min(2*cap(p.buf), maxPipeBuffer+minFillRoom)))
		copy(grown, p.buf)
		if cap(p.buf) == minPipeBuffer {
			old := p.buf[:0]
			pipeBuffers.Put(&old)
		}
		p.buf = grown
	}
	free := p.buf[len(p.buf):cap(p.buf)]
	free = free[:max(0, min(len(free), maxPipeBuffer-(len(p.buf)-p.off), most))]
	p.filling = true
	p.mu.Unlock()

	// Only fill extends or moves buf, so free stays this call's while the
	// lock is released: the reader reads no further than len(buf), and buf
	// is not recycled while filling is set.
	read, err = r.Read(free)

	p.mu.Lock()
	defer p.mu.Unlock()
	p.filling = false
	if p.readerGone || p.writerDone {
		p.recycleLocked()
		return read, 0, true, err
	}
	kept = min(read, keep)
	p.buf = p.buf[:len(p.buf)+kept]
	if kept > 0 && (!p.whole || len(p.buf)-p.off >= maxPipeBuffer) {
		p.changed.Broadcast()
	}
	return read, kept, false, err
}

// Read takes as much of what has arrived as fits in b, waiting while
// nothing has.
func (p *bodyPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.readerGone && !p.writerDone && p.off == len(p.buf) {
		p.changed.Wait()
	}
	if p.readerGone {
		return 0, io.ErrClosedPipe
	}
	if p.off == len(p.buf) {
		p.recycleLocked()
		p.catchUpLocked()
		return 0, io.EOF
	}
	n := copy(b, p.buf[p.off:])
	p.off += n
	p.recycleLocked()
	p.changed.Broadcast()
	return n, nil
}

// ReadAll reads the response to its end, as io.ReadAll would, but waits
// for it whole (or for a full buffer) and copies it once into a slice of
// its size, where io.ReadAll would grow one from 512 bytes.
func (p *bodyPipe) ReadAll() ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []byte
	for {
		for !p.readerGone && !p.writerDone && len(p.buf)-p.off < maxPipeBuffer {
			p.changed.Wait()
		}
		if p.readerGone {
			return out, io.ErrClosedPipe
		}
		if out == nil {
			out = make([]byte, 0, len(p.buf)-p.off)
		}
		out = append(out, p.buf[p.off:]...)
		p.off = len(p.buf)
		p.recycleLocked()
		p.changed.Broadcast()
		if p.writerDone {
			p.catchUpLocked()
			return out, nil
		}
	}
}

// Buffered is how many bytes a Read would return at once.
func (p *bodyPipe) Buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf) - p.off
}

// closeWriter ends the response: the reader gets what is buffered, then
// EOF.
func (p *bodyPipe) closeWriter() {
	p.mu.Lock()
	p.writerDone = true
	p.changed.Broadcast()
	p.mu.Unlock()
}

// Close is the reader leaving: what is buffered is dropped, and the
// runtime's side stops keeping bytes.
func (p *bodyPipe) Close() error {
	p.mu.Lock()
	p.readerGone = true
	p.recycleLocked()
	p.catchUpLocked()
	p.changed.Broadcast()
	p.mu.Unlock()
	return nil
}
