package bqfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/schema"
	"github.com/fleetscan/fleetscan/test/bqfake"
)

const (
	project = "my-proj"
	dsID    = "fleetscan"
)

// setup starts a fake and a real client pointed at it.
func setup(t *testing.T) (*bqfake.Server, *bigquery.Client, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	s := bqfake.Start()
	t.Cleanup(s.Close)
	c, err := bigquery.NewClient(ctx, project, s.ClientOptions()...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return s, c, ctx
}

// setupTables also creates the dataset and fleetscan's four tables as the
// writer does.
func setupTables(t *testing.T) (*bqfake.Server, *bigquery.Client, context.Context) {
	t.Helper()
	s, c, ctx := setup(t)
	ds := c.Dataset(dsID)
	if err := ds.Create(ctx, &bigquery.DatasetMetadata{Location: "EU"}); err != nil {
		t.Fatalf("create dataset: %v", err)
	}
	for _, tb := range schema.Tables() {
		if err := ds.Table(tb.Name).Create(ctx, tb.Metadata()); err != nil {
			t.Fatalf("create table %s: %v", tb.Name, err)
		}
	}
	return s, c, ctx
}

func apiError(t *testing.T, err error) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a *googleapi.Error", err, err)
	}
	return ge
}

func wantAPIError(t *testing.T, what string, err error, code int, reason, message string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %d %s", what, code, reason)
	}
	ge := apiError(t, err)
	if ge.Code != code || len(ge.Errors) == 0 || ge.Errors[0].Reason != reason || ge.Message != message {
		t.Fatalf("%s: got %d %v %q, want %d %s %q", what, ge.Code, ge.Errors, ge.Message, code, reason, message)
	}
}

var (
	scanned   = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)
	firstSeen = time.Date(2025, 3, 13, 22, 1, 2, 3000, time.UTC)
)

// scannedAt is scanned, addressable.
var scannedAt = scanned

func findingRow() scanner.Finding {
	return scanner.Finding{
		ScanID: "scan-7f3a", ScannedAt: scanned,
		FindingKey: "9c1e0b7d2f", OrganizationID: "123456789012",
		ProjectID: "shop-prod", Location: "europe-west1", Cluster: "web",
		ClusterID: "a1b2c3", NodePool: "pool-1", IssueID: "GKE-2024-017",
		Title: "Dataplane V2 drops DNS replies", Severity: "HIGH", Status: "OBSERVED",
		Component: "node_pool", Version: "1.29.4-gke.1043002", FixedIn: "1.29.6-gke.1038001",
		Reason:      "Nodes run 1.29.4-gke.1043002, before the fix in 1.29.6-gke.1038001.",
		Remediation: "Upgrade the node pool.", DocsURL: "https://cloud.google.com/kubernetes-engine/docs/release-notes",
		CatalogVersion: "sha256:abc",
		Evidence: []scanner.Evidence{
			{Source: "container_api", Summary: "nodePools[0].version=1.29.4-gke.1043002", Count: 1},
			{
				Source: "cloud_logging", Summary: "DNS timeouts", Count: 42,
				FirstSeen: &firstSeen,
				LastSeen:  &scannedAt,
				Nodes:     []string{"gke-web-pool-1-a", "gke-web-pool-1-b"},
				Sample:    "dns: i/o timeout", Query: `resource.type="k8s_node"`,
			},
		},
	}
}

func clusterRow() scanner.ClusterRecord {
	return scanner.ClusterRecord{
		ScanID: "scan-7f3a", ScannedAt: scanned, OrganizationID: "123456789012",
		Cluster: scanner.Cluster{
			ProjectID: "shop-prod", Location: "europe-west1", Name: "web", ID: "a1b2c3",
			SelfLink: "https://container.googleapis.com/v1/projects/shop-prod/locations/europe-west1/clusters/web",
			Status:   "RUNNING", MasterVersion: "1.29.5-gke.1091002", NodeVersion: "1.29.4-gke.1043002",
			InitialVersion: "1.27.3-gke.100", ReleaseChannel: "REGULAR", Datapath: "ADVANCED_DATAPATH",
			Autopilot: false, VPCNative: true,
			NodePools: []scanner.Pool{{Name: "pool-1", Version: "1.29.4-gke.1043002", ImageType: "COS_CONTAINERD"}},
		},
		DataplaneV2: true, SkippedChecks: []string{},
	}
}

func scanRow() schema.ScanRow {
	return schema.ScanRow{
		ScanID: "scan-7f3a", Scope: "organizations/123456789012", OrganizationID: "123456789012",
		Shard: 0, Shards: 1, Status: schema.StatusCompleteWithErrors,
		StartedAt: scanned, FinishedAt: scanned.Add(93 * time.Second),
		CatalogVersion: "sha256:abc", Lookback: "168h0m0s",
		Projects: 12, ProjectsFailed: 1, Clusters: 30, DataplaneV2Clusters: 7, Findings: 5,
		Affected: 3, Observed: 1, Unknown: 1, SkippedChecks: 4, Errors: 1, LogEvents: 1200, LogEventsUnmatched: 3,
	}
}

func scanErrorRow() scanner.ScanError {
	return scanner.ScanError{
		ScanID: "scan-7f3a", ScannedAt: scanned, ProjectID: "legacy-1", Resource: "projects/legacy-1",
		API: "container", Code: "PERMISSION_DENIED", Message: "Required container.clusters.list permission",
	}
}

func saver(name string, row any, id string) *bigquery.StructSaver {
	tb, _ := schema.TableByName(name)
	return &bigquery.StructSaver{Schema: tb.Schema(), Struct: row, InsertID: id}
}

// rawRow is a ValueSaver of any JSON row, to send what fleetscan's types
// never would.
type rawRow struct {
	row map[string]bigquery.Value
	id  string
}

func (r rawRow) Save() (map[string]bigquery.Value, string, error) { return r.row, r.id, nil }

// validFinding is a findings row as the client encodes one.
func validFinding() map[string]bigquery.Value {
	return map[string]bigquery.Value{
		"scan_id": "s", "scanned_at": "2025-03-14T09:26:53.589793238Z", "finding_key": "k",
		"project_id": "p", "location": "l", "cluster": "c", "issue_id": "i", "severity": "HIGH", "status": "AFFECTED",
		"evidence": []bigquery.Value{map[string]bigquery.Value{"source": "container_api", "count": 1}},
	}
}

func TestTablesCreatedAsFleetscanDefinesThem(t *testing.T) {
	s, c, ctx := setupTables(t)
	for _, tb := range schema.Tables() {
		got, ok := s.Table(project, dsID, tb.Name)
		if !ok {
			t.Fatalf("table %s not stored", tb.Name)
		}
		// The stored schema is the generated schema file, field for field.
		file, err := os.ReadFile(filepath.Join("..", "..", "schema", "tables", tb.Name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var want, have any
		if err := json.Unmarshal(file, &want); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(got.Schema.Fields)
		if err := json.Unmarshal(b, &have); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(have, want) {
			t.Errorf("%s: stored schema\n%s\nwant the schema file\n%s", tb.Name, b, file)
		}
		if tp := got.TimePartitioning; tp == nil || tp.Type != "DAY" || tp.Field != tb.Partition {
			t.Errorf("%s: timePartitioning %+v, want DAY on %s", tb.Name, tp, tb.Partition)
		}
		if cl := got.Clustering; cl == nil || !slices.Equal(cl.Fields, tb.Clustering) {
			t.Errorf("%s: clustering %+v, want %v", tb.Name, cl, tb.Clustering)
		}
		if got.Type != "TABLE" || got.Location != "EU" || got.Description != tb.Description || got.Etag == "" {
			t.Errorf("%s: type %q location %q description %q etag %q", tb.Name, got.Type, got.Location, got.Description, got.Etag)
		}
		// And the client reads it back the same.
		md, err := c.Dataset(dsID).Table(tb.Name).Metadata(ctx)
		if err != nil {
			t.Fatalf("Metadata %s: %v", tb.Name, err)
		}
		if md.TimePartitioning.Field != tb.Partition || !slices.Equal(md.Clustering.Fields, tb.Clustering) || md.Type != bigquery.RegularTable {
			t.Errorf("%s: client metadata %+v", tb.Name, md)
		}
		wantSchema, _ := tb.Schema().ToJSONFields()
		gotSchema, _ := md.Schema.ToJSONFields()
		if string(wantSchema) != string(gotSchema) {
			t.Errorf("%s: client schema\n%s\nwant\n%s", tb.Name, gotSchema, wantSchema)
		}
	}
	req := s.Requests()
	if req["datasets.insert"] != 1 || req["tables.insert"] != 4 || req["tables.get"] != 4 {
		t.Errorf("Requests = %v", req)
	}
	dmd, err := c.Dataset(dsID).Metadata(ctx)
	if err != nil || dmd.Location != "EU" {
		t.Errorf("dataset metadata %+v, %v", dmd, err)
	}
	var names []string
	it := c.Dataset(dsID).Tables(ctx)
	for {
		tbl, err := it.Next()
		if err != nil {
			break
		}
		names = append(names, tbl.TableID)
	}
	if !slices.Equal(names, []string{"clusters", "findings", "scan_errors", "scans"}) {
		t.Errorf("Tables listed %v", names)
	}
}

func TestDatasetAndTableErrors(t *testing.T) {
	s, c, ctx := setupTables(t)
	ds := c.Dataset(dsID)
	wantAPIError(t, "dataset again", ds.Create(ctx, nil), 409, "duplicate", "Already Exists: Dataset my-proj:fleetscan")
	_, err := c.Dataset("nope").Metadata(ctx)
	wantAPIError(t, "missing dataset", err, 404, "notFound", "Not found: Dataset my-proj:nope")

	tb, _ := schema.TableByName(schema.TableFindings)
	wantAPIError(t, "table again", ds.Table("findings").Create(ctx, tb.Metadata()), 409, "duplicate", "Already Exists: Table my-proj:fleetscan.findings")
	wantAPIError(t, "table in missing dataset", c.Dataset("nope").Table("findings").Create(ctx, tb.Metadata()), 404, "notFound", "Not found: Dataset my-proj:nope")
	_, err = ds.Table("nope").Metadata(ctx)
	wantAPIError(t, "missing table", err, 404, "notFound", "Not found: Table my-proj:fleetscan.nope")
	err = ds.Table("nope").Inserter().Put(ctx, saver("findings", findingRow(), "x"))
	wantAPIError(t, "insert into missing table", err, 404, "notFound", "Not found: Table my-proj:fleetscan.nope")

	bad := tb.Metadata()
	bad.Clustering = &bigquery.Clustering{Fields: []string{"no_such_column"}}
	wantAPIError(t, "clustering on a missing column", ds.Table("bad").Create(ctx, bad), 400, "invalid",
		"The field specified for clustering cannot be found in the schema.  Invalid field: no_such_column.")
	bad = tb.Metadata()
	bad.TimePartitioning.Field = "scan_id"
	wantAPIError(t, "partitioning on a STRING", ds.Table("bad").Create(ctx, bad), 400, "invalid",
		"The field specified for time partitioning can only be of type TIMESTAMP, DATE or DATETIME. The type found is: STRING.")

	if n := s.Requests()["datasets.insert"]; n != 2 {
		t.Errorf("datasets.insert requests = %d, want 2 (409 is not retried)", n)
	}
	// Deleting a dataset that still has tables needs deleteContents.
	wantAPIError(t, "delete non-empty dataset", ds.Delete(ctx), 400, "resourceInUse", "Dataset my-proj:fleetscan is still in use")
	if err := ds.DeleteWithContents(ctx); err != nil {
		t.Fatalf("DeleteWithContents: %v", err)
	}
	if _, ok := s.Table(project, dsID, "findings"); ok {
		t.Error("table survived its dataset")
	}
}

func TestPutStoresRowsAsTheClientEncodesThem(t *testing.T) {
	s, c, ctx := setupTables(t)
	ds := c.Dataset(dsID)
	f := findingRow()
	if err := ds.Table("findings").Inserter().Put(ctx, []*bigquery.StructSaver{
		saver("findings", f, "f-1"),
		saver("findings", f, "f-1"), // a retry of the same row: kept twice
	}); err != nil {
		t.Fatalf("Put findings: %v", err)
	}
	for name, row := range map[string]any{"clusters": clusterRow(), "scans": scanRow(), "scan_errors": scanErrorRow()} {
		if err := ds.Table(name).Inserter().Put(ctx, saver(name, row, name+"-1")); err != nil {
			t.Fatalf("Put %s: %v", name, err)
		}
	}

	rows := s.Rows(project, dsID, "findings")
	if len(rows) != 2 {
		t.Fatalf("findings rows = %d, want 2 (no de-duplication by insertId)", len(rows))
	}
	if ids := s.InsertIDs(project, dsID, "findings"); !slices.Equal(ids, []string{"f-1", "f-1"}) {
		t.Errorf("InsertIDs = %v", ids)
	}
	r := rows[0]
	// TIMESTAMP: time.Time's RFC 3339 with nanoseconds.
	if r["scanned_at"] != "2025-03-14T09:26:53.589793238Z" {
		t.Errorf("scanned_at = %#v", r["scanned_at"])
	}
	ev, ok := r["evidence"].([]any)
	if !ok || len(ev) != 2 {
		t.Fatalf("evidence = %#v", r["evidence"])
	}
	e0, e1 := ev[0].(map[string]any), ev[1].(map[string]any)
	// INTEGER: a JSON number, not a string.
	if e1["count"] != json.Number("42") {
		t.Errorf("evidence[1].count = %#v, want json.Number 42", e1["count"])
	}
	// A nil *time.Time is an explicit null; an empty repeated field is omitted.
	if v, present := e0["first_seen"]; !present || v != nil {
		t.Errorf("evidence[0].first_seen = %#v (present %v), want null", v, present)
	}
	if _, present := e0["nodes"]; present {
		t.Errorf("evidence[0].nodes present: %#v", e0["nodes"])
	}
	if e1["first_seen"] != "2025-03-13T22:01:02.000003Z" || !reflect.DeepEqual(e1["nodes"], []any{"gke-web-pool-1-a", "gke-web-pool-1-b"}) {
		t.Errorf("evidence[1] = %#v", e1)
	}

	cl := s.Rows(project, dsID, "clusters")[0]
	// BOOLEAN: JSON true/false; a REPEATED RECORD: an array of objects; an empty []string: omitted.
	if cl["dataplane_v2"] != true || cl["autopilot"] != false {
		t.Errorf("booleans: %#v %#v", cl["dataplane_v2"], cl["autopilot"])
	}
	if !reflect.DeepEqual(cl["node_pools"], []any{map[string]any{"name": "pool-1", "version": "1.29.4-gke.1043002", "image_type": "COS_CONTAINERD", "upgrade_to": ""}}) {
		t.Errorf("node_pools = %#v", cl["node_pools"])
	}
	if _, present := cl["skipped_checks"]; present {
		t.Errorf("skipped_checks present: %#v", cl["skipped_checks"])
	}
	sc := s.Rows(project, dsID, "scans")[0]
	if sc["shard"] != json.Number("0") || sc["log_events"] != json.Number("1200") || sc["finished_at"] != "2025-03-14T09:28:26.589793238Z" {
		t.Errorf("scans row = %#v", sc)
	}
	if got := s.Rows(project, dsID, "scan_errors")[0]["code"]; got != "PERMISSION_DENIED" {
		t.Errorf("scan_errors code = %#v", got)
	}
	if s.MaxRowsSeen() != 2 || s.Requests()["tabledata.insertAll"] != 4 {
		t.Errorf("MaxRowsSeen %d, Requests %v", s.MaxRowsSeen(), s.Requests())
	}
	md, err := ds.Table("findings").Metadata(ctx)
	if err != nil || md.NumRows != 2 || md.StreamingBuffer == nil || md.StreamingBuffer.EstimatedRows != 2 {
		t.Errorf("findings metadata after Put: %+v, %v", md, err)
	}
	// Every row round-trips through ValidateRow.
	tb, _ := schema.TableByName("findings")
	if errs := bqfake.ValidateRow(tb.Schema(), r); len(errs) != 0 {
		t.Errorf("stored row does not validate: %v", errs)
	}
}

func TestInvalidRowsStopTheWholeRequest(t *testing.T) {
	cases := []struct {
		name string
		bad  func(map[string]bigquery.Value)
		want []bigquery.Error // the bad row's errors (row 1); row 0 is stopped
	}{
		{"unknown field", func(m map[string]bigquery.Value) { m["colour"] = "red" },
			[]bigquery.Error{{Reason: "invalid", Location: "colour", Message: "no such field: colour."}}},
		{"missing required", func(m map[string]bigquery.Value) { delete(m, "issue_id") },
			[]bigquery.Error{{Reason: "invalid", Location: "issue_id", Message: "Missing required field: issue_id."}}},
		{"null required", func(m map[string]bigquery.Value) { m["severity"] = nil },
			[]bigquery.Error{{Reason: "invalid", Location: "severity", Message: "Missing required field: severity."}}},
		{"wrong type", func(m map[string]bigquery.Value) {
			m["evidence"] = []bigquery.Value{map[string]bigquery.Value{"count": "many"}}
		}, []bigquery.Error{{Reason: "invalid", Location: "evidence[0].count", Message: "Cannot convert value to integer (bad value):many"}}},
		{"non-array repeated", func(m map[string]bigquery.Value) {
			m["evidence"] = []bigquery.Value{map[string]bigquery.Value{"nodes": "gke-node-1"}}
		}, []bigquery.Error{{Reason: "invalid", Location: "evidence[0].nodes", Message: "Non-array value specified for repeated field: nodes."}}},
		{"array for a scalar", func(m map[string]bigquery.Value) { m["cluster"] = []string{"a", "b"} },
			[]bigquery.Error{{Reason: "invalid", Location: "cluster", Message: "Array specified for non-repeated field: cluster."}}},
		{"bad timestamp", func(m map[string]bigquery.Value) { m["scanned_at"] = "yesterday" },
			[]bigquery.Error{{Reason: "invalid", Location: "scanned_at", Message: "Couldn't convert value to timestamp: Could not parse 'yesterday' as a timestamp. Required format is YYYY-MM-DD HH:MM[:SS[.SSSSSS]]"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c, ctx := setupTables(t)
			bad := validFinding()
			tc.bad(bad)
			err := c.Dataset(dsID).Table("findings").Inserter().Put(ctx, []rawRow{{validFinding(), "ok-0"}, {bad, "bad-1"}})
			var pme bigquery.PutMultiError
			if !errors.As(err, &pme) {
				t.Fatalf("Put error %v (%T), want a PutMultiError", err, err)
			}
			if len(pme) != 2 {
				t.Fatalf("PutMultiError %v, want 2 rows", pme)
			}
			// BigQuery's order: the invalid row first, then the stopped ones.
			if pme[0].RowIndex != 1 || pme[0].InsertID != "bad-1" {
				t.Errorf("first error is row %d %q, want 1 bad-1", pme[0].RowIndex, pme[0].InsertID)
			}
			var got []bigquery.Error
			for _, e := range pme[0].Errors {
				got = append(got, *e.(*bigquery.Error))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors of the bad row:\n got %+v\nwant %+v", got, tc.want)
			}
			stopped := pme[1]
			if stopped.RowIndex != 0 || len(stopped.Errors) != 1 || *stopped.Errors[0].(*bigquery.Error) != (bigquery.Error{Reason: "stopped"}) {
				t.Errorf("valid row: %+v, want stopped", stopped)
			}
			if rows := s.Rows(project, dsID, "findings"); len(rows) != 0 {
				t.Errorf("stored %d rows of a request with an invalid row", len(rows))
			}
			if n := s.Requests()["tabledata.insertAll"]; n != 1 {
				t.Errorf("insertAll requests = %d, want 1", n)
			}
		})
	}
}

func TestSkipInvalidRowsAndIgnoreUnknownValues(t *testing.T) {
	s, c, ctx := setupTables(t)
	ins := c.Dataset(dsID).Table("findings").Inserter()
	ins.SkipInvalidRows = true
	bad := validFinding()
	delete(bad, "cluster")
	err := ins.Put(ctx, []rawRow{{validFinding(), "a"}, {bad, "b"}})
	var pme bigquery.PutMultiError
	if !errors.As(err, &pme) || len(pme) != 1 || pme[0].RowIndex != 1 {
		t.Fatalf("Put with SkipInvalidRows: %v", err)
	}
	if ids := s.InsertIDs(project, dsID, "findings"); !slices.Equal(ids, []string{"a"}) {
		t.Errorf("stored %v, want [a]", ids)
	}
	ins = c.Dataset(dsID).Table("findings").Inserter()
	ins.IgnoreUnknownValues = true
	extra := validFinding()
	extra["colour"] = "red"
	extra["evidence"] = []bigquery.Value{map[string]bigquery.Value{"source": "x", "shade": "blue"}}
	if err := ins.Put(ctx, rawRow{extra, "c"}); err != nil {
		t.Fatalf("Put with IgnoreUnknownValues: %v", err)
	}
	rows := s.Rows(project, dsID, "findings")
	last := rows[len(rows)-1]
	if _, ok := last["colour"]; ok {
		t.Errorf("unknown field stored: %v", last)
	}
	if ev := last["evidence"].([]any)[0].(map[string]any); !reflect.DeepEqual(ev, map[string]any{"source": "x"}) {
		t.Errorf("nested unknown field stored: %v", ev)
	}
}

// TestInsertAllRetries shows what the client does by itself: Inserter.Put
// retries 5xx (and reasons backendError, rateLimitExceeded) with a backoff
// starting at 1s, so one 503 is invisible to the caller, while a 4xx is
// returned at once. Dataset.Create does not retry at all.
func TestInsertAllRetries(t *testing.T) {
	s, c, ctx := setupTables(t)
	tbl := c.Dataset(dsID).Table("findings")
	s.FailNext("tabledata.insertAll", http.StatusServiceUnavailable, "backendError", 1)
	start := time.Now()
	if err := tbl.Inserter().Put(ctx, saver("findings", findingRow(), "r-1")); err != nil {
		t.Fatalf("Put after one 503: %v (the client should retry)", err)
	}
	t.Logf("Put with one 503 took %v", time.Since(start))
	if n := s.Requests()["tabledata.insertAll"]; n != 2 {
		t.Errorf("insertAll requests = %d, want 2 (the 503, then the retry)", n)
	}
	if ids := s.InsertIDs(project, dsID, "findings"); !slices.Equal(ids, []string{"r-1"}) {
		t.Errorf("stored %v", ids)
	}

	s.FailNext("tabledata.insertAll", http.StatusBadRequest, "invalid", 1)
	err := tbl.Inserter().Put(ctx, saver("findings", findingRow(), "r-2"))
	ge := apiError(t, err)
	if ge.Code != 400 || ge.Errors[0].Reason != "invalid" {
		t.Errorf("400: %v", ge)
	}
	if n := s.Requests()["tabledata.insertAll"]; n != 3 {
		t.Errorf("insertAll requests = %d, want 3 (a 400 is not retried)", n)
	}

	// A persistent 503 retries until the context ends.
	s.FailNext("tabledata.insertAll", http.StatusServiceUnavailable, "backendError", 1000)
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if err := tbl.Inserter().Put(short, saver("findings", findingRow(), "r-3")); err == nil {
		t.Error("Put succeeded through a persistent 503")
	}
	s.FailNext("tabledata.insertAll", 0, "", 0)

	s.FailNext("datasets.insert", http.StatusServiceUnavailable, "backendError", 1)
	err = c.Dataset("other").Create(ctx, nil)
	wantAPIError(t, "datasets.insert 503", err, 503, "backendError", "Error encountered during execution. Retrying may solve the problem.")
	if n := s.Requests()["datasets.insert"]; n != 2 {
		t.Errorf("datasets.insert requests = %d, want 2 (setup, then one unretried 503)", n)
	}
}

func TestPatchSchema(t *testing.T) {
	s, c, ctx := setupTables(t)
	tbl := c.Dataset(dsID).Table("findings")
	if err := tbl.Inserter().Put(ctx, saver("findings", findingRow(), "before")); err != nil {
		t.Fatal(err)
	}
	md, err := tbl.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := schema.TableByName("findings")

	// Add a NULLABLE column and a NULLABLE field inside the evidence RECORD.
	grown := tb.Schema()
	grown = append(grown, &bigquery.FieldSchema{Name: "owner", Type: bigquery.StringFieldType})
	for _, f := range grown {
		if f.Name == "evidence" {
			f.Schema = append(f.Schema, &bigquery.FieldSchema{Name: "weight", Type: bigquery.FloatFieldType})
		}
	}
	md2, err := tbl.Update(ctx, bigquery.TableMetadataToUpdate{Schema: grown}, md.ETag)
	if err != nil {
		t.Fatalf("Update adding NULLABLE fields: %v", err)
	}
	if md2.ETag == md.ETag {
		t.Error("etag unchanged by a patch")
	}
	stored, _ := s.Table(project, dsID, "findings")
	fields := stored.Schema.Fields
	if last := fields[len(fields)-1]; last.Name != "owner" || last.Mode != "" && last.Mode != "NULLABLE" {
		t.Errorf("last field %+v, want owner NULLABLE", last)
	}
	if stored.TimePartitioning == nil || stored.TimePartitioning.Field != "scanned_at" || stored.Clustering == nil {
		t.Errorf("partitioning or clustering lost by a patch: %+v %+v", stored.TimePartitioning, stored.Clustering)
	}
	if n := len(s.Rows(project, dsID, "findings")); n != 1 {
		t.Errorf("rows after patch = %d, want 1", n)
	}
	p := s.Patches()
	if len(p) != 1 || p[0].Code != 200 || p[0].Method != "tables.patch" || !slices.Equal(p[0].Added, []string{"evidence.weight", "owner"}) {
		t.Errorf("Patches = %+v", p)
	}
	// The new column takes values.
	row := validFinding()
	row["owner"] = "team-web"
	if err := tbl.Inserter().Put(ctx, rawRow{row, "after"}); err != nil {
		t.Fatalf("Put with the new column: %v", err)
	}

	// A stale etag fails the precondition.
	_, err = tbl.Update(ctx, bigquery.TableMetadataToUpdate{Description: "x"}, md.ETag)
	wantAPIError(t, "stale etag", err, 412, "conditionNotMet", "Precondition check failed.")

	const prefix = "Provided Schema does not match Table my-proj:fleetscan.findings. "
	required := slices.Concat(grown, bigquery.Schema{{Name: "tenant", Type: bigquery.StringFieldType, Required: true}})
	_, err = tbl.Update(ctx, bigquery.TableMetadataToUpdate{Schema: required}, "")
	wantAPIError(t, "add REQUIRED", err, 400, "invalid", prefix+"Cannot add required fields to an existing schema. (field: tenant)")

	removed := slices.DeleteFunc(slices.Clone(grown), func(f *bigquery.FieldSchema) bool { return f.Name == "title" })
	_, err = tbl.Update(ctx, bigquery.TableMetadataToUpdate{Schema: removed}, "")
	wantAPIError(t, "remove a field", err, 400, "invalid", prefix+"Field title is missing in new schema")

	retyped := slices.Clone(grown)
	retyped[0] = &bigquery.FieldSchema{Name: "scan_id", Type: bigquery.IntegerFieldType, Required: true}
	_, err = tbl.Update(ctx, bigquery.TableMetadataToUpdate{Schema: retyped}, "")
	wantAPIError(t, "change a type", err, 400, "invalid", prefix+"Field scan_id has changed type from STRING to INTEGER")

	remoded := slices.Clone(grown)
	remoded[3] = &bigquery.FieldSchema{Name: "organization_id", Type: bigquery.StringFieldType, Required: true}
	_, err = tbl.Update(ctx, bigquery.TableMetadataToUpdate{Schema: remoded}, "")
	wantAPIError(t, "tighten a mode", err, 400, "invalid", prefix+"Field organization_id has changed mode from NULLABLE to REQUIRED")

	if n := len(s.Patches()); n != 6 {
		t.Errorf("%d patches recorded, want 6", n)
	}
	if n := len(s.Rows(project, dsID, "findings")); n != 2 {
		t.Errorf("rows = %d, want 2", n)
	}
}

func TestViewQueryPatch(t *testing.T) {
	s, c, ctx := setupTables(t)
	v := schema.Views()[0]
	view := c.Dataset(dsID).Table(v.Name)
	if err := view.Create(ctx, &bigquery.TableMetadata{ViewQuery: v.Query(project, dsID)}); err != nil {
		t.Fatalf("create view: %v", err)
	}
	got, _ := s.Table(project, dsID, v.Name)
	if got.Type != "VIEW" || got.View == nil || got.View.Query != v.Query(project, dsID) || got.View.UseLegacySql {
		t.Fatalf("stored view %+v %+v", got, got.View)
	}
	if _, err := view.Update(ctx, bigquery.TableMetadataToUpdate{ViewQuery: "SELECT 1 AS one"}, ""); err != nil {
		t.Fatalf("patch view: %v", err)
	}
	got, _ = s.Table(project, dsID, v.Name)
	if got.View.Query != "SELECT 1 AS one" {
		t.Errorf("view query %q after patch", got.View.Query)
	}
	if p := s.Patches(); len(p) != 1 || p[0].ViewQuery != "SELECT 1 AS one" {
		t.Errorf("Patches = %+v", p)
	}
	err := view.Inserter().Put(ctx, saver("findings", findingRow(), "x"))
	ge := apiError(t, err)
	if ge.Code != 400 {
		t.Errorf("insert into a view: %v", ge)
	}
}

func TestRequestLimits(t *testing.T) {
	s, c, ctx := setup(t)
	ds := c.Dataset("limits")
	if err := ds.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	tbl := ds.Table("t")
	if err := tbl.Create(ctx, &bigquery.TableMetadata{Schema: bigquery.Schema{{Name: "s", Type: bigquery.StringFieldType}}}); err != nil {
		t.Fatal(err)
	}
	many := make([]rawRow, bqfake.MaxInsertRows+1)
	for i := range many {
		many[i] = rawRow{map[string]bigquery.Value{"s": "x"}, bigquery.NoDedupeID}
	}
	wantAPIError(t, "50001 rows", tbl.Inserter().Put(ctx, many), 400, "invalid", "too many rows present in the request, limit: 50000 row count: 50001.")
	if s.MaxRowsSeen() != 50001 {
		t.Errorf("MaxRowsSeen = %d", s.MaxRowsSeen())
	}
	if err := tbl.Inserter().Put(ctx, many[:bqfake.MaxInsertRows]); err != nil {
		t.Fatalf("50000 rows: %v", err)
	}
	if ids := s.InsertIDs(project, "limits", "t"); len(ids) != 50000 || ids[0] != "" {
		t.Errorf("%d rows stored, first insertId %q", len(ids), ids[0])
	}
	big := strings.Repeat("x", 1<<20)
	large := make([]rawRow, 11)
	for i := range large {
		large[i] = rawRow{map[string]bigquery.Value{"s": big}, ""}
	}
	wantAPIError(t, "11 MB", tbl.Inserter().Put(ctx, large), 400, "badRequest", "Request payload size exceeds the limit: 10485760 bytes.")
	if n := s.Requests()["tabledata.insertAll"]; n != 3 {
		t.Errorf("insertAll requests = %d, want 3", n)
	}
}

func TestUnsupportedAndLatency(t *testing.T) {
	s, c, ctx := setupTables(t)
	_, err := c.Query("SELECT 1").Read(ctx)
	if ge := apiError(t, err); ge.Code != 501 || ge.Errors[0].Reason != "notImplemented" {
		t.Errorf("query: %v", ge)
	}
	s.Latency(100 * time.Millisecond)
	start := time.Now()
	if _, err := c.Dataset(dsID).Table("scans").Metadata(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("call took %v with 100ms latency", d)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.Dataset(dsID).Table("scans").Metadata(short); err == nil {
		t.Error("a call outlived its context under latency")
	}
}

func TestConcurrentPuts(t *testing.T) {
	s, c, ctx := setupTables(t)
	tbl := c.Dataset(dsID).Table("findings")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for g := range 20 {
		wg.Go(func() {
			savers := make([]*bigquery.StructSaver, 25)
			for i := range savers {
				savers[i] = saver("findings", findingRow(), fmt.Sprintf("g%d-%d", g, i))
			}
			errs <- tbl.Inserter().Put(ctx, savers)
			_ = s.Rows(project, dsID, "findings")
			_ = s.Requests()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.Rows(project, dsID, "findings")); n != 500 {
		t.Errorf("rows = %d, want 500", n)
	}
}

func TestValidateRow(t *testing.T) {
	findings, _ := schema.TableByName("findings")
	clusters, _ := schema.TableByName("clusters")
	scalars := bigquery.Schema{
		{Name: "f", Type: bigquery.FloatFieldType},
		{Name: "b", Type: bigquery.BooleanFieldType},
		{Name: "i", Type: bigquery.IntegerFieldType},
		{Name: "ts", Type: bigquery.TimestampFieldType},
		{Name: "d", Type: bigquery.DateFieldType},
		{Name: "n", Type: bigquery.NumericFieldType},
		{Name: "rec", Type: bigquery.RecordFieldType, Schema: bigquery.Schema{{Name: "x", Type: bigquery.StringFieldType, Required: true}}},
	}
	base := func(over map[string]any) map[string]any {
		m := map[string]any{
			"scan_id": "s", "scanned_at": "2025-03-14T09:26:53Z", "finding_key": "k", "project_id": "p",
			"location": "l", "cluster": "c", "issue_id": "i", "severity": "HIGH", "status": "AFFECTED",
		}
		for k, v := range over {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	e := func(loc, msg string) bqfake.RowError {
		return bqfake.RowError{Reason: "invalid", Location: loc, Message: msg}
	}
	cases := []struct {
		name   string
		schema bigquery.Schema
		row    map[string]any
		want   []bqfake.RowError
	}{
		{"valid finding", findings.Schema(), base(nil), nil},
		{"NDJSON encodings", findings.Schema(), base(map[string]any{
			"scanned_at": "2025-03-14 09:26:53.123456 UTC",
			"evidence": []any{
				map[string]any{"count": "42", "first_seen": 1741944413, "last_seen": "2025-03-14T10:26:53+01:00", "nodes": []any{"a"}},
				map[string]any{"count": json.Number("7"), "first_seen": json.Number("1741944413.25"), "last_seen": "2025-03-14 09:26"},
			},
		}), nil},
		{"nested bad timestamp", findings.Schema(), base(map[string]any{
			"evidence": []any{map[string]any{"source": "cloud_logging"}, map[string]any{"first_seen": "2025-13-01T00:00:00Z"}},
		}), []bqfake.RowError{e("evidence[1].first_seen", "Couldn't convert value to timestamp: Could not parse '2025-13-01T00:00:00Z' as a timestamp. Required format is YYYY-MM-DD HH:MM[:SS[.SSSSSS]]")}},
		{"every problem in field order", findings.Schema(), base(map[string]any{
			"zzz": 1, "aaa": true, "scan_id": nil, "finding_key": 7, "status": []any{"A"},
			"evidence": map[string]any{"source": "x"},
		}), []bqfake.RowError{
			e("scan_id", "Missing required field: scan_id."),
			e("finding_key", "Cannot convert value to string (bad value):7"),
			e("status", "Array specified for non-repeated field: status."),
			e("evidence", "Non-array value specified for repeated field: evidence."),
			e("aaa", "no such field: aaa."),
			e("zzz", "no such field: zzz."),
		}},
		{"nested unknown, null element, not a record", findings.Schema(), base(map[string]any{
			"evidence": []any{map[string]any{"colour": "red", "nodes": []any{"a", nil, 3}}, nil, "text"},
		}), []bqfake.RowError{
			e("evidence[0].nodes[1]", "Null value found in repeated field: nodes."),
			e("evidence[0].nodes[2]", "Cannot convert value to string (bad value):3"),
			e("evidence[0].colour", "no such field: colour."),
			e("evidence[1]", "Null value found in repeated field: evidence."),
			e("evidence[2]", "This field: evidence is not a record."),
		}},
		{"repeated record of a cluster", clusters.Schema(), map[string]any{
			"scan_id": "s", "scanned_at": "2025-03-14T09:26:53Z", "project_id": "p", "location": "l", "cluster": "c",
			"dataplane_v2": "TRUE", "autopilot": "yes", "node_pools": []any{map[string]any{"name": []any{"x"}}},
			"skipped_checks": nil,
		}, []bqfake.RowError{
			e("autopilot", "Cannot convert value to boolean (bad value):yes"),
			e("node_pools[0].name", "Array specified for non-repeated field: name."),
		}},
		{"scalars valid", scalars, map[string]any{
			"f": "NaN", "b": false, "i": "-9223372036854775808", "ts": -62135596800, "d": "2024-02-29", "n": "123.4500",
			"rec": map[string]any{"x": "y"},
		}, nil},
		{"scalars invalid", scalars, map[string]any{
			"f": "1.5x", "b": 1, "i": 1.5, "ts": 253402300800, "d": "2023-02-29", "n": "12a", "rec": map[string]any{},
		}, []bqfake.RowError{
			e("f", "Cannot convert value to floating point (bad value):1.5x"),
			e("b", "Cannot convert value to boolean (bad value):1"),
			e("i", "Cannot convert value to integer (bad value):1.5"),
			e("ts", "Timestamp field value is out of range:253402300800"),
			e("d", "Couldn't convert value to date: Could not parse '2023-02-29' as a date. Required format is YYYY-MM-DD"),
			e("n", "Invalid NUMERIC value: 12a"),
			e("rec.x", "Missing required field: x."),
		}},
		{"integer overflow", scalars, map[string]any{"i": json.Number("9223372036854775808")},
			[]bqfake.RowError{e("i", "Cannot convert value to integer (bad value):9223372036854775808")}},
		{"Go values are read through JSON", findings.Schema(), base(map[string]any{
			"scanned_at": time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
			"evidence":   []map[string]any{{"count": int64(3), "nodes": []string{"n"}}},
		}), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := bqfake.ValidateRow(tc.schema, tc.row)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ValidateRow:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}
