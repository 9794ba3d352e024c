package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spanshipper/spanshipper/agent"
	"github.com/spanshipper/spanshipper/batch"
	"github.com/spanshipper/spanshipper/decode"
	"github.com/spanshipper/spanshipper/frame"
	"github.com/spanshipper/spanshipper/metrics"
	"github.com/spanshipper/spanshipper/ship"
	"github.com/spanshipper/spanshipper/tailer"
)

// agentConfig maps the command's configuration onto the pipeline's.
func agentConfig(c Config, log *slog.Logger, m *metrics.Metrics) agent.Config {
	md := make([]decode.KV, len(c.Metadata))
	for i, kv := range c.Metadata {
		md[i] = decode.KV{Key: kv.Key, Value: kv.Value}
	}
	format, _ := frame.ParseFormat(c.Format) // checked by Validate
	return agent.Config{
		StateDir: c.StateDir,
		Tailer: tailer.Config{
			Include:      c.Paths,
			Exclude:      c.Excludes,
			StartAtEnd:   c.StartAt == "end",
			MaxOpenFiles: c.MaxOpenFiles,
			MaxLineBytes: c.MaxLineBytes,
			ExitOnEOF:    c.ExitOnEOF,
		},
		Decode:      decode.Options{SkipStart: c.SkipSpanStart, Metadata: md},
		Format:      format,
		K8sMetadata: c.K8sMetadata,
		Batch:       batch.Options{MaxItems: c.BatchSize, Linger: c.Linger},
		Ship: ship.Config{
			Endpoint:       c.Endpoint,
			APIKey:         c.APIKey,
			AccountID:      c.AccountID,
			Gzip:           c.Gzip,
			MaxRetries:     c.MaxRetries,
			RequestTimeout: c.RequestTimeout,
		},
		Concurrency:     c.Concurrency,
		MaxBuffered:     c.MaxBuffered,
		ShutdownTimeout: c.ShutdownTimeout,
		Logger:          log,
		Metrics:         m,

		OrphanAfter:      c.OrphanAfter,
		MaxPendingStarts: c.MaxPendingStarts,
	}
}

// serve starts the metrics and health endpoints on addr ("" or "off": none).
// With port 0 it logs the address it bound.
func serve(addr string, m *metrics.Metrics, a *agent.Agent, log *slog.Logger) (*http.Server, error) {
	if addr == "" || addr == "off" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := a.Ready()
		if !ok {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("serving metrics and health", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return srv, nil
}
