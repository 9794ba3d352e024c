package spangen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"time"
)

// Writer writes a Generator's lines to a file: as fast as possible in
// 1 MiB writes, or at a rate with each line written as soon as it is due;
// optionally with rename rotation and with every line split across two
// write() calls.
type Writer struct {
	Path        string  // file to write; "-" is standard output
	Rate        float64 // spans per second (lines at twice that); 0 is as fast as possible
	RotateBytes int64   // rotate once the file is larger than this; 0 never
	Keep        int     // rotated files kept (path.1 … path.Keep); 0 means 5
	SplitWrites bool    // write every line in two write() calls
	Append      bool    // append to an existing file instead of truncating it

	f     *os.File
	size  int64
	buf   []byte
	split *rand.Rand
	pairs int
}

// bufSize is how much is written at once when writing as fast as possible.
const bufSize = 1 << 20

// Run writes the lines of g until it is done or ctx is cancelled, then
// closes the file. Everything generated is written in either case; on
// cancellation Run returns ctx.Err().
func (w *Writer) Run(ctx context.Context, g *Generator) (err error) {
	if w.Keep <= 0 {
		w.Keep = 5
	}
	w.split = rand.New(rand.NewPCG(1, 2)) // split points: the bytes are the same anyway
	if err := w.open(w.Append); err != nil {
		return err
	}
	defer func() {
		if cerr := w.close(); err == nil {
			err = cerr
		}
	}()
	var timer *time.Timer
	start := time.Now()
	line := make([]byte, 0, 2*MaxLine)
	for n := 0; ; n++ {
		if (w.Rate > 0 || n%256 == 0) && ctx.Err() != nil {
			return ctx.Err()
		}
		var ok bool
		if line, ok = g.Next(line[:0]); !ok {
			return nil
		}
		if w.Rate > 0 {
			due := start.Add(time.Duration(float64(n) / (2 * w.Rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				if timer == nil {
					timer = time.NewTimer(d)
					defer timer.Stop()
				} else {
					timer.Reset(d)
				}
				select {
				case <-ctx.Done():
					// Write the line anyway: it was generated, and
					// Stats count it.
				case <-timer.C:
				}
			}
		}
		if err := w.writeLine(line); err != nil {
			return err
		}
	}
}

func (w *Writer) writeLine(line []byte) error {
	switch {
	case w.SplitWrites:
		cut := 1 + w.split.IntN(len(line)-1)
		if _, err := w.f.Write(line[:cut]); err != nil {
			return fmt.Errorf("write %s: %w", w.Path, err)
		}
		if w.pairs++; w.pairs%100 == 0 {
			time.Sleep(time.Millisecond) // let a reader see the half line
		}
		if _, err := w.f.Write(line[cut:]); err != nil {
			return fmt.Errorf("write %s: %w", w.Path, err)
		}
	case w.Rate > 0:
		if _, err := w.f.Write(line); err != nil {
			return fmt.Errorf("write %s: %w", w.Path, err)
		}
	default:
		w.buf = append(w.buf, line...)
		if len(w.buf) >= bufSize {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	w.size += int64(len(line))
	if w.RotateBytes > 0 && w.size > w.RotateBytes && w.Path != "-" {
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
	if err != nil {
		return fmt.Errorf("write %s: %w", w.Path, err)
	}
	return nil
}

func (w *Writer) open(appendTo bool) error {
	if w.buf == nil && !w.SplitWrites && w.Rate <= 0 {
		w.buf = make([]byte, 0, bufSize+2*MaxLine)
	}
	if w.Path == "-" {
		w.f, w.size = os.Stdout, 0
		return nil
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
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

// close flushes and closes the file (standard output stays open).
func (w *Writer) close() error {
	if w.f == nil {
		return nil
	}
	err := w.flush()
	if w.f != os.Stdout {
		if cerr := w.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", w.Path, cerr)
		}
	}
	w.f = nil
	return err
}

// rotate renames path → path.1, after path.1 → path.2 and so on (the
// oldest, path.Keep, is overwritten), and starts a new path, as
// logrotate's rename rotation does.
func (w *Writer) rotate() error {
	if err := w.close(); err != nil {
		return err
	}
	for i := w.Keep; i > 1; i-- {
		err := os.Rename(fmt.Sprintf("%s.%d", w.Path, i-1), fmt.Sprintf("%s.%d", w.Path, i))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	if err := os.Rename(w.Path, w.Path+".1"); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	return w.open(false)
}
