package schema

// A DuckDB stand-in for the BigQuery dataset, to run views/*.sql on a real
// SQL engine in tests: the tables are created from Tables() (nothing is
// hand-written), the rows go in as the JSON of the insertAll path, and the
// views are the embedded SQL through one small dialect shim, duckDBSQL.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver
)

// The dataset the views are created in: DuckDB's catalog.schema stands for
// BigQuery's project.dataset.
const duckProject, duckDataset = "my-project", "fleetscan"

// duckDBRewrites are the BigQuery → DuckDB rewrites of duckDBSQL, in order.
// Each is a token-level replacement; a view that would need more is changed
// in views/*.sql to SQL that both engines accept (see latest_scans.sql).
//
//  1. `project.dataset.table` → "project"."dataset"."table": BigQuery quotes
//     a whole path with one pair of backticks; DuckDB quotes each part with
//     double quotes (catalog.schema.table; the project is an ATTACHed
//     catalog here).
//  2. STRUCT( → struct_pack(: BigQuery's tuple syntax STRUCT(a.x, a.y) names
//     the fields after the columns; DuckDB's struct_pack does the same, and
//     DuckDB has no STRUCT function.
//  3. ORDER BY … LIMIT 1)[OFFSET(0)] → ORDER BY …)[1]: DuckDB aggregates take
//     no LIMIT, and lists are indexed from 1, not with OFFSET from 0. The
//     first element of the whole ordered array is the same value; BigQuery
//     keeps LIMIT 1 to bound the array's memory.
//  4. * EXCEPT ( → * EXCLUDE (: DuckDB's name of the column exclusion (EXCEPT
//     is only a set operation there).
//
// Not rewritten, because DuckDB already agrees: COUNTIF, ANY_VALUE, IF,
// COUNT(DISTINCT …), ROW_NUMBER() OVER, ARRAY_AGG(… ORDER BY …), field
// access on a STRUCT (h.last.issue_id), and integer / integer giving a
// float. SAFE_DIVIDE is not rewritten either: openDuckDB creates it as a
// macro with BigQuery's meaning (NULL when dividing by zero). One difference
// the views do not meet: DuckDB's CONCAT skips NULLs where BigQuery's returns
// NULL; the views only concatenate REQUIRED columns, or guard node_pool with
// IF(node_pool != ”, …, NULL).
var duckDBRewrites = []struct {
	name string
	re   *regexp.Regexp
	repl func(string) string
}{
	{"backtick path", regexp.MustCompile("`[^`]+`"), func(m string) string {
		parts := strings.Split(strings.Trim(m, "`"), ".")
		for i, p := range parts {
			parts[i] = `"` + p + `"`
		}
		return strings.Join(parts, ".")
	}},
	{"STRUCT(", regexp.MustCompile(`\bSTRUCT\(`), func(string) string { return "struct_pack(" }},
	{"LIMIT 1)[OFFSET(0)]", regexp.MustCompile(`\s+LIMIT 1\s*\)\[OFFSET\(0\)\]`), func(string) string { return ")[1]" }},
	{"* EXCEPT (", regexp.MustCompile(`\*\s+EXCEPT\s*\(`), func(string) string { return "* EXCLUDE (" }},
}

// duckDBSQL is a view's BigQuery SQL in DuckDB's dialect; see duckDBRewrites.
func duckDBSQL(bq string) string {
	for _, r := range duckDBRewrites {
		bq = r.re.ReplaceAllStringFunc(bq, r.repl)
	}
	return bq
}

// duckName is a table or view of the DuckDB dataset, quoted.
func duckName(name string) string {
	return fmt.Sprintf("%q.%q.%q", duckProject, duckDataset, name)
}

// duckType is the DuckDB type of a BigQuery column.
func duckType(f *bigquery.FieldSchema) (string, error) {
	var typ string
	switch f.Type {
	case bigquery.StringFieldType:
		typ = "VARCHAR"
	case bigquery.IntegerFieldType:
		typ = "BIGINT"
	case bigquery.FloatFieldType:
		typ = "DOUBLE"
	case bigquery.BooleanFieldType:
		typ = "BOOLEAN"
	case bigquery.TimestampFieldType:
		typ = "TIMESTAMPTZ" // BigQuery's TIMESTAMP is an instant, like TIMESTAMPTZ (both in microseconds)
	case bigquery.DateFieldType:
		typ = "DATE"
	case bigquery.RecordFieldType:
		s, err := duckStruct(f.Schema)
		if err != nil {
			return "", fmt.Errorf("%s.%w", f.Name, err)
		}
		typ = s
	default:
		return "", fmt.Errorf("%s: no DuckDB type for BigQuery %s", f.Name, f.Type)
	}
	if f.Repeated {
		typ += "[]"
	}
	return typ, nil
}

// duckStruct is a STRUCT type with the columns of s.
func duckStruct(s bigquery.Schema) (string, error) {
	fields := make([]string, len(s))
	for i, f := range s {
		typ, err := duckType(f)
		if err != nil {
			return "", err
		}
		fields[i] = fmt.Sprintf("%q %s", f.Name, typ)
	}
	return "STRUCT(" + strings.Join(fields, ", ") + ")", nil
}

// createTableSQL is the CREATE TABLE of t, from its Go row type's schema:
// REQUIRED columns are NOT NULL.
func createTableSQL(t Table) (string, error) {
	var cols []string
	for _, f := range t.Schema() {
		typ, err := duckType(f)
		if err != nil {
			return "", fmt.Errorf("table %s: %w", t.Name, err)
		}
		col := fmt.Sprintf("%q %s", f.Name, typ)
		if f.Required {
			col += " NOT NULL"
		}
		cols = append(cols, col)
	}
	return fmt.Sprintf("CREATE TABLE %s (\n  %s\n)", duckName(t.Name), strings.Join(cols, ",\n  ")), nil
}

// openDuckDB opens an in-memory DuckDB with the dataset's tables and views.
func openDuckDB(t *testing.T) *sql.DB {
	t.Helper()
	// In memory, and hermetic: DuckDB never downloads an extension (JSON and
	// ICU, the ones used here, are linked into the bindings).
	db, err := sql.Open("duckdb", "?autoinstall_known_extensions=false&autoload_known_extensions=false")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one connection: one session, one TimeZone
	t.Cleanup(func() { db.Close() })
	stmts := []string{
		"SET TimeZone = 'UTC'",
		fmt.Sprintf("ATTACH ':memory:' AS %q", duckProject),
		fmt.Sprintf("CREATE SCHEMA %q.%q", duckProject, duckDataset),
		// BigQuery's SAFE_DIVIDE: NULL instead of a division-by-zero error.
		"CREATE MACRO safe_divide(x, y) AS CASE WHEN y = 0 THEN NULL ELSE x / y END",
	}
	for _, tb := range Tables() {
		q, err := createTableSQL(tb)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, q)
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	for _, v := range Views() { // in creation order: later views read earlier ones
		q := duckDBSQL(v.Query(duckProject, duckDataset))
		if _, err := db.Exec("CREATE VIEW " + duckName(v.Name) + " AS\n" + q); err != nil {
			t.Fatalf("view %s: %v\nDuckDB SQL:\n%s", v.Name, err, q)
		}
	}
	return db
}

// insertRows inserts rows as the writer does: each row goes through the
// BigQuery client's StructSaver with the table's schema (what insertAll
// sends), then in as JSON cast to the table's row type. A row that does not
// fit the schema, or a NULL in a REQUIRED column, fails the test.
func insertRows[T any](t *testing.T, db *sql.DB, table string, rows []T) {
	t.Helper()
	if len(rows) == 0 {
		return
	}
	tb, ok := TableByName(table)
	if !ok {
		t.Fatalf("no table %s", table)
	}
	sch := tb.Schema()
	saved := make([]map[string]bigquery.Value, len(rows))
	for i, r := range rows {
		m, _, err := (&bigquery.StructSaver{Schema: sch, Struct: r}).Save()
		if err != nil {
			t.Fatalf("%s row %d: %v", table, i, err)
		}
		saved[i] = asStored(m, sch)
	}
	b, err := json.Marshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	rowType, err := duckStruct(sch)
	if err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf("INSERT INTO %s BY NAME SELECT r.* FROM (SELECT unnest(CAST(CAST(? AS JSON) AS %s[])) AS r)", duckName(table), rowType)
	res, err := db.Exec(q, string(b))
	if err != nil {
		t.Fatalf("insert into %s: %v", table, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != int64(len(rows)) {
		t.Fatalf("insert into %s: %d rows inserted (%v), want %d", table, n, err, len(rows))
	}
}

// asStored fills in the columns that insertAll leaves out of a row as
// BigQuery stores them: the client omits NULLs and empty REPEATED fields,
// BigQuery keeps NULL and an empty array (a REPEATED column is never NULL).
// DuckDB's JSON-to-STRUCT cast wants every key.
func asStored(m map[string]bigquery.Value, sch bigquery.Schema) map[string]bigquery.Value {
	for _, f := range sch {
		v, ok := m[f.Name]
		switch {
		case !ok && f.Repeated:
			m[f.Name] = []bigquery.Value{}
		case !ok:
			m[f.Name] = nil
		case f.Type == bigquery.RecordFieldType && f.Repeated:
			for _, e := range v.([]bigquery.Value) {
				asStored(e.(map[string]bigquery.Value), f.Schema)
			}
		case f.Type == bigquery.RecordFieldType:
			asStored(v.(map[string]bigquery.Value), f.Schema)
		}
	}
	return m
}

// insertAll inserts a scan's rows in the writer's order: the scans row last.
func insertAll(t *testing.T, db *sql.DB, rows Rows) {
	t.Helper()
	insertRows(t, db, TableFindings, rows.Findings)
	insertRows(t, db, TableClusters, rows.Clusters)
	insertRows(t, db, TableScanErrors, rows.ScanErrors)
	insertRows(t, db, TableScans, rows.Scans)
}

// queryAs runs a query and decodes each row into a T by column name: the row
// as a JSON object (TIMESTAMPs as RFC 3339, lists as arrays, structs as
// objects) decoded with T's json tags. A column T lacks fails the test, so
// an extra column in a view (a rank not excluded) is caught.
func queryAs[T any](t *testing.T, db *sql.DB, query string, args ...any) []T {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	out := []T{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		obj := make(map[string]any, len(cols))
		for i, c := range cols {
			obj[c] = vals[i]
		}
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		var v T
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: row %s: %v", query, b, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// columnNames are the output columns of a table or view, in order.
func columnNames(t *testing.T, db *sql.DB, name string) []string {
	t.Helper()
	rows, err := db.Query("SELECT * FROM " + duckName(name) + " LIMIT 0")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	return cols
}
