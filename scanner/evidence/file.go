package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// logEntry is the JSON form of a LogEntry, reduced to what Entry needs.
// Other payloads (protoPayload) are left undecoded.
type logEntry struct {
	InsertID  string `json:"insertId"`
	Timestamp string `json:"timestamp"`
	Resource  struct {
		Type   string            `json:"type"`
		Labels map[string]string `json:"labels"`
	} `json:"resource"`
	Labels      map[string]string `json:"labels"`
	TextPayload string            `json:"textPayload"`
	JSONPayload *struct {
		Reason   string `json:"reason"`
		Message  string `json:"message"`
		Count    int64  `json:"count"`
		Metadata struct {
			UID string `json:"uid"`
		} `json:"metadata"`
		Source struct {
			Host      string `json:"host"`
			Component string `json:"component"`
		} `json:"source"`
		ReportingComponent string `json:"reportingComponent"`
	} `json:"jsonPayload"`
}

// ParseEntries decodes a log dump: a JSON array of LogEntry (gcloud logging
// read --format=json) or a ListLogEntries response ({"entries": […]}).
// name is used in messages. A file that another flag takes (clusters, a
// kubectl dump, a server config) gets one line saying which.
func ParseEntries(name string, data []byte) ([]Entry, error) {
	raw, obj, err := scanner.SplitList(name, data, "entries", "log entries")
	switch {
	case errors.Is(err, scanner.ErrListShape):
		return nil, fmt.Errorf("%s: wrong shape: want a JSON array of log entries or {\"entries\": [...]}", name)
	case err != nil:
		// NDJSON of clusters or assets: one value a line.
		if vs, verr := (&scanner.File{Name: name, Data: data}).Values(); verr == nil && len(vs) > 1 {
			if err := scanner.KindOf(vs[0].Raw).WrongFlag(name, "--logs"); err != nil {
				return nil, err
			}
		}
		return nil, err
	case obj != nil && (len(obj) == 0 || obj["nextPageToken"] != nil):
		return nil, nil // an empty ListLogEntries response
	case obj != nil:
		if err := scanner.KindOf(data).WrongFlag(name, "--logs"); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: wrong shape: want a JSON array of log entries or {\"entries\": [...]}", name)
	case len(raw) > 0:
		if err := scanner.KindOf(raw[0]).WrongFlag(name, "--logs"); err != nil {
			return nil, err
		}
	}
	out := make([]Entry, 0, len(raw))
	var errs []error
	for i, r := range raw {
		var le logEntry
		if err := json.Unmarshal(r, &le); err != nil {
			errs = append(errs, fmt.Errorf("%s: entry %d: not a log entry: %v", name, i, err))
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, le.Timestamp)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: entry %d: timestamp %q is not RFC 3339", name, i, le.Timestamp))
			continue
		}
		e := Entry{
			InsertID:     le.InsertID,
			Timestamp:    ts,
			ResourceType: le.Resource.Type,
			ProjectID:    le.Resource.Labels["project_id"],
			Location:     le.Resource.Labels["location"],
			Cluster:      le.Resource.Labels["cluster_name"],
			TextPayload:  le.TextPayload,
		}
		if p := le.JSONPayload; p != nil {
			e.Reason, e.Message, e.Count = p.Reason, p.Message, p.Count
			e.UID, e.Node = p.Metadata.UID, p.Source.Host
			e.Component, e.ReportingComponent = p.Source.Component, p.ReportingComponent
		}
		e.containerFields(le.Resource.Labels, le.Labels)
		out = append(out, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadFiles reads every log file and reports every problem at once.
func ReadFiles(paths []string) ([]Entry, error) {
	var all []Entry
	var errs []error
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("log input: %w", err))
			continue
		}
		es, err := ParseEntries(p, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, es...)
	}
	return all, errors.Join(errs...)
}

// Entries is an evidence source over log entries already read, such as a
// log file's. Entries of clusters outside the scan stay in the aggregate,
// and the scan counts them as unmatched.
type Entries []Entry

// Observe aggregates the entries of the query's window: its symptoms'
// events and its agents' start-up lines.
func (es Entries) Observe(ctx context.Context, q scanner.EvidenceQuery, _ func(scanner.ScanError)) ([]scanner.Observation, error) {
	agg := NewQueryAggregator(q)
	for _, e := range es {
		agg.Add(e)
	}
	return agg.Observations(func(s *catalog.Symptom) string { return Filter(s, q.Since, q.Until) }), ctx.Err()
}
