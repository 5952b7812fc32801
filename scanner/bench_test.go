package scanner_test

import (
	"testing"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/test/fleetgen"
)

// BenchmarkMatch matches a generated 10,000-cluster fleet against the
// embedded catalog and reports clusters per second (target: >= 100,000 on
// one core: make bench runs with -cpu 1).
func BenchmarkMatch(b *testing.B) {
	fleet, err := fleetgen.Generate(fleetgen.Options{Clusters: 10_000, Projects: 2_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	clusters := make([]scanner.Cluster, len(fleet.Clusters))
	for i, pc := range fleet.Clusters {
		if clusters[i], err = discovery.FromProto(pc, ""); err != nil {
			b.Fatal(err)
		}
	}
	cat := mustCatalog(b)
	b.ReportAllocs()
	findings := 0
	for b.Loop() {
		findings = 0
		for i := range clusters {
			fs, _ := scanner.Match(cat, &clusters[i])
			findings += len(fs)
		}
	}
	b.ReportMetric(float64(b.N*len(clusters))/b.Elapsed().Seconds(), "clusters/s")
	b.ReportMetric(float64(findings), "findings/fleet")
}
