package schema

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"google.golang.org/api/googleapi"
)

// Writer writes scans to a BigQuery dataset with tabledata.insertAll.
//
// Why insertAll and not the Storage Write API: a scan writes thousands of
// rows a day, far below where the Write API's lower price matters; insertAll
// rows are queryable at once; and its insertId, set here from each row's
// natural key, is BigQuery's own best-effort de-duplication. What that
// best effort misses, the views remove: they keep one row per key. So a
// retried or redelivered write never shows twice in a report.
type Writer struct {
	Client    *bigquery.Client
	Dataset   string
	Location  string // where a new dataset is created; default US
	BatchRows int    // rows per insertAll request; default 500, BigQuery's recommendation
	// BatchBytes bounds a request's JSON size; default 5 MB (the limit is 10 MB).
	BatchBytes int
	Retry      gcpclient.Policy // default DefaultRetry
}

// DefaultRetry suits BigQuery's per-table rate limits: 5xx, 429 and
// rate-limit errors (gcpclient.TransientHTTP) are retried with capped
// exponential backoff and full jitter. Each try has its own deadline: the Go
// client itself retries a 5xx insertAll until its context ends, so without
// one a BigQuery outage would hang the writer.
var DefaultRetry = gcpclient.Policy{Attempts: 6, Initial: 500 * time.Millisecond, Max: 20 * time.Second, Timeout: 60 * time.Second}

// Stats counts what one Write sent.
type Stats struct {
	Rows     map[string]int // by table
	Requests int            // insertAll requests, retries included
}

// Ensure creates the dataset, tables and views that are missing, adds the
// columns a newer fleetscan has to existing tables, and updates view
// queries. It never drops or recreates a table, and never removes a column.
func (w *Writer) Ensure(ctx context.Context) error {
	// The names go into the views' SQL: refuse anything outside GCP's formats.
	if err := checkNames(w.Client.Project(), w.Dataset); err != nil {
		return fmt.Errorf("BigQuery dataset %s.%s: %w", w.Client.Project(), w.Dataset, err)
	}
	ds := w.Client.Dataset(w.Dataset)
	if _, err := ds.Metadata(ctx); err != nil {
		if !isCode(err, http.StatusNotFound) {
			return fmt.Errorf("dataset %s: %w", w.Dataset, err)
		}
		md := &bigquery.DatasetMetadata{Location: w.location(), Description: "fleetscan: GKE clusters exposed to known issues."}
		if err := ds.Create(ctx, md); err != nil && !isCode(err, http.StatusConflict) {
			return fmt.Errorf("create dataset %s: %w", w.Dataset, err)
		}
	}
	for _, t := range Tables() {
		if err := w.ensureTable(ctx, ds, t); err != nil {
			return err
		}
	}
	for _, v := range Views() {
		if err := w.ensureView(ctx, ds, v); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) location() string {
	if w.Location == "" {
		return "US"
	}
	return w.Location
}

func (w *Writer) ensureTable(ctx context.Context, ds *bigquery.Dataset, t Table) error {
	tbl := ds.Table(t.Name)
	md, err := tbl.Metadata(ctx)
	if isCode(err, http.StatusNotFound) {
		err = tbl.Create(ctx, t.Metadata())
		if err == nil {
			return nil
		}
		if !isCode(err, http.StatusConflict) { // created meanwhile by another writer: check it below
			return fmt.Errorf("create table %s: %w", t.Name, err)
		}
		md, err = tbl.Metadata(ctx)
	}
	if err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	merged, added, err := MergeSchema(md.Schema, t.Schema())
	if err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	if len(added) == 0 {
		return nil
	}
	if _, err := tbl.Update(ctx, bigquery.TableMetadataToUpdate{Schema: merged}, md.ETag); err != nil {
		return fmt.Errorf("add columns %s to table %s: %w", strings.Join(added, ", "), t.Name, err)
	}
	return nil
}

func (w *Writer) ensureView(ctx context.Context, ds *bigquery.Dataset, v View) error {
	tbl := ds.Table(v.Name)
	query := v.Query(w.Client.Project(), w.Dataset)
	md, err := tbl.Metadata(ctx)
	switch {
	case isCode(err, http.StatusNotFound):
		if err := tbl.Create(ctx, &bigquery.TableMetadata{ViewQuery: query}); err != nil && !isCode(err, http.StatusConflict) {
			return fmt.Errorf("create view %s: %w", v.Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("view %s: %w", v.Name, err)
	case md.ViewQuery == query:
		return nil
	}
	if _, err := tbl.Update(ctx, bigquery.TableMetadataToUpdate{ViewQuery: query}, md.ETag); err != nil {
		return fmt.Errorf("update view %s: %w", v.Name, err)
	}
	return nil
}

// MergeSchema returns the existing schema with the columns of want that it
// lacks appended (recursively in RECORDs), and their dotted names. A new
// column must be NULLABLE or REPEATED; a column whose type or mode differs
// is an error: BigQuery cannot change it in place. Columns only in the
// existing schema stay.
func MergeSchema(have, want bigquery.Schema) (bigquery.Schema, []string, error) {
	return mergeSchema(have, want, "")
}

func mergeSchema(have, want bigquery.Schema, prefix string) (bigquery.Schema, []string, error) {
	out := make(bigquery.Schema, 0, len(have)+len(want))
	byName := map[string]*bigquery.FieldSchema{}
	for _, f := range have {
		c := *f
		out = append(out, &c)
		byName[strings.ToLower(f.Name)] = &c
	}
	var added []string
	var errs []error
	for _, f := range want {
		path := prefix + f.Name
		h, ok := byName[strings.ToLower(f.Name)]
		if !ok {
			if f.Required {
				errs = append(errs, fmt.Errorf("new column %s is REQUIRED; only NULLABLE or REPEATED columns can be added", path))
				continue
			}
			c := *f
			out = append(out, &c)
			added = append(added, path)
			continue
		}
		if h.Type != f.Type || h.Repeated != f.Repeated || (h.Required && !f.Required) {
			errs = append(errs, fmt.Errorf("column %s is %s in BigQuery but %s in fleetscan; BigQuery cannot change it in place", path, mode(h), mode(f)))
			continue
		}
		if f.Type == bigquery.RecordFieldType {
			sub, subAdded, err := mergeSchema(h.Schema, f.Schema, path+".")
			if err != nil {
				errs = append(errs, err)
				continue
			}
			h.Schema = sub
			added = append(added, subAdded...)
		}
	}
	return out, added, errors.Join(errs...)
}

func mode(f *bigquery.FieldSchema) string {
	switch {
	case f.Repeated:
		return "REPEATED " + string(f.Type)
	case f.Required:
		return "REQUIRED " + string(f.Type)
	}
	return "NULLABLE " + string(f.Type)
}

// Write inserts a scan's rows: findings, clusters and errors first, the
// scans row last, so that a view never sees a scan as complete before its
// rows are in. Every row carries an insertId from its natural key, so a
// retried Write sends the same IDs.
func (w *Writer) Write(ctx context.Context, rows Rows) (Stats, error) {
	st := Stats{Rows: map[string]int{}}
	steps := []struct {
		table string
		items []keyed
	}{
		{TableFindings, keyedRows(rows.Findings, func(r scanner.Finding) string { return r.ScanID + "/" + r.FindingKey })},
		{TableClusters, keyedRows(rows.Clusters, func(r scanner.ClusterRecord) string {
			return r.ScanID + "/" + r.ProjectID + "/" + r.Location + "/" + r.Name
		})},
		{TableScanErrors, keyedRows(rows.ScanErrors, func(r scanner.ScanError) string {
			return r.ScanID + "/" + r.Resource + "/" + r.API + "/" + r.Code + "/" + r.Message
		})},
		{TableScans, keyedRows(rows.Scans, func(r ScanRow) string {
			return r.ScanID + "/" + strconv.FormatInt(r.Shard, 10) + "/" + r.Status
		})},
	}
	for _, s := range steps {
		if err := w.insert(ctx, s.table, s.items, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

type keyed struct {
	id  string
	row any
}

// keyedRows pairs rows with insert IDs: a hash of the natural key, as
// insertId allows 128 characters and names can be long.
func keyedRows[T any](rows []T, key func(T) string) []keyed {
	out := make([]keyed, len(rows))
	for i, r := range rows {
		sum := sha256.Sum256([]byte(key(r)))
		out[i] = keyed{id: hex.EncodeToString(sum[:16]), row: r}
	}
	return out
}

func (w *Writer) insert(ctx context.Context, table string, items []keyed, st *Stats) error {
	t, ok := TableByName(table)
	if !ok {
		return fmt.Errorf("unknown table %s", table)
	}
	sch := t.Schema()
	ins := w.Client.Dataset(w.Dataset).Table(table).Inserter()
	maxRows := w.BatchRows
	if maxRows <= 0 {
		maxRows = 500
	}
	maxBytes := w.BatchBytes
	if maxBytes <= 0 {
		maxBytes = 5 << 20
	}
	for start := 0; start < len(items); {
		var batch []*bigquery.StructSaver
		size := 0
		end := start
		for end < len(items) && len(batch) < maxRows {
			b, err := json.Marshal(items[end].row)
			if err != nil {
				return fmt.Errorf("write %s: %w", table, err)
			}
			if len(batch) > 0 && size+len(b) > maxBytes {
				break
			}
			size += len(b)
			batch = append(batch, &bigquery.StructSaver{Schema: sch, InsertID: items[end].id, Struct: items[end].row})
			end++
		}
		if err := w.put(ctx, ins, table, batch, start, st); err != nil {
			return err
		}
		st.Rows[table] += len(batch)
		start = end
	}
	return nil
}

// put sends one batch, retrying transient failures. Row errors are
// permanent: they name the table, the row and BigQuery's reason.
func (w *Writer) put(ctx context.Context, ins *bigquery.Inserter, table string, batch []*bigquery.StructSaver, offset int, st *Stats) error {
	p := w.Retry
	if p.Attempts == 0 {
		p = DefaultRetry
	}
	err := p.Do(ctx, gcpclient.TransientHTTP, func(ctx context.Context) error {
		st.Requests++
		return ins.Put(ctx, batch)
	})
	var pme bigquery.PutMultiError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pme):
		return rowErrors(table, pme, offset)
	case ctx.Err() != nil:
		return fmt.Errorf("write %s: %w", table, ctx.Err())
	}
	return fmt.Errorf("write %s: %w", table, err)
}

func rowErrors(table string, pme bigquery.PutMultiError, offset int) error {
	var errs []error
	for _, re := range pme {
		for _, e := range re.Errors {
			var msg string
			if be, ok := e.(*bigquery.Error); ok {
				if be.Reason == "stopped" { // a valid row, not stored because another row is invalid
					continue
				}
				msg = fmt.Sprintf("%s: %s (field %s)", be.Reason, be.Message, be.Location)
			} else {
				msg = e.Error()
			}
			errs = append(errs, fmt.Errorf("write %s: row %d: %s", table, offset+re.RowIndex, msg))
		}
	}
	return errors.Join(errs...)
}

func isCode(err error, code int) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == code
}
