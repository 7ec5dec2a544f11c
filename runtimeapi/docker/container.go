package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/runtimeapi/internal/procmem"
	"github.com/furl-dev/furl/runtimeapi/internal/pump"
	"github.com/moby/moby/api/pkg/stdcopy"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

// container is one runtime's container: a runtimeapi.Process.
type container struct {
	s    *Sandbox
	name string
	id   string
	out  io.Writer

	// The runtime's output comes through a FIFO (fifo, keeper, pump) or,
	// for an image without a shell, Docker's attach stream.
	fifo     string
	keeper   *os.File // furl's own write end: the FIFO does not end before the runtime opens it
	pump     *pump.Pump
	attached *attachLog

	// pid is the container's first process as the host sees it, 0 where
	// furl cannot see it (a remote engine).
	pid int
	ip  netip.Addr // on a network other than host
	mem procmem.Meter
	// pidfd kills the runtime when the engine cannot; -1 for none.
	pidMu sync.Mutex
	pidfd int

	endOnce    sync.Once
	done       chan struct{}
	err        error
	killOnce   sync.Once
	removeOnce sync.Once

	// extensions are the names of the external extensions started before
	// the runtime.
	extensions []string
	// gone is closed once the extensions have all exited, as the
	// container says through the gone FIFO (goneFIFO, goneKeeper; the
	// reader ends with goneRead).
	gone       chan struct{}
	goneFIFO   string
	goneKeeper *os.File // furl's own write end: the FIFO does not end before the container opens it
	goneRead   chan struct{}
}

// Extensions names the external extensions started beside the runtime:
// the environment's init waits for each to register.
func (c *container) Extensions() []string { return c.extensions }

// ExtensionsGone is closed once every external extension has exited.
func (c *container) ExtensionsGone() <-chan struct{} { return c.gone }

var _ runtimeapi.Process = (*container)(nil)

func newContainer(s *Sandbox, name string, out io.Writer) *container {
	return &container{s: s, name: name, out: out, done: make(chan struct{}), pidfd: -1, gone: make(chan struct{})}
}

func (c *container) Done() <-chan struct{} { return c.done }

func (c *container) Err() error {
	<-c.done
	return c.err
}

func (c *container) MaxMemoryMB() int { return c.mem.MaxMB() }

// Quiet waits until what the runtime wrote so far has reached Output:
// exactly, through the FIFO; through the attach stream, until it has been
// idle a little while.
func (c *container) Quiet(within time.Duration) {
	switch {
	case c.pump != nil:
		c.pump.Quiet(within)
	case c.attached != nil:
		c.attached.quiet(within)
	}
}

// Peer accepts a connection only from the container: on the host network,
// from a socket its processes hold; on another, from its own address.
func (c *container) Peer(conn net.Conn) error {
	if c.s.hostNet {
		if c.pid <= 0 {
			return errors.New("furl cannot see the container's processes (is the Docker engine remote? use a network other than host)")
		}
		return checkPeer(conn, c.pid)
	}
	remote, ok := conn.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("a connection from %s is not TCP", conn.RemoteAddr())
	}
	addr, _ := netip.AddrFromSlice(remote.IP)
	if !c.ip.IsValid() || addr.Unmap() != c.ip {
		return fmt.Errorf("the connection comes from %s, not from the container (%s)", remote.IP, c.ip)
	}
	return nil
}

// Kill ends the runtime and removes its container. It returns at once;
// Done closes once the container is gone, or once furl gives up waiting
// for the engine to say so.
func (c *container) Kill() {
	c.killOnce.Do(func() {
		// The runtime stops now, whatever the engine takes to answer.
		c.signalKill()
		if !c.s.track(c.kill) {
			// The sandbox is closing: Close removes the container.
			return
		}
	})
}

// killConfirm is how long a killed container's end may take to be
// reported before furl declares it over.
const killConfirm = 10 * time.Second

func (c *container) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	c.removeContainer()
	t := time.NewTimer(killConfirm)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.end(fmt.Errorf("signal: killed (the Docker engine did not report container %s ended)", c.name))
	}
}

func (c *container) end(err error) {
	c.endOnce.Do(func() {
		c.err = err
		close(c.done)
	})
}

// watch waits for the container to end, then cleans up after it. It is
// the container's owner goroutine.
func (c *container) watch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Ended some other way (Kill gave up on the engine): stop waiting.
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	w := c.s.cli.ContainerWait(ctx, c.id, client.ContainerWaitOptions{Condition: ctypes.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		c.end(exitError(r))
	case err := <-w.Error:
		if isNotFound(err) {
			// The runtime ended before the wait began, and the engine
			// removed its container (AutoRemove): how it ended is lost.
			c.end(fmt.Errorf("the runtime exited and its container %s is gone", c.name))
			break
		}
		// The engine went away, or the wait was cut short: the runtime
		// may still run, so kill it where furl can.
		c.signalKill()
		c.end(fmt.Errorf("the Docker engine stopped reporting on container %s: %w", c.name, err))
	}
	cancel()
	c.finish()
}

// finish releases what the container held once it has ended: its output
// drains first.
func (c *container) finish() {
	c.mem.Close()
	if c.pump != nil {
		c.keeper.Close()
		c.drain(c.pump.Done(), c.pump.Close)
		os.Remove(c.fifo)
	}
	if c.attached != nil {
		c.drain(c.attached.done, c.attached.resp.Close)
	}
	c.closeGone()
	c.closePidfd()
	c.removeContainer()
}

// removeContainer removes the container, once: Kill and the container's
// end both ask for it.
func (c *container) removeContainer() {
	c.removeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
		defer cancel()
		if err := c.s.remove(ctx, c.id); err != nil {
			c.s.log.Warn("could not remove an environment's container", "container", c.name, "err", err)
		}
	})
}

// drainTimeout bounds the wait for a runtime's output to end once its
// container has: a process that escaped it could hold the FIFO open.
const drainTimeout = 5 * time.Second

func (c *container) drain(done <-chan struct{}, stop func()) {
	t := time.NewTimer(drainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		stop()
		<-done
	}
}

// abandon releases what a container that never ran held.
func (c *container) abandon() {
	c.closeFIFO()
	c.closeGone()
	if c.attached != nil {
		c.attached.resp.Close()
		<-c.attached.done
		c.attached = nil
	}
	c.closePidfd()
	c.mem.Close()
}

// exitError words a container's exit as os/exec words a process' ("exit
// status 2", "signal: killed"): Docker reports a process killed by signal
// n as 128+n.
func exitError(r ctypes.WaitResponse) error {
	if r.Error != nil && r.Error.Message != "" {
		return fmt.Errorf("the Docker engine could not wait for the container: %s", r.Error.Message)
	}
	code := r.StatusCode
	switch {
	case code == 0:
		return nil
	case code > 128 && code < 128+65:
		return fmt.Errorf("signal: %v", syscall.Signal(code-128))
	default:
		return fmt.Errorf("exit status %d", code)
	}
}

// openFIFO makes the FIFO the runtime writes its output to and starts
// passing what comes through it on. It returns its host path.
func (c *container) openFIFO(dir string) (string, error) {
	path := filepath.Join(dir, c.name+".out")
	r, w, err := makeFIFO(path, "output FIFO")
	if err != nil {
		return "", err
	}
	p, err := pump.Start(r, c.out)
	if err != nil {
		w.Close()
		os.Remove(path)
		return "", err
	}
	c.fifo, c.keeper, c.pump = path, w, p
	return path, nil
}

// closeFIFO undoes openFIFO, for a container that never ran.
func (c *container) closeFIFO() {
	if c.pump == nil {
		return
	}
	c.keeper.Close()
	c.pump.Close()
	<-c.pump.Done()
	os.Remove(c.fifo)
	c.fifo, c.keeper, c.pump = "", nil, nil
}

// attachLog is the runtime's output as Docker's attach stream brings it.
type attachLog struct {
	resp client.HijackedResponse
	done chan struct{}

	mu   sync.Mutex
	last time.Time // when output last came
}

// attach connects to a created container's output, before it starts.
func (c *container) attach(ctx context.Context, id string) error {
	res, err := c.s.cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return fmt.Errorf("attach to container: %w", err)
	}
	a := &attachLog{resp: res.HijackedResponse, done: make(chan struct{})}
	c.attached = a
	w := &stampWriter{a: a, w: c.out}
	go func() {
		defer close(a.done)
		stdcopy.StdCopy(w, w, a.resp.Reader)
	}()
	return nil
}

// stampWriter passes output on and notes when it came.
type stampWriter struct {
	a *attachLog
	w io.Writer
}

func (s *stampWriter) Write(p []byte) (int, error) {
	s.a.mu.Lock()
	s.a.last = time.Now()
	s.a.mu.Unlock()
	return s.w.Write(p)
}

// attachIdle is how long the attach stream must have been silent for
// Quiet to take it that the runtime's output has all come.
const attachIdle = 20 * time.Millisecond

func (a *attachLog) quiet(within time.Duration) {
	start := time.Now()
	deadline := start.Add(within)
	for {
		a.mu.Lock()
		last := a.last
		a.mu.Unlock()
		if last.Before(start) {
			last = start
		}
		wait := attachIdle - time.Since(last)
		if wait <= 0 || !time.Now().Before(deadline) {
			return
		}
		t := time.NewTimer(min(wait, time.Until(deadline)))
		select {
		case <-t.C:
		case <-a.done:
			t.Stop()
			return
		}
	}
}

// openGone makes the FIFO through which the container says its
// extensions have all exited, and starts waiting for that. It returns
// its host path.
func (c *container) openGone(dir string) (string, error) {
	path := filepath.Join(dir, c.name+".gone")
	r, w, err := makeFIFO(path, "extensions FIFO")
	if err != nil {
		return "", err
	}
	c.goneFIFO, c.goneKeeper, c.goneRead = path, w, make(chan struct{})
	go func() {
		defer close(c.goneRead)
		defer r.Close()
		// A byte says the extensions are gone. The end of the FIFO (furl
		// closed its own write end) only says the container is over, which
		// Done reports: an extension did not crash because the runtime did.
		if n, _ := r.Read(make([]byte, 1)); n == 1 {
			close(c.gone)
		}
	}()
	return path, nil
}

// closeGone ends the wait openGone started: the container has ended, or
// never ran.
func (c *container) closeGone() {
	if c.goneKeeper == nil {
		return
	}
	c.goneKeeper.Close()
	<-c.goneRead
	os.Remove(c.goneFIFO)
	c.goneFIFO, c.goneKeeper = "", nil
}

// makeFIFO makes a FIFO at path for a container to write to, and opens its
// read end and furl's own write end (which keeps the FIFO from ending
// before the container opens it), both non-blocking.
func makeFIFO(path, what string) (r, w *os.File, err error) {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	// Writable by the container's user, whoever that is; no other host
	// user can reach it inside furl's 0700 directory.
	if err := os.Chmod(path, 0o622); err != nil {
		os.Remove(path)
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if r, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err != nil {
		os.Remove(path)
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if w, err = os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err != nil {
		r.Close()
		os.Remove(path)
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return r, w, nil
}
