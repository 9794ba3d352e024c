package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	criio "github.com/containerd/containerd/pkg/cri/io"
)

// maxCRILine is containerd's default max_container_log_line_size: longer
// lines become P records of this many bytes, then an F record.
const maxCRILine = 16384

// criRuntime is containerd's logging path: one CRI logger per stream, both
// writing whole records into one log file, serialised (containerd's
// serialWriteCloser). Kubelet's container log manager rotates the file:
// once it is larger than rotateBytes it is renamed to
// PATH.<YYYYMMDD-HHMMSS>; the runtime keeps writing to the renamed file
// until kubelet asks it to reopen the log (ReopenContainerLog, rotateWait
// later), which gives each stream a new logger on a new file and closes
// the old one — a line in progress ends the old file as a P record and
// goes on in the new file. Then older rotated files are compressed and the
// oldest removed.
type criRuntime struct {
	o       runOptions
	streams []*criStream

	mu  sync.Mutex
	cur *criFile // the file at o.log

	full chan struct{} // the file at o.log is over rotateBytes
	stop chan struct{}
	done chan struct{}
	err  error // the first rotation error, reported by close
}

func newCRIRuntime(o runOptions) (*criRuntime, error) {
	c := &criRuntime{o: o, full: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	f, err := c.openFile()
	if err != nil {
		return nil, err
	}
	c.cur = f
	for _, s := range []criio.StreamType{criio.Stdout, criio.Stderr} {
		c.streams = append(c.streams, newCRIStream(o.log, s, f))
	}
	go c.rotator()
	return c, nil
}

func (c *criRuntime) drain(stdout, stderr io.Reader) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, r := range []io.Reader{stdout, stderr} {
		wg.Go(func() {
			_, errs[i] = io.Copy(c.streams[i], r)
			c.streams[i].close()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// close stops rotating, after a rotation under way, and closes the file.
func (c *criRuntime) close() error {
	close(c.stop)
	<-c.done
	return errors.Join(c.err, c.cur.f.Close())
}

func (c *criRuntime) openFile() (*criFile, error) {
	f, err := os.OpenFile(c.o.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &criFile{f: f, size: st.Size(), limit: c.o.rotateBytes, full: c.full, watch: c.o.reopenMidSpan}, nil
}

func (c *criRuntime) rotator() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.full:
		}
		if err := c.rotate(); err != nil && c.err == nil {
			c.err = err
		}
	}
}

// rotate renames the log away, lets the runtime write to the renamed file
// for rotateWait, reopens the log, then compresses and prunes.
func (c *criRuntime) rotate() error {
	rotated, err := rotatedName(c.o.log, time.Now())
	if err != nil {
		return err
	}
	if err := os.Rename(c.o.log, rotated); err != nil {
		return err
	}
	time.Sleep(c.o.rotateWait) // kubelet's ReopenContainerLog call is on its way
	if c.o.reopenMidSpan {
		for deadline := time.Now().Add(5 * time.Second); !c.cur.midSpanEnd() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	f, err := c.openFile()
	if err != nil {
		return err
	}
	for _, s := range c.streams {
		s.reopen(f)
	}
	old := c.cur
	c.cur = f
	if err := old.f.Close(); err != nil {
		return err
	}
	return compressAndPrune(c.o.log, c.o.maxFiles)
}

// criFile is one log file, written a whole record at a time by the
// loggers of both streams.
type criFile struct {
	mu    sync.Mutex
	f     *os.File
	size  int64
	limit int64           // ask for rotation past this size; 0 never
	asked bool            // rotation asked for
	full  chan<- struct{} // where to ask

	watch   bool // follow stdout's partial groups
	open    bool // stdout has a group open
	spanEnd bool // and it is a span-end record
}

func (f *criFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	n, err := f.f.Write(p)
	f.size += int64(n)
	if f.watch {
		f.follow(p)
	}
	ask := f.limit > 0 && f.size > f.limit && !f.asked
	f.asked = f.asked || ask
	f.mu.Unlock()
	if ask {
		f.full <- struct{}{} // at most one asker per file: never blocks for long
	}
	return n, err
}

// follow notes whether stdout's record p opens or closes a group, and
// whether an opened group is a span-end record.
func (f *criFile) follow(p []byte) {
	r := bytes.SplitN(p, []byte(" "), 4)
	if len(r) < 4 || string(r[1]) != "stdout" {
		return
	}
	switch {
	case string(r[2]) == "F":
		f.open, f.spanEnd = false, false
	case !f.open:
		head := r[3][:min(len(r[3]), 300)]
		f.open = true
		f.spanEnd = bytes.HasPrefix(head, []byte(`{"id":"`)) && bytes.Contains(head, []byte(`"end_time":"`))
	}
}

// midSpanEnd reports whether a span-end record is half written on stdout.
func (f *criFile) midSpanEnd() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open && f.spanEnd
}

// criStream feeds one stream of the container to its current CRI logger.
type criStream struct {
	path   string
	stream criio.StreamType

	mu      sync.Mutex
	w       io.WriteCloser
	stopped <-chan struct{}
	closed  bool
}

func newCRIStream(path string, stream criio.StreamType, f *criFile) *criStream {
	s := &criStream{path: path, stream: stream}
	s.w, s.stopped = criio.NewCRILogger(path, f, stream, maxCRILine)
	return s
}

func (s *criStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// reopen gives the stream a new logger on f and closes the old one, which
// writes what it holds of a line to the old file as a P record.
func (s *criStream) reopen(f *criFile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	old, stopped := s.w, s.stopped
	s.w, s.stopped = criio.NewCRILogger(s.path, f, s.stream, maxCRILine)
	old.Close()
	<-stopped
}

// close closes the logger once the stream is at EOF, after it has written
// what it holds.
func (s *criStream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.w.Close()
	<-s.stopped
}
