package schema

import (
	"embed"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/fleetscan/fleetscan/scanner"
)

// Table names.
const (
	TableScans      = "scans"
	TableClusters   = "clusters"
	TableFindings   = "findings"
	TableScanErrors = "scan_errors"
)

// Table is one BigQuery table of fleetscan.
type Table struct {
	Name        string
	Description string
	row         any      // a zero row value; its type defines the columns
	required    []string // top-level columns that are REQUIRED; all others NULLABLE or REPEATED
	Partition   string   // the TIMESTAMP column of the daily partitions
	Clustering  []string
	// order is the deployed tables' column order, when the row type's
	// differs: BigQuery only appends columns, so a column not listed
	// (added later) goes at the end.
	order []string
	// descriptions of columns, by dotted path ("evidence.source").
	descriptions map[string]string
}

// Tables lists every table, in the order they are written.
func Tables() []Table {
	return []Table{
		{
			Name: TableScans, Description: "One row per scan or shard of a scan.", row: ScanRow{},
			required:  []string{"scan_id", "scope", "status", "started_at", "finished_at"},
			Partition: "started_at", Clustering: []string{"scope", "scan_id"},
			descriptions: map[string]string{
				"scan_id":                "The scan; shards of one scan share it.",
				"scope":                  "What was scanned: organizations/N, folders/N, projects/ID, or files:… for an offline scan.",
				"shard":                  "This row's shard, 0-based; 0 of 1 for an unsharded scan.",
				"shards":                 "How many shards the scan has.",
				"status":                 "COMPLETE, COMPLETE_WITH_ERRORS (see scan_errors), or PLANNED for a fanned-out scan not yet done.",
				"catalog_version":        "Content hash of the known-issue catalog used.",
				"lookback":               "Cloud Logging window of the evidence, as a Go duration.",
				"projects":               "Projects with at least one cluster.",
				"projects_failed":        "Projects with an error in scan_errors.",
				"kubernetes_calls":       "The in-cluster checks' calls by type: ListAssets per asset type (asset-inventory) or list calls per resource (api).",
				"kubernetes_calls.api":   "cloudasset or kubernetes.",
				"kubernetes_calls.type":  "The asset type (apps.k8s.io/DaemonSet) or resource (daemonsets) listed.",
				"kubernetes_calls.calls": "Calls made, pages and retries included.",
			},
		},
		{
			Name: TableClusters, Description: "Every cluster a scan saw: the denominator of every report.", row: scanner.ClusterRecord{},
			required: []string{"scan_id", "scanned_at", "project_id", "location", "cluster"},
			order: []string{"scan_id", "scanned_at", "organization_id", "project_id", "location", "cluster", "cluster_id",
				"cluster_status", "master_version", "node_version", "initial_version", "release_channel",
				"datapath_provider", "dataplane_v2", "autopilot", "vpc_native", "node_pools", "skipped_checks"},
			Partition: "scanned_at", Clustering: []string{"project_id", "cluster"},
			descriptions: map[string]string{
				"master_version":           "currentMasterVersion: the control plane's GKE version.",
				"node_version":             "currentNodeVersion: the oldest node's version.",
				"datapath_provider":        "networkConfig.datapathProvider; empty when absent (legacy dataplane).",
				"dataplane_v2":             "True when datapath_provider is ADVANCED_DATAPATH.",
				"skipped_checks":           "Issue IDs that need in-cluster (Kubernetes API) access and were not checked.",
				"self_link":                "The cluster's Container API URL.",
				"node_pools.upgrade_to":    "The pool's target in the cluster's upgrade plan; empty when it needs none or none offered clears it.",
				"upgrade_control_plane_to": "The control plane's target: the lowest offered version that clears its version-decided findings (raised when a pool needs more); empty when none.",
				"upgrade_clears":           "Findings the upgrade plan clears.",
				"upgrade_steps":            "The plan's steps in order: the control plane one minor at a time, pools within the version skew.",
				"upgrade_reason":           "Why the plan is partial or was not checked against offered versions; empty otherwise.",
			},
		},
		{
			Name: TableFindings, Description: "One row per issue found on a cluster or node pool, per scan.", row: scanner.Finding{},
			required:  []string{"scan_id", "scanned_at", "finding_key", "project_id", "location", "cluster", "issue_id", "severity", "status"},
			Partition: "scanned_at", Clustering: []string{"project_id", "cluster", "issue_id"},
			descriptions: map[string]string{
				"finding_key":         "Stable across scans: a hash of project, location, cluster, node pool and issue ID.",
				"node_pool":           "The node pool, or empty for a cluster-level finding.",
				"severity":            "CRITICAL, HIGH, MEDIUM, LOW or INFO.",
				"status":              "AFFECTED (every condition holds), OBSERVED (symptom in Cloud Logging) or UNKNOWN (could not be decided).",
				"component":           "What was compared: control_plane or node_pool.",
				"version":             "The compared version.",
				"fixed_in":            "The first fixed version on this minor; empty when none is documented.",
				"reason":              "One sentence a person can act on.",
				"evidence":            "What supports the finding.",
				"evidence.source":     "container_api, cloud_logging or kubernetes_api.",
				"evidence.count":      "Occurrences: 1 for an API field, the events' counts for logs.",
				"evidence.nodes":      "Nodes where the symptom was logged (at most 20).",
				"evidence.query":      "The Cloud Logging filter that found the entries.",
				"evidence.sample":     "One log message.",
				"evidence.summary":    "What the evidence says.",
				"catalog_version":     "Content hash of the known-issue catalog used.",
				"organization_id":     "The organization number, when the scope is an organization.",
				"evidence.first_seen": "The first matching log entry in the window.",
				"evidence.last_seen":  "The last matching log entry in the window.",
				"upgrade_to":          "The one version offered to this cluster that clears every version-decided finding of this component (control plane or pool); empty when none is known.",
				"category":            "The catalog entry's group, as GKE's known-issues page groups issues (fleetscan catalog list shows them).",
			},
		},
		{
			Name: TableScanErrors, Description: "Parts of a scope a scan could not read; the scan went on without them.", row: scanner.ScanError{},
			required:  []string{"scan_id", "scanned_at", "api", "code"},
			Partition: "scanned_at", Clustering: []string{"project_id", "api"},
			descriptions: map[string]string{
				"resource": "What could not be read: projects/ID, folders/N, or an asset.",
				"api":      "cloudasset, container, resourcemanager or logging.",
				"code":     "The API error code, e.g. PERMISSION_DENIED.",
			},
		},
	}
}

// TableByName returns the named table.
func TableByName(name string) (Table, bool) {
	for _, t := range Tables() {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Schema derives the table's BigQuery schema from its Go row type: every
// column NULLABLE (or REPEATED) except the listed REQUIRED ones, with
// descriptions. New columns may only ever be NULLABLE or REPEATED.
func (t Table) Schema() bigquery.Schema {
	s, err := inferSchema(reflect.TypeOf(t.row))
	if err != nil {
		panic(fmt.Sprintf("schema %s: %v", t.Name, err)) // a programming error, caught by the tests
	}
	if t.order != nil {
		rank := func(f *bigquery.FieldSchema) int {
			if i := slices.Index(t.order, f.Name); i >= 0 {
				return i
			}
			return len(t.order)
		}
		slices.SortStableFunc(s, func(a, b *bigquery.FieldSchema) int { return rank(a) - rank(b) })
	}
	t.annotate(s, "")
	return s
}

var typeOfTime = reflect.TypeFor[time.Time]()

// inferSchema maps a Go record to BigQuery columns as bigquery.InferSchema
// does (names from bigquery tags, embedded structs flattened, "-" left
// out), plus *time.Time as a TIMESTAMP (the scanner's optional times),
// with every column NULLABLE or REPEATED.
func inferSchema(rt reflect.Type) (bigquery.Schema, error) {
	var s bigquery.Schema
	for _, f := range structFields(rt, nil) {
		fs, err := inferField(f.typ)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", f.owner.Name(), f.goName, err)
		}
		fs.Name = f.name
		s = append(s, fs)
	}
	return s, nil
}

// structField is a column's field in a row type: its column name (the
// bigquery tag, else the Go name), where it is in the type, its type, and
// the struct that declares it (an embedded one's fields are flattened).
type structField struct {
	name   string
	index  []int
	typ    reflect.Type
	owner  reflect.Type
	goName string
}

// structFields are rt's columns in order: exported fields, "-" left out,
// embedded structs without a tag name flattened.
func structFields(rt reflect.Type, index []int) []structField {
	var out []structField
	for f := range rt.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("bigquery"), ",")
		if name == "-" {
			continue
		}
		idx := append(slices.Clone(index), f.Index...)
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, structFields(f.Type, idx)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, structField{name: name, index: idx, typ: f.Type, owner: rt, goName: f.Name})
	}
	return out
}

func inferField(t reflect.Type) (*bigquery.FieldSchema, error) {
	if t == typeOfTime || t.Kind() == reflect.Pointer && t.Elem() == typeOfTime {
		return &bigquery.FieldSchema{Type: bigquery.TimestampFieldType}, nil
	}
	switch t.Kind() {
	case reflect.String:
		return &bigquery.FieldSchema{Type: bigquery.StringFieldType}, nil
	case reflect.Bool:
		return &bigquery.FieldSchema{Type: bigquery.BooleanFieldType}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return &bigquery.FieldSchema{Type: bigquery.IntegerFieldType}, nil
	case reflect.Float32, reflect.Float64:
		return &bigquery.FieldSchema{Type: bigquery.FloatFieldType}, nil
	case reflect.Struct:
		inner, err := inferSchema(t)
		if err != nil {
			return nil, err
		}
		return &bigquery.FieldSchema{Type: bigquery.RecordFieldType, Schema: inner}, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Slice {
			return nil, fmt.Errorf("nested repeated type %s", t)
		}
		fs, err := inferField(t.Elem())
		if err != nil {
			return nil, err
		}
		fs.Repeated = true
		return fs, nil
	}
	return nil, fmt.Errorf("unsupported type %s", t)
}

func (t Table) annotate(s bigquery.Schema, prefix string) {
	for _, f := range s {
		path := prefix + f.Name
		f.Description = t.descriptions[path]
		if prefix == "" && slices.Contains(t.required, f.Name) {
			f.Required = true
		}
		if f.Type == bigquery.RecordFieldType {
			t.annotate(f.Schema, path+".")
		}
	}
}

// SchemaJSON is the schema in the JSON form of bq and Terraform's
// google_bigquery_table.schema.
func (t Table) SchemaJSON() ([]byte, error) {
	b, err := t.Schema().ToJSONFields()
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(v, "", "  ")
	return append(out, '\n'), err
}

// Metadata is what the writer creates a table with.
func (t Table) Metadata() *bigquery.TableMetadata {
	return &bigquery.TableMetadata{
		Description:      t.Description,
		Schema:           t.Schema(),
		TimePartitioning: &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: t.Partition},
		Clustering:       &bigquery.Clustering{Fields: t.Clustering},
	}
}

//go:embed views/*.sql
var files embed.FS

// View is one view of the dataset.
type View struct {
	Name string
	SQL  string // with ${project} and ${dataset} placeholders
}

// Views lists the report views, in creation order (later ones may use
// earlier ones).
func Views() []View {
	names := []string{"complete_scans", "latest_scans", "latest_findings", "latest_clusters", "fleet_summary", "finding_history", "upgrade_plan"}
	out := make([]View, 0, len(names))
	for _, n := range names {
		b, err := files.ReadFile("views/" + n + ".sql")
		if err != nil {
			panic(err) // embedded: a missing file is a build error caught by tests
		}
		out = append(out, View{Name: n, SQL: string(b)})
	}
	return out
}

// Query is the view's SQL for a dataset.
func (v View) Query(project, dataset string) string {
	return strings.NewReplacer("${project}", project, "${dataset}", dataset).Replace(v.SQL)
}
