package syncloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus metrics of the sync loop. They are kept up
// to date whether or not Serve serves them.
type Metrics struct {
	reg        *prometheus.Registry
	lagBytes   *prometheus.GaugeVec
	lagSeconds *prometheus.GaugeVec
	streaming  *prometheus.GaugeVec
	rows       *prometheus.CounterVec
	cycle      *prometheus.HistogramVec
	lastCycle  *prometheus.GaugeVec
	errors     *prometheus.CounterVec
}

// NewMetrics registers the metrics on a registry of their own (with the
// Go and process collectors).
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		lagBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "replicator_lag_bytes",
			Help: "Logical replication lag: source WAL position minus the slot's confirmed flush position."}, []string{"replication", "database"}),
		lagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "replicator_lag_seconds",
			Help: "Logical replication lag in seconds, as the subscription reports it."}, []string{"replication", "database"}),
		streaming: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "replicator_streaming",
			Help: "1 when the subscription is enabled and its slot is active, else 0."}, []string{"replication", "database"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_rows_applied_total",
			Help: "Rows written to the target by the xmin engine (kind upsert or delete)."}, []string{"replication", "database", "table", "kind"}),
		cycle: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "replicator_cycle_duration_seconds",
			Help: "Duration of xmin sync cycles.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}, []string{"replication", "database"}),
		lastCycle: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "replicator_last_cycle_timestamp_seconds",
			Help: "Unix time of the last completed xmin cycle."}, []string{"replication", "database"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_errors_total",
			Help: "Sync errors (each is logged and retried)."}, nil),
	}
	m.reg.MustRegister(m.lagBytes, m.lagSeconds, m.streaming, m.rows, m.cycle, m.lastCycle, m.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Serve listens on addr and serves /metrics until ctx ends. It returns the
// address it listens on (useful with port 0).
func (m *Metrics) Serve(ctx context.Context, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("--metrics-addr %s: %w (choose a free address, e.g. 127.0.0.1:9187)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr().String(), nil
}
