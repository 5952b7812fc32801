package schema_test

import (
	"fmt"
	"testing"

	"github.com/fleetscan/fleetscan/schema"
	"github.com/fleetscan/fleetscan/test/bqfake"
)

// BenchmarkWrite30kFindings writes a scan of 30,000 findings (the demo's
// findings repeated with distinct keys) through the real client to the
// fake, which validates every row; reports rows/s and insertAll requests.
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
	srv := bqfake.Start()
	b.Cleanup(srv.Close)
	w := newWriter(b, srv)
	if err := w.Ensure(b.Context()); err != nil {
		b.Fatal(err)
	}
	var requests int
	for b.Loop() {
		st, err := w.Write(b.Context(), rows)
		if err != nil {
			b.Fatal(err)
		}
		requests = st.Requests
	}
	b.ReportMetric(float64(b.N*len(rows.Findings))/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(requests), "requests/write")
	b.ReportMetric(float64(srv.MaxRowsSeen()), "max-rows/request")
}
