package tailer

import (
	"bytes"
	"context"
	"hash/maphash"
	"syscall"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// readTurn reads up to one quantum of f, handing on each complete line.
//
// It makes no fstat: each read re-reads the bytes just before the read
// offset and checks them (readChunk), which is what tells a truncation or a
// copytruncate from growth, and a read that comes back short of what it asked
// for is the end of the file for now. What is written after it raises a
// notification of its own, and the poll would see it too.
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
	t.tick++
	f.lastUsed = t.tick
	budget := t.cfg.ReadQuantum
	for budget > 0 {
		n, more, err := t.readChunk(f)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		budget -= n
	}
	if f.readPos > f.size {
		t.mu.Lock()
		f.size = f.readPos
		t.mu.Unlock()
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

// tailCheck is how many bytes before the read offset each read re-reads and
// compares with what was read there before: up to checkpoint.FingerprintBytes,
// so that while a file is shorter than that its fingerprint is hashed from the
// buffer, with no read of its own.
const tailCheck = checkpoint.FingerprintBytes

// readChunk reads once from f and handles the complete lines in what it got.
// It returns the number of new bytes read and whether there may be more to
// read now: false once a read came back short (the end of the file) or
// failed.
//
// The read starts up to tailCheck bytes before the read offset, and those
// bytes must hash as they did when they were read (File.tailHash): if they
// do not, or the file ends before the read offset, it was truncated or
// rewritten (copytruncate) and a new generation starts at 0 (restart). The
// check costs no system call beyond the read itself.
func (t *Tailer) readChunk(f *File) (int, bool, error) {
	held := len(f.partial)
	back, verify := f.tailLen, f.tailLen > 0
	if !verify {
		// The first read of a file followed from an offset (its
		// checkpoint, --start-at end): read what is before it too, to be
		// checked from the next read on; a file now shorter than the
		// offset was truncated meanwhile.
		back = int(min(f.readPos, tailCheck))
	}
	// buf[lead:lead+held] holds the partial line; the read lands at at, back
	// bytes before the partial line's end, so its first back bytes overlay
	// the end of the partial line (and the room before it) with the same
	// bytes of the file, if the file was not rewritten.
	lead := max(0, back-held)
	if need := lead + held + 64<<10; need > len(t.buf) {
		t.buf = make([]byte, need+need/2)
	}
	copy(t.buf[lead:], f.partial)
	at := lead + held - back
	want := len(t.buf) - at
	m, err := pread(f.sysfd, t.buf[at:], f.readPos-int64(back))
	if err != nil {
		t.rlog.Warn("read:"+f.path, "cannot read file", "path", f.path, "err", err)
		return 0, false, nil
	}
	if m < back || verify && maphash.Bytes(t.seed, t.buf[at:at+back]) != f.tailHash {
		t.restart(f, f.readPos-int64(back)+int64(m))
		return 0, true, nil // read it again from 0, in this turn
	}
	n := m - back
	if n == 0 {
		return 0, false, nil
	}
	end := lead + held + n // buf[:end] ends at the new read offset
	data := t.buf[lead:end]
	base := f.readPos - int64(held) // file offset of data[0]
	f.readPos += int64(n)
	f.lastData = time.Now()
	t.cfg.Metrics.BytesRead.Add(float64(n))
	// The bytes before the new read offset, for the next read's check; and
	// while the file is short, its fingerprint. Taken before the handler
	// sees the lines.
	// buf[0] (at or lead, whichever is 0) is at file offset f.readPos-end.
	f.tailLen = min(end, tailCheck)
	f.tailHash = maphash.Bytes(t.seed, t.buf[end-f.tailLen:end])
	if f.fpSize < checkpoint.FingerprintBytes && f.readPos > f.fpSize {
		if f.readPos == int64(end) { // the buffer starts at offset 0
			k := min(end, checkpoint.FingerprintBytes)
			t.setFingerprint(f, checkpoint.Fingerprint(t.buf[:k]), int64(k))
		} else {
			t.updateFingerprint(f)
		}
	}

	pos := 0
	if f.skip {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			f.partial = f.partial[:0]
			return n, m == want, nil
		}
		f.skip = false
		if err := t.handler.HandleTooLong(f, f.skipFrom, base+int64(i)+1); err != nil {
			return n, false, err
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
				return n, false, err
			}
		} else if err := t.handler.HandleLine(f, data[pos:pos+i], start, end); err != nil {
			return n, false, err
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
	return n, m == want, nil
}

// pread reads once from fd at off: one pread(2), unlike os.File.ReadAt,
// which reads again after a short read to fill the buffer (and so makes a
// second system call at the end of the file).
func pread(fd int, buf []byte, off int64) (int, error) {
	for {
		n, err := syscall.Pread(fd, buf, off)
		if err != syscall.EINTR {
			return max(n, 0), err
		}
	}
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
	t.setFingerprint(f, fp, n)
}

func (t *Tailer) setFingerprint(f *File, fp string, n int64) {
	t.mu.Lock()
	f.fp, f.fpSize = fp, n
	t.mu.Unlock()
}
