package process

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/furl-dev/furl/runtimeapi/internal/peer"
	"golang.org/x/sys/unix"
)

// superviseArg, as the first argument, makes furl's binary the supervisor
// of one execution environment instead of furl: see RunSupervisorIfAsked.
const superviseArg = "__furl-environment"

// RunSupervisorIfAsked turns the process into an environment's supervisor
// when it was started as one, and then never returns. Call it first in
// main, before anything else, in every binary that runs the process
// sandbox (furl, and tests that start real runtimes).
//
// The supervisor sits between furl and a runtime. It is a child
// subreaper, so everything the runtime starts stays its descendant, even a
// process that calls setsid() or whose parent exits; and it dies with furl
// (its parent-death signal), taking the runtime and all of them with it.
// When the runtime exits, or furl asks it to stop, it kills every
// descendant left, waits for them all, reports the runtime's exit status to
// furl and exits: no process a function starts outlives its environment.
func RunSupervisorIfAsked() {
	if len(os.Args) < 2 || os.Args[1] != superviseArg {
		return
	}
	os.Exit(supervise(os.Args[2:]))
}

// The supervisor's reports to furl, one line each on the status pipe
// (file descriptor 3): "started <pid>" once the runtime runs, or "failed
// <message>" when it could not be started, then "exited <wait status>"
// when every process of the environment is gone; "warning <message>" at
// any time for something furl should log.
const (
	reportStarted = "started"
	reportFailed  = "failed"
	reportExited  = "exited"
	reportWarning = "warning"
	// reportExtension is "failed" for an external extension that could
	// not be started: Lambda fails init with Extension.LaunchError.
	reportExtension = "extfailed"
	// reportExtensionsGone says every external extension has exited.
	reportExtensionsGone = "extgone"
)

func supervise(args []string) int {
	// The status pipe is furl's and the supervisor's alone: a runtime
	// holding it could forge reports, or keep furl from seeing the
	// environment end.
	if _, err := unix.FcntlInt(3, unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		fmt.Fprintln(os.Stderr, "furl: the environment supervisor was started without its status pipe")
		return 2
	}
	status := os.NewFile(3, "status")
	fs := flag.NewFlagSet(superviseArg, flag.ContinueOnError)
	var readOnly []string
	fs.Func("readonly", "bind this directory read-only over itself, in the mount namespace furl made (repeatable)", func(dir string) error {
		readOnly = append(readOnly, dir)
		return nil
	})
	opt := fs.String("opt", "", "bind this directory read-only at /opt, in the mount namespace furl made")
	var extensions []string
	fs.Func("extension", "start this external extension before the runtime (repeatable)", func(path string) error {
		extensions = append(extensions, path)
		return nil
	})
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fmt.Fprintf(status, "%s the supervisor was started without a runtime to run\n", reportFailed)
		return 2
	}
	argv := fs.Args()
	report := func(kind, msg string) {
		fmt.Fprintf(status, "%s %s\n", kind, strings.ReplaceAll(msg, "\n", " "))
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		report(reportWarning, "processes the function starts could outlive it: PR_SET_CHILD_SUBREAPER: "+err.Error())
	}
	dir, err := os.Getwd()
	if err != nil {
		report(reportFailed, "the supervisor cannot tell its working directory: "+err.Error())
		return 2
	}
	if len(readOnly) > 0 || *opt != "" {
		for _, d := range readOnly {
			if err := bindReadOnly(d); err != nil {
				report(reportWarning, d+" is writable to the function: "+err.Error())
			}
		}
		if *opt != "" {
			// Without its layers the function would see the host's /opt:
			// it does not start.
			if err := bindReadOnlyAt(*opt, "/opt"); err != nil {
				report(reportFailed, "furl cannot mount the function's layers at /opt: "+err.Error())
				return 2
			}
		}
		// The working directory still names the writable mount below the
		// read-only one: enter the directory again, through the new mount.
		if err := os.Chdir(dir); err != nil {
			report(reportFailed, "the supervisor cannot enter "+dir+": "+err.Error())
			return 2
		}
	}

	// Signals that end the environment: furl's SIGTERM and, through the
	// parent-death signal furl set, furl's own end.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)

	devNull, err := os.Open(os.DevNull)
	if err != nil {
		report(reportFailed, "the supervisor cannot open "+os.DevNull+": "+err.Error())
		return 2
	}
	// External extensions start first, as on Lambda, in the same
	// environment as the runtime: its variables, its directory, its
	// output. Each is a child of the supervisor, which kills it with the
	// environment.
	extPids := map[int]bool{}
	for _, path := range extensions {
		ext, err := os.StartProcess(path, []string{path}, &os.ProcAttr{
			Dir:   dir,
			Env:   os.Environ(),
			Files: []*os.File{devNull, os.Stdout, os.Stderr},
			Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
		})
		if err != nil {
			devNull.Close()
			report(reportExtension, err.Error())
			killChildren(0, false)
			return 0
		}
		extPids[ext.Pid] = true
		ext.Release()
	}
	rt, err := os.StartProcess(argv[0], argv, &os.ProcAttr{
		Dir:   dir,
		Env:   os.Environ(),
		Files: []*os.File{devNull, os.Stdout, os.Stderr},
		// Its own process group, which furl kills at once on a timeout;
		// and it dies if the supervisor does.
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	devNull.Close()
	if err != nil {
		report(reportFailed, err.Error())
		return 0
	}
	report(reportStarted, strconv.Itoa(rt.Pid))
	return reap(rt.Pid, extPids, sigs, func() { report(reportExtensionsGone, "") }, func(ws syscall.WaitStatus) {
		report(reportExited, strconv.FormatUint(uint64(ws), 10))
	})
}

// reap waits for every child, its own and those reparented to it, until
// none is left. The environment ends when its runtime exits or a signal
// says so: from then on every child is killed as soon as it is seen.
//
// A child is reaped only after the kills its death calls for, and kills
// and reaps never overlap: so every process id and group id killed is
// still held by an environment process (a zombie holds its own), never
// one the kernel gave to another process meanwhile.
//
// extPids are the external extensions: extGone runs once the last of
// them is reaped.
func reap(runtimePid int, extPids map[int]bool, sigs <-chan os.Signal, extGone func(), exited func(syscall.WaitStatus)) int {
	var mu sync.Mutex // held for each kill and each reap
	ending, runtimeReaped := false, false
	end := func() {
		ending = true
		killChildren(runtimePid, !runtimeReaped)
	}
	go func() {
		for range sigs {
			mu.Lock()
			end()
			mu.Unlock()
		}
	}()
	var runtimeStatus syscall.WaitStatus
	for {
		// Learn which child died without reaping it yet.
		var info unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			// ECHILD: nothing of the environment is left.
			break
		}
		pid := siginfoPid(&info)
		mu.Lock()
		if pid == runtimePid || ending {
			// The runtime's end ends the environment; a child that died
			// since may have left children of its own, now the
			// supervisor's.
			end()
		}
		var ws syscall.WaitStatus
		if got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); err == nil && got == pid {
			if pid == runtimePid {
				runtimeStatus, runtimeReaped = ws, true
			}
			if extPids[pid] {
				delete(extPids, pid)
				if len(extPids) == 0 {
					extGone()
				}
			}
		}
		mu.Unlock()
	}
	exited(runtimeStatus)
	return 0
}

// siginfoPid is the child a waitid reported: si_pid, after three int32
// fields and, on 64-bit platforms, the padding that aligns the union.
func siginfoPid(info *unix.Siginfo) int {
	off := uintptr(12)
	if unsafe.Sizeof(uintptr(0)) == 8 {
		off = 16
	}
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(info), off)))
}

// killChildren kills the runtime's process group (while its unreaped
// runtime still holds the group's id) and every child of the supervisor.
// Grandchildren become children when their parents die, and are killed
// when reap next sees one die. Other process groups are never killed
// whole: a process of the environment may have joined one that is not the
// environment's.
func killChildren(runtimePid int, runtimeGroup bool) {
	if runtimeGroup {
		syscall.Kill(-runtimePid, syscall.SIGKILL)
	}
	for _, pid := range peer.Children(os.Getpid()) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// bindReadOnly makes dir read-only for the supervisor and its
// descendants: furl started the supervisor in a mount namespace of its
// own, with every mount private (Go does that with CLONE_NEWNS), so a bind
// mount of dir over itself, remounted read-only, is seen by them alone.
func bindReadOnly(dir string) error { return bindReadOnlyAt(dir, dir) }

// bindReadOnlyAt binds dir read-only at target, in the same namespace.
func bindReadOnlyAt(dir, target string) error {
	if err := unix.Mount(dir, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s at %s: %w", dir, target, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("remount %s read-only: %w", target, err)
	}
	return nil
}

// supervisorReport is one line of a supervisor's status pipe.
type supervisorReport struct {
	kind, arg string
}

// readReports reads the supervisor's status lines until the pipe closes.
func readReports(r io.Reader, each func(supervisorReport)) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		kind, arg, _ := strings.Cut(sc.Text(), " ")
		each(supervisorReport{kind, arg})
	}
}
