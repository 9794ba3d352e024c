// Package metrics holds the Prometheus series spanshipper exports.
//
// Every series is created on a private registry owned by a Metrics value, so
// tests can build as many pipelines as they like without colliding on the
// global registry.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// MaxLagSeries bounds spanshipper_file_lag_bytes: with thousands of files,
// only the MaxLagSeries furthest behind get a series (ties: by path), so a
// scrape stays small and series churn only when the ranking changes.
const MaxLagSeries = 20

// Metrics is the set of series one spanshipper process exports.
// The zero value is not usable; build one with New.
type Metrics struct {
	Registry *prometheus.Registry

	LinesRead  prometheus.Counter     // lines consumed from files
	BytesRead  prometheus.Counter     // bytes consumed from files
	SpanEvents *prometheus.CounterVec // decoded records by kind: start, end
	BadLines   *prometheus.CounterVec // skipped lines by reason
	// LinesSkipped counts container-log lines that are not spans (app
	// logs), by reason: not_span. They are no bad input.
	LinesSkipped *prometheus.CounterVec

	SpansShipped      prometheus.Counter     // items acknowledged by a 2xx
	SpansDropped      *prometheus.CounterVec // records not sent by design, by reason: span_start, duplicate
	SpansDeadLettered *prometheus.CounterVec // items written to the dead-letter file, by reason

	Requests         *prometheus.CounterVec // HTTP attempts by status class: 2xx, 4xx, 5xx, error
	RequestRetries   prometheus.Counter     // attempts after the first
	RequestDuration  prometheus.Histogram   // seconds per attempt
	RequestsInFlight prometheus.Gauge
	BatchItems       prometheus.Histogram // items per sent batch
	BatchBytes       prometheus.Histogram // body bytes per sent batch (before gzip)

	BufferedSpans prometheus.Gauge     // records read but not yet final
	FileLag       *prometheus.GaugeVec // bytes between the checkpoint and the file size, by path: the MaxLagSeries most behind files only
	Lag           prometheus.Gauge     // the same summed over every followed file
	FilesTracked  prometheus.Gauge
	FilesOpen     prometheus.Gauge

	CheckpointWrites        *prometheus.CounterVec // by result: ok, error
	CheckpointLastWriteTime prometheus.Gauge       // unix seconds of the last successful write
	BackendUp               prometheus.Gauge       // 1 while the last attempt reached the backend

	PendingStarts prometheus.Gauge       // span starts held for orphan-start rescue
	SpansRescued  *prometheus.CounterVec // held starts shipped, by reason: orphan_after, pending_limit
}

// New builds the series and registers them, with the Go runtime and process
// collectors, on a fresh registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		LinesRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spanshipper_lines_read_total", Help: "Lines read from span files."}),
		BytesRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spanshipper_read_bytes_total", Help: "Bytes read from span files."}),
		SpanEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spanshipper_span_events_total", Help: "Span records decoded, by kind (start, end)."}, []string{"kind"}),
		BadLines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spanshipper_bad_lines_total", Help: "Lines skipped as bad input, by reason."}, []string{"reason"}),
		LinesSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spanshipper_lines_skipped_total", Help: "Container-log lines skipped because they are not span records, by reason."}, []string{"reason"}),
		SpansShipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spanshipper_spans_shipped_total", Help: "Span items acknowledged by the backend."}),
		SpansDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spanshipper_spans_dropped_total", Help: "Span records intentionally not sent, by reason (span_start, duplicate)."}, []string{"reason"}),
		SpansDeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spanshipper_spans_dead_lettered_total", Help: "Span items written to the dead-letter file, by reason."}, []string{"reason"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spanshipper_requests_total", Help: "HTTP requests to the span API, by status class (2xx, 4xx, 5xx, error)."}, []string{"class"}),
		RequestRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spanshipper_request_retries_total", Help: "HTTP attempts that repeated an earlier one."}),
		RequestDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "spanshipper_request_duration_seconds", Help: "Duration of one HTTP attempt.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		RequestsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spanshipper_requests_in_flight", Help: "HTTP requests currently in flight."}),
		BatchItems: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "spanshipper_batch_items", Help: "Items per batch sent.",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 200, 500, 1000}}),
		BatchBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "spanshipper_batch_bytes", Help: "Uncompressed request body bytes per batch sent.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 9)}),
		BufferedSpans: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spanshipper_buffered_spans", Help: "Span records read but not yet at a final outcome."}),
		FileLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "spanshipper_file_lag_bytes", Help: "Bytes between a file's checkpoint and its size, for the 20 files furthest behind (spanshipper_lag_bytes sums all)."}, []string{"path"}),
		Lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spanshipper_lag_bytes", Help: "Bytes between the checkpoints and the file sizes, summed over every followed file."}),
		FilesTracked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spanshipper_files_tracked", Help: "Files currently followed."}),
		FilesOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spanshipper_files_open", Help: "File descriptors currently held on span files."}),
		CheckpointWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spanshipper_checkpoint_writes_total", Help: "Checkpoint file writes, by result (ok, error)."}, []string{"result"}),
		CheckpointLastWriteTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spanshipper_checkpoint_last_write_timestamp_seconds", Help: "Unix time of the last successful checkpoint write."}),
		BackendUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spanshipper_backend_up", Help: "1 when the last request reached the backend and was not a transient failure."}),
		PendingStarts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spanshipper_pending_starts", Help: "Span-start records held until their end arrives or --orphan-after passes."}),
		SpansRescued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spanshipper_spans_rescued_total", Help: "Held span starts shipped as in-progress items, by reason (orphan_after, pending_limit)."}, []string{"reason"}),
	}
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.LinesRead, m.BytesRead, m.SpanEvents, m.BadLines, m.LinesSkipped,
		m.SpansShipped, m.SpansDropped, m.SpansDeadLettered,
		m.Requests, m.RequestRetries, m.RequestDuration, m.RequestsInFlight, m.BatchItems, m.BatchBytes,
		m.BufferedSpans, m.FileLag, m.Lag, m.FilesTracked, m.FilesOpen,
		m.CheckpointWrites, m.CheckpointLastWriteTime, m.BackendUp,
		m.PendingStarts, m.SpansRescued,
	)
	return m
}
