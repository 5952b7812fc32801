package function

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/evidence"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
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
		return f.scan(ctx, log, c, cfg, w, s.ScanID, s.Started, s.Shard, s.Shards, s.Projects)
	}
	scanID := scanIDFor(e, started)
	if cfg.ShardSize > 0 && w.scope.Kind != "projects" {
		projects, err := c.containerAPI(w.scope, nil, cfg.Policy).ListProjects(ctx, func(se scanner.ScanError) {
			log.Warn("part of the scope not listed", "resource", se.Resource, "code", se.Code, "error", se.Message)
		})
		if err != nil {
			return f.failed(log, "plan", err)
		}
		if len(projects) > cfg.ShardSize {
			return f.fanOut(ctx, log, c, cfg, w, scanID, started, projects)
		}
	}
	return f.scan(ctx, log, c, cfg, w, scanID, started, 0, 1, nil)
}

// scanIDFor is stable for one message, so a redelivery writes the same
// rows: the event time and a hash of the event ID.
func scanIDFor(e event.Event, t time.Time) string {
	sum := sha256.Sum256([]byte(e.Source() + "\x00" + e.ID()))
	return t.Format("20060102T150405Z") + "-" + hex.EncodeToString(sum[:3])
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
func (f *Function) fanOut(ctx context.Context, log *slog.Logger, c *clients, cfg Config, w work, scanID string, started time.Time, projects []string) error {
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
func (f *Function) scan(ctx context.Context, log *slog.Logger, c *clients, cfg Config, w work, scanID string, started time.Time, shard, shards int, projects []string) error {
	log = log.With("scan_id", scanID, "scope", w.scope.String(), "shard", shard, "shards", shards)
	before := c.calls.Snapshot()
	sctx, cancel := context.WithTimeout(ctx, scanBudget)
	defer cancel()
	var src scanner.Source
	switch {
	case projects != nil:
		src = c.containerAPI(w.scope, projects, cfg.Policy)
	case cfg.Discovery == discovery.ModeContainerAPI:
		src = c.containerAPI(w.scope, nil, cfg.Policy)
	default:
		src = &discovery.AssetInventory{Client: c.asset, Scope: w.scope, Policy: cfg.Policy}
	}
	lp := cfg.Policy
	lp.Limiter = c.limiter
	res, err := scanner.Scan(sctx, scanner.Options{
		Catalog: c.catalog, Source: src, Evidence: &evidence.Logging{Client: c.logging, Policy: lp},
		ScanID: scanID, Scope: w.scope.String(), OrgID: w.scope.OrganizationID(), Now: started, Lookback: w.lookback,
	})
	if err != nil {
		return f.failed(log, "scan", err)
	}
	rows := schema.FromResult(res, w.scope.OrganizationID(), shard, shards)
	alertProjects, err := f.alertProjects(ctx, c, w.scope, res, projects)
	if err != nil {
		return f.failed(log, "alert state", err)
	}
	if !w.dryRun {
		if err := c.ensure(ctx, cfg); err != nil {
			return f.failed(log, "bigquery", err)
		}
		if _, err := c.writer.Write(ctx, rows); err != nil {
			return f.failed(log, "bigquery", err)
		}
	}
	byProject := map[string]map[string]scanner.Finding{}
	for _, fd := range res.Findings {
		if byProject[fd.ProjectID] == nil {
			byProject[fd.ProjectID] = map[string]scanner.Finding{}
		}
		byProject[fd.ProjectID][fd.FindingKey] = fd
	}
	counts := map[string]int{}
	owner := newOwner()
	var claimed []error
	for _, p := range alertProjects {
		alerts, err := c.alerter.project(ctx, w.scope, p, byProject[p], scanID, started, owner, w.dryRun)
		if errors.Is(err, errClaimed) {
			claimed = append(claimed, err) // the other projects' alerts go out now
			continue
		}
		if err != nil {
			return f.failed(log, "alerts", err)
		}
		for _, a := range alerts {
			counts[a.Transition]++
			if w.dryRun {
				log.Info("dry run: would alert", "transition", a.Transition, "issue_id", a.Finding.IssueID, "project_id", p,
					"cluster", a.Finding.Cluster, "node_pool", a.Finding.NodePool, "status", string(a.Finding.Status))
			}
		}
	}
	if len(claimed) > 0 {
		log.Warn("alerts of some projects are being published by another delivery; Pub/Sub will redeliver",
			"projects", len(claimed), "error", claimed[0].Error())
		return fmt.Errorf("alerts of %d project(s) not published yet: %w", len(claimed), errors.Join(claimed...))
	}
	s := res.Summary
	msg := "scan complete"
	if w.dryRun {
		msg = "dry run complete: nothing written or published"
	}
	log.Info(msg, "clusters", s.Clusters, "dataplane_v2_clusters", s.DataplaneV2, "projects", s.Projects,
		"findings", s.Findings, "affected", s.ByStatus[scanner.Affected], "observed", s.ByStatus[scanner.Observed],
		"unknown", s.ByStatus[scanner.Unknown], "errors", s.Errors, "projects_failed", s.ProjectsFailed,
		"alerts_new", counts[TransitionNew], "alerts_changed", counts[TransitionChanged], "alerts_resolved", counts[TransitionResolved],
		"api_calls", diffCounts(before, c.calls.Snapshot()), "duration_s", f.now().Sub(started).Seconds())
	for _, e := range res.Errors {
		log.Warn("part of the scope not read", "project_id", e.ProjectID, "resource", e.Resource, "api", e.API, "code", e.Code, "error", e.Message)
	}
	return nil
}

// alertProjects are the projects whose transitions a scan decides: the
// shard's projects, or, for a whole scope, those with clusters now and
// those with alert state from before (their clusters may be gone); of
// those, only the ones the scan read completely (Result.Complete), so a
// project under a folder that could not be listed keeps its state.
func (f *Function) alertProjects(ctx context.Context, c *clients, scope scanner.Scope, res *scanner.Result, shard []string) ([]string, error) {
	set := map[string]bool{}
	for _, p := range shard {
		set[p] = true
	}
	if shard == nil {
		for _, cl := range res.Clusters {
			set[cl.ProjectID] = true
		}
		known, err := c.alerter.projectsWithState(ctx, scope)
		if err != nil {
			return nil, err
		}
		for _, p := range known {
			set[p] = true
		}
	}
	var out []string
	for _, p := range slices.Sorted(maps.Keys(set)) {
		if res.Complete(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// newOwner names one delivery in the claims it writes.
func newOwner() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

func diffCounts(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}
