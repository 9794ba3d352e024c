package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFromEnv(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		name     string
		env      func(string) (string, bool)
		enabled  bool
		watchdog time.Duration
		err      bool
	}{
		{"not under systemd", env(), false, 0, false},
		{"notify only", env("NOTIFY_SOCKET", "/run/systemd/notify"), true, 0, false},
		{"abstract socket", env("NOTIFY_SOCKET", "@/org/freedesktop/systemd1/notify"), true, 0, false},
		{"watchdog", env("NOTIFY_SOCKET", "/n", "WATCHDOG_USEC", "30000000"), true, 30 * time.Second, false},
		{"watchdog for us", env("NOTIFY_SOCKET", "/n", "WATCHDOG_USEC", "1000", "WATCHDOG_PID", me), true, time.Millisecond, false},
		{"watchdog for another pid", env("NOTIFY_SOCKET", "/n", "WATCHDOG_USEC", "1000", "WATCHDOG_PID", "1"), true, 0, false},
		{"relative socket", env("NOTIFY_SOCKET", "notify"), false, 0, true},
		{"bad usec", env("NOTIFY_SOCKET", "/n", "WATCHDOG_USEC", "soon"), false, 0, true},
	} {
		n, err := FromEnv(c.env)
		if (err != nil) != c.err {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if err != nil {
			continue
		}
		if n.Enabled() != c.enabled || n.Watchdog() != c.watchdog {
			t.Errorf("%s: enabled %v watchdog %v, want %v %v", c.name, n.Enabled(), n.Watchdog(), c.enabled, c.watchdog)
		}
	}
	var nilN *Notifier
	if nilN.Enabled() || nilN.Notify("READY=1") != nil || nilN.Watchdog() != 0 {
		t.Error("a nil Notifier is not a no-op")
	}
}

// TestWatchdogWithheldWhileUnhealthy: keep-alives flow while healthy, stop
// while the health check fails, and resume after.
func TestWatchdogWithheldWhileUnhealthy(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "n.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n, err := FromEnv(env("NOTIFY_SOCKET", sock, "WATCHDOG_USEC", "20000"))
	if err != nil {
		t.Fatal(err)
	}
	var sick = make(chan bool, 1)
	sick <- false
	healthy := func() error {
		s := <-sick
		sick <- s
		if s {
			return errors.New("wedged")
		}
		return nil
	}
	failures := make(chan error, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.RunWatchdog(ctx, healthy, func(err error) { failures <- err }); close(done) }()
	defer func() { cancel(); <-done }()

	read := func(d time.Duration) (string, bool) {
		buf := make([]byte, 64)
		conn.SetReadDeadline(time.Now().Add(d))
		k, err := conn.Read(buf)
		return string(buf[:k]), err == nil
	}
	for range 3 {
		if m, ok := read(10 * time.Second); !ok || m != "WATCHDOG=1" {
			t.Fatalf("keep-alive %q %v", m, ok)
		}
	}
	<-sick
	sick <- true
	select {
	case <-failures:
	case <-time.After(10 * time.Second):
		t.Fatal("unhealthy state not reported")
	}
	for { // drain what was sent before the switch
		if _, ok := read(100 * time.Millisecond); !ok {
			break
		}
	}
	if m, ok := read(200 * time.Millisecond); ok {
		t.Fatalf("keep-alive %q sent while unhealthy", m)
	}
	<-sick
	sick <- false
	if m, ok := read(10 * time.Second); !ok || m != "WATCHDOG=1" {
		t.Fatalf("no keep-alive after recovery: %q", m)
	}
}
