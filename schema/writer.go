package schema

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	bq "google.golang.org/api/bigquery/v2"
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
	// InsertAll, when set, sends the rows instead of Client's Inserter:
	// the same requests, byte for byte, encoded at a fraction of the cost
	// (see InsertAll). Make it with NewInsertAll from the options Client
	// was made with, so that both reach the same endpoint with the same
	// credentials. Ensure always uses Client.
	InsertAll *InsertAll
}

// DefaultRetry suits BigQuery's per-table rate limits: 5xx, 429 and
// rate-limit errors (gcpclient.TransientHTTP) are retried with capped
// exponential backoff and full jitter. Each try has its own deadline: the Go
// client's Inserter itself retries a 5xx insertAll until its context ends,
// so without one a BigQuery outage would hang the writer. (With InsertAll,
// each try is one request.)
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
	steps := []func() (rowSet, error){
		func() (rowSet, error) { return newRowSet(TableFindings, rows.Findings, findingKey) },
		func() (rowSet, error) { return newRowSet(TableClusters, rows.Clusters, clusterKey) },
		func() (rowSet, error) { return newRowSet(TableScanErrors, rows.ScanErrors, scanErrorKey) },
		func() (rowSet, error) { return newRowSet(TableScans, rows.Scans, scanKey) },
	}
	for _, step := range steps {
		rs, err := step()
		if err != nil {
			return st, err
		}
		if err := w.insert(ctx, rs, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// The natural keys of the rows, from which their insert IDs are made:
// appended to b, the parts joined by "/".

func findingKey(b []byte, r *scanner.Finding) []byte {
	return appendKey(b, r.ScanID, r.FindingKey)
}

func clusterKey(b []byte, r *scanner.ClusterRecord) []byte {
	return appendKey(b, r.ScanID, r.ProjectID, r.Location, r.Name)
}

func scanErrorKey(b []byte, r *scanner.ScanError) []byte {
	return appendKey(b, r.ScanID, r.Resource, r.API, r.Code, r.Message)
}

func scanKey(b []byte, r *ScanRow) []byte {
	b = append(append(b, r.ScanID...), '/')
	b = append(strconv.AppendInt(b, r.Shard, 10), '/')
	return append(b, r.Status...)
}

// appendKey appends the parts of a natural key joined by "/".
func appendKey(b []byte, parts ...string) []byte {
	for i, p := range parts {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, p...)
	}
	return b
}

// rowSet is one table's rows of a Write, encoded as insertAll sends them.
type rowSet interface {
	table() string
	len() int
	columns() int // top-level columns
	// appendID appends row i's insertId: a hash of its natural key, as
	// insertId allows 128 characters and names can be long.
	appendID(b []byte, i int) []byte
	// appendJSON appends row i as its JSON object.
	appendJSON(b []byte, i int) ([]byte, error)
	// appendColumns appends each column value of row i that the row has
	// and calls add with its name and bytes.
	appendColumns(b []byte, i int, add func(name string, value []byte)) ([]byte, error)
}

type tableRows[T any] struct {
	name string
	rows []T
	key  func(b []byte, r *T) []byte // appends the natural key
	plan *rowPlan
	buf  []byte // the key, reused
}

func newRowSet[T any](table string, rows []T, key func([]byte, *T) []byte) (rowSet, error) {
	t, ok := TableByName(table)
	if !ok {
		return nil, fmt.Errorf("unknown table %s", table)
	}
	p, err := planFor(t)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", table, err)
	}
	return &tableRows[T]{name: table, rows: rows, key: key, plan: p}, nil
}

func (r *tableRows[T]) table() string { return r.name }
func (r *tableRows[T]) len() int      { return len(r.rows) }
func (r *tableRows[T]) columns() int  { return len(r.plan.cols) }

func (r *tableRows[T]) appendID(b []byte, i int) []byte {
	r.buf = r.key(r.buf[:0], &r.rows[i])
	sum := sha256.Sum256(r.buf)
	return hex.AppendEncode(b, sum[:16])
}

func (r *tableRows[T]) appendJSON(b []byte, i int) ([]byte, error) {
	return r.plan.appendObject(b, reflect.ValueOf(&r.rows[i]).Elem())
}

func (r *tableRows[T]) appendColumns(b []byte, i int, add func(name string, value []byte)) ([]byte, error) {
	return r.plan.appendColumns(b, reflect.ValueOf(&r.rows[i]).Elem(), add)
}

func (w *Writer) limits() (maxRows, maxBytes int) {
	maxRows, maxBytes = w.BatchRows, w.BatchBytes
	if maxRows <= 0 {
		maxRows = 500
	}
	if maxBytes <= 0 {
		maxBytes = 5 << 20
	}
	return maxRows, maxBytes
}

func (w *Writer) retry() gcpclient.Policy {
	if w.Retry.Attempts == 0 {
		return DefaultRetry
	}
	return w.Retry
}

// insert sends one table's rows in batches of at most maxRows rows and
// maxBytes bytes of rows (a larger row goes alone). A batch's size is that
// of its rows' elements in the request: {"insertId":"…","json":{…}}.
func (w *Writer) insert(ctx context.Context, rs rowSet, st *Stats) error {
	if w.InsertAll != nil {
		return w.insertDirect(ctx, rs, st)
	}
	return w.insertWithClient(ctx, rs, st)
}

// insertDirect posts the batches with InsertAll, each encoded once into a
// buffer reused from batch to batch.
func (w *Writer) insertDirect(ctx context.Context, rs rowSet, st *Stats) error {
	table := rs.table()
	maxRows, maxBytes := w.limits()
	ia := w.InsertAll
	body := ia.buffer()
	defer func() { ia.release(body) }()
	for start := 0; start < rs.len(); {
		b := append(body[:0], `{"rows":[`...)
		size, end := 0, start
		for end < rs.len() && end-start < maxRows {
			mark := len(b)
			if end > start {
				b = append(b, ',')
			}
			b = append(b, `{"insertId":"`...)
			b = rs.appendID(b, end)
			b = append(b, `","json":`...)
			var err error
			if b, err = rs.appendJSON(b, end); err != nil {
				return fmt.Errorf("write %s: %w", table, err)
			}
			b = append(b, '}')
			n := len(b) - mark
			if end > start && size+n > maxBytes {
				b = b[:mark]
				break
			}
			size += n
			end++
		}
		b = append(b, "]}\n"...)
		var res *bq.TableDataInsertAllResponse
		reusable := true
		err := w.retry().Do(ctx, gcpclient.TransientHTTP, func(ctx context.Context) error {
			st.Requests++
			var free bool
			var err error
			res, free, err = ia.post(ctx, w.Client.Project(), w.Dataset, table, b)
			reusable = reusable && free
			return err
		})
		body = b
		if !reusable {
			body = nil // a request may still read it: the next batch takes a new buffer
		}
		if err == nil {
			err = putMultiError(res.InsertErrors, end-start, func(i int) string { return string(rs.appendID(nil, start+i)) })
		}
		if err := w.putError(ctx, table, err, start); err != nil {
			return err
		}
		st.Rows[table] += end - start
		start = end
	}
	return nil
}

// insertWithClient puts the batches with Client's Inserter: each row a
// map of its columns' JSON, encoded once by the plan; the client encodes
// the request around them. Put copies the maps into its request, and is
// done with them when it returns, so the maps and the bytes of their
// values serve batch after batch.
func (w *Writer) insertWithClient(ctx context.Context, rs rowSet, st *Stats) error {
	table := rs.table()
	maxRows, maxBytes := w.limits()
	ins := w.Client.Dataset(w.Dataset).Table(table).Inserter()
	cols := rs.columns()
	var (
		batch []bigquery.ValueSaver
		rows  []*encodedRow // the maps, reused
		slab  []byte        // the values' bytes, reused
		id    []byte
	)
	for start := 0; start < rs.len(); {
		batch, slab = batch[:0], slab[:0]
		size, end := 0, start
		for end < rs.len() && len(batch) < maxRows {
			if len(batch) == len(rows) {
				rows = append(rows, &encodedRow{cols: make(map[string]bigquery.Value, cols)})
			}
			row := rows[len(batch)]
			clear(row.cols)
			id = rs.appendID(id[:0], end)
			row.id = string(id)
			n := len(`{"insertId":"","json":{}}`) + len(row.id)
			var err error
			slab, err = rs.appendColumns(slab, end, func(name string, value []byte) {
				row.cols[name] = rawJSON(value)
				n += len(`"":`) + len(name) + len(value)
			})
			if err != nil {
				return fmt.Errorf("write %s: %w", table, err)
			}
			if len(row.cols) > 1 {
				n += len(row.cols) - 1 // commas
			}
			if len(batch) > 0 {
				n++ // the comma before the row
			}
			if len(batch) > 0 && size+n > maxBytes {
				break // the row's bytes in slab are left unused
			}
			size += n
			batch = append(batch, row)
			end++
		}
		err := w.retry().Do(ctx, gcpclient.TransientHTTP, func(ctx context.Context) error {
			st.Requests++
			return ins.Put(ctx, batch)
		})
		if err := w.putError(ctx, table, err, start); err != nil {
			return err
		}
		st.Rows[table] += len(batch)
		start = end
	}
	return nil
}

// encodedRow is a row for Inserter.Put: its columns already JSON.
type encodedRow struct {
	id   string
	cols map[string]bigquery.Value
}

func (r *encodedRow) Save() (map[string]bigquery.Value, string, error) { return r.cols, r.id, nil }

// rawJSON is a value already encoded; encoding/json copies it as it is.
type rawJSON []byte

func (j rawJSON) MarshalJSON() ([]byte, error) { return j, nil }

// putError is a batch's outcome as Write reports it. Row errors are
// permanent: they name the table, the row and BigQuery's reason.
func (w *Writer) putError(ctx context.Context, table string, err error, offset int) error {
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
