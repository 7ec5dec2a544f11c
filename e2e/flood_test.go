package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// raiseOpenFiles lets the test hold want more descriptors, raising its
// hard limit too where it may (as root), and returns how many it may
// hold. The old limit comes back when the test ends.
func raiseOpenFiles(t *testing.T, want int) int {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	const reserve = 256 // the test's own files, sockets and pipes
	need := uint64(want + reserve)
	lim := old
	lim.Cur = max(old.Cur, need)
	lim.Max = max(old.Max, need)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		lim.Cur, lim.Max = old.Max, old.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		t.Logf("the hard open-file limit is %d and cannot be raised here: using %d connections, not %d", old.Max, int(old.Max)-reserve, want)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	return min(want, int(lim.Cur)-reserve)
}

// procStat reads a process's open descriptors and resident memory.
func procStat(t *testing.T, pid int) (fds int, rssKB int) {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	rss, ok := procStatus(pid, "VmRSS")
	if !ok {
		t.Fatalf("no VmRSS for process %d", pid)
	}
	return len(entries), int(rss)
}

// floodConn opens one connection from one of several loopback addresses
// (so that 20,000 of them do not exhaust one address' ports). Every other
// one asks for /_furl/health once and then idles as a keep-alive
// connection; the rest connect and say nothing.
func floodConn(addr string, i int) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%8))}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil || i%2 == 1 {
		return conn, err
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "GET /_furl/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		conn.Close()
		return nil, fmt.Errorf("health on a flood connection: %d %v", resp.StatusCode, err)
	}
	return conn, nil
}

// closedByPeer reports whether furl closed a connection, without waiting:
// a peek that does not block finds the end of the stream or a reset.
func closedByPeer(t *testing.T, conn net.Conn) bool {
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var peekErr error
	err = raw.Read(func(fd uintptr) bool {
		n, _, peekErr = syscall.Recvfrom(int(fd), make([]byte, 1), syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if errors.Is(peekErr, syscall.EAGAIN) {
		return false
	}
	return peekErr != nil || n == 0
}

// 20,000 idle connections (half keep-alive after a request, half silent)
// do not stop furl from answering: at its connection cap it closes the
// longest-idle ones, and /_furl/health and an Invoke on a new connection
// keep working throughout. Its descriptors stay under the cap; its memory
// is measured.
func TestIdleConnectionFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 20,000 connections")
	}
	// furl starts before the test raises its own limit, so furl runs with
	// the machine's usual one and derives its cap from it.
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	maxConns := regexp.MustCompile(`msg="furl serving".* max_connections=(\d+)`).FindStringSubmatch(f.logs.String())
	if maxConns == nil {
		t.Fatal("furl did not log its connection cap")
	}
	createFunction(t, f.client(), "steady")
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	sdk := lambda.New(lambda.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String("http://" + f.addr), HTTPClient: fresh, RetryMaxAttempts: 1})
	stillAnswers := func(when string) {
		t.Helper()
		resp, err := fresh.Get(f.url("/_furl/health"))
		if err != nil {
			t.Fatalf("%s: /_furl/health: %v", when, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: /_furl/health answered %d", when, resp.StatusCode)
		}
		out, err := sdk.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("steady")})
		if err != nil || string(out.Payload) != `"steady"` {
			t.Fatalf("%s: Invoke: %v", when, err)
		}
	}
	stillAnswers("before the flood")
	fds0, rss0 := procStat(t, f.cmd.Process.Pid)

	total := raiseOpenFiles(t, 20000)
	conns := make([]net.Conn, total)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	const batch = 2000
	for start := 0; start < total; start += batch {
		end := min(start+batch, total)
		var wg sync.WaitGroup
		errs := make(chan error, 1)
		next := make(chan int)
		for range 8 {
			wg.Go(func() {
				for i := range next {
					c, err := floodConn(f.addr, i)
					if err != nil {
						select {
						case errs <- fmt.Errorf("connection %d: %w", i, err):
						default:
						}
						continue
					}
					conns[i] = c
				}
			})
		}
		for i := start; i < end; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		select {
		case err := <-errs:
			t.Fatalf("furl stopped taking connections: %v", err)
		default:
		}
		stillAnswers(fmt.Sprintf("with %d connections opened", end))
	}

	fds, rss := procStat(t, f.cmd.Process.Pid)
	closed := 0
	for _, c := range conns {
		if closedByPeer(t, c) {
			closed++
		}
	}
	// The peak, not only the end: furl may have held more while the
	// connections came than once it had closed the longest idle.
	hwm, ok := procStatus(f.cmd.Process.Pid, "VmHWM")
	if !ok {
		t.Fatal("furl's /proc status has no VmHWM")
	}
	t.Logf("%d connections opened, %d of them closed by furl (its cap: %s); furl's descriptors %d → %d, RSS %d → %d MB, peak (VmHWM) %d MB",
		total, closed, maxConns[1], fds0, fds, rss0/1024, rss/1024, hwm>>10)
	f.logs.waitFor(t, "connection cap reached", 5*time.Second)
	limit, _ := strconv.Atoi(maxConns[1])
	if total > limit && closed < total-limit {
		t.Errorf("furl holds %d of the test's connections, above its cap of %d", total-closed, limit)
	}
	// Bounds a regression would break: without the cap furl holds a
	// descriptor for every connection, 20,000.
	if fds > 15000 {
		t.Errorf("furl has %d descriptors open", fds)
	}
	// About 20 KB a connection (200 MB at 10,000); the race detector's
	// shadow memory makes it about seven times that.
	rssBoundMB := 1024
	if raceEnabled {
		rssBoundMB = 4096
	}
	if rss/1024 > rssBoundMB {
		t.Errorf("furl's RSS is %d MB, above %d MB", rss/1024, rssBoundMB)
	}
	if hwm>>10 > int64(rssBoundMB) {
		t.Errorf("furl's RSS peaked at %d MB (VmHWM), above %d MB", hwm>>10, rssBoundMB)
	}
	stillAnswers("after the flood")
	if strings.Contains(f.logs.String(), "too many open files") {
		t.Error("furl ran out of descriptors")
	}
}
