package gateway

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// readBody reads what io.ReadAll(io.LimitReader(body, limit+1)) reads,
// whatever length the request declares, and when the declared length is
// right, into a buffer no larger than it plus one byte.
func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name            string
		body            string
		declared, limit int64
	}{
		{"declared right", "hello", 5, 100},
		{"empty", "", 0, 100},
		{"unknown length", "hello", -1, 100},
		{"declared short", "hello world", 5, 100},
		{"declared long", "hi", 50, 100},
		{"over the limit, declared", "0123456789abc", 13, 10},
		{"over the limit, declared within", "0123456789abc", 5, 10},
		{"at the limit", "0123456789", 10, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := io.ReadAll(io.LimitReader(bytes.NewReader([]byte(tc.body)), tc.limit+1))
			got, err := readBody(iotest.HalfReader(bytes.NewReader([]byte(tc.body))), tc.declared, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			if tc.declared >= 0 && tc.declared <= tc.limit && int64(len(tc.body)) == tc.declared && int64(cap(got)) != tc.declared+1 {
				t.Errorf("capacity %d for a body of %d declared bytes", cap(got), tc.declared)
			}
		})
	}
	// A declared length is trusted only up to maxBodyPrealloc before the
	// bytes arrive: a 6 MB claim followed by 5 bytes sets aside 64 KiB.
	got, err := readBody(bytes.NewReader([]byte("hello")), 6<<20, 6<<20)
	if err != nil || string(got) != "hello" || cap(got) > maxBodyPrealloc {
		t.Fatalf("a 6 MB claim: %q, %v, capacity %d", got, err, cap(got))
	}
	big := bytes.Repeat([]byte("x"), 3*maxBodyPrealloc+7)
	if got, err := readBody(iotest.HalfReader(bytes.NewReader(big)), int64(len(big)), 6<<20); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("a body past the preallocation: %d bytes, %v", len(got), err)
	}
	boom := errors.New("connection reset")
	if _, err := readBody(iotest.ErrReader(boom), 5, 10); !errors.Is(err, boom) {
		t.Fatalf("a failed read gave %v", err)
	}
}

// Differential: readBody and io.ReadAll over a LimitReader agree.
func FuzzReadBody(f *testing.F) {
	f.Add([]byte("hello"), int64(5), uint16(100))
	f.Add([]byte("hello world"), int64(3), uint16(6))
	f.Fuzz(func(t *testing.T, body []byte, declared int64, limit uint16) {
		want, _ := io.ReadAll(io.LimitReader(bytes.NewReader(body), int64(limit)+1))
		got, err := readBody(iotest.OneByteReader(bytes.NewReader(body)), declared, int64(limit))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("readBody(%q, %d, %d) = %q, %v; want %q", body, declared, limit, got, err, want)
		}
	})
}
