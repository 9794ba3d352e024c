// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)): READY=1 once the service works, STOPPING=1 when it shuts
// down, and WATCHDOG=1 keep-alives at the interval systemd asks for through
// WATCHDOG_USEC. Without NOTIFY_SOCKET (not under systemd, or not
// Type=notify) every call is a no-op.
//
// It is a few lines over a unixgram socket, so no dependency is taken for it.
package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"time"
)

// Notifier sends state changes to the service manager.
// The zero value and a nil *Notifier are valid no-ops.
type Notifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration // 0: the watchdog is off
}

// FromEnv builds a Notifier from NOTIFY_SOCKET, WATCHDOG_USEC and
// WATCHDOG_PID, which systemd sets for Type=notify services with
// WatchdogSec=. getenv is os.LookupEnv outside tests.
func FromEnv(getenv func(string) (string, bool)) (*Notifier, error) {
	sock, ok := getenv("NOTIFY_SOCKET")
	if !ok || sock == "" {
		return &Notifier{}, nil
	}
	if sock[0] != '/' && sock[0] != '@' {
		return nil, errors.New("NOTIFY_SOCKET must be an absolute path or an abstract socket (@name)")
	}
	n := &Notifier{addr: &net.UnixAddr{Name: sock, Net: "unixgram"}}
	if sock[0] == '@' {
		n.addr.Name = "\x00" + sock[1:]
	}
	usec, ok := getenv("WATCHDOG_USEC")
	if !ok || usec == "" {
		return n, nil
	}
	if pid, ok := getenv("WATCHDOG_PID"); ok && pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return n, nil // the watchdog is meant for another process
	}
	us, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || us <= 0 {
		return nil, errors.New("WATCHDOG_USEC must be a positive number of microseconds")
	}
	n.watchdog = time.Duration(us) * time.Microsecond
	return n, nil
}

// Enabled reports whether a service manager listens.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Watchdog returns the interval within which systemd expects a keep-alive,
// or 0 when the watchdog is off.
func (n *Notifier) Watchdog() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog
}

// Notify sends one state string, such as "READY=1" or "STATUS=...".
func (n *Notifier) Notify(state string) error {
	if !n.Enabled() {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// RunWatchdog sends WATCHDOG=1 at half the watchdog interval, as
// sd_watchdog_enabled(3) advises, for as long as healthy returns nil and ctx
// lives. While healthy returns an error it sends nothing, so systemd restarts
// a process that is wedged rather than one that merely waits for its backend.
// It returns at once when the watchdog is off.
func (n *Notifier) RunWatchdog(ctx context.Context, healthy func() error, onErr func(error)) {
	if n.Watchdog() == 0 {
		return
	}
	tick := time.NewTicker(n.watchdog / 2)
	defer tick.Stop()
	for {
		if err := healthy(); err != nil {
			onErr(err)
		} else if err := n.Notify("WATCHDOG=1"); err != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
