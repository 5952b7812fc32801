package schema_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

func newWriter(t testing.TB, srv *bqfake.Server) *schema.Writer {
	t.Helper()
	c, err := bigquery.NewClient(context.Background(), project, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &schema.Writer{Client: c, Dataset: dataset, Retry: fastRetry}
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
	srv := bqfake.Start()
	t.Cleanup(srv.Close)
	w := newWriter(t, srv)
	if err := w.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	res := demoScan(t)
	st, err := w.Write(t.Context(), rowsOf(res, "123"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"findings": 74, "clusters": 22, "scan_errors": 0, "scans": 1}
	if diff := cmp.Diff(map[string]int{"findings": 74, "clusters": 22, "scans": 1}, st.Rows); diff != "" {
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
}

// Writing the same scan twice, as a retried or redelivered write does,
// leaves the set of de-duplication keys the views use unchanged, and the
// insert IDs are the same, so BigQuery's own de-duplication applies too.
func TestWriteTwiceSameKeys(t *testing.T) {
	srv := bqfake.Start()
	t.Cleanup(srv.Close)
	w := newWriter(t, srv)
	if err := w.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
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
	if len(first) != 74 {
		t.Errorf("distinct keys = %d, want 74", len(first))
	}
}

func TestWriteRetriesTransient(t *testing.T) {
	srv := bqfake.Start()
	t.Cleanup(srv.Close)
	w := newWriter(t, srv)
	if err := w.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.FailNext("tabledata.insertAll", 503, "backendError", 2)
	if _, err := w.Write(t.Context(), rowsOf(demoScan(t), "")); err != nil {
		t.Fatalf("Write after two 503s: %v", err)
	}
	if n := len(srv.Rows(project, dataset, schema.TableFindings)); n != 74 {
		t.Errorf("findings stored = %d, want 74 exactly once", n)
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
}

// A permanent 4xx is reported with the table and BigQuery's reason.
func TestWritePermanentError(t *testing.T) {
	srv := bqfake.Start()
	t.Cleanup(srv.Close)
	w := newWriter(t, srv)
	if err := w.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.FailNext("tabledata.insertAll", 403, "accessDenied", 1)
	_, err := w.Write(t.Context(), rowsOf(demoScan(t), ""))
	if err == nil || !strings.HasPrefix(err.Error(), "write findings: googleapi: Error 403: ") || !strings.Contains(err.Error(), "accessDenied") {
		t.Errorf("Write error = %v, want the findings table and accessDenied", err)
	}
	if n := srv.Requests()["tabledata.insertAll"]; n != 1 {
		t.Errorf("insertAll requests = %d, want 1: a 403 is not retried", n)
	}
}

// A table without a column the writer sends (created by hand, Ensure not
// run): BigQuery's row errors come back naming the table, row and field.
func TestWriteRowErrors(t *testing.T) {
	srv := bqfake.Start()
	t.Cleanup(srv.Close)
	w := newWriter(t, srv)
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
		if table == "findings" && n != 74 {
			t.Errorf("findings lines = %d, want 74", n)
		}
	}
}
