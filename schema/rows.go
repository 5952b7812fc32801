// Package schema defines fleetscan's BigQuery tables, views and Looker
// model. The scanner's records (scanner.Finding, scanner.ClusterRecord,
// scanner.ScanError) and ScanRow here are the source of truth: the JSON schema files under
// tables/ (read by Terraform and bq) are generated from them and
// golden-tested, and the NDJSON files of --out-dir are the same rows.
package schema

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetscan/fleetscan/scanner"
)

// ScanRow is one row of the scans table: one scan, or one shard of it.
type ScanRow struct {
	ScanID              string    `bigquery:"scan_id" json:"scan_id"`
	Scope               string    `bigquery:"scope" json:"scope"`
	OrganizationID      string    `bigquery:"organization_id" json:"organization_id"`
	Shard               int64     `bigquery:"shard" json:"shard"`
	Shards              int64     `bigquery:"shards" json:"shards"`
	Status              string    `bigquery:"status" json:"status"`
	StartedAt           time.Time `bigquery:"started_at" json:"started_at"`
	FinishedAt          time.Time `bigquery:"finished_at" json:"finished_at"`
	CatalogVersion      string    `bigquery:"catalog_version" json:"catalog_version"`
	Lookback            string    `bigquery:"lookback" json:"lookback"`
	Projects            int64     `bigquery:"projects" json:"projects"`
	ProjectsFailed      int64     `bigquery:"projects_failed" json:"projects_failed"`
	Clusters            int64     `bigquery:"clusters" json:"clusters"`
	DataplaneV2Clusters int64     `bigquery:"dataplane_v2_clusters" json:"dataplane_v2_clusters"`
	Findings            int64     `bigquery:"findings" json:"findings"`
	Affected            int64     `bigquery:"affected" json:"affected"`
	Observed            int64     `bigquery:"observed" json:"observed"`
	Unknown             int64     `bigquery:"unknown" json:"unknown"`
	SkippedChecks       int64     `bigquery:"skipped_checks" json:"skipped_checks"`
	Errors              int64     `bigquery:"errors" json:"errors"`
	LogEvents           int64     `bigquery:"log_events" json:"log_events"`
	LogEventsUnmatched  int64     `bigquery:"log_events_unmatched" json:"log_events_unmatched"`
	// KubernetesCalls are the in-cluster checks' calls by type.
	KubernetesCalls []scanner.CallCount `bigquery:"kubernetes_calls" json:"kubernetes_calls"`
}

// Scan statuses.
const (
	StatusPlanned            = "PLANNED" // a shard of a fanned-out scan, published but not yet scanned
	StatusComplete           = "COMPLETE"
	StatusCompleteWithErrors = "COMPLETE_WITH_ERRORS"
)

// Rows is a scan as rows of every table. Clusters, findings and scan
// errors are the scanner's own records.
type Rows struct {
	Scans      []ScanRow
	Clusters   []scanner.ClusterRecord
	Findings   []scanner.Finding
	ScanErrors []scanner.ScanError
}

// FromResult turns a finished scan (or shard) into rows.
func FromResult(res *scanner.Result) Rows {
	s := res.Summary
	status := StatusComplete
	if s.Errors > 0 {
		status = StatusCompleteWithErrors
	}
	rows := Rows{Scans: []ScanRow{{
		ScanID: res.ScanID, Scope: res.Scope, OrganizationID: res.OrganizationID,
		Shard: int64(res.Shard), Shards: int64(max(res.Shards, 1)), Status: status,
		StartedAt: res.StartedAt, FinishedAt: res.FinishedAt,
		CatalogVersion: res.CatalogVersion, Lookback: res.Lookback.String(),
		Projects: int64(s.Projects), ProjectsFailed: int64(s.ProjectsFailed),
		Clusters: int64(s.Clusters), DataplaneV2Clusters: int64(s.DataplaneV2),
		Findings: int64(s.Findings), Affected: int64(s.ByStatus[scanner.Affected]),
		Observed: int64(s.ByStatus[scanner.Observed]), Unknown: int64(s.ByStatus[scanner.Unknown]),
		SkippedChecks: int64(s.SkippedChecks), Errors: int64(s.Errors),
		LogEvents: int64(s.LogEvents), LogEventsUnmatched: int64(s.UnmatchedEvents),
		KubernetesCalls: res.KubernetesCalls,
	}}, Clusters: res.Clusters, Findings: res.Findings, ScanErrors: res.Errors}
	return rows
}

// WriteNDJSON writes one TABLE.ndjson file per table into dir, creating it;
// each loads with bq load --source_format=NEWLINE_DELIMITED_JSON and the
// schema file of tables/. It returns the paths written.
func WriteNDJSON(dir string, rows Rows) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("out dir: %w", err)
	}
	paths := []string{
		filepath.Join(dir, TableScans+".ndjson"),
		filepath.Join(dir, TableClusters+".ndjson"),
		filepath.Join(dir, TableFindings+".ndjson"),
		filepath.Join(dir, TableScanErrors+".ndjson"),
	}
	err := errors.Join(
		writeLines(paths[0], rows.Scans),
		writeLines(paths[1], rows.Clusters),
		writeLines(paths[2], rows.Findings),
		writeLines(paths[3], rows.ScanErrors),
	)
	return paths, err
}

// writeLines writes one JSON object per line.
func writeLines[T any](path string, rows []T) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("out dir: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w) // Encode ends each value with a newline
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
