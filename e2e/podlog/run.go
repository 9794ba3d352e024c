package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// runOptions configure the container runtime.
type runOptions struct {
	format      string        // cri or docker
	log         string        // the container's log file
	rotateBytes int64         // rotate past this size; 0 never rotates
	maxFiles    int           // log files kept, the current one included
	rotateWait  time.Duration // cri: the runtime writes to the renamed file this long
	// reopenMidSpan (cri) holds the reopen until a span-end record is
	// half written on stdout, so that one goes on in the next file.
	reopenMidSpan bool
	cmd           []string // the container's command
}

// runtime writes a container's two output streams to its log file.
type runtime interface {
	// drain writes both streams until each reaches EOF and is flushed.
	drain(stdout, stderr io.Reader) error
	close() error
}

func runMain(args []string) (int, error) {
	o := runOptions{}
	fs := flag.NewFlagSet("podlog run", flag.ContinueOnError)
	fs.StringVar(&o.format, "format", "cri", "log format: cri (containerd's CRI logger) or docker (json-file)")
	fs.StringVar(&o.log, "log", "", "the container log file to write")
	fs.Int64Var(&o.rotateBytes, "rotate-bytes", 0, "rotate the log past this size (0: never); cri: as kubelet's containerLogMaxSize, docker: max-size")
	fs.IntVar(&o.maxFiles, "max-files", 5, "log files kept, the current one included (kubelet's containerLogMaxFiles, docker's max-file)")
	fs.DurationVar(&o.rotateWait, "rotate-wait", 100*time.Millisecond, "cri: how long the runtime keeps writing to the renamed file before it reopens the log")
	fs.BoolVar(&o.reopenMidSpan, "reopen-mid-span", false, "cri: after --rotate-wait, reopen only while a span-end record is half written on stdout (waiting up to 5s), so that a span goes on in the next file at each rotation")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	o.cmd = fs.Args()
	switch {
	case o.format != "cri" && o.format != "docker":
		return 0, fmt.Errorf("--format %q: want cri or docker", o.format)
	case o.log == "":
		return 0, errors.New("--log is required")
	case len(o.cmd) == 0:
		return 0, errors.New("no command after --")
	case o.rotateBytes < 0:
		return 0, errors.New("--rotate-bytes must not be negative")
	case o.rotateBytes > 0 && o.maxFiles < 2:
		return 0, errors.New("--max-files must be at least 2 when rotating")
	}
	return run(o)
}

// run starts the container's command with its output piped through the
// runtime's logger, and returns the command's exit status once both
// streams are drained. SIGTERM and SIGINT are forwarded to the command;
// the command is killed if podlog dies.
func run(o runOptions) (int, error) {
	var rt runtime
	var err error
	if o.format == "cri" {
		rt, err = newCRIRuntime(o)
	} else {
		rt, err = newDockerRuntime(o)
	}
	if err != nil {
		return 0, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		rt.close()
		return 0, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		rt.close()
		return 0, err
	}
	cmd := exec.Command(o.cmd[0], o.cmd[1:]...)
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	startErr := cmd.Start()
	outW.Close() // the child holds the write ends now
	errW.Close()
	if startErr != nil {
		outR.Close()
		errR.Close()
		rt.close()
		return 0, startErr
	}

	stop := make(chan struct{})
	var forward sync.WaitGroup
	forward.Go(func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-stop:
				return
			}
		}
	})
	drainErr := rt.drain(outR, errR)
	outR.Close()
	errR.Close()
	waitErr := cmd.Wait()
	close(stop)
	forward.Wait()
	if err := errors.Join(drainErr, rt.close()); err != nil {
		return 0, err
	}
	return exitCode(cmd, waitErr)
}

// exitCode is the command's exit status as a shell reports it: 128+n when
// signal n killed it.
func exitCode(cmd *exec.Cmd, waitErr error) (int, error) {
	var exit *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exit) {
		return 0, waitErr
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return cmd.ProcessState.ExitCode(), nil
}
