// Package procmem reports the most memory a process has been seen to use,
// for the REPORT line's Max Memory Used.
package procmem

import (
	"bytes"
	"os"
	"strconv"
	"sync"
)

// Meter samples one process' resident size from /proc/<pid>/statm, kept
// open: rereading it is one pread per invocation. A peak inside an
// invocation that is gone by its end is not seen. The zero Meter reports
// nothing; so does one whose process has no /proc entry here.
type Meter struct {
	mu     sync.Mutex
	statm  *os.File
	buf    []byte
	peakMB int
}

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
	if m.buf == nil {
		m.buf = make([]byte, 128)
	}
	n, _ := m.statm.ReadAt(m.buf, 0)
	// statm: size resident shared text lib data dt, in pages.
	fields := bytes.Fields(m.buf[:n])
	if len(fields) > 1 {
		pages, _ := strconv.Atoi(string(fields[1]))
		if mb := (pages*pageSize + 1<<20 - 1) >> 20; mb > m.peakMB {
			m.peakMB = mb
		}
	}
	return m.peakMB
}

var pageSize = os.Getpagesize()
