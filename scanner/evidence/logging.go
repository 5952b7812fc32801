package evidence

import (
	"context"
	"fmt"
	"time"

	logging "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
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

// Logging reads symptom events from the Cloud Logging API: one
// ListLogEntries per symptom and per 100 projects (plus pages of 1,000
// entries), with an explicit timestamp window, paced by Policy.Limiter.
type Logging struct {
	Client   *logging.Client
	Policy   gcpclient.Policy // set Limiter (NewLimiter) to stay under the quota
	PageSize int              // default and maximum 1000
	// IsolationCalls bounds the extra calls spent finding which projects of
	// a denied batch are denied (default 40): a batch is split in halves
	// until the denied projects are alone, so the others keep their evidence.
	IsolationCalls int
	// Progress, when set, is called after each call with the calls so far.
	Progress func(calls int)
}

// Observe queries every project of q that is a valid project ID and
// aggregates the entries exactly as a log file's are. A project whose logs
// cannot be read is recorded as a scan error; the others are still read.
func (l *Logging) Observe(ctx context.Context, q scanner.EvidenceQuery, failed func(scanner.ScanError)) ([]scanner.Observation, error) {
	var projects []string
	for _, p := range q.Projects {
		if !scanner.ValidProjectID(p) {
			failed(scanner.ScanError{ProjectID: p, Resource: "projects/" + p, API: "logging", Code: "INVALID_ARGUMENT", Message: "not a valid project ID; its logs are not queried"})
			continue
		}
		projects = append(projects, p)
	}
	r := &logRun{l: l, agg: NewAggregator(q.Symptoms, q.Since, q.Until), failed: failed, budget: l.IsolationCalls}
	if r.budget == 0 {
		r.budget = 40
	}
	for _, s := range q.Symptoms {
		filter := Filter(s, q.Since, q.Until)
		for start := 0; start < len(projects); start += MaxResourceNames {
			batch := projects[start:min(start+MaxResourceNames, len(projects))]
			if err := r.list(ctx, batch, filter); err != nil {
				return nil, err
			}
		}
	}
	return r.agg.Observations(func(s *catalog.Symptom) string { return Filter(s, q.Since, q.Until) }), nil
}

type logRun struct {
	l      *Logging
	agg    *Aggregator
	failed func(scanner.ScanError)
	budget int
	calls  int
}

// list reads one batch; a batch denied as a whole is split to isolate the
// projects that are denied. It returns an error only when ctx ends.
func (r *logRun) list(ctx context.Context, projects []string, filter string) error {
	err := r.read(ctx, projects, filter)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case gcpclient.Scoped(err) && len(projects) > 1 && r.budget >= 2:
		r.budget -= 2
		half := len(projects) / 2
		if err := r.list(ctx, projects[:half], filter); err != nil {
			return err
		}
		return r.list(ctx, projects[half:], filter)
	}
	for _, p := range projects {
		r.failed(scanner.ScanError{ProjectID: p, Resource: "projects/" + p, API: "logging", Code: gcpclient.CodeName(err),
			Message: fmt.Sprintf("log evidence not read: %s", gcpclient.Message(err))})
	}
	return nil
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
			return err
		}
		var page []*loggingpb.LogEntry
		pctx, cancel := r.l.Policy.WithTimeout(ctx)
		next, err := iterator.NewPager(r.l.Client.ListLogEntries(pctx, req, r.l.Policy.CallOptions()...), size, token).NextPage(&page)
		cancel()
		r.calls++
		if r.l.Progress != nil {
			r.l.Progress(r.calls)
		}
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
	for _, e := range entries {
		r.agg.Add(e)
	}
	return nil
}

// EntryFromProto reads an API LogEntry into the Entry a log file gives.
func EntryFromProto(e *loggingpb.LogEntry) Entry {
	labels := e.GetResource().GetLabels()
	p := e.GetJsonPayload().GetFields()
	return Entry{
		InsertID:     e.GetInsertId(),
		Timestamp:    e.GetTimestamp().AsTime(),
		ResourceType: e.GetResource().GetType(),
		ProjectID:    labels["project_id"],
		Location:     labels["location"],
		Cluster:      labels["cluster_name"],
		Reason:       p["reason"].GetStringValue(),
		Message:      p["message"].GetStringValue(),
		UID:          p["metadata"].GetStructValue().GetFields()["uid"].GetStringValue(),
		Node:         p["source"].GetStructValue().GetFields()["host"].GetStringValue(),
		Count:        int64(p["count"].GetNumberValue()),
	}
}
