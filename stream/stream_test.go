package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

const nul8 = "\x00\x00\x00\x00\x00\x00\x00\x00"

func TestReadPrelude(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // the prelude, marshalled again
		rest    string
		wantErr error
	}{
		{name: "lambdaurl", in: `{"statusCode":201,"headers":{"Content-Type":"text/plain","X-Multi":"a,b"},"cookies":["c1=v1","c2=v2"]}` + nul8 + "first ",
			want: `{"statusCode":201,"headers":{"Content-Type":"text/plain","X-Multi":"a,b"},"cookies":["c1=v1","c2=v2"]}`, rest: "first "},
		{name: "fields kept raw for the URL to judge", in: `{"statusCode":"404","headers":{"x-a":["1",2],"x-b":true}}` + nul8 + "gone",
			want: `{"statusCode":"404","headers":{"x-a":["1",2],"x-b":true},"cookies":null}`, rest: "gone"},
		{name: "empty prelude", in: nul8 + "body", want: `{"statusCode":null,"headers":null,"cookies":null}`, rest: "body"},
		{name: "NUL inside the body stays", in: `{}` + nul8 + "a" + nul8 + "b",
			want: `{"statusCode":null,"headers":null,"cookies":null}`, rest: "a" + nul8 + "b"},
		{name: "not JSON", in: "hello" + nul8, wantErr: ErrBadPrelude},
		{name: "not an object", in: "[1]" + nul8, wantErr: ErrBadPrelude},
		{name: "cookies not strings", in: `{"cookies":[1]}` + nul8, wantErr: ErrBadPrelude},
		{name: "no delimiter", in: `{"statusCode":200}`, wantErr: ErrNoPrelude},
		{name: "seven NULs", in: `{}` + nul8[:7], wantErr: ErrNoPrelude},
		{name: "too long", in: `{"h":"` + strings.Repeat("x", MaxPrelude+10) + `"}` + nul8, wantErr: ErrPreludeTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time: the delimiter may straddle reads.
			r := iotest.OneByteReader(strings.NewReader(tc.in))
			p, rest, err := ReadPrelude(r)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(p); string(got) != tc.want {
				t.Errorf("prelude %s, want %s", got, tc.want)
			}
			after, _ := io.ReadAll(r)
			if body := string(rest) + string(after); body != tc.rest {
				t.Errorf("body %q, want %q", body, tc.rest)
			}
		})
	}
}

// ReadPrelude returns as soon as the delimiter is in: it does not wait
// for the body.
func TestReadPreludeDoesNotWaitForTheBody(t *testing.T) {
	pr, pw := io.Pipe()
	go pw.Write([]byte(`{"statusCode":202}` + nul8))
	p, rest, err := ReadPrelude(pr)
	if err != nil || string(p.StatusCode) != "202" || len(rest) != 0 {
		t.Fatalf("got %+v %q %v", p, rest, err)
	}
	pw.Close()
}

// A prelude that ends exactly at the 16 KiB cap is accepted; one byte more
// is not.
func TestReadPreludeCapEdge(t *testing.T) {
	pad := func(total int) string {
		head := `{"headers":{"x":"`
		tail := `"}}`
		return head + strings.Repeat("y", total-len(head)-len(tail)) + tail
	}
	if _, _, err := ReadPrelude(strings.NewReader(pad(MaxPrelude-len(nul8)) + nul8)); err != nil {
		t.Fatalf("a prelude of exactly %d bytes with its delimiter: %v", MaxPrelude, err)
	}
	if _, _, err := ReadPrelude(strings.NewReader(pad(MaxPrelude-len(nul8)+1) + nul8)); !errors.Is(err, ErrPreludeTooLong) {
		t.Fatalf("a prelude one byte over: %v", err)
	}
}

func FuzzReadPrelude(f *testing.F) {
	f.Add([]byte(`{"statusCode":201,"headers":{"a":"b","c":["d","e"]},"cookies":["x=y"]}` + nul8 + "body"))
	f.Add([]byte(nul8))
	f.Add([]byte(`{"statusCode":"500"}` + nul8))
	f.Add([]byte(`{` + nul8[:4]))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		p, rest, err := ReadPrelude(r)
		if err != nil {
			if !errors.Is(err, ErrBadPrelude) && !errors.Is(err, ErrNoPrelude) && !errors.Is(err, ErrPreludeTooLong) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		i := bytes.Index(in, []byte(nul8))
		if i < 0 || i+len(nul8) > MaxPrelude {
			t.Fatalf("accepted a prelude without a delimiter in the first %d bytes", MaxPrelude)
		}
		after, _ := io.ReadAll(r)
		if !bytes.Equal(append(rest, after...), in[i+len(nul8):]) {
			t.Fatalf("rest %q, want everything after the first delimiter", rest)
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("an accepted prelude does not marshal again: %v", err)
		}
	})
}

// EventWriter's events decode with the AWS SDK's own decoder into what
// the SDK's Lambda client expects.
func TestEventWriterRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	flushes := 0
	w := NewEventWriter(&buf, func() error { flushes++; return nil })
	big := bytes.Repeat([]byte("z"), MaxPayloadChunk+5)
	if _, err := w.Write([]byte("Hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(big); err != nil {
		t.Fatal(err)
	}
	if err := w.InvokeComplete(Complete{ErrorCode: "errorString", ErrorDetails: `{"errorMessage":"x"}`}); err != nil {
		t.Fatal(err)
	}
	if flushes != 1 {
		t.Errorf("InvokeComplete flushed %d times", flushes)
	}
	dec := eventstream.NewDecoder()
	type event struct {
		typ, contentType string
		payload          []byte
	}
	var got []event
	for buf.Len() > 0 {
		msg, err := dec.Decode(&buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		if mt := msg.Headers.Get(":message-type"); mt == nil || mt.String() != "event" {
			t.Fatalf(":message-type %v", mt)
		}
		got = append(got, event{msg.Headers.Get(":event-type").String(), msg.Headers.Get(":content-type").String(), msg.Payload})
	}
	if len(got) != 4 {
		t.Fatalf("%d events, want Hello, two chunks of the big write, InvokeComplete", len(got))
	}
	if got[0].typ != "PayloadChunk" || string(got[0].payload) != "Hello" || got[0].contentType != "application/octet-stream" {
		t.Errorf("first event %+v", got[0])
	}
	if len(got[1].payload) != MaxPayloadChunk || len(got[2].payload) != 5 || !bytes.Equal(append(got[1].payload, got[2].payload...), big) {
		t.Errorf("the big write became chunks of %d and %d bytes", len(got[1].payload), len(got[2].payload))
	}
	var c Complete
	if got[3].typ != "InvokeComplete" || got[3].contentType != "application/json" || json.Unmarshal(got[3].payload, &c) != nil ||
		c != (Complete{ErrorCode: "errorString", ErrorDetails: `{"errorMessage":"x"}`}) {
		t.Errorf("last event %s %s %s", got[3].typ, got[3].contentType, got[3].payload)
	}
}

// A success ends with {}: an empty payload breaks newer SDKs.
func TestInvokeCompleteSuccessIsEmptyObject(t *testing.T) {
	var buf bytes.Buffer
	if err := NewEventWriter(&buf, func() error { return nil }).InvokeComplete(Complete{}); err != nil {
		t.Fatal(err)
	}
	msg, err := eventstream.NewDecoder().Decode(&buf, nil)
	if err != nil || string(msg.Payload) != "{}" {
		t.Fatalf("payload %q, %v", msg.Payload, err)
	}
}

// The bytes of the spec's worked example: PayloadChunk "Hello".
func TestPayloadChunkBytes(t *testing.T) {
	var buf bytes.Buffer
	if _, err := NewEventWriter(&buf, func() error { return nil }).Write([]byte("Hello")); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 111 {
		t.Fatalf("%d bytes, want 111", buf.Len())
	}
	raw := buf.Bytes()
	if !bytes.Equal(raw[:12], []byte{0, 0, 0, 0x6f, 0, 0, 0, 0x5a, 0xf5, 0xfe, 0x87, 0x1f}) || !bytes.Equal(raw[107:], []byte{0xe8, 0x26, 0x3d, 0x64}) {
		t.Fatalf("prelude % x, message CRC % x", raw[:12], raw[107:])
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("broken pipe")
	}
	f.after--
	return len(p), nil
}

func TestRelay(t *testing.T) {
	t.Run("copies and flushes each read", func(t *testing.T) {
		var out bytes.Buffer
		var flushedAt []int
		n, err := Relay(&out, func() error { flushedAt = append(flushedAt, out.Len()); return nil },
			iotest.OneByteReader(strings.NewReader("abc")))
		if err != nil || n != 3 || out.String() != "abc" || !reflect.DeepEqual(flushedAt, []int{1, 2, 3}) {
			t.Fatalf("n=%d err=%v out=%q flushed at %v", n, err, out.String(), flushedAt)
		}
	})
	t.Run("flushes only when nothing more is ready", func(t *testing.T) {
		src := &readySource{chunks: []string{"a", "b", "c"}}
		var out bytes.Buffer
		var flushedAt []int
		n, err := Relay(&out, func() error { flushedAt = append(flushedAt, out.Len()); return nil }, src)
		if err != nil || n != 3 || out.String() != "abc" || !reflect.DeepEqual(flushedAt, []int{3}) {
			t.Fatalf("n=%d err=%v out=%q flushed at %v", n, err, out.String(), flushedAt)
		}
	})
	t.Run("client gone", func(t *testing.T) {
		n, err := Relay(&failWriter{after: 1}, func() error { return nil }, iotest.OneByteReader(strings.NewReader("abc")))
		if !errors.Is(err, ErrClientGone) || n != 1 {
			t.Fatalf("n=%d err=%v", n, err)
		}
	})
	t.Run("flush fails", func(t *testing.T) {
		_, err := Relay(io.Discard, func() error { return errors.New("closed") }, strings.NewReader("abc"))
		if !errors.Is(err, ErrClientGone) {
			t.Fatalf("err=%v", err)
		}
	})
	t.Run("source fails", func(t *testing.T) {
		boom := errors.New("boom")
		var out bytes.Buffer
		n, err := Relay(&out, func() error { return nil }, io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom)))
		if !errors.Is(err, boom) || n != 2 || out.String() != "ab" {
			t.Fatalf("n=%d err=%v out=%q", n, err, out.String())
		}
	})
}

func TestShaper(t *testing.T) {
	t.Run("a burst passes at once and whole", func(t *testing.T) {
		var out bytes.Buffer
		s := &Shaper{W: &out, Burst: 1 << 20, Rate: 1}
		data := bytes.Repeat([]byte("0123456789"), 1000)
		if n, err := s.Write(data); err != nil || n != len(data) || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("n=%d err=%v", n, err)
		}
	})
	t.Run("waiting, it writes in quanta", func(t *testing.T) { synctest.Test(t, testShaperWritesInQuanta) })
	t.Run("AWS's burst, then AWS's rate", func(t *testing.T) { synctest.Test(t, testAWSShaper) })
	t.Run("past the burst it waits for tokens", func(t *testing.T) { synctest.Test(t, testShaperWaitsForTokens) })
	t.Run("a done context ends the wait", func(t *testing.T) {
		var out bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		// One byte a second: after the burst, the write must wait, and a
		// done context ends the wait.
		s := &Shaper{W: &out, Burst: 10, Rate: 1, Ctx: ctx}
		n, err := s.Write([]byte("0123456789abcdefghij"))
		if !errors.Is(err, context.Canceled) || n != 10 || out.String() != "0123456789" {
			t.Fatalf("n=%d err=%v out=%q", n, err, out.String())
		}
	})
}

// testShaperWritesInQuanta runs in a synctest bubble, whose clock moves
// only while the shaper sleeps: at 1 MB/s, a shaper writing whatever
// tokens it has would write 1 000 bytes a millisecond.
func testShaperWritesInQuanta(t *testing.T) {
	var sizes []int
	start := time.Now()
	s := &Shaper{W: writerFunc(func(p []byte) (int, error) { sizes = append(sizes, len(p)); return len(p), nil }),
		Burst: 1 << 20, Rate: 1_000_000}
	if n, err := s.Write(make([]byte, 1<<20+3*shaperQuantum)); err != nil || n != 1<<20+3*shaperQuantum {
		t.Fatalf("n=%d err=%v", n, err)
	}
	// Every write after the burst is a quantum or more, but the last,
	// which may be what remains.
	for i := 1; i < len(sizes)-1; i++ {
		if sizes[i] < shaperQuantum {
			t.Fatalf("write %d after the burst was %d bytes (all: %v)", i, sizes[i], sizes)
		}
	}
	// And it took the time the rate gives 3 quanta (a wait is at
	// least a millisecond, and float rounding may cost one).
	if got, want := time.Since(start), time.Duration(3*shaperQuantum)*time.Second/1_000_000; got < want || got > want+2*time.Millisecond {
		t.Fatalf("took %v, want %v", got, want)
	}
}

// testAWSShaper writes 8 MiB through AWS's shaper in a synctest bubble:
// the first 6 MiB at once, the other 2 MiB at 2 MiB/s.
func testAWSShaper(t *testing.T) {
	var total int
	var burstEnd time.Duration // when the last byte of the burst went out
	start := time.Now()
	s := NewAWSShaper(context.Background(), writerFunc(func(p []byte) (int, error) {
		if total += len(p); total <= AWSBurst {
			burstEnd = time.Since(start)
		}
		return len(p), nil
	}))
	chunk := make([]byte, 256<<10)
	for range 32 {
		if _, err := s.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if burstEnd != 0 {
		t.Errorf("the burst ended after %s, want at once", burstEnd)
	}
	if got := time.Since(start); got < time.Second || got > time.Second+2*time.Millisecond {
		t.Errorf("8 MiB took %s, want 1s (2 MiB past the burst at 2 MiB/s)", got)
	}
}

// testShaperWaitsForTokens: one byte a second, so the second ten bytes
// wait ten seconds of the bubble's clock, and go out whole.
func testShaperWaitsForTokens(t *testing.T) {
	var out bytes.Buffer
	start := time.Now()
	s := &Shaper{W: &out, Burst: 10, Rate: 1}
	n, err := s.Write([]byte("0123456789abcdefghij"))
	if err != nil || n != 20 || out.String() != "0123456789abcdefghij" {
		t.Fatalf("n=%d err=%v out=%q", n, err, out.String())
	}
	if took := time.Since(start); took != 10*time.Second {
		t.Fatalf("took %s, want 10s", took)
	}
}

// readySource yields its chunks one per Read and says how many bytes
// remain ready.
type readySource struct{ chunks []string }

func (r *readySource) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	r.chunks = r.chunks[1:]
	return n, nil
}

func (r *readySource) Buffered() int {
	n := 0
	for _, c := range r.chunks {
		n += len(c)
	}
	return n
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
