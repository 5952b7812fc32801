package schema_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/schema"
	"github.com/fleetscan/fleetscan/test/bqfake"
)

// BenchmarkWrite30kFindings writes a scan of 30,000 findings (the demo's
// findings repeated with distinct keys) through the real client stack and
// reports rows/s and insertAll requests. Its sub-benchmarks are
//
//   - path: insertall, the Writer with an InsertAll (its own encoding,
//     posted over the client's HTTP transport); inserter, the Writer
//     without one (its encoding, through the client's Inserter);
//     structsaver, what the Writer did before it encoded rows itself
//     (json.Marshal of each row to size the batches, then StructSavers
//     through the Inserter), for comparison;
//   - server: bqfake, the fake, which decodes every row and validates it
//     against the table schema, in this process, so that its time and
//     allocations are in the figures; discard, a handler that only reads
//     and discards each request body and answers an empty insertAll
//     response, so that the figures are the writer's and the client's
//     (and net/http's, on both sides) alone.
func BenchmarkWrite30kFindings(b *testing.B) {
	base := rowsOf(demoScan(b), "123")
	rows := schema.Rows{Scans: base.Scans}
	for i := 0; len(rows.Findings) < 30_000; i++ {
		for _, f := range base.Findings {
			f.FindingKey = fmt.Sprintf("%s-%05d", f.FindingKey, i)
			rows.Findings = append(rows.Findings, f)
		}
	}
	rows.Findings = rows.Findings[:30_000]
	for _, path := range []string{pathInsertAll, pathInserter, "structsaver"} {
		for _, server := range []string{"bqfake", "discard"} {
			b.Run("path="+path+"/server="+server, func(b *testing.B) {
				var opts []option.ClientOption
				var fake *bqfake.Server
				if server == "bqfake" {
					fake = bqfake.Start()
					b.Cleanup(fake.Close)
					opts = fake.ClientOptions()
				} else {
					opts = discardServer(b)
				}
				w := benchWriter(b, path, opts)
				if fake != nil {
					if err := w.Ensure(b.Context()); err != nil {
						b.Fatal(err)
					}
				}
				write := w.Write
				if path == "structsaver" {
					write = func(ctx context.Context, rows schema.Rows) (schema.Stats, error) {
						return writeStructSavers(ctx, w, rows)
					}
				}
				var requests int
				for b.Loop() {
					st, err := write(b.Context(), rows)
					if err != nil {
						b.Fatal(err)
					}
					requests = st.Requests
				}
				b.ReportMetric(float64(b.N*len(rows.Findings))/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(requests), "requests/write")
				if fake != nil {
					b.ReportMetric(float64(fake.MaxRowsSeen()), "max-rows/request")
				}
			})
		}
	}
}

func benchWriter(b *testing.B, path string, opts []option.ClientOption) *schema.Writer {
	c, err := bigquery.NewClient(context.Background(), project, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	w := &schema.Writer{Client: c, Dataset: dataset, Retry: fastRetry}
	if path == pathInsertAll {
		if w.InsertAll, err = schema.NewInsertAll(context.Background(), opts...); err != nil {
			b.Fatal(err)
		}
	}
	return w
}

// discardServer answers every insertAll with success after reading the
// body, and returns the options of a client of it.
func discardServer(b *testing.B) []option.ClientOption {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/insertAll") {
			http.Error(w, `{"error":{"code":404,"message":"not insertAll"}}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_, _ = io.WriteString(w, `{"kind":"bigquery#tableDataInsertAllResponse"}`)
	}))
	b.Cleanup(srv.Close)
	return []option.ClientOption{
		option.WithEndpoint(srv.URL + bqfake.BasePath),
		option.WithoutAuthentication(),
		option.WithHTTPClient(srv.Client()),
	}
}

// writeStructSavers is the findings and scans part of Write as it was
// before the Writer encoded rows itself: every row marshalled to size
// the batch, then sent as a StructSaver through the client's Inserter.
func writeStructSavers(ctx context.Context, w *schema.Writer, rows schema.Rows) (schema.Stats, error) {
	st := schema.Stats{Rows: map[string]int{}}
	put := func(table string, savers []*bigquery.StructSaver) error {
		ins := w.Client.Dataset(w.Dataset).Table(table).Inserter()
		for start := 0; start < len(savers); {
			size, end := 0, start
			for end < len(savers) && end-start < 500 {
				b, err := json.Marshal(savers[end].Struct)
				if err != nil {
					return err
				}
				if end > start && size+len(b) > 5<<20 {
					break
				}
				size += len(b)
				end++
			}
			st.Requests++
			if err := ins.Put(ctx, savers[start:end]); err != nil {
				return err
			}
			st.Rows[table] += end - start
			start = end
		}
		return nil
	}
	err := put(schema.TableFindings, structSavers(schema.TableFindings, rows.Findings, func(r scanner.Finding) string { return r.ScanID + "/" + r.FindingKey }))
	if err == nil {
		err = put(schema.TableScans, structSavers(schema.TableScans, rows.Scans, func(r schema.ScanRow) string {
			return fmt.Sprintf("%s/%d/%s", r.ScanID, r.Shard, r.Status)
		}))
	}
	return st, err
}
