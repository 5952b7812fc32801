package test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"

	"github.com/fleetscan/fleetscan/function"
	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/schema"
)

// keysOf is the sorted keys of a JSON object, and those of its objects and
// arrays of objects as "parent.key".
func keysOf(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			out = append(out, prefix+k)
			if a, ok := v.([]any); ok && len(a) > 0 {
				v = a[0]
			}
			if o, ok := v.(map[string]any); ok {
				walk(prefix+k+".", o)
			}
		}
	}
	walk("", m)
	slices.Sort(out)
	return out
}

func columnsOf(s bigquery.Schema, prefix string) []string {
	var out []string
	for _, f := range s {
		out = append(out, prefix+f.Name)
		if f.Type == bigquery.RecordFieldType {
			out = append(out, columnsOf(f.Schema, prefix+f.Name+".")...)
		}
	}
	slices.Sort(out)
	return out
}

func table(t *testing.T, name string) schema.Table {
	t.Helper()
	tb, ok := schema.TableByName(name)
	if !ok {
		t.Fatalf("no table %s", name)
	}
	return tb
}

// A finding is one record: its NDJSON line (--format ndjson and --out-dir),
// an alert's data (less "transition") and the findings table's columns are
// the same set of keys, nested evidence included; a cluster record's and a
// scan error's JSON and their tables' columns too.
func TestOneRecordPerConcept(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f := scanner.Finding{ScanID: "s", ScannedAt: at, FindingKey: "k", Status: scanner.Observed,
		Evidence: []scanner.Evidence{{Source: "cloud_logging", FirstSeen: &at, LastSeen: &at, Nodes: []string{"n"}}}}
	line, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	cols := columnsOf(table(t, schema.TableFindings).Schema(), "")
	if diff := cmp.Diff(cols, keysOf(t, line)); diff != "" {
		t.Errorf("findings columns vs NDJSON keys (-columns +ndjson):\n%s", diff)
	}
	data := keysOf(t, function.Alert{Transition: function.TransitionNew, Finding: f}.Message().Data)
	data = slices.DeleteFunc(data, func(k string) bool { return k == "transition" })
	if diff := cmp.Diff(cols, data); diff != "" {
		t.Errorf("findings columns vs alert data keys (-columns +alert):\n%s", diff)
	}
	rows := schema.FromResult(&scanner.Result{Findings: []scanner.Finding{f}})
	if len(rows.Findings) != 1 || !cmp.Equal(rows.Findings[0], f) {
		t.Errorf("the findings row is not the finding itself: %+v", rows.Findings)
	}

	rec := scanner.ClusterRecord{ScanID: "s", ScannedAt: at, Cluster: scanner.Cluster{NodePools: []scanner.Pool{{Name: "p"}}}, SkippedChecks: []string{}}
	cl, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(columnsOf(table(t, schema.TableClusters).Schema(), ""), keysOf(t, cl)); diff != "" {
		t.Errorf("clusters columns vs cluster record JSON keys (-columns +json):\n%s", diff)
	}
	rows = schema.FromResult(&scanner.Result{Clusters: []scanner.ClusterRecord{rec}})
	if len(rows.Clusters) != 1 || !cmp.Equal(rows.Clusters[0], rec) {
		t.Errorf("the clusters row is not the cluster record itself: %+v", rows.Clusters)
	}

	se, err := json.Marshal(scanner.ScanError{ScanID: "s", ScannedAt: at, Code: "PERMISSION_DENIED"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(columnsOf(table(t, schema.TableScanErrors).Schema(), ""), keysOf(t, se)); diff != "" {
		t.Errorf("scan_errors columns vs scan error JSON keys (-columns +json):\n%s", diff)
	}
}
