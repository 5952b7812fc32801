package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/evidence"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/schema"
)

// scanBudget keeps a scan inside the 540 s limit of an event-driven
// function, with room to write and alert.
const scanBudget = 480 * time.Second

// maxClockSkew is how far in the future a shard's started_at may be: the
// instance that planned it may run a little ahead of this one.
const maxClockSkew = time.Minute

// Function handles ScanFleet events. Its clients are created on the first
// event an instance gets and reused after; a failure to create them is
// retried on the next event.
type Function struct {
	getenv func(string) string
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	cfg     *Config
	cfgErr  error
	clients *clients
}

// New returns a Function reading its configuration with getenv and logging
// JSON for Cloud Logging to w.
func New(getenv func(string) string, w io.Writer) *Function {
	return &Function{getenv: getenv, log: NewLogger(w), now: time.Now}
}

// config loads and validates the configuration once per instance.
func (f *Function) config() (Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg == nil && f.cfgErr == nil {
		c, err := LoadConfig(f.getenv)
		f.cfg, f.cfgErr = &c, err
	}
	return *f.cfg, f.cfgErr
}

// ScanFleet is the CloudEvent function. It returns an error only for
// failures that a redelivery may fix; Pub/Sub then retries, and after the
// subscription's attempts, dead-letters the message.
func (f *Function) ScanFleet(ctx context.Context, e event.Event) error {
	log := f.log.With("event_id", e.ID())
	if tr := traceOf(e, f.getenv); tr != "" {
		log = log.With(traceKey, tr)
	}
	cfg, err := f.config()
	if err != nil {
		// Not the message's fault: keep it (redelivery, then dead letter).
		log.Error("invalid configuration; fix the function's environment variables", "error", err.Error())
		return fmt.Errorf("invalid configuration: %w", err)
	}
	if t := e.Time(); !t.IsZero() && f.now().Sub(t) > cfg.MaxEventAge {
		log.Warn("stale event dropped", "event_time", t.UTC().Format(time.RFC3339), "max_age", cfg.MaxEventAge.String())
		return nil
	}
	w, err := decode(e, cfg)
	if err != nil {
		log.Error("message acknowledged without scanning", "reason", err.Error())
		return nil
	}
	c, err := f.clientsFor(ctx, cfg)
	if err != nil {
		log.Error("cannot create clients", "error", err.Error())
		return err
	}
	started := e.Time().UTC()
	if started.IsZero() {
		started = f.now().UTC()
	}
	if w.shard != nil {
		s := w.shard
		// started_at becomes scanned_at of every row and orders alert
		// state: one from the future would freeze a project's alerts.
		if now := f.now(); s.Started.Before(now.Add(-cfg.MaxEventAge)) || s.Started.After(now.Add(maxClockSkew)) {
			log.Error("message acknowledged without scanning", "reason", fmt.Sprintf("%v: shard started_at %s is not within %s before now (%s)",
				errBadMessage, s.Started.UTC().Format(time.RFC3339), cfg.MaxEventAge, now.UTC().Format(time.RFC3339)))
			return nil
		}
		return f.scan(ctx, log, c, cfg, job{work: w, scanID: s.ScanID, started: s.Started, shard: s.Shard, shards: s.Shards, projects: s.Projects})
	}
	// The scan ID is stable for one message: a redelivery writes the same rows.
	j := job{work: w, scanID: scanner.NewScanID(started, e.Source()+"\x00"+e.ID()), started: started, shards: 1}
	if cfg.ShardSize > 0 && w.scope.Kind != "projects" {
		projects, err := c.discovery.ContainerAPI(j.liveOptions(cfg, c.catalog)).ListProjects(ctx, func(se scanner.ScanError) {
			log.Warn("part of the scope not listed", "resource", se.Resource, "code", se.Code, "error", se.Message)
		})
		if err != nil {
			return f.failed(log, "plan", err)
		}
		if len(projects) > cfg.ShardSize {
			return f.fanOut(ctx, log, c, cfg, j, projects)
		}
	}
	return f.scan(ctx, log, c, cfg, j)
}

// job is one scan to run: a whole scope, or one shard of a fanned-out scan.
type job struct {
	work
	scanID   string
	started  time.Time // the log window's end and every row's scanned_at
	shard    int
	shards   int
	projects []string // a shard's projects; nil for a whole scope
}

func (j job) liveOptions(cfg Config, cat *catalog.Catalog) discovery.LiveOptions {
	return discovery.LiveOptions{Mode: cfg.Discovery, Scope: j.scope, ProjectIDs: j.projects, Policy: cfg.Policy, Catalog: cat,
		WithoutAccess: cfg.Kubernetes != kube.SourceAPI}
}

// failed decides the retry contract for an API error: no access or an
// unknown scope will not change on redelivery (acknowledge), anything
// else may (return it).
func (f *Function) failed(log *slog.Logger, stage string, err error) error {
	if gcpclient.Scoped(err) {
		log.Error("scan not possible; message acknowledged", "stage", stage, "code", gcpclient.CodeName(err), "error", err.Error())
		return nil
	}
	log.Error("scan failed; Pub/Sub will redeliver", "stage", stage, "error", err.Error())
	return err
}

// fanOut records the planned shards and publishes one message per shard to
// the request topic; each is scanned by its own invocation.
func (f *Function) fanOut(ctx context.Context, log *slog.Logger, c *clients, cfg Config, j job, projects []string) error {
	w, scanID, started := j.work, j.scanID, j.started
	n := (len(projects) + cfg.ShardSize - 1) / cfg.ShardSize
	var msgs []*pubsub.Message
	planned := schema.Rows{}
	for i := range n {
		part := projects[i*cfg.ShardSize : min((i+1)*cfg.ShardSize, len(projects))]
		data, _ := json.Marshal(Shard{ScanID: scanID, Scope: w.scope.String(), Projects: part, Shard: i, Shards: n,
			Lookback: w.lookback.String(), DryRun: w.dryRun, Started: started})
		msgs = append(msgs, &pubsub.Message{Data: data, Attributes: map[string]string{"scan_id": scanID, "shard": fmt.Sprint(i)}})
		planned.Scans = append(planned.Scans, schema.ScanRow{ScanID: scanID, Scope: w.scope.String(),
			OrganizationID: w.scope.OrganizationID(), Shard: int64(i), Shards: int64(n), Status: schema.StatusPlanned,
			StartedAt: started, FinishedAt: started, Lookback: w.lookback.String(), Projects: int64(len(part))})
	}
	if w.dryRun {
		log.Info("dry run: would fan out", "scan_id", scanID, "scope", w.scope.String(), "projects", len(projects), "shards", n)
		return nil
	}
	if err := c.ensure(ctx, cfg); err != nil {
		return f.failed(log, "bigquery", err)
	}
	if _, err := c.writer.Write(ctx, planned); err != nil {
		return f.failed(log, "bigquery", err)
	}
	results := make([]*pubsub.PublishResult, len(msgs))
	for i, m := range msgs {
		results[i] = c.requests.Publish(ctx, m)
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			return f.failed(log, "fan out", err)
		}
	}
	log.Info("scan planned", "scan_id", scanID, "scope", w.scope.String(), "projects", len(projects), "shards", n, "shard_size", cfg.ShardSize)
	return nil
}

// scan scans the scope (or a shard's projects), writes the rows, then
// publishes the transitions of every project it read completely.
func (f *Function) scan(ctx context.Context, log *slog.Logger, c *clients, cfg Config, j job) error {
	log = log.With("scan_id", j.scanID, "scope", j.scope.String(), "shard", j.shard, "shards", j.shards)
	before := c.calls.Snapshot()
	sctx, cancel := context.WithTimeout(ctx, scanBudget)
	defer cancel()
	src, err := discovery.Live(c.discovery, j.liveOptions(cfg, c.catalog))
	if err != nil {
		return f.failed(log, "scan", err)
	}
	inCluster, err := kube.Live(kube.LiveOptions{Source: cfg.Kubernetes, Scope: j.scope, Asset: c.discovery.Asset, Catalog: c.catalog, Policy: cfg.Policy})
	if err != nil {
		return f.failed(log, "scan", err)
	}
	res, err := scanner.Scan(sctx, scanner.Options{
		Catalog: c.catalog, Source: src, Evidence: evidence.NewLogging(c.logging, cfg.Policy, c.limiter), InCluster: inCluster,
		Offers: &discovery.ServerConfigs{Client: c.discovery.Clusters, Policy: cfg.Policy}, // one call per location of the scan
		ScanID: j.scanID, Scope: j.scope.String(), OrgID: j.scope.OrganizationID(), Shard: j.shard, Shards: j.shards,
		Now: j.started, Lookback: j.lookback,
	})
	if err != nil {
		return f.failed(log, "scan", err)
	}
	if !j.dryRun {
		if err := c.ensure(ctx, cfg); err != nil {
			return f.failed(log, "bigquery", err)
		}
		if _, err := c.writer.Write(ctx, schema.FromResult(res)); err != nil {
			return f.failed(log, "bigquery", err)
		}
	}
	counts, err := c.alerter.scan(ctx, log, j, res)
	if errors.Is(err, errClaimed) {
		log.Warn("alerts of some projects are being published by another delivery; Pub/Sub will redeliver", "error", err.Error())
		return err
	}
	if err != nil {
		return f.failed(log, "alerts", err)
	}
	s := res.Summary
	msg := "scan complete"
	if j.dryRun {
		msg = "dry run complete: nothing written or published"
	}
	log.Info(msg, "clusters", s.Clusters, "dataplane_v2_clusters", s.DataplaneV2, "projects", s.Projects,
		"findings", s.Findings, "affected", s.ByStatus[scanner.Affected], "observed", s.ByStatus[scanner.Observed],
		"unknown", s.ByStatus[scanner.Unknown], "errors", s.Errors, "projects_failed", s.ProjectsFailed,
		"alerts_new", counts[TransitionNew], "alerts_changed", counts[TransitionChanged], "alerts_resolved", counts[TransitionResolved],
		"api_calls", diffCounts(before, c.calls.Snapshot()), "duration_s", f.now().Sub(j.started).Seconds(),
		"kubernetes_calls", scanner.CallsLine(res.KubernetesCalls))
	for _, e := range res.Errors {
		log.Warn("part of the scope not read", "project_id", e.ProjectID, "resource", e.Resource, "api", e.API, "code", e.Code, "error", e.Message)
	}
	return nil
}

// kubeCalls is the ListAssets calls by asset type of the in-cluster
// checks, "" when they are off.
func diffCounts(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}
