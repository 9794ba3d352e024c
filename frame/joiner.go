package frame

// Record is one logical line. Line is valid only during the emit call that
// receives it.
type Record struct {
	Line []byte // content, framing stripped and partials joined; nil when Err or TooLong
	// Start and End are the byte range of the physical lines the record
	// came from: Start is its first line's, End its last line's end.
	Start, End int64
	// Anchor is where a checkpoint may point at most while this record is
	// not final: Start, or earlier when a joined record of the other stream
	// overlapped its physical lines (SPEC: no checkpoint points inside a
	// reassembled record).
	Anchor  int64
	Err     *Error // malformed framing: bad input
	TooLong bool   // content over the maximum line length; discarded
	// Stream is the record's stream (0 stdout, 1 stderr; 0 for span files).
	Stream int
	// First marks the first record of its stream in the file: when a
	// rotation reopened the log in the middle of a line, its first piece
	// may be the rest of a line that began in the previous file.
	First bool
	// Cut marks a partial record that the end of the file cut short
	// (Flush): its rest, if any, is in the next file.
	Cut bool
}

// Joiner reassembles the records of one file. It is not safe for concurrent
// use; build one per file generation.
type Joiner struct {
	format  Format
	max     int
	streams [numStreams]partial
	seen    [numStreams]bool // a line of the stream was read
	scratch []byte           // unescaped docker content of the current physical line
}

type partial struct {
	open       bool
	start, end int64 // byte range of its physical lines so far
	anchor     int64
	buf        []byte
	tooLong    bool
	first      bool // its first piece was the stream's first line in the file
}

// NewJoiner returns a joiner for f (Span, CRI or Docker) whose records hold
// at most maxLineBytes of content.
func NewJoiner(f Format, maxLineBytes int) *Joiner {
	return &Joiner{format: f, max: maxLineBytes}
}

// Format returns the joiner's format.
func (j *Joiner) Format() Format { return j.format }

// Floor returns the offset a checkpoint must not pass while a partial
// record is open (the smallest anchor of the open partials), and whether
// one is.
func (j *Joiner) Floor() (int64, bool) {
	var floor int64
	found := false
	for i := range j.streams {
		if p := &j.streams[i]; p.open && (!found || p.anchor < floor) {
			floor, found = p.anchor, true
		}
	}
	return floor, found
}

// Push takes one physical line (without its '\n') occupying [start, end)
// and emits the record it completes, if any. A span-format line is emitted
// as it is. emit's error is returned.
func (j *Joiner) Push(line []byte, start, end int64, emit func(Record) error) error {
	if j.format != CRI && j.format != Docker {
		return emit(Record{Line: line, Start: start, End: end, Anchor: start})
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	var (
		stream  int
		isPart  bool
		content []byte
		err     *Error
	)
	if j.format == CRI {
		stream, isPart, content, err = parseCRI(line)
	} else {
		stream, isPart, content, err = parseDocker(j.scratch[:0], line)
		if cap(content) > cap(j.scratch) {
			j.scratch = content[:0]
		}
	}
	if err != nil {
		if isBlank(line) {
			// A blank physical line is no runtime's record; hand it on
			// blank so the file's cursor moves over it.
			return emit(Record{Line: line[:0], Start: start, End: end, Anchor: start})
		}
		return emit(Record{Start: start, End: end, Anchor: start, Err: err})
	}
	p := &j.streams[stream]
	first := !j.seen[stream]
	j.seen[stream] = true
	if isPart {
		if !p.open {
			*p = partial{open: true, start: start, anchor: start, buf: p.buf[:0], first: first}
		}
		p.end = end
		if !p.tooLong {
			if len(p.buf)+len(content) > j.max {
				p.tooLong, p.buf = true, p.buf[:0]
			} else {
				p.buf = append(p.buf, content...)
			}
		}
		return nil
	}
	if !p.open {
		rec := Record{Line: content, Start: start, End: end, Anchor: start, Stream: stream, First: first}
		if len(content) > j.max {
			rec.Line, rec.TooLong = nil, true
		}
		return emit(rec)
	}
	rec := Record{Start: p.start, End: end, Anchor: p.anchor, Stream: stream, First: p.first}
	if p.tooLong || len(p.buf)+len(content) > j.max {
		rec.TooLong = true
	} else {
		p.buf = append(p.buf, content...)
		rec.Line = p.buf
	}
	j.close(stream)
	return emit(rec)
}

// close ends stream's partial. Partials of the other stream that began
// inside its range now overlap a record, so they may not be checkpointed
// past its start either.
func (j *Joiner) close(stream int) {
	p := &j.streams[stream]
	p.open = false
	for i := range j.streams {
		if q := &j.streams[i]; i != stream && q.open && q.anchor > p.anchor {
			q.anchor = p.anchor
		}
	}
	if cap(p.buf) > 1<<20 {
		p.buf = nil // let a one-off huge record's buffer go
	}
}

// Flush emits the partial records still open, oldest first, as records of
// their own: the file ended (drained after rotation or deletion, or the end
// of an --exit-on-eof run) before their last part arrived.
func (j *Joiner) Flush(emit func(Record) error) error {
	for {
		oldest := -1
		for i := range j.streams {
			if p := &j.streams[i]; p.open && (oldest < 0 || p.start < j.streams[oldest].start) {
				oldest = i
			}
		}
		if oldest < 0 {
			return nil
		}
		p := &j.streams[oldest]
		rec := Record{Start: p.start, End: p.end, Anchor: p.anchor, Line: p.buf, Stream: oldest, First: p.first, Cut: true}
		if p.tooLong {
			rec.Line, rec.TooLong = nil, true
		}
		j.close(oldest)
		if err := emit(rec); err != nil {
			return err
		}
	}
}

func isBlank(b []byte) bool { return skipWS(b, 0) == len(b) }
