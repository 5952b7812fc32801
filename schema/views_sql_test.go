package schema

import (
	"database/sql"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fleetscan/fleetscan/scanner"
)

// The views of views/*.sql run on DuckDB (duckdb_test.go) over rows made by
// FromResult from hand-built scans, and each view must return each key once
// with the values worked out by hand below: under Pub/Sub redelivery (one
// scan written three times, another written once in part and then in full),
// across a later scan that resolves, changes and adds findings and drops a
// cluster, and next to fan-outs that never completed.

const orgScope, orgID = "organizations/123456789012", "123456789012"

var issueTitles = map[string]string{
	"DPV2-IPAM-LEAK":              "IP addresses leak on Dataplane V2 nodes",
	"DPV2-HAIRPIN-CONNTRACK-LEAK": "Hairpin traffic leaks conntrack entries",
	"DPV2-NETPOL-CONNTRACK-SELF":  "NetworkPolicy drops a Pod's traffic to itself",
	"GKE-END-OF-SUPPORT":          "GKE minor version at or past end of support",
}

// orgOf is the organization_id of a scope's rows.
func orgOf(scope string) string {
	if scope == orgScope {
		return orgID
	}
	return ""
}

// A scan being built: its Result, from which FromResult makes the rows.
type scanBuild struct{ res *scanner.Result }

func newScan(scanID, scope string, started time.Time) *scanBuild {
	return &scanBuild{res: &scanner.Result{
		ScanID: scanID, Scope: scope, StartedAt: started, FinishedAt: started.Add(4 * time.Minute),
		CatalogVersion: "cat-1", Lookback: scanner.Duration(168 * time.Hour),
	}}
}

// cluster adds c as Scan records it: stamped with the scan, DataplaneV2
// derived, no nil lists.
func (b *scanBuild) cluster(c scanner.ClusterRecord) *scanBuild {
	c.ScanID, c.ScannedAt, c.OrganizationID = b.res.ScanID, b.res.StartedAt, orgOf(b.res.Scope)
	c.DataplaneV2 = c.Cluster.DataplaneV2()
	if c.NodePools == nil {
		c.NodePools = []scanner.Pool{}
	}
	if c.SkippedChecks == nil {
		c.SkippedChecks = []string{}
	}
	if c.UpgradeSteps == nil {
		c.UpgradeSteps = []string{}
	}
	b.res.Clusters = append(b.res.Clusters, c)
	return b
}

// finding adds a finding of cluster c (of nodePool, or cluster-level when
// nodePool is ""), with container_api evidence and any more evidence given.
func (b *scanBuild) finding(c scanner.ClusterRecord, nodePool, issue, severity string, status scanner.Status, ev ...scanner.Evidence) *scanBuild {
	component, version := "control_plane", c.MasterVersion
	if nodePool != "" {
		component = "node_pool"
		for _, p := range c.NodePools {
			if p.Name == nodePool {
				version = p.Version
			}
		}
	}
	b.res.Findings = append(b.res.Findings, scanner.Finding{
		ScanID: b.res.ScanID, ScannedAt: b.res.StartedAt, FindingKey: scanner.FindingKey(c.ProjectID, c.Location, c.Name, nodePool, issue),
		OrganizationID: orgOf(b.res.Scope), ProjectID: c.ProjectID, Location: c.Location, Cluster: c.Name, ClusterID: c.ID,
		NodePool: nodePool, IssueID: issue, Title: issueTitles[issue], Severity: severity, Status: status,
		Component: component, Version: version, FixedIn: "1.28.3-gke.1090000",
		Reason:      "The " + component + " runs " + version + ", below the fix.",
		Remediation: "Upgrade to 1.28.3-gke.1090000 or later.", DocsURL: "https://cloud.google.com/kubernetes-engine/docs/how-to/dataplane-v2",
		CatalogVersion: b.res.CatalogVersion,
		Evidence:       append([]scanner.Evidence{{Source: "container_api", Summary: component + " version " + version, Count: 1, Nodes: []string{}}}, ev...),
	})
	return b
}

// catalog sets the catalog version of the findings added after it.
func (b *scanBuild) catalog(version string) *scanBuild {
	b.res.CatalogVersion = version
	return b
}

// retitle gives the findings of issue so far another title, as a new
// catalog version would.
func (b *scanBuild) retitle(issue, title string) *scanBuild {
	for i := range b.res.Findings {
		if b.res.Findings[i].IssueID == issue {
			b.res.Findings[i].Title = title
		}
	}
	return b
}

func (b *scanBuild) failed(e scanner.ScanError) *scanBuild {
	b.res.Errors = append(b.res.Errors, e)
	return b
}

// rows are the scan's rows as shard of shards, its summary counted first.
func (b *scanBuild) rows(shard, shards int) Rows {
	r := b.res
	s := scanner.Summary{Clusters: len(r.Clusters), Findings: len(r.Findings), Errors: len(r.Errors), ByStatus: map[scanner.Status]int{}}
	projects, failed := map[string]bool{}, map[string]bool{}
	for _, c := range r.Clusters {
		projects[c.ProjectID] = true
		if c.DataplaneV2 {
			s.DataplaneV2++
		}
		s.SkippedChecks += len(c.SkippedChecks)
	}
	for _, f := range r.Findings {
		s.ByStatus[f.Status]++
	}
	for _, e := range r.Errors {
		failed[e.ProjectID] = true
	}
	s.Projects, s.ProjectsFailed = len(projects), len(failed)
	r.Summary = s
	r.OrganizationID, r.Shard, r.Shards = orgOf(r.Scope), shard, shards
	return FromResult(r)
}

// plannedRows are the scans rows a fan-out writes before publishing its shards
// (function.fanOut): status PLANNED, one per shard.
func plannedRows(scanID, scope string, started time.Time, shards int) Rows {
	var out Rows
	for i := range shards {
		out.Scans = append(out.Scans, ScanRow{ScanID: scanID, Scope: scope, OrganizationID: orgOf(scope), Shard: int64(i), Shards: int64(shards),
			Status: StatusPlanned, StartedAt: started, FinishedAt: started, Lookback: "168h0m0s", Projects: 10})
	}
	return out
}

// np is a node pool.
func np(name, version string) scanner.Pool {
	return scanner.Pool{Name: name, Version: version, ImageType: "COS_CONTAINERD"}
}

func gkeCluster(project, location, name, master, datapath string, pools ...scanner.Pool) scanner.ClusterRecord {
	c := scanner.ClusterRecord{Cluster: scanner.Cluster{
		ProjectID: project, Location: location, Name: name, ID: "id-" + name, Status: "RUNNING",
		SelfLink:      "https://container.googleapis.com/v1/projects/" + project + "/locations/" + location + "/clusters/" + name,
		MasterVersion: master, NodeVersion: master, InitialVersion: master, ReleaseChannel: "REGULAR",
		Datapath: datapath, VPCNative: true, NodePools: pools,
	}}
	if datapath == "ADVANCED_DATAPATH" {
		c.SkippedChecks = []string{"DPV2-NETPOL-ENDPORT", "DPV2-NODEPORT-EPHEMERAL"}
	}
	if len(pools) > 0 {
		c.NodeVersion = pools[0].Version
	}
	return c
}

// Expected rows of the views, by their columns.
type (
	completeScanRow struct {
		ScanID         string    `json:"scan_id"`
		Scope          string    `json:"scope"`
		OrganizationID string    `json:"organization_id"`
		StartedAt      time.Time `json:"started_at"`
		FinishedAt     time.Time `json:"finished_at"`
		Shards         int64     `json:"shards"`
	}
	latestScanRow struct {
		Scope          string    `json:"scope"`
		ScanID         string    `json:"scan_id"`
		OrganizationID string    `json:"organization_id"`
		StartedAt      time.Time `json:"started_at"`
		FinishedAt     time.Time `json:"finished_at"`
	}
	latestFindingRow struct {
		Scope string `json:"scope"`
		scanner.Finding
	}
	latestClusterRow struct {
		Scope string `json:"scope"`
		scanner.ClusterRecord
	}
	fleetSummaryRow struct {
		Scope               string   `json:"scope"`
		IssueID             *string  `json:"issue_id"`
		Title               *string  `json:"title"`
		Severity            *string  `json:"severity"`
		Status              *string  `json:"status"`
		AffectedClusters    int64    `json:"affected_clusters"`
		AffectedNodePools   int64    `json:"affected_node_pools"`
		ClustersScanned     int64    `json:"clusters_scanned"`
		DataplaneV2Clusters int64    `json:"dataplane_v2_clusters"`
		AffectedShare       *float64 `json:"affected_share"`
	}
	findingHistoryRow struct {
		FindingKey    string    `json:"finding_key"`
		Scope         string    `json:"scope"`
		IssueID       string    `json:"issue_id"`
		Title         string    `json:"title"`
		ProjectID     string    `json:"project_id"`
		Location      string    `json:"location"`
		Cluster       string    `json:"cluster"`
		NodePool      string    `json:"node_pool"`
		Severity      string    `json:"severity"`
		FirstSeen     time.Time `json:"first_seen"`
		LastSeen      time.Time `json:"last_seen"`
		ScansSeen     int64     `json:"scans_seen"`
		CurrentStatus string    `json:"current_status"`
	}
)

func ptr[T any](v T) *T { return &v }

// summaryRow is a fleet_summary row of an issue; share is affected/scanned.
func summaryRow(scope, issue, severity, status string, clusters, pools, scanned, dpv2 int64) fleetSummaryRow {
	return fleetSummaryRow{Scope: scope, IssueID: ptr(issue), Title: ptr(issueTitles[issue]), Severity: ptr(severity), Status: ptr(status),
		AffectedClusters: clusters, AffectedNodePools: pools, ClustersScanned: scanned, DataplaneV2Clusters: dpv2,
		AffectedShare: ptr(float64(clusters) / float64(scanned))}
}

func retitled(r fleetSummaryRow, title string) fleetSummaryRow {
	r.Title = &title
	return r
}

func historyTitled(r findingHistoryRow, title string) findingHistoryRow {
	r.Title = title
	return r
}

// historyRow is a finding_history row.
func historyRow(scope string, c scanner.ClusterRecord, nodePool, issue, severity string, first, last time.Time, scans int64, current string) findingHistoryRow {
	return findingHistoryRow{FindingKey: scanner.FindingKey(c.ProjectID, c.Location, c.Name, nodePool, issue), Scope: scope,
		IssueID: issue, Title: issueTitles[issue], ProjectID: c.ProjectID, Location: c.Location, Cluster: c.Name, NodePool: nodePool,
		Severity: severity, FirstSeen: first, LastSeen: last, ScansSeen: scans, CurrentStatus: current}
}

func withScope[R any, T any](scope string, rows []R, wrap func(string, R) T) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = wrap(scope, r)
	}
	return out
}

func findingsOf(scope string, rs ...Rows) []latestFindingRow {
	var out []latestFindingRow
	for _, r := range rs {
		out = append(out, withScope(scope, r.Findings, func(s string, f scanner.Finding) latestFindingRow { return latestFindingRow{s, f} })...)
	}
	return out
}

func clustersOf(scope string, rs ...Rows) []latestClusterRow {
	var out []latestClusterRow
	for _, r := range rs {
		out = append(out, withScope(scope, r.Clusters, func(s string, c scanner.ClusterRecord) latestClusterRow { return latestClusterRow{s, c} })...)
	}
	return out
}

// checkView compares a view's rows with want, in any order: a row the view
// returns twice shows in the diff, and so does a NULL where a REPEATED
// column should be an empty array.
func checkView[T any](t *testing.T, db *sql.DB, view string, want []T, key func(T) string) {
	t.Helper()
	got := queryAs[T](t, db, "SELECT * FROM "+duckName(view))
	less := func(a, b T) bool { return key(a) < key(b) }
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(less)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", view, diff)
	}
	seen := map[string]int{}
	for _, r := range got {
		seen[key(r)]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%s: key %s %d times, want once", view, k, n)
		}
	}
}

func TestViewsOnDuckDB(t *testing.T) {
	db := openDuckDB(t)

	// The fleet of the organization scope.
	payments := gkeCluster("prod-a", "us-central1", "payments", "1.27.8-gke.1067004", "ADVANCED_DATAPATH",
		np("default-pool", "1.25.10-gke.2700"), np("spot", "1.25.10-gke.2700"), np("highmem", "1.25.10-gke.2700"))
	batch := gkeCluster("prod-a", "europe-west1-b", "batch", "1.26.5-gke.1200", "", np("default-pool", "1.26.5-gke.1200"))
	web := gkeCluster("prod-b", "us-east1", "web", "1.27.3-gke.100", "ADVANCED_DATAPATH") // Autopilot, no nodes
	web.Autopilot = true
	legacyAPI := gkeCluster("prod-b", "us-east1-c", "legacy-api", "1.30.5-gke.1014001", "", np("default-pool", "1.30.5-gke.1014001"))

	tA := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	first, last := tA.Add(-36*time.Hour), tA.Add(-2*time.Hour)
	logs := scanner.Evidence{Source: "cloud_logging", Summary: "42 FailedCreatePodSandBox events: no IP addresses available in range set",
		Count: 42, FirstSeen: &first, LastSeen: &last, Nodes: []string{"gke-payments-default-pool-1a2b", "gke-payments-default-pool-3c4d"},
		Sample: "Failed to create pod sandbox: no IP addresses available in range set: 10.8.0.1-10.8.0.254",
		Query:  `resource.type="k8s_node" AND jsonPayload.reason="FailedCreatePodSandBox"`}

	// Scan A of the organization: every kind of finding and a project it could not read.
	scanA := newScan("20260301T060000Z-a0a0a0", orgScope, tA).
		cluster(payments).cluster(batch).cluster(web).cluster(legacyAPI).
		finding(payments, "default-pool", "DPV2-IPAM-LEAK", "HIGH", scanner.Observed, logs).
		finding(payments, "spot", "DPV2-IPAM-LEAK", "HIGH", scanner.Affected).
		finding(payments, "highmem", "DPV2-IPAM-LEAK", "HIGH", scanner.Affected).
		finding(payments, "", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", scanner.Affected).
		finding(web, "", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", scanner.Affected).
		finding(web, "", "GKE-END-OF-SUPPORT", "MEDIUM", scanner.Unknown).
		finding(batch, "", "GKE-END-OF-SUPPORT", "MEDIUM", scanner.Affected).
		failed(scanner.ScanError{ProjectID: "prod-c", Resource: "projects/prod-c", API: "container", Code: "PERMISSION_DENIED",
			Message: "Required \"container.clusters.list\" permission(s) for \"projects/prod-c\"."}).
		rows(0, 1)
	if got := scanA.Scans[0].Status; got != StatusCompleteWithErrors {
		t.Fatalf("scan A status = %s, want %s", got, StatusCompleteWithErrors)
	}
	for range 3 { // delivered three times; insertAll's best-effort de-duplication kept none of the copies out
		insertAll(t, db, scanA)
	}

	// A project scope scanned twice in the same second: the tie goes to the
	// greater scan ID (latest_scans.sql), whose scan found nothing.
	tS := tA.Add(time.Hour)
	dev := gkeCluster("sandbox-1", "us-west1", "dev", "1.28.1-gke.1000", "ADVANCED_DATAPATH", np("default-pool", "1.28.1-gke.1000"))
	dev2 := gkeCluster("sandbox-1", "us-west1", "dev-2", "1.29.1-gke.1000", "", np("default-pool", "1.29.1-gke.1000")) // same project and location
	scanS1 := newScan("20260301T070000Z-000001", "projects/sandbox-1", tS).cluster(dev).cluster(dev2).
		finding(dev, "", "DPV2-NETPOL-CONNTRACK-SELF", "HIGH", scanner.Affected).rows(0, 1)
	scanS2 := newScan("20260301T070000Z-000002", "projects/sandbox-1", tS).cluster(dev).cluster(dev2).rows(0, 1)
	insertAll(t, db, scanS2)
	insertAll(t, db, scanS1)

	// A folder scanned in two shards: planned, then shard 1 (written twice), then shard 0.
	tF := tA.Add(2 * time.Hour)
	api := gkeCluster("team-x", "us-central1", "api", "1.29.4-gke.1043002", "", np("default-pool", "1.29.4-gke.1043002"))
	jobs := gkeCluster("team-y", "us-central1", "jobs", "1.31.1-gke.1678000", "ADVANCED_DATAPATH", np("default-pool", "1.31.1-gke.1678000"))
	scanF0 := newScan("20260301T080000Z-f0f0f0", "folders/456", tF).cluster(api).
		finding(api, "default-pool", "GKE-END-OF-SUPPORT", "MEDIUM", scanner.Affected).rows(0, 2)
	scanF1 := newScan("20260301T080000Z-f0f0f0", "folders/456", tF).cluster(jobs).rows(1, 2)
	scanF1.Scans[0].FinishedAt = tF.Add(9 * time.Minute)
	insertAll(t, db, plannedRows("20260301T080000Z-f0f0f0", "folders/456", tF, 2))
	insertAll(t, db, scanF1)
	insertAll(t, db, scanF1)
	t.Run("fan-out half done", func(t *testing.T) {
		checkView(t, db, "latest_scans", []latestScanRow{
			{orgScope, "20260301T060000Z-a0a0a0", orgID, tA, tA.Add(4 * time.Minute)},
			{"projects/sandbox-1", "20260301T070000Z-000002", "", tS, tS.Add(4 * time.Minute)},
		}, func(r latestScanRow) string { return r.Scope })
	})
	insertAll(t, db, scanF0)

	wantCompleteBase := []completeScanRow{
		{"20260301T060000Z-a0a0a0", orgScope, orgID, tA, tA.Add(4 * time.Minute), 1},
		{"20260301T070000Z-000001", "projects/sandbox-1", "", tS, tS.Add(4 * time.Minute), 1},
		{"20260301T070000Z-000002", "projects/sandbox-1", "", tS, tS.Add(4 * time.Minute), 1},
		{"20260301T080000Z-f0f0f0", "folders/456", "", tF, tF.Add(9 * time.Minute), 2}, // MAX(finished_at) of the shards
	}
	wantLatestBase := []latestScanRow{
		{"projects/sandbox-1", "20260301T070000Z-000002", "", tS, tS.Add(4 * time.Minute)},
		{"folders/456", "20260301T080000Z-f0f0f0", "", tF, tF.Add(9 * time.Minute)},
	}
	// The folder and the project scope do not change after this point.
	summaryOthers := []fleetSummaryRow{
		summaryRow("folders/456", "GKE-END-OF-SUPPORT", "MEDIUM", "AFFECTED", 1, 1, 2, 1),
		{Scope: "projects/sandbox-1", ClustersScanned: 2, DataplaneV2Clusters: 1, AffectedShare: ptr(0.0)}, // "0 of 2"
	}
	historyOthers := []findingHistoryRow{
		historyRow("projects/sandbox-1", dev, "", "DPV2-NETPOL-CONNTRACK-SELF", "HIGH", tS, tS, 1, "RESOLVED"),
		historyRow("folders/456", api, "default-pool", "GKE-END-OF-SUPPORT", "MEDIUM", tF, tF, 1, "AFFECTED"),
	}

	completeKey := func(r completeScanRow) string { return r.ScanID }
	latestKey := func(r latestScanRow) string { return r.Scope }
	findingKey := func(r latestFindingRow) string { return r.Scope + "/" + r.ScanID + "/" + r.FindingKey }
	clusterKey := func(r latestClusterRow) string {
		return r.Scope + "/" + r.ScanID + "/" + r.ProjectID + "/" + r.Location + "/" + r.Name
	}
	summaryKey := func(r fleetSummaryRow) string {
		return r.Scope + "/" + orEmpty(r.IssueID) + "/" + orEmpty(r.Severity) + "/" + orEmpty(r.Status)
	}
	historyKey := func(r findingHistoryRow) string { return r.Scope + "/" + r.FindingKey }

	t.Run("after scan A delivered three times", func(t *testing.T) {
		checkView(t, db, "complete_scans", wantCompleteBase, completeKey)
		checkView(t, db, "latest_scans", append([]latestScanRow{
			{orgScope, "20260301T060000Z-a0a0a0", orgID, tA, tA.Add(4 * time.Minute)},
		}, wantLatestBase...), latestKey)
		checkView(t, db, "latest_findings", append(findingsOf(orgScope, scanA), findingsOf("folders/456", scanF0)...), findingKey)
		if got := len(findingsOf(orgScope, scanA)); got != 7 {
			t.Fatalf("scan A has %d findings, want 7", got)
		}
		checkView(t, db, "latest_clusters", slices.Concat(clustersOf(orgScope, scanA), clustersOf("projects/sandbox-1", scanS2),
			clustersOf("folders/456", scanF0, scanF1)), clusterKey)
		// payments, batch, web, legacy-api: 4 scanned, 2 on Dataplane V2.
		checkView(t, db, "fleet_summary", append([]fleetSummaryRow{
			summaryRow(orgScope, "DPV2-IPAM-LEAK", "HIGH", "OBSERVED", 1, 1, 4, 2),
			summaryRow(orgScope, "DPV2-IPAM-LEAK", "HIGH", "AFFECTED", 1, 2, 4, 2), // spot and highmem, one cluster
			summaryRow(orgScope, "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", "AFFECTED", 2, 0, 4, 2),
			summaryRow(orgScope, "GKE-END-OF-SUPPORT", "MEDIUM", "UNKNOWN", 1, 0, 4, 2),
			summaryRow(orgScope, "GKE-END-OF-SUPPORT", "MEDIUM", "AFFECTED", 1, 0, 4, 2),
		}, summaryOthers...), summaryKey)
		checkView(t, db, "finding_history", append([]findingHistoryRow{
			historyRow(orgScope, payments, "default-pool", "DPV2-IPAM-LEAK", "HIGH", tA, tA, 1, "OBSERVED"),
			historyRow(orgScope, payments, "spot", "DPV2-IPAM-LEAK", "HIGH", tA, tA, 1, "AFFECTED"),
			historyRow(orgScope, payments, "highmem", "DPV2-IPAM-LEAK", "HIGH", tA, tA, 1, "AFFECTED"),
			historyRow(orgScope, payments, "", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", tA, tA, 1, "AFFECTED"),
			historyRow(orgScope, web, "", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", tA, tA, 1, "AFFECTED"),
			historyRow(orgScope, web, "", "GKE-END-OF-SUPPORT", "MEDIUM", tA, tA, 1, "UNKNOWN"),
			historyRow(orgScope, batch, "", "GKE-END-OF-SUPPORT", "MEDIUM", tA, tA, 1, "AFFECTED"),
		}, historyOthers...), historyKey)
	})

	// Scan B, a day later: spot was upgraded (its finding resolved), batch was
	// deleted, web's end of support is now decided and past, and web has a new
	// finding. The log evidence on default-pool goes on. A new catalog
	// version retitled GKE-END-OF-SUPPORT: the views show the latest title.
	const titleEOSv2 = "GKE minor version past end of standard support"
	tB := tA.Add(24 * time.Hour)
	paymentsB := payments
	paymentsB.NodePools = []scanner.Pool{payments.NodePools[0], np("spot", "1.25.16-gke.1041000"), payments.NodePools[2]}
	firstB, lastB := first, tB.Add(-time.Hour)
	logsB := logs
	logsB.Count, logsB.FirstSeen, logsB.LastSeen = 57, &firstB, &lastB
	logsB.Summary = "57 FailedCreatePodSandBox events: no IP addresses available in range set"
	scanB := newScan("20260302T060000Z-b0b0b0", orgScope, tB).catalog("cat-2").
		cluster(paymentsB).cluster(web).cluster(legacyAPI).
		finding(paymentsB, "default-pool", "DPV2-IPAM-LEAK", "HIGH", scanner.Observed, logsB).
		finding(paymentsB, "highmem", "DPV2-IPAM-LEAK", "HIGH", scanner.Affected).
		finding(paymentsB, "", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", scanner.Affected).
		finding(web, "", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", scanner.Affected).
		finding(web, "", "GKE-END-OF-SUPPORT", "HIGH", scanner.Affected).
		finding(web, "", "DPV2-NETPOL-CONNTRACK-SELF", "HIGH", scanner.Affected).
		retitle("GKE-END-OF-SUPPORT", titleEOSv2).
		rows(0, 1)
	if got := scanB.Scans[0].Status; got != StatusComplete {
		t.Fatalf("scan B status = %s, want %s", got, StatusComplete)
	}
	// The first delivery of B fails before its scans row (the writer writes it
	// last): B is not complete, so A stays the latest.
	insertRows(t, db, TableFindings, scanB.Findings)
	insertRows(t, db, TableClusters, scanB.Clusters)
	t.Run("scan B written in part", func(t *testing.T) {
		checkView(t, db, "latest_scans", append([]latestScanRow{
			{orgScope, "20260301T060000Z-a0a0a0", orgID, tA, tA.Add(4 * time.Minute)},
		}, wantLatestBase...), latestKey)
		checkView(t, db, "latest_findings", append(findingsOf(orgScope, scanA), findingsOf("folders/456", scanF0)...), findingKey)
	})
	insertAll(t, db, scanB) // the redelivery writes all of it

	// A team scans its own project an hour later: the same findings under a
	// second scope. Each scope keeps its own latest scan and history.
	tP := tB.Add(time.Hour)
	scanP := newScan("20260302T070000Z-e0e0e0", "projects/prod-b", tP).catalog("cat-2").
		cluster(web).cluster(legacyAPI).
		finding(web, "", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", scanner.Affected).
		finding(web, "", "GKE-END-OF-SUPPORT", "HIGH", scanner.Affected).
		finding(web, "", "DPV2-NETPOL-CONNTRACK-SELF", "HIGH", scanner.Affected).
		retitle("GKE-END-OF-SUPPORT", titleEOSv2).
		rows(0, 1)
	insertAll(t, db, scanP)

	// Later fan-outs of the organization that never completed: one with only
	// PLANNED rows, one where shard 0 of 2 was written. Neither is complete.
	tC, tD := tB.Add(24*time.Hour), tB.Add(48*time.Hour)
	insertAll(t, db, plannedRows("20260303T060000Z-c0c0c0", orgScope, tC, 3))
	insertAll(t, db, plannedRows("20260304T060000Z-d0d0d0", orgScope, tD, 2))
	insertAll(t, db, newScan("20260304T060000Z-d0d0d0", orgScope, tD).cluster(payments).
		finding(payments, "default-pool", "DPV2-IPAM-LEAK", "HIGH", scanner.Affected).
		finding(payments, "spot", "DPV2-IPAM-LEAK", "HIGH", scanner.Affected).rows(0, 2))

	t.Run("after scan B", func(t *testing.T) {
		checkView(t, db, "complete_scans", append([]completeScanRow{
			{"20260302T060000Z-b0b0b0", orgScope, orgID, tB, tB.Add(4 * time.Minute), 1},
			{"20260302T070000Z-e0e0e0", "projects/prod-b", "", tP, tP.Add(4 * time.Minute), 1},
		}, wantCompleteBase...), completeKey)
		checkView(t, db, "latest_scans", append([]latestScanRow{
			{orgScope, "20260302T060000Z-b0b0b0", orgID, tB, tB.Add(4 * time.Minute)},
			{"projects/prod-b", "20260302T070000Z-e0e0e0", "", tP, tP.Add(4 * time.Minute)},
		}, wantLatestBase...), latestKey)
		checkView(t, db, "latest_findings", slices.Concat(findingsOf(orgScope, scanB), findingsOf("folders/456", scanF0),
			findingsOf("projects/prod-b", scanP)), findingKey)
		if got := len(findingsOf(orgScope, scanB)); got != 6 {
			t.Fatalf("scan B has %d findings, want 6", got)
		}
		checkView(t, db, "latest_clusters", slices.Concat(clustersOf(orgScope, scanB), clustersOf("projects/sandbox-1", scanS2),
			clustersOf("folders/456", scanF0, scanF1), clustersOf("projects/prod-b", scanP)), clusterKey)
		// payments, web, legacy-api: 3 scanned, 2 on Dataplane V2; web, legacy-api: 2, 1.
		checkView(t, db, "fleet_summary", append([]fleetSummaryRow{
			summaryRow("projects/prod-b", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", "AFFECTED", 1, 0, 2, 1),
			retitled(summaryRow("projects/prod-b", "GKE-END-OF-SUPPORT", "HIGH", "AFFECTED", 1, 0, 2, 1), titleEOSv2),
			summaryRow("projects/prod-b", "DPV2-NETPOL-CONNTRACK-SELF", "HIGH", "AFFECTED", 1, 0, 2, 1),
			summaryRow(orgScope, "DPV2-IPAM-LEAK", "HIGH", "OBSERVED", 1, 1, 3, 2),
			summaryRow(orgScope, "DPV2-IPAM-LEAK", "HIGH", "AFFECTED", 1, 1, 3, 2),
			summaryRow(orgScope, "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", "AFFECTED", 2, 0, 3, 2),
			retitled(summaryRow(orgScope, "GKE-END-OF-SUPPORT", "HIGH", "AFFECTED", 1, 0, 3, 2), titleEOSv2),
			summaryRow(orgScope, "DPV2-NETPOL-CONNTRACK-SELF", "HIGH", "AFFECTED", 1, 0, 3, 2),
		}, summaryOthers...), summaryKey)
		checkView(t, db, "finding_history", append([]findingHistoryRow{
			historyRow(orgScope, payments, "default-pool", "DPV2-IPAM-LEAK", "HIGH", tA, tB, 2, "OBSERVED"),
			historyRow(orgScope, payments, "spot", "DPV2-IPAM-LEAK", "HIGH", tA, tA, 1, "RESOLVED"),
			historyRow(orgScope, payments, "highmem", "DPV2-IPAM-LEAK", "HIGH", tA, tB, 2, "AFFECTED"),
			historyRow(orgScope, payments, "", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", tA, tB, 2, "AFFECTED"),
			historyRow(orgScope, web, "", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", tA, tB, 2, "AFFECTED"),
			historyTitled(historyRow(orgScope, web, "", "GKE-END-OF-SUPPORT", "HIGH", tA, tB, 2, "AFFECTED"), titleEOSv2), // was UNKNOWN, MEDIUM
			historyRow(orgScope, batch, "", "GKE-END-OF-SUPPORT", "MEDIUM", tA, tA, 1, "RESOLVED"),
			historyRow(orgScope, web, "", "DPV2-NETPOL-CONNTRACK-SELF", "HIGH", tB, tB, 1, "AFFECTED"),
			historyRow("projects/prod-b", web, "", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", tP, tP, 1, "AFFECTED"),
			historyTitled(historyRow("projects/prod-b", web, "", "GKE-END-OF-SUPPORT", "HIGH", tP, tP, 1, "AFFECTED"), titleEOSv2),
			historyRow("projects/prod-b", web, "", "DPV2-NETPOL-CONNTRACK-SELF", "HIGH", tP, tP, 1, "AFFECTED"),
		}, historyOthers...), historyKey)
	})
}

// orEmpty is *s, or "" for a NULL.
func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// The output columns of every view on DuckDB are the ones looker_test.go
// keeps by hand for the LookML checks (sqlViewColumns).
func TestViewColumnsOnDuckDB(t *testing.T) {
	db := openDuckDB(t)
	for _, v := range Views() {
		t.Run(v.Name, func(t *testing.T) {
			want, ok := columnsOf(t, v.Name)
			if !ok {
				t.Fatalf("no column list for view %s in looker_test.go", v.Name)
			}
			var wantNames []string
			for n := range want {
				wantNames = append(wantNames, n)
			}
			got := columnNames(t, db, v.Name)
			if diff := cmp.Diff(wantNames, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("columns of %s (-looker_test.go +DuckDB):\n%s", v.Name, diff)
			}
		})
	}
}

// Every rewrite of the shim is used by some view, and no BigQuery-only
// syntax is left after it.
func TestDuckDBShim(t *testing.T) {
	used := map[string]bool{}
	for _, v := range Views() {
		q := v.Query(duckProject, duckDataset)
		for _, r := range duckDBRewrites {
			if r.re.MatchString(q) {
				used[r.name] = true
			}
		}
		out := duckDBSQL(q)
		for _, bad := range []*regexp.Regexp{regexp.MustCompile("`"), regexp.MustCompile(`\bSTRUCT\(`), regexp.MustCompile(`OFFSET\(`),
			regexp.MustCompile(`EXCEPT\s*\(`), regexp.MustCompile(`LIMIT 1\s*\)`)} {
			if loc := bad.FindStringIndex(out); loc != nil {
				t.Errorf("view %s: %q left after the shim: %s", v.Name, out[loc[0]:loc[1]], out)
			}
		}
	}
	for _, r := range duckDBRewrites {
		if !used[r.name] {
			t.Errorf("rewrite %q is used by no view: remove it", r.name)
		}
	}
	// The rewrites themselves.
	for in, want := range map[string]string{
		"FROM `my-project.fleetscan.scans`":                                `FROM "my-project"."fleetscan"."scans"`,
		"ARRAY_AGG(STRUCT(f.a, f.b) ORDER BY f.t DESC LIMIT 1)[OFFSET(0)]": `ARRAY_AGG(struct_pack(f.a, f.b) ORDER BY f.t DESC)[1]`,
		"SELECT * EXCEPT (dup_rank)":                                       "SELECT * EXCLUDE (dup_rank)",
	} {
		if got := duckDBSQL(in); got != want {
			t.Errorf("duckDBSQL(%q) = %q, want %q", in, got, want)
		}
	}
}

// upgradePlanRow is a row of the upgrade_plan view.
type upgradePlanRow struct {
	Scope                 string         `json:"scope"`
	ScanID                string         `json:"scan_id"`
	ProjectID             string         `json:"project_id"`
	Location              string         `json:"location"`
	Cluster               string         `json:"cluster"`
	ClusterID             string         `json:"cluster_id"`
	ReleaseChannel        string         `json:"release_channel"`
	MasterVersion         string         `json:"master_version"`
	NodeVersion           string         `json:"node_version"`
	UpgradeControlPlaneTo string         `json:"upgrade_control_plane_to"`
	NodePools             []scanner.Pool `json:"node_pools"`
	UpgradeSteps          []string       `json:"upgrade_steps"`
	UpgradeClears         int64          `json:"upgrade_clears"`
	UpgradeReason         string         `json:"upgrade_reason"`
	FindingsCleared       int64          `json:"findings_cleared"`
	MostSevere            *string        `json:"most_severe"`
}

// upgrade_plan has one row per cluster of the latest complete scan with an
// upgrade to make, once however often the scan was delivered: the plan, the
// findings it clears and the most severe of them; a cluster whose findings
// no offered version clears has its reason and no count; a cluster with
// nothing to upgrade has no row.
func TestUpgradePlanOnDuckDB(t *testing.T) {
	db := openDuckDB(t)
	payments := gkeCluster("prod-a", "us-central1", "payments", "1.27.8-gke.1067004", "ADVANCED_DATAPATH",
		np("default-pool", "1.25.10-gke.2700"), np("spot", "1.28.3-gke.1090000"))
	payments.UpgradeControlPlaneTo, payments.UpgradeClears = "1.28.3-gke.1090000", 3
	payments.UpgradeSteps = []string{"control plane to 1.28.3-gke.1090000", "node pool default-pool to 1.28.3-gke.1090000"}
	payments.NodePools[0].UpgradeTo = "1.28.3-gke.1090000"
	stuck := gkeCluster("prod-a", "us-central1", "stuck", "1.27.8-gke.1067004", "ADVANCED_DATAPATH", np("default-pool", "1.27.8-gke.1067004"))
	stuck.UpgradeReason = "No version offered in us-central1 clears every finding of the control plane."
	quiet := gkeCluster("prod-b", "us-east1", "quiet", "1.35.1-gke.100", "", np("default-pool", "1.35.1-gke.100"))

	tA := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	b := newScan("20260301T060000Z-a0a0a0", orgScope, tA).cluster(payments).cluster(stuck).cluster(quiet).
		finding(payments, "", "DPV2-HAIRPIN-CONNTRACK-LEAK", "MEDIUM", scanner.Affected).
		finding(payments, "", "DPV2-NETPOL-CONNTRACK-SELF", "HIGH", scanner.Affected).
		finding(payments, "default-pool", "DPV2-IPAM-LEAK", "HIGH", scanner.Affected).
		finding(stuck, "", "DPV2-NETPOL-CONNTRACK-SELF", "HIGH", scanner.Affected)
	for i := range b.res.Findings {
		if f := &b.res.Findings[i]; f.Cluster == "payments" {
			f.UpgradeTo = "1.28.3-gke.1090000"
		}
	}
	rows := b.rows(0, 1)
	for range 2 { // delivered twice
		insertAll(t, db, rows)
	}
	high := "HIGH"
	wantPools := []scanner.Pool{{Name: "default-pool", Version: "1.25.10-gke.2700", ImageType: "COS_CONTAINERD", UpgradeTo: "1.28.3-gke.1090000"},
		{Name: "spot", Version: "1.28.3-gke.1090000", ImageType: "COS_CONTAINERD"}}
	want := []upgradePlanRow{
		{Scope: orgScope, ScanID: "20260301T060000Z-a0a0a0", ProjectID: "prod-a", Location: "us-central1", Cluster: "payments",
			ClusterID: payments.ID, ReleaseChannel: payments.ReleaseChannel, MasterVersion: "1.27.8-gke.1067004", NodeVersion: payments.NodeVersion,
			UpgradeControlPlaneTo: "1.28.3-gke.1090000", NodePools: wantPools, UpgradeSteps: payments.UpgradeSteps,
			UpgradeClears: 3, FindingsCleared: 3, MostSevere: &high},
		{Scope: orgScope, ScanID: "20260301T060000Z-a0a0a0", ProjectID: "prod-a", Location: "us-central1", Cluster: "stuck",
			ClusterID: stuck.ID, ReleaseChannel: stuck.ReleaseChannel, MasterVersion: "1.27.8-gke.1067004", NodeVersion: stuck.NodeVersion,
			NodePools: stuck.NodePools, UpgradeSteps: []string{}, UpgradeReason: stuck.UpgradeReason},
	}
	checkView(t, db, "upgrade_plan", want, func(r upgradePlanRow) string { return r.Scope + "/" + r.Cluster })
}
