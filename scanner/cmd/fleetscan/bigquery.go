package main

import (
	"context"
	"fmt"
	"io"

	"cloud.google.com/go/bigquery"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/schema"
)

// writeBigQuery ensures the dataset, tables and views, then writes the scan.
func (o *scanOptions) writeBigQuery(ctx context.Context, res *scanner.Result, stderr io.Writer) error {
	project, dataset, _ := schema.ParseDataset(o.bigquery) // validated already
	client, err := bigquery.NewClient(ctx, project, o.ep.RESTOptions("bigquery", "/bigquery/v2/")...)
	if err != nil {
		return fmt.Errorf("create the BigQuery client: %w", err)
	}
	defer client.Close()
	ia, err := schema.NewInsertAll(ctx, o.ep.RESTOptions("bigquery", "/bigquery/v2/")...)
	if err != nil {
		return fmt.Errorf("create the BigQuery client: %w", err)
	}
	w := &schema.Writer{Client: client, InsertAll: ia, Dataset: dataset, Location: o.bigqueryLocation}
	if err := w.Ensure(ctx); err != nil {
		return fmt.Errorf("BigQuery %s: %w", o.bigquery, err)
	}
	st, err := w.Write(ctx, schema.FromResult(res))
	if err != nil {
		return fmt.Errorf("BigQuery %s: %w", o.bigquery, err)
	}
	fmt.Fprintf(stderr, "fleetscan: wrote %d finding(s), %d cluster(s), %d error(s) and the scan row to BigQuery %s in %d request(s)\n",
		st.Rows[schema.TableFindings], st.Rows[schema.TableClusters], st.Rows[schema.TableScanErrors], o.bigquery, st.Requests)
	return nil
}
