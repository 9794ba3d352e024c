package agent

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spanshipper/spanshipper/batch"
	"github.com/spanshipper/spanshipper/decode"
	"github.com/spanshipper/spanshipper/metrics"
	"github.com/spanshipper/spanshipper/ratelog"
	"github.com/spanshipper/spanshipper/tailer"
)

// lineHandler is the hot path: it decodes each line on the reader goroutine
// and either settles it at once (blank, bad, dropped start) or registers it
// with its file's cursor and hands it to the batcher.
type lineHandler struct {
	ctx     context.Context // the reading context: ends when reading must stop
	dec     *decode.Decoder // for files whose path carries no pod metadata
	files   fileConfig
	carry   carry // lines split across a log rotation
	links   links // cut records final once the record they went on in is
	batcher *batch.Batcher
	sem     *semaphore.Weighted // records read but not final: reading pauses at --max-buffered
	prog    *progress
	buf     []byte // scratch for one encoded item
	badLog  *ratelog.Logger
	orphans *orphans // nil unless span starts are held for rescue

	startEvents, endEvents, dropped, notSpan prometheus.Counter
	bad                                      *prometheus.CounterVec
}

func newLineHandler(ctx context.Context, fc fileConfig, b *batch.Batcher, sem *semaphore.Weighted, prog *progress, m *metrics.Metrics, log *slog.Logger) *lineHandler {
	return &lineHandler{
		ctx: ctx, dec: decode.New(fc.decode), files: fc, batcher: b, sem: sem, prog: prog,
		buf:         make([]byte, 0, 4096),
		badLog:      ratelog.New(log, 10*time.Second),
		startEvents: m.SpanEvents.WithLabelValues("start"),
		endEvents:   m.SpanEvents.WithLabelValues("end"),
		dropped:     m.SpansDropped.WithLabelValues("span_start"),
		notSpan:     m.LinesSkipped.WithLabelValues("not_span"),
		bad:         m.BadLines,
	}
}

// HandleLine implements tailer.Handler.
func (h *lineHandler) HandleLine(f *tailer.File, line []byte, start, end int64) error {
	if h.carry.waiting() {
		if err := h.expireCarry(time.Now()); err != nil {
			return err
		}
	}
	st := h.state(f, line, start)
	if st == nil {
		f.Cursor().Skip(end) // blank, and the format is not decided yet
		return nil
	}
	if st.joiner != nil {
		return h.frame(f, st, line, start, end)
	}
	return h.span(f, st.dec, line, start, end)
}

// span handles one span-format line: a logical line of a span file, or a
// container log record's content that looks like a span.
func (h *lineHandler) span(f *tailer.File, dec *decode.Decoder, line []byte, start, end int64) error {
	item, span, err := dec.Append(h.buf[:0], line)
	if err != nil {
		h.skipBad(f, start, end, err)
		return nil
	}
	switch span.Kind {
	case decode.KindBlank:
		f.Cursor().Skip(end)
		return nil
	case decode.KindStart:
		h.startEvents.Inc()
		if h.orphans != nil {
			return h.orphans.hold(h.ctx, f, line, span, start, end)
		}
		if span.Dropped {
			h.dropped.Inc()
			f.Cursor().Skip(end)
			return nil
		}
	case decode.KindEnd:
		h.endEvents.Inc()
		if h.orphans != nil {
			h.orphans.ended(span)
		}
	}
	if err := h.sem.Acquire(h.ctx, 1); err != nil {
		return err
	}
	h.prog.read() // spanshipper_buffered_spans follows it, see checkpointer
	h.buf = item[:0]
	return h.batcher.Add(h.ctx, batch.Entry{
		JSON: item, TraceID: span.TraceID, ID: span.ID, End: span.Kind == decode.KindEnd,
		Mark: f.Cursor().Add(start, end), Path: f.Path(), Offset: start,
	})
}

// HandleTooLong implements tailer.Handler.
func (h *lineHandler) HandleTooLong(f *tailer.File, start, end int64) error {
	h.skipBad(f, start, end, &decode.Error{Reason: decode.ReasonTooLong, Msg: "line exceeds --max-line-bytes"})
	return nil
}

func (h *lineHandler) skipBad(f *tailer.File, start, end int64, err error) {
	reason := "invalid_json"
	if de, ok := err.(*decode.Error); ok {
		reason = string(de.Reason)
	}
	h.bad.WithLabelValues(reason).Inc()
	h.badLog.Warn("bad:"+reason, "skipping bad input line", "file", f.Path(), "offset", start, "bytes", end-start, "reason", reason, "err", err)
	f.Cursor().Skip(end)
}
