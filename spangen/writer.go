package spangen

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Writer writes a Generator's lines to a file, optionally at a rate, with
// rename rotation, and with each line split across two writes.
type Writer struct {
	Path        string
	Rate        float64 // span records per second; 0 writes as fast as possible
	RotateBytes int64   // rotate once the file holds this much; 0 never
	Keep        int     // rotated files kept (path.1 … path.Keep); 0 means 5
	SplitWrites bool    // write every line in two write() calls
	Append      bool    // append to an existing file instead of truncating it

	f       *os.File
	size    int64
	buf     []byte
	written int64
}

// Run writes every line of g, then closes the file. With a rate, each line
// is written (and visible to readers) as soon as it is due.
func (w *Writer) Run(ctx context.Context, g *Generator) error {
	if w.Keep <= 0 {
		w.Keep = 5
	}
	if err := w.open(); err != nil {
		return err
	}
	defer func() {
		if w.f != nil {
			w.f.Close()
		}
	}()
	start := time.Now()
	var line []byte
	for n := 0; ; n++ {
		if n%256 == 0 && ctx.Err() != nil {
			break
		}
		var ok bool
		line, ok = g.Next(line[:0])
		if !ok {
			break
		}
		if w.Rate > 0 {
			due := start.Add(time.Duration(float64(n) / w.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
		}
		if err := w.writeLine(line, n); err != nil {
			return err
		}
	}
	return w.flush()
}

func (w *Writer) writeLine(line []byte, n int) error {
	switch {
	case w.SplitWrites:
		cut := 1 + n%(len(line)-1)
		if _, err := w.f.Write(line[:cut]); err != nil {
			return err
		}
		if n%100 == 0 {
			time.Sleep(time.Millisecond) // let a reader see the half line
		}
		if _, err := w.f.Write(line[cut:]); err != nil {
			return err
		}
	case w.Rate > 0:
		if _, err := w.f.Write(line); err != nil {
			return err
		}
	default:
		w.buf = append(w.buf, line...)
		if len(w.buf) >= 1<<20 {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	w.size += int64(len(line))
	if w.RotateBytes > 0 && w.size >= w.RotateBytes {
		return w.rotate()
	}
	return nil
}

func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.f.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

func (w *Writer) open() error {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if w.Append {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(w.Path, flags, 0o644)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// rotate renames path → path.1 (shifting older ones up, the oldest dropped)
// and starts a new path, as logrotate's rename rotation does.
func (w *Writer) rotate() error {
	if err := w.flush(); err != nil {
		return err
	}
	w.f.Close()
	w.f = nil
	for i := w.Keep; i > 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", w.Path, i-1), fmt.Sprintf("%s.%d", w.Path, i))
	}
	if err := os.Rename(w.Path, w.Path+".1"); err != nil {
		return err
	}
	w.Append = false
	return w.open()
}
