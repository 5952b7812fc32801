package schema_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/evidence"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/schema"
	"github.com/fleetscan/fleetscan/test/bqfake"
	"github.com/fleetscan/fleetscan/test/testkit"
)

const project, dataset = "my-proj", "fleetscan"

var fastRetry = gcpclient.Policy{Attempts: 4, Initial: time.Millisecond, Max: 5 * time.Millisecond, Timeout: 10 * time.Second}

// rowsOf is the rows of res as a scan of organization org writes them.
func rowsOf(res *scanner.Result, org string) schema.Rows {
	res.OrganizationID = org
	return schema.FromResult(res)
}

// demoScan scans the bundled gcpdiag dumps and sample fleet, as make demo does.
func demoScan(t testing.TB) *scanner.Result {
	t.Helper()
	cat := testkit.Catalog(t)
	logs, err := evidence.ReadFiles([]string{"../testdata/demo/logs.json"})
	if err != nil {
		t.Fatal(err)
	}
	inputs, _ := filepath.Glob("../testdata/gcpdiag/*-container-clusters.json")
	res, err := scanner.Scan(context.Background(), scanner.Options{
		Catalog: cat, Source: discovery.Files{Paths: append(inputs, "../testdata/demo/fleet.json")},
		Evidence: evidence.Entries(logs), ScanID: "demo", Scope: "organizations/123",
		Now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The two ways a Writer sends rows: with its InsertAll, or through the
// client's Inserter when it has none.
const (
	pathInsertAll = "insertall"
	pathInserter  = "inserter"
)

var writePaths = []string{pathInsertAll, pathInserter}

// forEachPath runs test once for each way of sending rows.
func forEachPath(t *testing.T, test func(t *testing.T, path string)) {
	for _, path := range writePaths {
		t.Run(path, func(t *testing.T) { test(t, path) })
	}
}

// newWriter is a writer of the fake with an InsertAll.
func newWriter(t testing.TB, srv *bqfake.Server) *schema.Writer {
	t.Helper()
	return newPathWriter(t, srv, pathInsertAll)
}

func newPathWriter(t testing.TB, srv *bqfake.Server, path string) *schema.Writer {
	t.Helper()
	c, err := bigquery.NewClient(context.Background(), project, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := &schema.Writer{Client: c, Dataset: dataset, Retry: fastRetry}
	if path == pathInsertAll {
		if w.InsertAll, err = schema.NewInsertAll(context.Background(), srv.ClientOptions()...); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// fileSchema reads a generated schema file, as Terraform and bq do.
func fileSchema(t testing.TB, table string) bigquery.Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("tables", table+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := bigquery.SchemaFromJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEnsureCreatesEverything(t *testing.T) {
	srv := bqfake.Start()
	t.Cleanup(srv.Close)
	w := newWriter(t, srv)
	if err := w.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, tb := range schema.Tables() {
		got, ok := srv.Table(project, dataset, tb.Name)
		if !ok {
			t.Fatalf("table %s not created", tb.Name)
		}
		if got.TimePartitioning == nil || got.TimePartitioning.Type != "DAY" || got.TimePartitioning.Field != tb.Partition {
			t.Errorf("%s partitioning = %+v, want DAY on %s", tb.Name, got.TimePartitioning, tb.Partition)
		}
		if got.Clustering == nil || !slices.Equal(got.Clustering.Fields, tb.Clustering) {
			t.Errorf("%s clustering = %+v, want %v", tb.Name, got.Clustering, tb.Clustering)
		}
		var names []string
		for _, f := range got.Schema.Fields {
			names = append(names, f.Name)
		}
		var want []string
		for _, f := range fileSchema(t, tb.Name) {
			want = append(want, f.Name)
		}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("%s columns (-schema file +created):\n%s", tb.Name, diff)
		}
	}
	for _, v := range schema.Views() {
		got, ok := srv.Table(project, dataset, v.Name)
		if !ok || got.View == nil || got.View.Query != v.Query(project, dataset) {
			t.Errorf("view %s not created with its query", v.Name)
		}
	}
	before := srv.Requests()
	if err := w.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := srv.Requests()
	for _, op := range []string{"datasets.insert", "tables.insert", "tables.patch", "tables.update"} {
		if after[op] != before[op] {
			t.Errorf("a second Ensure called %s %d more time(s); want it to change nothing", op, after[op]-before[op])
		}
	}
}

// A table written by an older fleetscan gets the new columns, keeps its
// rows, and is never recreated.
func TestEnsureGrowsSchema(t *testing.T) {
	srv := bqfake.Start()
	t.Cleanup(srv.Close)
	w := newWriter(t, srv)
	ctx := t.Context()
	if err := w.Client.Dataset(dataset).Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	tb, _ := schema.TableByName(schema.TableFindings)
	old := tb.Metadata()
	old.Schema = slices.DeleteFunc(slices.Clone(old.Schema), func(f *bigquery.FieldSchema) bool { return f.Name == "docs_url" || f.Name == "evidence" })
	if err := w.Client.Dataset(dataset).Table(tb.Name).Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	row := map[string]bigquery.Value{"scan_id": "old", "scanned_at": time.Now(), "finding_key": "k", "project_id": "p",
		"location": "l", "cluster": "c", "issue_id": "DPV2-IPAM-LEAK", "severity": "HIGH", "status": "AFFECTED"}
	if err := w.Client.Dataset(dataset).Table(tb.Name).Inserter().Put(ctx, &bigquery.ValuesSaver{Schema: old.Schema, InsertID: "old", Row: values(old.Schema, row)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	var added []string
	for _, p := range srv.Patches() {
		if p.Table == tb.Name {
			added = append(added, p.Added...)
		}
	}
	if diff := cmp.Diff([]string{"docs_url", "evidence"}, added); diff != "" {
		t.Errorf("columns added (-want +got):\n%s", diff)
	}
	if n := len(srv.Rows(project, dataset, tb.Name)); n != 1 {
		t.Errorf("rows after the schema grew = %d, want the 1 old row", n)
	}
	if n := srv.Requests()["tables.delete"]; n != 0 {
		t.Errorf("tables.delete called %d times", n)
	}
}

func values(s bigquery.Schema, m map[string]bigquery.Value) []bigquery.Value {
	out := make([]bigquery.Value, len(s))
	for i, f := range s {
		out[i] = m[f.Name]
	}
	return out
}

func TestMergeSchemaErrors(t *testing.T) {
	want, _ := schema.TableByName(schema.TableFindings)
	have := want.Schema()
	changed := slices.Clone(have)
	for i, f := range changed {
		if f.Name == "severity" {
			c := *f
			c.Type = bigquery.IntegerFieldType
			changed[i] = &c
		}
	}
	_, _, err := schema.MergeSchema(changed, have)
	if want := "column severity is REQUIRED INTEGER in BigQuery but REQUIRED STRING in fleetscan; BigQuery cannot change it in place"; err == nil || err.Error() != want {
		t.Errorf("MergeSchema(type change) error = %v, want %s", err, want)
	}
	newRequired := append(slices.Clone(have), &bigquery.FieldSchema{Name: "tenant", Type: bigquery.StringFieldType, Required: true})
	_, _, err = schema.MergeSchema(have, newRequired)
	if want := "new column tenant is REQUIRED; only NULLABLE or REPEATED columns can be added"; err == nil || err.Error() != want {
		t.Errorf("MergeSchema(new REQUIRED) error = %v, want %s", err, want)
	}
	extra := append(slices.Clone(have), &bigquery.FieldSchema{Name: "added_by_hand", Type: bigquery.StringFieldType})
	merged, added, err := schema.MergeSchema(extra, have)
	if err != nil || len(added) != 0 || len(merged) != len(extra) {
		t.Errorf("a column only in BigQuery must be kept: %d columns, added %v, %v", len(merged), added, err)
	}
}

// Every row the writer sends is valid for the generated schema files.
func TestWriteRowsValidate(t *testing.T) {
	forEachPath(t, func(t *testing.T, path string) {
		srv, w := ensuredWriter(t, path)
		res := demoScan(t)
		st, err := w.Write(t.Context(), rowsOf(res, "123"))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"findings": 80, "clusters": 22, "scan_errors": 0, "scans": 1}
		if diff := cmp.Diff(map[string]int{"findings": 80, "clusters": 22, "scans": 1}, st.Rows); diff != "" {
			t.Errorf("rows written (-want +got):\n%s", diff)
		}
		for table, n := range want {
			rows := srv.Rows(project, dataset, table)
			if len(rows) != n {
				t.Errorf("%s: %d rows stored, want %d", table, len(rows), n)
			}
			for i, r := range rows {
				if errs := bqfake.ValidateRow(fileSchema(t, table), r); len(errs) > 0 {
					t.Errorf("%s row %d: %v", table, i, errs)
				}
			}
		}
		// The scans row is written after the data rows.
		if n := srv.Requests()["tabledata.insertAll"]; n != 3 {
			t.Errorf("insertAll requests = %d, want 3 (findings, clusters, scans; no empty request)", n)
		}
	})
}

// Writing the same scan twice, as a retried or redelivered write does,
// leaves the set of de-duplication keys the views use unchanged, and the
// insert IDs are the same, so BigQuery's own de-duplication applies too.
func TestWriteTwiceSameKeys(t *testing.T) {
	forEachPath(t, func(t *testing.T, path string) {
		srv, w := ensuredWriter(t, path)
		rows := rowsOf(demoScan(t), "123")
		keys := func() map[string]bool {
			out := map[string]bool{}
			for _, r := range srv.Rows(project, dataset, schema.TableFindings) {
				out[fmt.Sprint(r["scan_id"], "/", r["finding_key"])] = true
			}
			return out
		}
		if _, err := w.Write(t.Context(), rows); err != nil {
			t.Fatal(err)
		}
		first, firstIDs := keys(), srv.InsertIDs(project, dataset, schema.TableFindings)
		if _, err := w.Write(t.Context(), rowsOf(demoScan(t), "123")); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, keys()); diff != "" {
			t.Errorf("de-duplication keys changed by a second write (-first +after):\n%s", diff)
		}
		ids := srv.InsertIDs(project, dataset, schema.TableFindings)
		if len(ids) != 2*len(firstIDs) || !slices.Equal(ids[:len(firstIDs)], ids[len(firstIDs):]) {
			t.Errorf("the second write's insert IDs differ from the first's")
		}
		if len(first) != 80 {
			t.Errorf("distinct keys = %d, want 80", len(first))
		}
	})
}

func TestWriteRetriesTransient(t *testing.T) {
	forEachPath(t, func(t *testing.T, path string) {
		srv, w := ensuredWriter(t, path)
		srv.FailNext("tabledata.insertAll", 503, "backendError", 2)
		if _, err := w.Write(t.Context(), rowsOf(demoScan(t), "")); err != nil {
			t.Fatalf("Write after two 503s: %v", err)
		}
		if n := len(srv.Rows(project, dataset, schema.TableFindings)); n != 80 {
			t.Errorf("findings stored = %d, want 80 exactly once", n)
		}
		// A 429 the client does not retry by itself (it retries 5xx and
		// rateLimitExceeded): the writer does.
		srv.FailNext("tabledata.insertAll", 429, "quotaExceeded", 1)
		st, err := w.Write(t.Context(), rowsOf(demoScan(t), ""))
		if err != nil {
			t.Fatalf("Write after a 429: %v", err)
		}
		if st.Requests < 4 {
			t.Errorf("requests = %d, want a retry on top of 3 batches", st.Requests)
		}
	})
}

// A permanent 4xx is reported with the table and BigQuery's reason.
func TestWritePermanentError(t *testing.T) {
	forEachPath(t, func(t *testing.T, path string) {
		srv, w := ensuredWriter(t, path)
		srv.FailNext("tabledata.insertAll", 403, "accessDenied", 1)
		_, err := w.Write(t.Context(), rowsOf(demoScan(t), ""))
		if err == nil || !strings.HasPrefix(err.Error(), "write findings: googleapi: Error 403: ") || !strings.Contains(err.Error(), "accessDenied") {
			t.Errorf("Write error = %v, want the findings table and accessDenied", err)
		}
		if n := srv.Requests()["tabledata.insertAll"]; n != 1 {
			t.Errorf("insertAll requests = %d, want 1: a 403 is not retried", n)
		}
	})
}

// A table without a column the writer sends (created by hand, Ensure not
// run): BigQuery's row errors come back naming the table, row and field.
func TestWriteRowErrors(t *testing.T) {
	forEachPath(t, func(t *testing.T, path string) {
		srv := bqfake.Start()
		t.Cleanup(srv.Close)
		w := newPathWriter(t, srv, path)
		ctx := t.Context()
		if err := w.Client.Dataset(dataset).Create(ctx, nil); err != nil {
			t.Fatal(err)
		}
		tb, _ := schema.TableByName(schema.TableScans)
		md := tb.Metadata()
		md.Schema = slices.DeleteFunc(slices.Clone(md.Schema), func(f *bigquery.FieldSchema) bool { return f.Name == "lookback" })
		if err := w.Client.Dataset(dataset).Table(tb.Name).Create(ctx, md); err != nil {
			t.Fatal(err)
		}
		rows := schema.Rows{Scans: rowsOf(demoScan(t), "").Scans}
		_, err := w.Write(ctx, rows)
		want := "write scans: row 0: invalid: no such field: lookback. (field lookback)"
		if err == nil || err.Error() != want {
			t.Errorf("Write error = %v, want %s", err, want)
		}
	})
}

// Every --out-dir line validates against the shipped schema files, as bq
// load checks it.
func TestNDJSONValidates(t *testing.T) {
	dir := t.TempDir()
	paths, err := schema.WriteNDJSON(dir, rowsOf(demoScan(t), "123"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		table := strings.TrimSuffix(filepath.Base(p), ".ndjson")
		s := fileSchema(t, table)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		n := 0
		for sc.Scan() {
			n++
			var row map[string]any
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.UseNumber()
			if err := dec.Decode(&row); err != nil {
				t.Fatalf("%s line %d: %v", table, n, err)
			}
			if errs := bqfake.ValidateRow(s, row); len(errs) > 0 {
				t.Errorf("%s line %d: %v", table, n, errs)
			}
		}
		f.Close()
		if table == "findings" && n != 80 {
			t.Errorf("findings lines = %d, want 80", n)
		}
	}
}

// oldInsertID is the insert ID the writer always gave a row: the first 16
// bytes of the SHA-256 of its natural key, in hex.
func oldInsertID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// structSavers are rows as the writer used to send them: a
// bigquery.StructSaver each, with the table's schema and the insert ID of
// its natural key, for the client's Inserter to encode.
func structSavers[T any](table string, rows []T, key func(T) string) []*bigquery.StructSaver {
	tb, _ := schema.TableByName(table)
	s := tb.Schema()
	out := make([]*bigquery.StructSaver, len(rows))
	for i, r := range rows {
		out[i] = &bigquery.StructSaver{Schema: s, InsertID: oldInsertID(key(r)), Struct: r}
	}
	return out
}

// edgeRows adds to a scan's rows ones that take every path of the
// encoding: strings that JSON escapes (HTML characters, control
// characters, invalid UTF-8, U+2028), times with nanoseconds, zones and
// the zero time, nil and non-nil *time.Time, nil, empty and full
// REPEATED fields and RECORDs, negative and large integers, and a scan
// error and a second scan shard.
func edgeRows(rows schema.Rows) schema.Rows {
	odd := "<script>&amp;\"quoted\" back\\slash\n\t\r\b\f\x00\x01\x1f\x7f \xff\xfe \u2028\u2029 é 🚀 \u00a0"
	ist := time.FixedZone("IST", 5*3600+30*60)
	at := time.Date(2026, 11, 27, 12, 0, 0, 123456789, ist)
	late := time.Date(2026, 11, 28, 1, 2, 3, 4000, time.FixedZone("", -7*3600))
	f := rows.Findings[0]
	withOdd := f
	withOdd.FindingKey, withOdd.ScannedAt, withOdd.Reason, withOdd.Title, withOdd.NodePool = "edge-odd", at, odd, odd, ""
	withOdd.Evidence = nil
	emptyEvidence := f
	emptyEvidence.FindingKey, emptyEvidence.ScannedAt, emptyEvidence.Evidence = "edge-empty", time.Time{}, []scanner.Evidence{}
	fullEvidence := f
	fullEvidence.FindingKey = "edge-full"
	fullEvidence.Evidence = []scanner.Evidence{
		{Source: "cloud_logging", Summary: odd, Count: -9223372036854775808, FirstSeen: &at, LastSeen: &late, Nodes: []string{}, Sample: odd, Query: `resource.type="k8s_node" AND jsonPayload.message=~"<x>"`},
		{Source: "kubernetes_api", Count: 9223372036854775807, FirstSeen: &late, Nodes: []string{"node-1", odd, ""}},
		{},
	}
	rows.Findings = append(slices.Clip(rows.Findings), withOdd, emptyEvidence, fullEvidence)

	c := rows.Clusters[0]
	noPools := c
	noPools.Name, noPools.NodePools, noPools.SkippedChecks, noPools.UpgradeSteps = "edge-no-pools", nil, []string{}, []string{odd, "1.30"}
	noPools.ScannedAt, noPools.Autopilot, noPools.DataplaneV2, noPools.UpgradeClears = late, true, false, -1
	emptyPools := c
	emptyPools.Name, emptyPools.NodePools, emptyPools.SkippedChecks, emptyPools.Status = "edge-empty-pools", []scanner.Pool{}, nil, odd
	rows.Clusters = append(slices.Clip(rows.Clusters), noPools, emptyPools)

	rows.ScanErrors = append(slices.Clip(rows.ScanErrors),
		scanner.ScanError{ScanID: "demo", ScannedAt: at, ProjectID: "p", Resource: "projects/p", API: "container", Code: "PERMISSION_DENIED", Message: odd},
		scanner.ScanError{ScanID: "demo", API: "logging", Code: "UNAVAILABLE"})

	s := rows.Scans[0]
	s.Shard, s.Shards, s.Status, s.KubernetesCalls, s.Lookback = 1, 2, schema.StatusPlanned, nil, odd
	s2 := rows.Scans[0]
	s2.Shard, s2.KubernetesCalls = 2, []scanner.CallCount{{API: "kubernetes", Type: "daemonsets", Calls: 3}, {API: odd, Calls: -1}}
	s2.StartedAt, s2.FinishedAt = at, late
	rows.Scans = append(slices.Clip(rows.Scans), s, s2)
	return rows
}

// The rows the writer sends are, byte for byte, what the client sent for
// them as StructSavers (the writer's encoding before its own), with the
// same insert IDs: for the demo scan and for rows that take every path of
// the encoding, on both of the writer's ways of sending.
func TestWriteRowsAsStructSaver(t *testing.T) {
	rows := edgeRows(rowsOf(demoScan(t), "123"))
	if len(rows.ScanErrors) == 0 || len(rows.Scans) < 2 {
		t.Fatal("edgeRows added no rows")
	}
	// The client's own encoding.
	want := bqfake.Start()
	t.Cleanup(want.Close)
	ww := newPathWriter(t, want, pathInserter)
	if err := ww.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	for table, savers := range map[string][]*bigquery.StructSaver{
		schema.TableFindings: structSavers(schema.TableFindings, rows.Findings, func(r scanner.Finding) string { return r.ScanID + "/" + r.FindingKey }),
		schema.TableClusters: structSavers(schema.TableClusters, rows.Clusters, func(r scanner.ClusterRecord) string {
			return r.ScanID + "/" + r.ProjectID + "/" + r.Location + "/" + r.Name
		}),
		schema.TableScanErrors: structSavers(schema.TableScanErrors, rows.ScanErrors, func(r scanner.ScanError) string {
			return r.ScanID + "/" + r.Resource + "/" + r.API + "/" + r.Code + "/" + r.Message
		}),
		schema.TableScans: structSavers(schema.TableScans, rows.Scans, func(r schema.ScanRow) string {
			return r.ScanID + "/" + strconv.FormatInt(r.Shard, 10) + "/" + r.Status
		}),
	} {
		if err := ww.Client.Dataset(dataset).Table(table).Inserter().Put(t.Context(), savers); err != nil {
			t.Fatalf("StructSavers into %s: %v", table, err)
		}
	}
	forEachPath(t, func(t *testing.T, path string) {
		got := bqfake.Start()
		t.Cleanup(got.Close)
		w := newPathWriter(t, got, path)
		if err := w.Ensure(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(t.Context(), rows); err != nil {
			t.Fatal(err)
		}
		for _, tb := range schema.Tables() {
			wantRows, gotRows := want.RowsJSON(project, dataset, tb.Name), got.RowsJSON(project, dataset, tb.Name)
			if len(gotRows) != len(wantRows) || len(wantRows) == 0 {
				t.Fatalf("%s: %d rows stored, want %d (and some)", tb.Name, len(gotRows), len(wantRows))
			}
			for i := range wantRows {
				if !bytes.Equal(gotRows[i], wantRows[i]) {
					t.Errorf("%s row %d differs from the StructSaver's (-StructSaver +writer):\n%s", tb.Name, i, cmp.Diff(string(wantRows[i]), string(gotRows[i])))
				}
			}
			if diff := cmp.Diff(want.InsertIDs(project, dataset, tb.Name), got.InsertIDs(project, dataset, tb.Name)); diff != "" {
				t.Errorf("%s insert IDs (-StructSaver +writer):\n%s", tb.Name, diff)
			}
		}
	})
}

// A time JSON cannot hold fails the Write before anything is sent, with
// encoding/json's error as before.
func TestWriteUnencodableTime(t *testing.T) {
	forEachPath(t, func(t *testing.T, path string) {
		srv, w := ensuredWriter(t, path)
		rows := rowsOf(demoScan(t), "")
		rows.Findings[3].ScannedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err := w.Write(t.Context(), rows)
		want := "write findings: json: error calling MarshalJSON for type time.Time: Time.MarshalJSON: year outside of range [0,9999]"
		if err == nil || err.Error() != want {
			t.Errorf("Write error = %v, want %s", err, want)
		}
		if n := srv.Requests()["tabledata.insertAll"]; n != 0 {
			t.Errorf("insertAll requests = %d, want none", n)
		}
	})
}

// Batches hold at most BatchRows rows and BatchBytes bytes of rows, and
// every row is sent once, in order.
func TestWriteBatches(t *testing.T) {
	forEachPath(t, func(t *testing.T, path string) {
		srv, w := ensuredWriter(t, path)
		rows := rowsOf(demoScan(t), "123")
		w.BatchRows, w.BatchBytes = 10, 8000
		st, err := w.Write(t.Context(), rows)
		if err != nil {
			t.Fatal(err)
		}
		if n := srv.MaxRowsSeen(); n > 10 {
			t.Errorf("max rows per request = %d, want <= 10", n)
		}
		var keys []string
		for _, r := range srv.Rows(project, dataset, schema.TableFindings) {
			keys = append(keys, r["finding_key"].(string))
		}
		var want []string
		size := 0
		for _, f := range rows.Findings {
			want = append(want, f.FindingKey)
			b, _ := json.Marshal(f)
			size += len(b)
		}
		if diff := cmp.Diff(want, keys); diff != "" {
			t.Errorf("findings stored (-sent +stored):\n%s", diff)
		}
		// About 1.5 kB a finding: 8000 bytes hold 5 or so, so more than
		// the 8 requests of 10 rows.
		if min := size / 8000; st.Requests < min+3 {
			t.Errorf("requests = %d, want at least %d for %d bytes of findings in 8000-byte batches", st.Requests, min+3, size)
		}
	})
}

// ensuredWriter starts a fake and a writer of path on it, with the
// dataset, tables and views created.
func ensuredWriter(t *testing.T, path string) (*bqfake.Server, *schema.Writer) {
	t.Helper()
	srv := bqfake.Start()
	t.Cleanup(srv.Close)
	w := newPathWriter(t, srv, path)
	if err := w.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	return srv, w
}
