package gateway

import (
	"encoding/base64"
	"io"
)

// base64Stream decodes standard, padded base64 as it arrives, exactly as
// base64.StdEncoding.Decode decodes the whole text at once: the same bytes
// for good text, and for bad text a CorruptInputError at the same offset.
// Like Decode it skips line breaks anywhere. Decoded bytes go to out in
// blocks; nothing is decoded after the first error.
type base64Stream struct {
	out  io.Writer
	pos  int64   // offset of the next input byte in the whole text
	quad [4]byte // the 6-bit values of the quantum being read
	n    int     // how many of them
	pad  padState
	err  error // the first decoding error, a base64.CorruptInputError
	buf  []byte
}

type padState int

const (
	padNone   padState = iota
	padSecond          // "xx=" read: only a second "=" may follow
	padDone            // padding read: only line breaks may follow
)

// base64Block is how much decoded output is gathered before it is written.
const base64Block = 32 << 10

// invalid64 marks a byte outside the base64 alphabet in base64Values.
const invalid64 = 0xff

// base64Values maps each byte to its value in the standard alphabet. It is
// computed once and only read.
var base64Values = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = invalid64
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

func newBase64Stream(out io.Writer) *base64Stream {
	return &base64Stream{out: out, buf: make([]byte, 0, base64Block+3)}
}

// Write decodes p, the next part of the text. Its error is out's; a
// decoding error is kept for close.
func (d *base64Stream) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && d.err == nil {
		run, err := d.decodeRun(p)
		if err != nil {
			return 0, err
		}
		if run == 0 {
			d.step(p[0])
			run = 1
		}
		p = p[run:]
	}
	if len(d.buf) >= base64Block {
		if err := d.flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// decodeRun decodes, in one go, the longest prefix of p made of whole
// quanta of the alphabet, when the text is at a quantum boundary before
// any padding, and returns its length. The standard decoder is exact on
// such text and much faster than a byte at a time; it is tried on the
// whole of p first, which is what good text is.
func (d *base64Stream) decodeRun(p []byte) (int, error) {
	if d.err != nil || d.n != 0 || d.pad != padNone {
		return 0, nil
	}
	if len(d.buf) >= base64Block {
		if err := d.flush(); err != nil {
			return 0, err
		}
	}
	out := d.buf[len(d.buf):cap(d.buf)]
	run := min(len(p), len(out)/3*4) &^ 3
	if m, err := base64.StdEncoding.Decode(out, p[:run]); err != nil || m != run/4*3 {
		// A byte outside the alphabet (or a line break, or padding) is
		// in there: decode up to it, and read it a byte at a time.
		run = alphabetPrefix(p[:run]) &^ 3
		base64.StdEncoding.Decode(out, p[:run])
	}
	d.buf = d.buf[:len(d.buf)+run/4*3]
	d.pos += int64(run)
	return run, nil
}

// alphabetPrefix is how many leading bytes of p are in the alphabet.
func alphabetPrefix(p []byte) int {
	for i, c := range p {
		if base64Values[c] == invalid64 {
			return i
		}
	}
	return len(p)
}

// step reads one byte, as Decode's quantum loop reads it.
func (d *base64Stream) step(c byte) {
	at := d.pos
	d.pos++
	if c == '\n' || c == '\r' {
		return
	}
	switch d.pad {
	case padSecond:
		if c != '=' {
			d.fail(at - 1)
			return
		}
		d.pad = padDone
		d.emit(1)
		return
	case padDone:
		d.fail(at) // trailing garbage
		return
	}
	if v := base64Values[c]; v != invalid64 {
		d.quad[d.n] = v
		if d.n++; d.n == 4 {
			d.emit(3)
		}
		return
	}
	switch {
	case c != '=' || d.n < 2:
		d.fail(at)
	case d.n == 2:
		d.pad = padSecond
	default:
		d.pad = padDone
		d.emit(2)
	}
}

// emit appends the first n bytes the quantum encodes and starts the next.
func (d *base64Stream) emit(n int) {
	for i := d.n; i < 4; i++ {
		d.quad[i] = 0
	}
	v := uint(d.quad[0])<<18 | uint(d.quad[1])<<12 | uint(d.quad[2])<<6 | uint(d.quad[3])
	d.buf = append(d.buf, []byte{byte(v >> 16), byte(v >> 8), byte(v)}[:n]...)
	d.n = 0
}

func (d *base64Stream) fail(offset int64) {
	d.err = base64.CorruptInputError(offset)
}

func (d *base64Stream) flush() error {
	if len(d.buf) == 0 {
		return nil
	}
	_, err := d.out.Write(d.buf)
	d.buf = d.buf[:0]
	return err
}

// close ends the text. It returns the decoding error, if any, and
// otherwise writes what remains; the second result is out's error.
func (d *base64Stream) close() (decodeErr, writeErr error) {
	switch {
	case d.err != nil:
	case d.pad == padSecond:
		d.fail(d.pos) // not enough padding
	case d.pad == padNone && d.n > 0:
		d.fail(d.pos - int64(d.n)) // a quantum cut short
	}
	if d.err != nil {
		return d.err, nil
	}
	return nil, d.flush()
}
