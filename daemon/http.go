package daemon

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the daemon's endpoints.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	metricsHandler := promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	mux.HandleFunc(d.cfg.TelemetryPath, func(w http.ResponseWriter, r *http.Request) {
		if !d.caughtUp() {
			http.Error(w, "Catching up with the logs since the last checkpoint; metrics follow when done.\n"+d.readiness(), http.StatusServiceUnavailable)
			return
		}
		metricsHandler.ServeHTTP(w, r)
	})
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "Healthy.\n")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if why := d.readiness(); why != "" {
			http.Error(w, "Not ready:\n"+why, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "Ready.\n")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if !d.cfg.EnableLifecycle {
			http.Error(w, "Lifecycle API is not enabled (start with --web.enable-lifecycle).", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodPost {
			http.Error(w, "Use POST to reload the rules.", http.StatusMethodNotAllowed)
			return
		}
		if err := d.Reload(); err != nil {
			d.logger.Error("reload failed; keeping the old rules", "err", err)
			http.Error(w, "Reload failed, the old rules stay: "+err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "Rules reloaded.\n")
	})
	if d.cfg.TelemetryPath != "/" {
		d.statusHandlers(mux)
	}
	return mux
}

// readiness names each source that is not ready and why; "" when all are.
func (d *Daemon) readiness() string {
	var b strings.Builder
	for _, s := range d.sources {
		st := s.tail.Status()
		switch {
		case st.Problem != "":
			fmt.Fprintf(&b, "source %s (%s %s): %s\n", s.Name, s.Kind, s.Target, st.Problem)
		case !st.CaughtUp:
			fmt.Fprintf(&b, "source %s (%s %s): catching up with what was logged since the last checkpoint\n", s.Name, s.Kind, s.Target)
		}
	}
	return b.String()
}
