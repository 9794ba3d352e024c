package tailer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"syscall"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// readTurn reads up to one quantum of f, handing on each complete line.
func (t *Tailer) readTurn(ctx context.Context, f *File) error {
	if f.f == nil {
		if f.gone {
			t.drop(f, "its path is gone and its descriptor was closed")
			return nil
		}
		if err := t.reopen(f); err != nil {
			t.rlog.Warn("reopen:"+f.path, "cannot reopen file", "path", f.openPath(), "err", err)
			return nil
		}
	}
	size := int64(-1) // unknown
	if !f.gone {
		// A write event may arrive before the poll notices a truncation:
		// check before reading on from the old offset.
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.f.Fd()), &st); err == nil {
			t.check(f, st.Size)
			size = st.Size
		}
	}
	t.tick++
	f.lastUsed = t.tick
	budget := t.cfg.ReadQuantum
	for budget > 0 {
		n, err := t.readChunk(ctx, f)
		if err != nil {
			return err
		}
		if n == 0 || f.readPos == size {
			// At the end, or at the size just seen: no read() to learn
			// it. What is written after the fstat raises a notification
			// of its own, and the poll would see it too.
			break
		}
		budget -= n
	}
	if budget <= 0 {
		t.enqueue(f) // more to read: back of the queue, others get a turn
		return nil
	}
	// At EOF. A writer may still hold a renamed or deleted file and append to
	// it, so it is let go only once it has been quiet for RotateWait; the
	// poll gives gone files a turn until then.
	if f.gone && time.Since(later(f.lastData, f.goneAt)) >= t.cfg.RotateWait {
		if err := t.flushFragment(ctx, f); err != nil {
			return err
		}
		t.drop(f, "drained")
	}
	return nil
}

// readChunk reads once from f and handles the complete lines in what it got.
// It returns the number of bytes read (0 at EOF).
func (t *Tailer) readChunk(ctx context.Context, f *File) (int, error) {
	held := len(f.partial)
	if need := held + 64<<10; need > len(t.buf) {
		t.buf = make([]byte, need+need/2)
	}
	copy(t.buf, f.partial)
	n, err := f.f.Read(t.buf[held:])
	if n == 0 {
		if err != nil && !errors.Is(err, io.EOF) {
			t.rlog.Warn("read:"+f.path, "cannot read file", "path", f.path, "err", err)
		}
		return 0, nil
	}
	data := t.buf[:held+n]
	base := f.readPos - int64(held) // file offset of data[0]
	f.readPos += int64(n)
	f.lastData = time.Now()
	t.cfg.Metrics.BytesRead.Add(float64(n))

	pos := 0
	if f.skip {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			f.partial = f.partial[:0]
			return n, nil
		}
		f.skip = false
		if err := t.handler.HandleTooLong(f, f.skipFrom, base+int64(i)+1); err != nil {
			return n, err
		}
		pos = i + 1
	}
	lines := 0
	for {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			break
		}
		start := base + int64(pos)
		end := start + int64(i) + 1
		lines++
		if i > t.cfg.MaxLineBytes {
			if err := t.handler.HandleTooLong(f, start, end); err != nil {
				return n, err
			}
		} else if err := t.handler.HandleLine(f, data[pos:pos+i], start, end); err != nil {
			return n, err
		}
		pos += i + 1
	}
	t.cfg.Metrics.LinesRead.Add(float64(lines))
	rest := data[pos:]
	if len(rest) > t.cfg.MaxLineBytes {
		f.skip = true
		f.skipFrom = base + int64(pos)
		rest = rest[:0]
	}
	f.partial = append(f.partial[:0], rest...)
	if cap(f.partial) > 64<<10 && len(f.partial) < 4<<10 {
		f.partial = append([]byte(nil), f.partial...) // let a one-off huge line's buffer go
	}
	t.updateFingerprint(f)
	return n, nil
}

// flushFragment hands on an unterminated last line of a drained file, then
// tells an EOFHandler the file ended.
func (t *Tailer) flushFragment(ctx context.Context, f *File) error {
	if err := t.flushLine(f); err != nil {
		return err
	}
	if eh, ok := t.handler.(EOFHandler); ok {
		return eh.HandleEOF(f)
	}
	return nil
}

func (t *Tailer) flushLine(f *File) error {
	if f.skip {
		f.skip = false
		return t.handler.HandleTooLong(f, f.skipFrom, f.readPos)
	}
	if len(f.partial) == 0 {
		return nil
	}
	start := f.lineStart()
	line := f.partial
	f.partial = nil
	t.cfg.Metrics.LinesRead.Inc()
	return t.handler.HandleLine(f, line, start, f.readPos)
}

// updateFingerprint extends the fingerprint while the file is shorter than
// checkpoint.FingerprintBytes.
func (t *Tailer) updateFingerprint(f *File) {
	if f.fpSize >= checkpoint.FingerprintBytes || f.readPos <= f.fpSize || f.f == nil {
		return
	}
	fp, n, err := readFingerprint(f.f, f.readPos)
	if err != nil {
		return
	}
	t.mu.Lock()
	f.fp, f.fpSize = fp, n
	t.mu.Unlock()
}
