package daemon

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bouncewatch/bouncewatch"
	"github.com/bouncewatch/bouncewatch/parser"
	"github.com/bouncewatch/bouncewatch/status"
	"github.com/bouncewatch/bouncewatch/tailer"
)

// statusPage puts together what the status page shows now.
func (d *Daemon) statusPage(now time.Time) *status.Page {
	rs := d.rules.Load()
	host, _ := os.Hostname()
	p := &status.Page{Title: "bouncewatch on " + host, Version: status.Version(), Generated: now,
		Timezone: status.Zone(rs.Location), Live: true}
	for _, line := range strings.Split(strings.TrimSpace(d.readiness()), "\n") {
		if line != "" {
			p.NotReady = append(p.NotReady, line)
		}
	}
	p.Ready = len(p.NotReady) == 0
	data := make([]status.SourceData, len(d.sources))
	for i, s := range d.sources {
		data[i] = s.pipe.StatusData(now)
	}
	status.Build(p, now, data)
	for _, s := range d.sources {
		p.Sources = append(p.Sources, sourceState(s, now))
	}
	rr := d.reloaded.Load()
	p.Rules = status.Rules{File: rs.File, Count: len(rs.Rules), OK: rr.OK, Error: rr.Err}
	if !rr.At.IsZero() {
		at := rr.At
		p.Rules.LastReload = &at
	}
	last, failures := d.own.lastCheckpoint()
	p.Checkpoint = &status.Checkpoint{File: d.cfg.StateFile, Failures: failures}
	if !last.IsZero() {
		age := now.Sub(last).Seconds()
		p.Checkpoint.LastSuccess, p.Checkpoint.AgeSeconds = &last, &age
	}
	p.Links = []status.Link{
		{Text: "Metrics", URL: d.cfg.TelemetryPath},
		{Text: "Status as JSON", URL: "/api/v1/status"},
		{Text: "Readiness", URL: "/-/ready"},
		{Text: "Alert rules (with what to do when each fires)", URL: "/alerting/bouncewatch.rules.yml"},
		{Text: "Grafana dashboard", URL: "/dashboard.json"},
	}
	return p
}

func sourceState(s *source, now time.Time) status.SourceState {
	st := s.tail.Status()
	c := s.pipe.Counts()
	ss := status.SourceState{Name: s.Name, Kind: string(s.Kind), Target: s.Target, Readable: st.Problem == "",
		CaughtUp: st.CaughtUp, Problem: st.Problem, Lines: map[string]uint64{}, Bytes: c.Bytes,
		Rotations: map[string]uint64{"rename": c.Rotations[0], "truncate": c.Rotations[1]}}
	for r, n := range c.Lines {
		ss.Lines[parser.Result(r).String()] = n
	}
	if !st.LastRead.IsZero() {
		t := st.LastRead
		ss.LastRead = &t
	}
	if !c.LastEvent.IsZero() {
		t := c.LastEvent
		lag := max(now.Sub(t), 0).Seconds()
		ss.LastEvent, ss.LagSeconds = &t, &lag
	}
	for _, f := range st.Files {
		ss.Files = append(ss.Files, fileLabel(f))
	}
	return ss
}

func fileLabel(f tailer.FileStatus) string {
	if f.Rotated {
		return f.Path + " (rotated, being drained)"
	}
	return f.Path
}

// statusHandlers serves the status page, its JSON, and the files it links.
func (d *Daemon) statusHandlers(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		d.syncSources(r.Context())
		var b bytes.Buffer
		if err := status.WriteHTML(&b, d.statusPage(time.Now()), status.Version()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", status.CSP)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Write(b.Bytes())
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		d.syncSources(r.Context())
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(d.statusPage(time.Now()))
	})
	serve := func(data []byte, contentType string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Write(data)
		}
	}
	mux.HandleFunc("GET /alerting/bouncewatch.rules.yml", serve(bouncewatch.AlertRules, "text/plain; charset=utf-8"))
	mux.HandleFunc("GET /dashboard.json", serve(bouncewatch.Dashboard, "application/json"))
}
