// Package schema defines fleetscan's BigQuery tables, views and Looker
// model. The Go row types here are the source of truth: the JSON schema
// files under tables/ (read by Terraform and bq) are generated from them and
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

	"cloud.google.com/go/bigquery"

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
}

// Scan statuses.
const (
	StatusPlanned            = "PLANNED" // a shard of a fanned-out scan, published but not yet scanned
	StatusComplete           = "COMPLETE"
	StatusCompleteWithErrors = "COMPLETE_WITH_ERRORS"
)

// ClusterRow is one row of the clusters table: a cluster as one scan saw it,
// the denominator of every report.
type ClusterRow struct {
	ScanID           string    `bigquery:"scan_id" json:"scan_id"`
	ScannedAt        time.Time `bigquery:"scanned_at" json:"scanned_at"`
	OrganizationID   string    `bigquery:"organization_id" json:"organization_id"`
	ProjectID        string    `bigquery:"project_id" json:"project_id"`
	Location         string    `bigquery:"location" json:"location"`
	Cluster          string    `bigquery:"cluster" json:"cluster"`
	ClusterID        string    `bigquery:"cluster_id" json:"cluster_id"`
	ClusterStatus    string    `bigquery:"cluster_status" json:"cluster_status"`
	MasterVersion    string    `bigquery:"master_version" json:"master_version"`
	NodeVersion      string    `bigquery:"node_version" json:"node_version"`
	InitialVersion   string    `bigquery:"initial_version" json:"initial_version"`
	ReleaseChannel   string    `bigquery:"release_channel" json:"release_channel"`
	DatapathProvider string    `bigquery:"datapath_provider" json:"datapath_provider"`
	DataplaneV2      bool      `bigquery:"dataplane_v2" json:"dataplane_v2"`
	Autopilot        bool      `bigquery:"autopilot" json:"autopilot"`
	VPCNative        bool      `bigquery:"vpc_native" json:"vpc_native"`
	NodePools        []PoolRow `bigquery:"node_pools" json:"node_pools"`
	SkippedChecks    []string  `bigquery:"skipped_checks" json:"skipped_checks"`
}

// PoolRow is a node pool of a ClusterRow.
type PoolRow struct {
	Name      string `bigquery:"name" json:"name"`
	Version   string `bigquery:"version" json:"version"`
	ImageType string `bigquery:"image_type" json:"image_type"`
}

// FindingRow is one row of the findings table; its fields are the finding
// contract.
type FindingRow struct {
	ScanID         string        `bigquery:"scan_id" json:"scan_id"`
	ScannedAt      time.Time     `bigquery:"scanned_at" json:"scanned_at"`
	FindingKey     string        `bigquery:"finding_key" json:"finding_key"`
	OrganizationID string        `bigquery:"organization_id" json:"organization_id"`
	ProjectID      string        `bigquery:"project_id" json:"project_id"`
	Location       string        `bigquery:"location" json:"location"`
	Cluster        string        `bigquery:"cluster" json:"cluster"`
	ClusterID      string        `bigquery:"cluster_id" json:"cluster_id"`
	NodePool       string        `bigquery:"node_pool" json:"node_pool"`
	IssueID        string        `bigquery:"issue_id" json:"issue_id"`
	Title          string        `bigquery:"title" json:"title"`
	Severity       string        `bigquery:"severity" json:"severity"`
	Status         string        `bigquery:"status" json:"status"`
	Component      string        `bigquery:"component" json:"component"`
	Version        string        `bigquery:"version" json:"version"`
	FixedIn        string        `bigquery:"fixed_in" json:"fixed_in"`
	Reason         string        `bigquery:"reason" json:"reason"`
	Remediation    string        `bigquery:"remediation" json:"remediation"`
	DocsURL        string        `bigquery:"docs_url" json:"docs_url"`
	CatalogVersion string        `bigquery:"catalog_version" json:"catalog_version"`
	Evidence       []EvidenceRow `bigquery:"evidence" json:"evidence"`
}

// EvidenceRow is one evidence record of a finding.
type EvidenceRow struct {
	Source    string                 `bigquery:"source" json:"source"`
	Summary   string                 `bigquery:"summary" json:"summary"`
	Count     int64                  `bigquery:"count" json:"count"`
	FirstSeen bigquery.NullTimestamp `bigquery:"first_seen" json:"first_seen"`
	LastSeen  bigquery.NullTimestamp `bigquery:"last_seen" json:"last_seen"`
	Nodes     []string               `bigquery:"nodes" json:"nodes"`
	Sample    string                 `bigquery:"sample" json:"sample"`
	Query     string                 `bigquery:"query" json:"query"`
}

// ScanErrorRow is one row of the scan_errors table.
type ScanErrorRow struct {
	ScanID    string    `bigquery:"scan_id" json:"scan_id"`
	ScannedAt time.Time `bigquery:"scanned_at" json:"scanned_at"`
	ProjectID string    `bigquery:"project_id" json:"project_id"`
	Resource  string    `bigquery:"resource" json:"resource"`
	API       string    `bigquery:"api" json:"api"`
	Code      string    `bigquery:"code" json:"code"`
	Message   string    `bigquery:"message" json:"message"`
}

// Rows is a scan as rows of every table.
type Rows struct {
	Scans      []ScanRow
	Clusters   []ClusterRow
	Findings   []FindingRow
	ScanErrors []ScanErrorRow
}

// FromResult turns a finished scan (or shard) into rows.
func FromResult(res *scanner.Result, organizationID string, shard, shards int) Rows {
	s := res.Summary
	status := StatusComplete
	if s.Errors > 0 {
		status = StatusCompleteWithErrors
	}
	rows := Rows{Scans: []ScanRow{{
		ScanID: res.ScanID, Scope: res.Scope, OrganizationID: organizationID,
		Shard: int64(shard), Shards: int64(max(shards, 1)), Status: status,
		StartedAt: res.StartedAt, FinishedAt: res.FinishedAt,
		CatalogVersion: res.CatalogVersion, Lookback: res.Lookback,
		Projects: int64(s.Projects), ProjectsFailed: int64(s.ProjectsFailed),
		Clusters: int64(s.Clusters), DataplaneV2Clusters: int64(s.DataplaneV2),
		Findings: int64(s.Findings), Affected: int64(s.ByStatus[scanner.Affected]),
		Observed: int64(s.ByStatus[scanner.Observed]), Unknown: int64(s.ByStatus[scanner.Unknown]),
		SkippedChecks: int64(s.SkippedChecks), Errors: int64(s.Errors),
		LogEvents: int64(s.LogEvents), LogEventsUnmatched: int64(s.UnmatchedEvents),
	}}}
	for _, c := range res.Clusters {
		pools := make([]PoolRow, len(c.NodePools))
		for i, p := range c.NodePools {
			pools[i] = PoolRow(p)
		}
		rows.Clusters = append(rows.Clusters, ClusterRow{
			ScanID: res.ScanID, ScannedAt: res.StartedAt, OrganizationID: organizationID,
			ProjectID: c.ProjectID, Location: c.Location, Cluster: c.Name, ClusterID: c.ID,
			ClusterStatus: c.Status, MasterVersion: c.MasterVersion, NodeVersion: c.NodeVersion,
			InitialVersion: c.InitialVersion, ReleaseChannel: c.ReleaseChannel,
			DatapathProvider: c.Datapath, DataplaneV2: c.DataplaneV2(), Autopilot: c.Autopilot, VPCNative: c.VPCNative,
			NodePools: pools, SkippedChecks: nonNil(c.SkippedChecks),
		})
	}
	for _, f := range res.Findings {
		ev := make([]EvidenceRow, len(f.Evidence))
		for i, e := range f.Evidence {
			ev[i] = EvidenceRow{Source: e.Source, Summary: e.Summary, Count: e.Count,
				FirstSeen: nullTime(e.FirstSeen), LastSeen: nullTime(e.LastSeen),
				Nodes: nonNil(e.Nodes), Sample: e.Sample, Query: e.Query}
		}
		rows.Findings = append(rows.Findings, FindingRow{
			ScanID: f.ScanID, ScannedAt: f.ScannedAt, FindingKey: f.FindingKey, OrganizationID: f.OrganizationID,
			ProjectID: f.ProjectID, Location: f.Location, Cluster: f.Cluster, ClusterID: f.ClusterID,
			NodePool: f.NodePool, IssueID: f.IssueID, Title: f.Title, Severity: f.Severity, Status: string(f.Status),
			Component: f.Component, Version: f.Version, FixedIn: f.FixedIn, Reason: f.Reason,
			Remediation: f.Remediation, DocsURL: f.DocsURL, CatalogVersion: f.CatalogVersion, Evidence: ev,
		})
	}
	for _, e := range res.Errors {
		rows.ScanErrors = append(rows.ScanErrors, ScanErrorRow{ScanID: res.ScanID, ScannedAt: res.StartedAt,
			ProjectID: e.ProjectID, Resource: e.Resource, API: e.API, Code: e.Code, Message: e.Message})
	}
	return rows
}

func nullTime(t *time.Time) bigquery.NullTimestamp {
	if t == nil {
		return bigquery.NullTimestamp{}
	}
	return bigquery.NullTimestamp{Timestamp: t.UTC(), Valid: true}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
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
