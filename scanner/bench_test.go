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

// BenchmarkScanUpgradePlan scans the same fleet with the versions its
// locations offer: matching, end of support and every cluster's upgrade
// plan (fleet/s: 10,000 clusters each).
func BenchmarkScanUpgradePlan(b *testing.B) {
	fleet, err := fleetgen.Generate(fleetgen.Options{Clusters: 10_000, Projects: 2_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var src fleetSource
	offered := map[string]scanner.Offered{}
	for _, pc := range fleet.Clusters {
		c, err := discovery.FromProto(pc, "")
		if err != nil {
			b.Fatal(err)
		}
		src = append(src, c)
		if _, ok := offered[c.Location]; !ok {
			offered[c.Location] = discovery.OfferedFromProto(fleet.ServerConfig(c.Location))
		}
	}
	cat := mustCatalog(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := scanner.Scan(b.Context(), scanner.Options{Catalog: cat, Source: fleet2(src), Offers: discovery.OfferedByLocation{ByLocation: offered},
			ScanID: "bench", Now: fleet.Now}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(src))/b.Elapsed().Seconds(), "clusters/s")
}

type fleetSource []scanner.Cluster

func fleet2(s fleetSource) fleet { return fleet(s) }
