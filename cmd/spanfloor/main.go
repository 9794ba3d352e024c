// Command spanfloor is the least a span shipper can do, for spanbench to
// measure beside spanshipper: the lower bound of the issue-15 bars on the
// host the bench runs on.
//
// It reads span files, decodes each line with spanshipper's own decoder
// (decode.Decoder: the same validation and the same items), drops span-start
// records and PUTs the items, 200 to a request, through the same HTTP/1.1
// transport, one request at a time. It follows files the cheapest way Linux
// offers: one inotify watch on the directory, its events gathered for 250 ms
// after each wake-up (spanshipper's default turn), each file kept open and
// read on from where it stopped, a partial batch sent once it is 250 ms old
// (the default --linger).
//
// What it leaves out is what the contract asks of spanshipper on top:
// checkpoints, held span starts (orphan rescue), retries and dead letters,
// rotation and truncation handling, polling, metrics, back-pressure. So
// whatever it costs per span at a given rate, spanshipper cannot cost less
// with this decoder and net/http; spanbench prints it as the bound of each
// bar. It is a measuring tool, not a shipper: it loses spans on any error
// (it exits 1) and keeps no state.
//
// With --raw it does not decode at all: each span-end line goes into the
// body as it was read (a start is told by "end_time":null in its first 512
// bytes, blank lines are skipped), for a receiver that does not validate.
// That bounds the bars without this decoder: what reading and sending alone
// cost.
//
// It takes spanshipper's flags as spanbench passes them; only --path,
// --endpoint, --exit-on-eof, --batch-size and --linger mean anything here.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spanshipper/spanshipper/decode"
	"github.com/spanshipper/spanshipper/ship"
)

func main() {
	fs := flag.NewFlagSet("spanfloor", flag.ExitOnError)
	glob := fs.String("path", "", "glob of the span files (one directory)")
	endpoint := fs.String("endpoint", "", "base URL of the span batch API")
	exitOnEOF := fs.Bool("exit-on-eof", false, "ship what the files hold, then exit")
	batchSize := fs.Int("batch-size", 200, "items per request")
	linger := fs.Duration("linger", 250*time.Millisecond, "how long a partial batch waits, and the read turn")
	raw := fs.Bool("raw", false, "send span-end lines as they are, undecoded (for a receiver that does not validate)")
	for _, ignored := range []string{"state-dir", "listen", "log-level", "concurrency"} {
		fs.String(ignored, "", "ignored (spanshipper's flag)")
	}
	fs.Parse(os.Args[1:])
	if *glob == "" || *endpoint == "" {
		fmt.Fprintln(os.Stderr, "spanfloor: --path and --endpoint are required")
		os.Exit(2)
	}
	// As spanshipper: one P unless GOMAXPROCS says otherwise.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	s := &shipper{
		url:   *endpoint + "/v5/spans/batch",
		http:  &http.Client{Transport: ship.NewTransport()},
		dec:   decode.New(decode.Options{SkipStart: true}),
		limit: max(1, *batchSize),
		raw:   *raw,
		files: map[string]*file{},
	}
	var err error
	if *exitOnEOF {
		err = s.once(*glob)
	} else {
		err = s.follow(*glob, *linger)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "spanfloor:", err)
		os.Exit(1)
	}
}

// shipper decodes lines into one request body and sends it when full.
type shipper struct {
	url   string
	http  *http.Client
	dec   *decode.Decoder
	limit int
	raw   bool // no decoding: lines are items as they are

	files map[string]*file
	buf   []byte // read buffer: a file's partial line, then what was read

	body  []byte // {"items":[ … without the closing ]}
	items int
	first time.Time // when the body's first item was read
}

// file is a followed file, kept open, read on from where it stopped.
type file struct {
	f     *os.File
	tail  []byte // a partial last line, waiting for its '\n'
	dirty bool   // written since its last read
}

// readSize is each read's size: spanshipper's own reads are 64 KiB or more.
const readSize = 256 << 10

// once ships every line of the files matching glob and returns.
func (s *shipper) once(glob string) error {
	files, err := s.openAll(glob)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := s.read(f, true); err != nil {
			return err
		}
	}
	return s.flush()
}

// openAll opens the files matching glob.
func (s *shipper) openAll(glob string) ([]*file, error) {
	paths, err := filepath.Glob(glob)
	if err != nil {
		return nil, err
	}
	files := make([]*file, len(paths))
	for i, p := range paths {
		if err := s.open(p); err != nil {
			return nil, err
		}
		files[i] = s.files[filepath.Base(p)]
	}
	return files, nil
}

// follow ships the lines of the files matching glob as they are written,
// until SIGTERM or SIGINT.
func (s *shipper) follow(glob string, turn time.Duration) error {
	dir := filepath.Dir(glob)
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	defer unix.Close(fd)
	w := &watch{s: s, fd: fd, glob: glob, dir: dir, buf: make([]byte, 64<<10),
		woke: make(chan struct{}), resume: make(chan struct{}), done: make(chan error, 1)}
	files, err := s.openAll(glob)
	if err != nil {
		return err
	}
	for _, f := range files {
		w.mark(f) // read what they hold
	}
	go w.run()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	lingerT := time.NewTimer(time.Hour)
	lingerT.Stop()
	for {
		select {
		case <-stop:
			return s.flush()
		case err := <-w.done:
			return err
		case <-lingerT.C:
			if err := s.flush(); err != nil {
				return err
			}
			continue
		case <-w.woke:
		}
		// Gather the turn's events, as spanshipper does after a wake-up.
		time.Sleep(turn)
		if err := w.take(); err != nil {
			return err
		}
		for _, f := range w.dirty {
			f.dirty = false
			if err := s.read(f, false); err != nil {
				return err
			}
		}
		w.dirty = w.dirty[:0]
		w.resume <- struct{}{}
		if s.items > 0 {
			if wait := turn - time.Since(s.first); wait <= 0 {
				if err := s.flush(); err != nil {
					return err
				}
			} else {
				lingerT.Reset(wait)
			}
		}
	}
}

// open opens p and keeps it by its base name (one directory is followed).
// As spanshipper, without updating the access time where it may (a read
// after a write would otherwise write the inode).
func (s *shipper) open(p string) error {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOATIME, 0)
	if errors.Is(err, syscall.EPERM) {
		f, err = os.Open(p)
	}
	if err != nil {
		return err
	}
	s.files[filepath.Base(p)] = &file{f: f}
	return nil
}

// read reads f on to its end, decoding and batching every whole line; with
// last, a final line without '\n' counts as a line (--exit-on-eof).
func (s *shipper) read(f *file, last bool) error {
	for {
		s.buf = append(s.buf[:0], f.tail...)
		if cap(s.buf)-len(s.buf) < readSize {
			s.buf = append(s.buf, make([]byte, readSize)...)[:len(s.buf)]
		}
		n, err := f.f.Read(s.buf[len(s.buf) : len(s.buf)+readSize])
		data := s.buf[:len(s.buf)+n]
		if n == 0 || errors.Is(err, io.EOF) {
			if last && len(data) > 0 {
				f.tail = f.tail[:0]
				return s.line(data)
			}
			return nil
		}
		if err != nil {
			return err
		}
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			if err := s.line(data[:i]); err != nil {
				return err
			}
			data = data[i+1:]
		}
		f.tail = append(f.tail[:0], data...)
		if n < readSize && !last {
			// A short read of a regular file ends at its end: what was
			// written since is the next turn's.
			return nil
		}
	}
}

// line decodes one line into the body; a bad line is skipped, as
// spanshipper skips it.
func (s *shipper) line(l []byte) error {
	mark := len(s.body)
	if s.items == 0 {
		s.body = append(s.body[:0], `{"items":[`...)
		mark = len(s.body)
	} else {
		s.body = append(s.body, ',')
	}
	if s.raw {
		if len(bytes.TrimSpace(l)) == 0 || bytes.Contains(l[:min(len(l), 512)], []byte(`"end_time":null`)) {
			s.body = s.body[:mark]
			return nil
		}
		s.body = append(s.body, l...)
	} else {
		out, sp, err := s.dec.Append(s.body, l)
		if err != nil || sp.Dropped || sp.Kind == decode.KindBlank {
			s.body = s.body[:mark]
			return nil
		}
		s.body = out
	}
	if s.items == 0 {
		s.first = time.Now()
	}
	s.items++
	if s.items >= s.limit {
		return s.flush()
	}
	return nil
}

// flush sends the body, if it holds any item, and waits for the answer.
func (s *shipper) flush() error {
	if s.items == 0 {
		return nil
	}
	s.body = append(s.body, "]}"...)
	req, err := http.NewRequest(http.MethodPut, s.url, bytes.NewReader(s.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %s", s.url, resp.Status)
	}
	s.items = 0
	s.body = s.body[:0]
	return nil
}

// watch turns inotify events into the list of files written since the
// last turn. Its run goroutine and the reading one take turns: run reads
// the first event of a turn and hands over (woke); the reader gathers the
// rest (take), reads the files and hands back (resume). So there is no
// wake-up per event, and the two never touch the files at the same time.
type watch struct {
	s         *shipper
	fd        int // non-blocking, and not in the runtime's poller (see run)
	glob, dir string

	dirty        []*file
	newNames     []string // matching names without a file yet
	buf          []byte
	woke, resume chan struct{}
	done         chan error
}

// It waits in poll(2), not through an os.File: the runtime's poller is
// edge-triggered and always armed, so every event queued during a turn
// (one per write) would wake the scheduler from epoll_wait, ready or not.
// spanshipper's watcher does the same (tailer/watch.go).
func (w *watch) run() {
	w.woke <- struct{}{} // the files found at start
	<-w.resume
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
			w.done <- err
			return
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			continue
		}
		w.woke <- struct{}{}
		<-w.resume
	}
}

func (w *watch) mark(f *file) {
	if !f.dirty {
		f.dirty = true
		w.dirty = append(w.dirty, f)
	}
}

// note records the files named by a buffer of inotify events.
func (w *watch) note(b []byte) {
	for len(b) >= unix.SizeofInotifyEvent {
		mask := uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24
		nameLen := int(uint32(b[12]) | uint32(b[13])<<8 | uint32(b[14])<<16 | uint32(b[15])<<24)
		name := b[unix.SizeofInotifyEvent : unix.SizeofInotifyEvent+nameLen]
		b = b[unix.SizeofInotifyEvent+nameLen:]
		if mask&unix.IN_Q_OVERFLOW != 0 {
			// Events were lost: every matching file is read.
			paths, _ := filepath.Glob(w.glob)
			for _, p := range paths {
				w.newNames = append(w.newNames, filepath.Base(p))
			}
			continue
		}
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if f := w.s.files[string(name)]; f != nil {
			w.mark(f)
		} else if ok, _ := filepath.Match(w.glob, filepath.Join(w.dir, string(name))); ok {
			w.newNames = append(w.newNames, string(name))
		}
	}
}

// take reads the events queued (the first wakes run) and opens the files
// they name for the first time.
func (w *watch) take() error {
	for {
		n, err := unix.Read(w.fd, w.buf)
		if err != nil || n <= 0 {
			break
		}
		w.note(w.buf[:n])
	}
	for _, name := range w.newNames {
		f := w.s.files[name]
		if f == nil {
			if err := w.s.open(filepath.Join(w.dir, name)); err != nil {
				return err
			}
			f = w.s.files[name]
		}
		w.mark(f)
	}
	w.newNames = w.newNames[:0]
	return nil
}
