package schema

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite tables/*.json from the Go row types")

// The schema files that Terraform and bq read are generated from the Go row
// types; go test -update regenerates them.
func TestSchemaFiles(t *testing.T) {
	for _, tb := range Tables() {
		t.Run(tb.Name, func(t *testing.T) {
			got, err := tb.SchemaJSON()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("tables", tb.Name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./schema -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s is stale (-file +Go types); run go test ./schema -update:\n%s", path, diff)
			}
		})
	}
	files, _ := filepath.Glob("tables/*.json")
	if len(files) != len(Tables()) {
		t.Errorf("tables/ has %d files, want one per table (%d)", len(files), len(Tables()))
	}
}

func TestTableShape(t *testing.T) {
	for _, tb := range Tables() {
		s := tb.Schema()
		cols := map[string]*bigquery.FieldSchema{}
		for _, f := range s {
			cols[f.Name] = f
		}
		if p := cols[tb.Partition]; p == nil || p.Type != bigquery.TimestampFieldType || !p.Required {
			t.Errorf("%s: partition column %q must be a REQUIRED TIMESTAMP", tb.Name, tb.Partition)
		}
		for _, c := range tb.Clustering {
			if cols[c] == nil {
				t.Errorf("%s: clustering column %q does not exist", tb.Name, c)
			}
		}
		for _, r := range tb.required {
			if cols[r] == nil {
				t.Errorf("%s: required column %q does not exist", tb.Name, r)
			}
		}
		for path := range tb.descriptions {
			if !hasPath(s, strings.Split(path, ".")) {
				t.Errorf("%s: description for unknown column %q", tb.Name, path)
			}
		}
		for _, c := range tb.order {
			if cols[c] == nil {
				t.Errorf("%s: ordered column %q does not exist", tb.Name, c)
			}
		}
		if _, ok := cols["scan_id"]; !ok {
			t.Errorf("%s: no scan_id column", tb.Name)
		}
	}
	f, _ := TableByName(TableFindings)
	var names []string
	for _, c := range f.Schema() {
		names = append(names, c.Name)
	}
	// The finding contract of DESIGN.md, in order, and the columns added
	// since (appended: BigQuery only appends).
	want := []string{"scan_id", "scanned_at", "finding_key", "organization_id", "project_id", "location", "cluster",
		"cluster_id", "node_pool", "issue_id", "title", "severity", "status", "component", "version", "fixed_in",
		"reason", "remediation", "docs_url", "catalog_version", "evidence", "upgrade_to", "category"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("findings columns (-contract +schema):\n%s", diff)
	}
}

func hasPath(s bigquery.Schema, path []string) bool {
	i := slices.IndexFunc(s, func(f *bigquery.FieldSchema) bool { return f.Name == path[0] })
	if i < 0 {
		return false
	}
	return len(path) == 1 || hasPath(s[i].Schema, path[1:])
}

func TestViews(t *testing.T) {
	vs := Views()
	if len(vs) != 7 {
		t.Fatalf("views = %d", len(vs))
	}
	known := map[string]bool{}
	for _, tb := range Tables() {
		known[tb.Name] = true
	}
	for _, v := range vs {
		q := v.Query("my-proj", "fleetscan")
		if strings.Contains(q, "${") {
			t.Errorf("%s: placeholder left in %s", v.Name, q)
		}
		// Every table a view reads exists, and views only read earlier views.
		for _, ref := range strings.Split(q, "`my-proj.fleetscan.")[1:] {
			name, _, _ := strings.Cut(ref, "`")
			if !known[name] {
				t.Errorf("view %s reads %s, which is not a table or an earlier view", v.Name, name)
			}
		}
		known[v.Name] = true
	}
}
