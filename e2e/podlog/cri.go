package main

import (
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
// serialWriteCloser), which kubelet rotates.
type criRuntime struct {
	file *logFile
}

func newCRIRuntime(o runOptions) (*criRuntime, error) {
	f, err := openLogFile(o)
	if err != nil {
		return nil, err
	}
	return &criRuntime{file: f}, nil
}

func (c *criRuntime) drain(stdout, stderr io.Reader) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []struct {
		r      io.Reader
		stream criio.StreamType
	}{{stdout, criio.Stdout}, {stderr, criio.Stderr}} {
		w, stopped := criio.NewCRILogger(c.file.path, c.file, s.stream, maxCRILine)
		wg.Go(func() {
			_, errs[i] = io.Copy(w, s.r)
			w.Close() // the logger writes what it holds as a last record
			<-stopped // and has written it
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *criRuntime) close() error { return c.file.Close() }

// logFile is a container log file that both loggers write, rotated as
// kubelet's container log manager does: once the file is larger than
// rotateBytes it is renamed to PATH.<YYYYMMDD-HHMMSS>; the runtime keeps
// writing to the renamed file until it is asked to reopen PATH (rotateWait
// later); then older rotated files are compressed and the oldest removed.
type logFile struct {
	path        string
	rotateBytes int64
	maxFiles    int
	rotateWait  time.Duration

	mu      sync.Mutex
	f       *os.File
	size    int64 // bytes written to the file at path
	renamed bool  // f is no longer at path: a rotation is under way

	full chan struct{} // the file at path is over rotateBytes
	stop chan struct{}
	done chan struct{}
	err  error // the first rotation error, reported by Close
}

func openLogFile(o runOptions) (*logFile, error) {
	f, err := os.OpenFile(o.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &logFile{
		path: o.log, rotateBytes: o.rotateBytes, maxFiles: o.maxFiles, rotateWait: o.rotateWait,
		f: f, size: st.Size(),
		full: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go l.rotator()
	return l, nil
}

// Write writes one whole record: the CRI logger hands each record over in
// one call.
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	n, err := l.f.Write(p)
	l.size += int64(n)
	over := l.rotateBytes > 0 && l.size > l.rotateBytes && !l.renamed
	l.mu.Unlock()
	if over {
		select {
		case l.full <- struct{}{}:
		default: // already asked
		}
	}
	return n, err
}

// Close stops rotating, after a rotation under way, and closes the file.
func (l *logFile) Close() error {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.err, l.f.Close())
}

func (l *logFile) rotator() {
	defer close(l.done)
	for {
		select {
		case <-l.stop:
			return
		case <-l.full:
		}
		if err := l.rotate(); err != nil && l.err == nil {
			l.err = err
		}
	}
}

// rotate renames the log away, lets the runtime write to the renamed file
// for rotateWait, reopens the log, then compresses and prunes.
func (l *logFile) rotate() error {
	l.mu.Lock()
	rotated, err := rotatedName(l.path, time.Now())
	if err == nil {
		err = os.Rename(l.path, rotated)
	}
	l.renamed = err == nil
	l.mu.Unlock()
	if err != nil {
		return err
	}
	time.Sleep(l.rotateWait) // kubelet's ReopenContainerLog call is on its way
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f, l.size, l.renamed = f, 0, false
	l.mu.Unlock()
	if err := old.Close(); err != nil {
		return err
	}
	return compressAndPrune(l.path, l.maxFiles)
}
