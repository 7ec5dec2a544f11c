// Package pump passes what a runtime writes to a pipe (or FIFO) on to a
// writer, and can say exactly when everything written so far has been
// passed on: the manager waits for that before it closes an invocation's
// log, so that the function's last lines always come before REPORT.
package pump

import (
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// Pump reads one pipe until its end and writes what it reads to a writer.
type Pump struct {
	r   *os.File
	raw syscall.RawConn

	// emitMu is held while a chunk is read from the pipe and passed on, so
	// that what has left the pipe has always been passed on when it is free;
	// buf, which the chunk is read into, and dst are used under it.
	emitMu sync.Mutex
	buf    []byte
	dst    io.Writer
	// wake is closed (and replaced) after each chunk.
	wakeMu sync.Mutex
	wake   chan struct{}
	done   chan struct{}
}

// Start starts passing what comes through r, the read end of a pipe or
// FIFO opened non-blocking (as os.Pipe's is), on to dst, until the pipe
// ends: when no writer holds it any more, or r is closed. The pump owns r
// and closes it when it ends.
func Start(r *os.File, dst io.Writer) (*Pump, error) {
	raw, err := r.SyscallConn()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	p := &Pump{r: r, raw: raw, wake: make(chan struct{}), done: make(chan struct{}), buf: make([]byte, 64<<10), dst: dst}
	go p.run()
	return p, nil
}

// Done is closed once the pipe has ended and everything in it was passed on.
func (p *Pump) Done() <-chan struct{} { return p.done }

// Close ends the pump without waiting for the pipe's writers.
func (p *Pump) Close() { p.r.Close() }

func (p *Pump) run() {
	defer close(p.done)
	defer p.r.Close()
	for {
		var n int
		var rerr error
		// The callback runs when the pipe is readable; reading and passing
		// on happen under emitMu, together.
		err := p.raw.Read(func(fd uintptr) bool {
			p.emitMu.Lock()
			defer p.emitMu.Unlock()
			n, rerr = syscall.Read(int(fd), p.buf)
			if rerr == syscall.EAGAIN {
				return false
			}
			if n > 0 {
				p.dst.Write(p.buf[:n])
			}
			return true
		})
		p.woke()
		if err != nil || rerr != nil || n <= 0 {
			return
		}
	}
}

// Quiet waits until everything written to the pipe so far has been passed
// on, but no longer than within: with emitMu held no chunk is half done,
// so an empty pipe means all of it has gone through. Its timer is made
// only if the pipe is not empty at once.
func (p *Pump) Quiet(within time.Duration) {
	var timeout <-chan time.Time
	for {
		p.wakeMu.Lock()
		wake := p.wake
		p.wakeMu.Unlock()
		p.emitMu.Lock()
		n := p.unread()
		if n > 0 && p.passOnLocked(n) {
			// What waited was passed on here rather than by run: the
			// caller need not wait for run's goroutine to wake and do it.
			n = p.unread()
			p.emitMu.Unlock()
			p.woke()
		} else {
			p.emitMu.Unlock()
		}
		if n == 0 {
			return
		}
		if timeout == nil {
			t := time.NewTimer(within)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-wake:
		case <-timeout:
			return
		case <-p.done:
			return
		}
	}
}

// woke tells Quiet's waiters that a chunk was passed on.
func (p *Pump) woke() {
	p.wakeMu.Lock()
	close(p.wake)
	p.wake = make(chan struct{})
	p.wakeMu.Unlock()
}

// passOnLocked reads up to n bytes waiting in the pipe and passes them on,
// as run would, with emitMu held; it reports whether it read any. Reading
// here is safe beside run's parked read: both read only under emitMu, and
// run, woken for bytes already gone, finds the pipe empty and waits again.
func (p *Pump) passOnLocked(n int) bool {
	read := false
	p.raw.Control(func(fd uintptr) {
		for n > 0 {
			m, err := syscall.Read(int(fd), p.buf[:min(n, len(p.buf))])
			if m <= 0 || err != nil {
				return // empty (EAGAIN) or ended: run sees the end
			}
			p.dst.Write(p.buf[:m])
			read = true
			n -= m
		}
	})
	return read
}

// unread is how many bytes wait in the pipe; none once it is closed.
func (p *Pump) unread() int {
	n := 0
	p.raw.Control(func(fd uintptr) { n = pending(fd) })
	return n
}
