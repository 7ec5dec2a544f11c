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
	// drain is drainOnce, made once: a method value passed to Control
	// would be allocated on every call.
	drain  func(fd uintptr)
	drainN int
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
	p := &Pump{r: r, raw: raw, done: make(chan struct{}), buf: make([]byte, 64<<10), dst: dst}
	p.drain = p.drainOnce
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
		if err != nil || rerr != nil || n <= 0 {
			return
		}
	}
}

// Quiet returns once everything written to the pipe before it was
// called has been passed on. It drains the pipe itself, with emitMu held
// so that no chunk of run's is half done: a read that comes back short
// (or empty) has emptied the pipe, and what was in it before the call is
// then all through, with one read in the usual case and no wait for run's
// goroutine. Only a writer that keeps the pipe full could hold it, and
// that no longer than within.
func (p *Pump) Quiet(within time.Duration) {
	var started time.Time
	p.emitMu.Lock()
	defer p.emitMu.Unlock()
	for {
		full := false
		p.drainN = 0
		p.raw.Control(p.drain)
		if p.drainN > 0 {
			p.dst.Write(p.buf[:p.drainN])
			full = p.drainN == len(p.buf)
		}
		if !full {
			break
		}
		if started.IsZero() {
			started = time.Now()
		} else if time.Since(started) >= within {
			break
		}
	}
}

// drainOnce is Quiet's read into buf, which never waits (the pipe is
// non-blocking), with emitMu held; it leaves what it read in drainN, which
// stays 0 when the pipe is empty or ended (run sees the end).
func (p *Pump) drainOnce(fd uintptr) {
	if n, err := syscall.Read(int(fd), p.buf); err == nil && n > 0 {
		p.drainN = n
	}
}
