package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestSystemdNotify: under Type=notify the shipper says READY=1 once
// reading, sends WATCHDOG=1 at half of WATCHDOG_USEC, and STOPPING=1 on
// SIGTERM, over the datagram socket in NOTIFY_SOCKET.
func TestSystemdNotify(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	s := startSink(t, "--discard")
	spangen(t, filepath.Join(dir, "a.jsonl"), "--seed", "730", "--spans", "100")
	sh := startProcEnv(t, "shipper.log", []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"},
		"spanshipper", "--path", filepath.Join(dir, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", filepath.Join(dir, "state"), "--listen", "off")
	next := func(what string) string {
		t.Helper()
		select {
		case m := <-msgs:
			return m
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s notification; output:\n%s", what, sh.output())
			return ""
		}
	}
	var got []string
	sawReady, watchdogs := false, 0
	for !sawReady || watchdogs < 3 {
		m := next("READY=1 and three WATCHDOG=1")
		got = append(got, m)
		switch {
		case strings.Contains(m, "READY=1"):
			sawReady = true
		case m == "WATCHDOG=1":
			watchdogs++
		}
	}
	sh.cmd.Process.Signal(syscall.SIGTERM)
	for m := next("STOPPING=1"); !strings.Contains(m, "STOPPING=1"); m = next("STOPPING=1") {
		if m != "WATCHDOG=1" {
			t.Errorf("unexpected notification %q", m)
		}
	}
	if code := sh.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, sh.output())
	}
	t.Logf("notifications: %q", got)
}

// TestProgressLineOnlyOnATerminal: --exit-on-eof with stderr on a terminal
// draws a progress line (bytes of total, spans/s, ETA); with stderr on a
// file or a pipe it draws none.
func TestProgressLineOnlyOnATerminal(t *testing.T) {
	dir := t.TempDir()
	spangen(t, filepath.Join(dir, "a.jsonl"), "--seed", "740", "--spans", "20000")
	s := startSink(t, "--discard", "--latency-ms", "5")
	args := func(state string) []string {
		return []string{"--path", filepath.Join(dir, "*.jsonl"), "--endpoint", s.url(),
			"--state-dir", filepath.Join(dir, state), "--listen", "off", "--exit-on-eof"}
	}

	cmd := exec.Command(bin("spanshipper"), args("state-tty")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	tty, err := pty.Start(cmd) // stdin, stdout and stderr on the terminal
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); tty.Close() })
	var screen bytes.Buffer
	r := bufio.NewReader(tty)
	done := make(chan struct{})
	go func() { screen.ReadFrom(r); close(done) }() // ends with EIO once the child exits
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("on a terminal: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("no exit on a terminal")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	out := screen.String()
	size := fileSize(t, filepath.Join(dir, "a.jsonl"))
	final := fmt.Sprintf("of %s shipped (100.0%%)", iec(size))
	for _, want := range []string{"\r\x1b[K", " spans/s, ETA ", final} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, tail(out, 2000))
		}
	}

	plain := startProc(t, "shipper.log", "spanshipper", args("state-file")...)
	if code := plain.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, plain.output())
	}
	if o := plain.output(); strings.Contains(o, "spans/s") || strings.Contains(o, "\x1b[") {
		t.Errorf("progress drawn into a file:\n%s", o)
	}
}

func iec(n int64) string {
	const unit = 1024
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
