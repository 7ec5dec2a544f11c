package stream

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// buffers are the relay's copy buffers: large, so that bytes that arrived
// together leave in one write.
var buffers = sync.Pool{New: func() any {
	b := make([]byte, 256<<10)
	return &b
}}

// ErrClientGone is Relay's answer when writing to the client failed: the
// client disconnected. The source has not been drained.
var ErrClientGone = errors.New("stream: the client is gone")

// Buffered is what a source can say of the bytes it holds: a Relay from
// it flushes only when it has nothing more to send at once.
type Buffered interface {
	Buffered() int
}

// Relay copies src to dst chunk by chunk as src yields them, flushing
// whenever src has no more bytes ready, so that every byte a function
// writes reaches the client as soon as furl has it. It returns at src's
// end (nil), at a read error, or with ErrClientGone when dst fails.
func Relay(dst io.Writer, flush func() error, src io.Reader) (int64, error) {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	ready, _ := src.(Buffered)
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return total, ErrClientGone
			}
			total += int64(n)
			// More is at hand: it goes out with the next write, as the
			// write after it will flush.
			if ready == nil || ready.Buffered() == 0 {
				if ferr := flush(); ferr != nil {
					return total, ErrClientGone
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// AWS's bandwidth for streamed responses: the first 6 MB as fast as they
// come, then at most 2 MB/s.
const (
	AWSBurst = 6 << 20
	AWSRate  = 2 << 20
)

// shaperQuantum is the least a Shaper writes at once once it must wait.
const shaperQuantum = 64 << 10

// Shaper limits a writer to a token bucket: Burst bytes at once, refilled
// at Rate bytes per second.
type Shaper struct {
	W     io.Writer
	Burst int64
	Rate  int64
	Ctx   context.Context // nil means context.Background()

	tokens float64
	last   time.Time
	start  bool
}

func (s *Shaper) wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewAWSShaper shapes w the way AWS shapes a streamed response.
func NewAWSShaper(ctx context.Context, w io.Writer) *Shaper {
	return &Shaper{W: w, Burst: AWSBurst, Rate: AWSRate, Ctx: ctx}
}

// Write passes p on as the bucket allows, waiting for tokens.
func (s *Shaper) Write(p []byte) (int, error) {
	ctx := s.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if !s.start {
		s.start, s.tokens, s.last = true, float64(s.Burst), time.Now()
	}
	written := 0
	for len(p) > 0 {
		now := time.Now()
		s.tokens = min(float64(s.Burst), s.tokens+now.Sub(s.last).Seconds()*float64(s.Rate))
		s.last = now
		// Wait for a quantum's worth, not a byte's: a stream over its
		// burst then goes out in 64 KiB steps, not in crumbs.
		need := float64(min(len(p), shaperQuantum, int(s.Burst)))
		if s.tokens < need {
			wait := time.Duration((need - s.tokens) / float64(s.Rate) * float64(time.Second))
			if err := s.wait(ctx, max(wait, time.Millisecond)); err != nil {
				return written, err
			}
			continue
		}
		n := min(len(p), int(s.tokens))
		m, err := s.W.Write(p[:n])
		written += m
		s.tokens -= float64(m)
		if err != nil {
			return written, err
		}
		p = p[m:]
	}
	return written, nil
}
