// Package procmem reports the most memory a process has been seen to use,
// for the REPORT line's Max Memory Used.
package procmem

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Meter samples one process' resident size from /proc/<pid>/statm, kept
// open: rereading it is one pread, at the end of an invocation, at most
// once per sampleEvery. A peak inside an invocation that is gone by its end
// is not seen. The zero Meter reports nothing; so does one whose process
// has no /proc entry here.
type Meter struct {
	mu      sync.Mutex
	statm   *os.File
	buf     []byte
	peakMB  int
	sampled time.Time
}

// sampleEvery spaces the samples of a busy environment: warm invocations
// back to back (hundreds a second per environment under load) share one,
// and any invocation that ends 10 ms or more after the last sample gets
// its own. The pread costs about 2 % of the gateway's time per warm
// invocation when taken every time; a peak reached by an invocation that
// shares a sample shows in the REPORT of the next one that takes one.
const sampleEvery = 10 * time.Millisecond

// Open starts metering a process.
func (m *Meter) Open(pid int) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return
	}
	m.mu.Lock()
	m.statm = f
	m.mu.Unlock()
}

// Close stops metering once the process is gone; the peak seen stays.
func (m *Meter) Close() {
	m.mu.Lock()
	if m.statm != nil {
		m.statm.Close()
		m.statm = nil
	}
	m.mu.Unlock()
}

// MaxMB is the process' resident size now, in MB rounded up, or the most
// it has been seen to use before, whichever is more; 0 if unknown.
func (m *Meter) MaxMB() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.statm == nil {
		return m.peakMB
	}
	now := time.Now()
	if now.Sub(m.sampled) < sampleEvery {
		return m.peakMB
	}
	m.sampled = now
	if m.buf == nil {
		m.buf = make([]byte, 128)
	}
	// One pread: os.File.ReadAt would read again until EOF, a second
	// system call per invocation for a file this short.
	n := 0
	if rc, err := m.statm.SyscallConn(); err == nil {
		rc.Read(func(fd uintptr) bool {
			n, _ = syscall.Pread(int(fd), m.buf, 0)
			return true
		})
	}
	if pages, ok := residentPages(m.buf[:max(n, 0)]); ok {
		if mb := (pages*pageSize + 1<<20 - 1) >> 20; mb > m.peakMB {
			m.peakMB = mb
		}
	}
	return m.peakMB
}

// residentPages is statm's second field (size resident shared text lib
// data dt, in pages).
func residentPages(statm []byte) (int, bool) {
	_, rest, ok := bytes.Cut(statm, []byte{' '})
	if !ok {
		return 0, false
	}
	if i := bytes.IndexAny(rest, " \n"); i >= 0 {
		rest = rest[:i]
	}
	pages, err := strconv.Atoi(string(rest))
	if err != nil || pages < 0 {
		return 0, false
	}
	return pages, true
}

var pageSize = os.Getpagesize()
