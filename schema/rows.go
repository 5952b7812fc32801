// Package schema defines fleetscan's BigQuery tables: the Go row types are
// the source of truth, and NDJSON files of them load with `bq load`.
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

// Table names.
const (
	TableScans      = "scans"
	TableClusters   = "clusters"
	TableFindings   = "findings"
	TableScanErrors = "scan_errors"
)

// ScanRow is one row of the scans table: one scan, or one shard of it.
type ScanRow struct {
	ScanID              string    `json:"scan_id"`
	Scope               string    `json:"scope"`
	Status              string    `json:"status"`
	StartedAt           time.Time `json:"started_at"`
	FinishedAt          time.Time `json:"finished_at"`
	CatalogVersion      string    `json:"catalog_version"`
	Lookback            string    `json:"lookback"`
	Projects            int       `json:"projects"`
	Clusters            int       `json:"clusters"`
	DataplaneV2Clusters int       `json:"dataplane_v2_clusters"`
	Findings            int       `json:"findings"`
	Errors              int       `json:"errors"`
	ProjectsFailed      int       `json:"projects_failed"`
	LogEvents           int       `json:"log_events"`
	LogEventsUnmatched  int       `json:"log_events_unmatched"`
}

// ClusterRow is one row of the clusters table: a cluster as one scan saw it.
type ClusterRow struct {
	ScanID    string    `json:"scan_id"`
	ScannedAt time.Time `json:"scanned_at"`
	scanner.ClusterRecord
}

// FindingRow is one row of the findings table.
type FindingRow = scanner.Finding

// ScanErrorRow is one row of the scan_errors table.
type ScanErrorRow struct {
	ScanID    string    `json:"scan_id"`
	ScannedAt time.Time `json:"scanned_at"`
	scanner.ScanError
}

// Rows is a scan as rows of every table.
type Rows struct {
	Scans      []ScanRow
	Clusters   []ClusterRow
	Findings   []FindingRow
	ScanErrors []ScanErrorRow
}

// FromResult turns a finished scan into rows.
func FromResult(res *scanner.Result) Rows {
	s := res.Summary
	status := "COMPLETE"
	if s.Errors > 0 {
		status = "COMPLETE_WITH_ERRORS"
	}
	rows := Rows{
		Scans: []ScanRow{{
			ScanID: res.ScanID, Scope: res.Scope, Status: status,
			StartedAt: res.StartedAt, FinishedAt: res.FinishedAt,
			CatalogVersion: res.CatalogVersion, Lookback: res.Lookback,
			Projects: s.Projects, Clusters: s.Clusters, DataplaneV2Clusters: s.DataplaneV2,
			Findings: s.Findings, Errors: s.Errors, ProjectsFailed: s.ProjectsFailed,
			LogEvents: s.LogEvents, LogEventsUnmatched: s.UnmatchedEvents,
		}},
		Findings: res.Findings,
	}
	for _, c := range res.Clusters {
		rows.Clusters = append(rows.Clusters, ClusterRow{ScanID: res.ScanID, ScannedAt: res.StartedAt, ClusterRecord: c})
	}
	for _, e := range res.Errors {
		rows.ScanErrors = append(rows.ScanErrors, ScanErrorRow{ScanID: res.ScanID, ScannedAt: res.StartedAt, ScanError: e})
	}
	return rows
}

// WriteNDJSON writes one TABLE.ndjson file per table into dir, creating it;
// each file loads with bq load --source_format=NEWLINE_DELIMITED_JSON.
// It returns the paths written.
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
