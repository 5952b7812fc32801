package evidence

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	logging "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
	"google.golang.org/api/iterator"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
)

// MaxResourceNames is how many projects one ListLogEntries call may name.
const MaxResourceNames = 100

// NewLimiter paces ListLogEntries under its quota of 60 calls a minute per
// project: a burst of 29, then one call every 2 s, so any 60 s window holds
// at most 59 calls.
func NewLimiter() *rate.Limiter { return rate.NewLimiter(rate.Every(2*time.Second), 29) }

// NewLogging is the live evidence source of the CLI and the function: p
// paced by limiter, which every scan of a process should share (the quota
// is per project and minute); nil means a new NewLimiter.
func NewLogging(client *logging.Client, p gcpclient.Policy, limiter *rate.Limiter) *Logging {
	if limiter == nil {
		limiter = NewLimiter()
	}
	p.Limiter = limiter
	return &Logging{Client: client, Policy: p}
}

// Logging reads symptom events and agents' start-up lines from the Cloud
// Logging API: one ListLogEntries per 100 projects (plus pages of 1,000
// entries) with one filter for all of them (QueryFilter) and an explicit
// timestamp window, paced by Policy.Limiter.
//
// The API denies a whole call (PERMISSION_DENIED or NOT_FOUND) when one
// project it names may not be read. Such a batch is split in halves until
// each denied project is alone, so that every other project keeps its
// evidence: for a batch of n projects of which d are denied, at most
// 1 + 2·Σ_{k<⌈log₂ n⌉} min(2^k, d) calls (91 for 10 of 100), never more
// than 2n-1 (every call still waits for Policy.Limiter). A project found
// denied is recorded once as a scan error. Any other error, after the policy's retries, fails
// Observe: an outage is never reported as a scan without log evidence.
type Logging struct {
	Client   *logging.Client
	Policy   gcpclient.Policy // set Limiter (NewLimiter) to stay under the quota
	PageSize int              // default and maximum 1000
	// Concurrency is how many batches are read at once (default 8); the
	// Limiter still paces every call.
	Concurrency int
	// Progress, when set, is called after each call with the calls so far
	// (from the batches' goroutines, one call at a time).
	Progress func(calls int)
}

// Observe queries every project of q that is a valid project ID and
// aggregates the entries exactly as a log file's are. A project whose logs
// may not be read is recorded as a scan error and the others are still
// read. Any other API error fails Observe with an error that names Cloud
// Logging and wraps the API's (gcpclient.Code gives its code); when ctx
// ends, Observe returns ctx.Err().
func (l *Logging) Observe(ctx context.Context, q scanner.EvidenceQuery, failed func(scanner.ScanError)) ([]scanner.Observation, error) {
	var projects []string
	for _, p := range q.Projects {
		if !scanner.ValidProjectID(p) {
			failed(scanner.ScanError{ProjectID: p, Resource: "projects/" + p, API: "logging", Code: "INVALID_ARGUMENT", Message: "not a valid project ID; its logs are not queried"})
			continue
		}
		projects = append(projects, p)
	}
	filter := QueryFilter(q)
	var batches []*logRun
	for start := 0; start < len(projects); start += MaxResourceNames {
		batches = append(batches, &logRun{l: l, projects: projects[start:min(start+MaxResourceNames, len(projects))], denied: map[string]bool{}})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cmp.Or(l.Concurrency, 8))
	var calls progress
	for _, r := range batches {
		r.calls = &calls
		g.Go(func() error { return r.batch(gctx, r.projects, filter) })
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	// The batches' results join in the batches' order, as if read one by
	// one: the same scan errors in the same order, the same aggregation.
	agg := NewQueryAggregator(q)
	for _, r := range batches {
		for _, e := range r.errs {
			failed(e)
		}
		for _, e := range r.entries {
			agg.Add(e)
		}
	}
	return agg.Observations(func(s *catalog.Symptom) string { return Filter(s, q.Since, q.Until) }), nil
}

// progress counts a run's calls across its batches and reports each.
type progress struct {
	mu sync.Mutex
	n  int
}

func (p *progress) add(report func(int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if report != nil {
		report(p.n)
	}
}

// QueryFilter is the one filter Observe runs over every batch of
// projects: each symptom's Filter and each agent's AgentFilter, joined by
// OR when there are several, so that agents' start-up lines cost no call
// of their own. The Aggregator tells the entries apart.
func QueryFilter(q scanner.EvidenceQuery) string {
	var parts []string
	for _, s := range q.Symptoms {
		parts = append(parts, Filter(s, q.Since, q.Until))
	}
	for _, is := range q.Agents {
		if is.Kubernetes.Logged() {
			if f := AgentFilter(is.Kubernetes, q.Since, q.Until); !slices.Contains(parts, f) {
				parts = append(parts, f)
			}
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, ") OR (") + ")"
}

// denseSplit is the size up to which a part whose two halves are both
// denied is read one project at a time: with two or more denied projects
// among so few, splitting further saves no calls.
const denseSplit = 8

// logRun reads one batch of projects; its results are kept until every
// batch is done.
type logRun struct {
	l        *Logging
	projects []string
	calls    *progress
	denied   map[string]bool // projects recorded as denied
	errs     []scanner.ScanError
	entries  []Entry // of the queries that succeeded
}

// batch reads one batch of projects, isolating its denied projects.
func (r *logRun) batch(ctx context.Context, projects []string, filter string) error {
	denied, err := r.query(ctx, projects, filter)
	if err != nil || denied == nil {
		return err
	}
	return r.isolate(ctx, projects, filter, denied)
}

// query reads projects with one query. A query denied as a whole
// (PERMISSION_DENIED or NOT_FOUND) returns the API's error as denied; err
// is ctx.Err() once ctx ends, or any other error of the API, wrapped.
func (r *logRun) query(ctx context.Context, projects []string, filter string) (denied, err error) {
	err = r.read(ctx, projects, filter)
	switch {
	case err == nil:
		return nil, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case gcpclient.Scoped(err):
		return err, nil
	}
	return nil, fmt.Errorf("list log entries of %d project(s) with Cloud Logging: %w", len(projects), err)
}

// isolate reads the projects of a query that was denied (with the error
// denied) as a whole, splitting them in halves until each denied project
// is alone. A project is recorded as denied only when a query that named
// it alone was: when the first half is read, the second half holds the
// denied projects, and it is split without asking for it whole again.
func (r *logRun) isolate(ctx context.Context, projects []string, filter string, denied error) error {
	if len(projects) == 1 {
		r.deny(projects[0], denied)
		return nil
	}
	half := len(projects) / 2
	parts := [2]struct {
		projects []string
		denied   error
	}{{projects: projects[:half]}, {projects: projects[half:], denied: denied}}
	var err error
	if parts[0].denied, err = r.query(ctx, parts[0].projects, filter); err != nil {
		return err
	}
	if parts[0].denied != nil || len(parts[1].projects) == 1 {
		if parts[1].denied, err = r.query(ctx, parts[1].projects, filter); err != nil {
			return err
		}
	}
	dense := parts[0].denied != nil && parts[1].denied != nil && len(projects) <= denseSplit
	for _, part := range parts {
		switch {
		case part.denied == nil:
		case dense && len(part.projects) > 1:
			for _, p := range part.projects {
				d, err := r.query(ctx, []string{p}, filter)
				if err != nil {
					return err
				}
				if d != nil {
					r.deny(p, d)
				}
			}
		default:
			if err := r.isolate(ctx, part.projects, filter, part.denied); err != nil {
				return err
			}
		}
	}
	return nil
}

// deny records a project whose logs may not be read, once.
func (r *logRun) deny(p string, err error) {
	if r.denied[p] {
		return
	}
	r.denied[p] = true
	r.errs = append(r.errs, scanner.ScanError{ProjectID: p, Resource: "projects/" + p, API: "logging", Code: gcpclient.CodeName(err),
		Message: fmt.Sprintf("log evidence not read: %s", gcpclient.Message(err))})
}

// read pages through one query. Entries are only aggregated once the whole
// query succeeded, so a failed and re-split batch is never counted twice.
func (r *logRun) read(ctx context.Context, projects []string, filter string) error {
	names := make([]string, len(projects))
	for i, p := range projects {
		names[i] = "projects/" + p
	}
	size := r.l.PageSize
	if size <= 0 || size > 1000 {
		size = 1000
	}
	req := &loggingpb.ListLogEntriesRequest{ResourceNames: names, Filter: filter, PageSize: int32(size), OrderBy: "timestamp asc"}
	var entries []Entry
	for token := ""; ; {
		if err := r.l.Policy.Wait(ctx); err != nil {
			if ctx.Err() == nil { // the limiter's next call is past ctx's deadline
				err = fmt.Errorf("%w: waiting for the ListLogEntries quota: %v", context.DeadlineExceeded, err)
			}
			return err
		}
		var page []*loggingpb.LogEntry
		pctx, cancel := r.l.Policy.WithTimeout(ctx)
		next, err := iterator.NewPager(r.l.Client.ListLogEntries(pctx, req, r.l.Policy.CallOptions()...), size, token).NextPage(&page)
		cancel()
		r.calls.add(r.l.Progress)
		if err != nil {
			return err
		}
		for _, e := range page {
			entries = append(entries, EntryFromProto(e))
		}
		if next == "" {
			break
		}
		token = next
	}
	r.entries = append(r.entries, entries...)
	return nil
}

// EntryFromProto reads an API LogEntry into the Entry a log file gives.
func EntryFromProto(e *loggingpb.LogEntry) Entry {
	labels := e.GetResource().GetLabels()
	p := e.GetJsonPayload().GetFields()
	source := p["source"].GetStructValue().GetFields()
	out := Entry{
		InsertID:     e.GetInsertId(),
		Timestamp:    e.GetTimestamp().AsTime(),
		ResourceType: e.GetResource().GetType(),
		ProjectID:    labels["project_id"],
		Location:     labels["location"],
		Cluster:      labels["cluster_name"],
		Reason:       p["reason"].GetStringValue(),
		Message:      p["message"].GetStringValue(),
		UID:          p["metadata"].GetStructValue().GetFields()["uid"].GetStringValue(),
		Node:         source["host"].GetStringValue(),
		Count:        int64(p["count"].GetNumberValue()),

		Component:          source["component"].GetStringValue(),
		ReportingComponent: p["reportingComponent"].GetStringValue(),

		TextPayload: e.GetTextPayload(),
	}
	out.containerFields(labels, e.GetLabels())
	return out
}
