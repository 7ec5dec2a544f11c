package procmem

import (
	"os"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
)

func TestResidentPages(t *testing.T) {
	for _, tc := range []struct {
		statm string
		pages int
		ok    bool
	}{
		{"2958 1024 512 10 0 400 0\n", 1024, true},
		{"2958 1024\n", 1024, true},
		{"2958 1024", 1024, true},
		{"2958", 0, false},
		{"", 0, false},
		{"2958 x 1", 0, false},
		{"2958 -4 1", 0, false},
		{"2958 10000000000000000000 1", 0, false},
	} {
		pages, ok := residentPages([]byte(tc.statm))
		if pages != tc.pages || ok != tc.ok {
			t.Errorf("residentPages(%q) = %d, %v; want %d, %v", tc.statm, pages, ok, tc.pages, tc.ok)
		}
	}
}

// The meter reads this test's own process: it is resident, so at least
// one MB, and the peak never goes down once the file is closed.
func TestMeterReadsItsProcess(t *testing.T) {
	var m Meter
	m.Open(os.Getpid())
	first := m.MaxMB()
	if first < 1 {
		t.Fatalf("MaxMB of a running process = %d, want at least 1", first)
	}
	m.Close()
	if got := m.MaxMB(); got != first {
		t.Fatalf("MaxMB after Close = %d, want the peak %d", got, first)
	}
}

func FuzzResidentPages(f *testing.F) {
	f.Add([]byte("2958 1024 512 10 0 400 0\n"))
	f.Fuzz(func(t *testing.T, statm []byte) {
		pages, ok := residentPages(statm)
		if !ok && pages != 0 {
			t.Fatalf("residentPages(%q) = %d with ok false", statm, pages)
		}
		// A count of pages is never negative, whatever statm says.
		if pages < 0 {
			t.Fatalf("residentPages(%q) = %d", statm, pages)
		}
	})
}

// Invocations ending within sampleEvery of the last sample share it; the
// next one after that reads the process again and sees it grown. The
// bubble's clock moves only when the test sleeps.
func TestMeterSamplesAtMostOncePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m Meter
		m.Open(os.Getpid())
		defer m.Close()
		before := m.MaxMB()
		grown := make([]byte, 96<<20)
		for i := range grown {
			grown[i] = 1
		}
		if got := m.MaxMB(); got != before {
			t.Fatalf("MaxMB within the interval read again: %d, was %d", got, before)
		}
		time.Sleep(sampleEvery)
		if got := m.MaxMB(); got < before+90 {
			t.Fatalf("MaxMB after the interval = %d, want at least %d with 96 MB more resident", got, before+90)
		}
		runtime.KeepAlive(grown)
	})
}
