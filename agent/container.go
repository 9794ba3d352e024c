package agent

import (
	"bytes"

	"github.com/spanshipper/spanshipper/checkpoint"
	"github.com/spanshipper/spanshipper/decode"
	"github.com/spanshipper/spanshipper/frame"
	"github.com/spanshipper/spanshipper/kube"
	"github.com/spanshipper/spanshipper/tailer"
)

// fileConfig is how the handler reads each file: its framing and the
// metadata its items get.
type fileConfig struct {
	decode      decode.Options
	format      frame.Format // Auto: decided per file from its first line
	k8sMetadata bool         // pod metadata from kubelet log paths
	maxLine     int          // most content bytes of a reassembled record
}

// fileState is the handler's state for one generation of one file.
type fileState struct {
	cursor *checkpoint.Cursor // the generation it belongs to
	dec    *decode.Decoder
	joiner *frame.Joiner // nil for span files: lines go straight to the decoder
	floor  int64         // the floor last set on cursor; -1 none
	hold   int64         // start of a record held by the carry; -1 none
	emit   func(frame.Record) error
}

// headBytes is how much of a file's beginning is read to decide its format
// when reading resumes mid-file with no decision kept.
const headBytes = 64 << 10

// state returns f's state, building it on the first line of a file
// generation. It returns nil while an Auto file has shown only blank lines.
func (h *lineHandler) state(f *tailer.File, line []byte, start int64) *fileState {
	if st, ok := f.State().(*fileState); ok && st.cursor == f.Cursor() {
		return st
	}
	format := h.files.format
	if format == frame.Auto {
		if format = h.detect(f, line, start); format == frame.Auto {
			return nil
		}
	}
	if f.Format() != format.String() {
		f.SetFormat(format.String())
	}
	st := &fileState{cursor: f.Cursor(), dec: h.dec, floor: -1, hold: -1}
	if h.files.k8sMetadata {
		if attrs := kube.FromPath(f.Path()); attrs != nil {
			st.dec = decode.New(h.files.withPod(attrs))
		}
	}
	if format.Container() {
		st.joiner = frame.NewJoiner(format, h.files.maxLine)
		st.emit = func(r frame.Record) error { return h.record(f, st, r) }
		h.carry.add(f)
	}
	f.SetState(st)
	return st
}

// withPod returns the decode options with a file's pod metadata added after
// the --metadata pairs (which win on the same key).
func (fc fileConfig) withPod(attrs []kube.Attr) decode.Options {
	o := fc.decode
	o.Metadata = append([]decode.KV(nil), o.Metadata...)
	for _, a := range attrs {
		taken := false
		for _, kv := range fc.decode.Metadata {
			taken = taken || kv.Key == a.Key
		}
		if !taken {
			o.Metadata = append(o.Metadata, decode.KV{Key: a.Key, Value: a.Value})
		}
	}
	return o
}

// detect decides an Auto file's format: the decision kept with its
// checkpoint, else its first complete non-blank line.
func (h *lineHandler) detect(f *tailer.File, line []byte, start int64) frame.Format {
	if s := f.Format(); s != "" {
		if format, err := frame.ParseFormat(s); err == nil && format != frame.Auto {
			return format
		}
	}
	if start > 0 {
		// Resumed mid-file (or --start-at end): look at how it begins.
		buf := make([]byte, headBytes)
		n, _ := f.ReadHead(buf)
		for rest := buf[:n]; ; {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				break
			}
			if first := rest[:i]; len(bytes.TrimSpace(first)) > 0 {
				return frame.Detect(bytes.TrimRight(first, "\r"))
			}
			rest = rest[i+1:]
		}
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return frame.Auto
	}
	return frame.Detect(bytes.TrimRight(line, "\r"))
}

// frame hands one physical line of a container log to the file's joiner.
// While a partial record is open the cursor's floor holds the checkpoint
// at its start, so a crash re-reads the whole group.
func (h *lineHandler) frame(f *tailer.File, st *fileState, line []byte, start, end int64) error {
	if err := st.joiner.Push(line, start, end, st.emit); err != nil {
		return err
	}
	h.setFloor(st, -1)
	return nil
}

// setFloor sets the cursor's floor to the joiner's (open partials), lowered
// to anchor when that is set and smaller.
func (h *lineHandler) setFloor(st *fileState, anchor int64) {
	floor, open := st.joiner.Floor()
	if !open {
		floor = -1
	}
	for _, a := range [...]int64{anchor, st.hold} {
		if a >= 0 && (floor < 0 || a < floor) {
			floor = a
		}
	}
	if floor != st.floor {
		st.cursor.SetFloor(floor)
		st.floor = floor
	}
}

// record handles one logical line of a container log.
func (h *lineHandler) record(f *tailer.File, st *fileState, r frame.Record) error {
	anchor := int64(-1)
	if r.Anchor < r.Start {
		anchor = r.Anchor // the record overlaps another: no checkpoint inside either
	}
	h.setFloor(st, anchor)
	switch {
	case r.Err != nil:
		h.skipBad(f, r.Start, r.End, &decode.Error{Reason: decode.ReasonInvalidFrame, Msg: r.Err.Msg})
		return nil
	case r.TooLong:
		h.skipBad(f, r.Start, r.End, &decode.Error{Reason: decode.ReasonTooLong, Msg: "record exceeds --max-line-bytes"})
		return nil
	case r.Cut:
		return h.cut(f, st, r)
	case r.First:
		return h.first(f, st, r)
	}
	return h.content(f, st, r.Line, r.Start, r.End)
}

// content handles the content of one container-log record.
func (h *lineHandler) content(f *tailer.File, st *fileState, line []byte, start, end int64) error {
	switch {
	case len(bytes.TrimSpace(line)) == 0:
		f.Cursor().Skip(end)
		return nil
	case !decode.LooksLikeSpan(line):
		h.notSpan.Inc()
		f.Cursor().Skip(end)
		return nil
	}
	return h.span(f, st.dec, line, start, end)
}

// HandleEOF implements tailer.EOFHandler: partial records cut by the end of
// a drained file are handled as they are.
func (h *lineHandler) HandleEOF(f *tailer.File) error {
	st, ok := f.State().(*fileState)
	if !ok || st.joiner == nil || st.cursor != f.Cursor() {
		return nil
	}
	if err := st.joiner.Flush(st.emit); err != nil {
		return err
	}
	h.setFloor(st, -1)
	return h.drained(f)
}
