package scanner_test

import (
	"slices"
	"testing"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/testkit"
)

// BenchmarkMatch matches a generated 10,000-cluster fleet against the
// whole embedded catalog and reports clusters per second (target:
// >= 1,000,000 on one core: make bench runs with -cpu 1) and allocations
// per finding (target <= 2). Each cluster's CEL facts are evaluated before,
// as Scan does when it reads the cluster (BenchmarkFacts measures that).
func BenchmarkMatch(b *testing.B) {
	fleet, err := fleetgen.Generate(fleetgen.Options{Clusters: 10_000, Projects: 2_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	cat := testkit.Catalog(b)
	clusters := make([]scanner.Cluster, len(fleet.Clusters))
	for i, pc := range fleet.Clusters {
		if clusters[i], err = discovery.FromProto(pc, ""); err != nil {
			b.Fatal(err)
		}
		clusters[i].Facts = cat.Facts(clusters[i].Object)
		clusters[i].Object = nil
	}
	// The same fleet on a minor above every affected range: what deciding
	// costs when nothing is found, without the findings' own cost.
	current := make([]scanner.Cluster, len(clusters))
	for i, c := range clusters {
		c.MasterVersion, c.NodeVersion = "1.37.1-gke.1000", "1.37.1-gke.1000"
		c.NodePools = slices.Clone(c.NodePools)
		for j := range c.NodePools {
			c.NodePools[j].Version = c.MasterVersion
		}
		current[i] = c
	}
	for _, fl := range []struct {
		name     string
		clusters []scanner.Cluster
	}{{"generated", clusters}, {"unaffected", current}} {
		b.Run("fleet="+fl.name, func(b *testing.B) {
			b.ReportAllocs()
			findings := 0
			for b.Loop() {
				findings = 0
				for i := range fl.clusters {
					fs, _ := scanner.Match(cat, &fl.clusters[i])
					findings += len(fs)
				}
			}
			b.ReportMetric(float64(b.N*len(fl.clusters))/b.Elapsed().Seconds(), "clusters/s")
			b.ReportMetric(float64(findings), "findings/fleet")
			allocs := testing.AllocsPerRun(1, func() {
				for i := range fl.clusters {
					scanner.Match(cat, &fl.clusters[i])
				}
			})
			if findings > 0 {
				b.ReportMetric(allocs/float64(findings), "allocs/finding")
			} else {
				b.ReportMetric(allocs/float64(len(fl.clusters)), "allocs/cluster")
			}
		})
	}
}

// BenchmarkFacts evaluates the catalog's CEL conditions on every cluster
// of the fleet and its node pools, once each, as Scan does when it reads a
// cluster (clusters/s): with a scan's memo of the outcomes by the values
// read, and (memo=none) with CEL every time.
func BenchmarkFacts(b *testing.B) {
	fleet, err := fleetgen.Generate(fleetgen.Options{Clusters: 10_000, Projects: 2_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	cat := testkit.Catalog(b)
	for _, memo := range []bool{true, false} {
		name := "memo=scan"
		if !memo {
			name = "memo=none"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var fm *catalog.FactsMemo
				if memo {
					fm = catalog.NewFactsMemo() // one scan's
				}
				for _, pc := range fleet.Clusters {
					cat.FactsWith(pc, fm)
				}
			}
			b.ReportMetric(float64(b.N*len(fleet.Clusters))/b.Elapsed().Seconds(), "clusters/s")
		})
	}
}

// BenchmarkScanUpgradePlan scans the same fleet with the versions its
// locations offer: matching, end of support and every cluster's upgrade
// plan (fleet/s: 10,000 clusters each).
func BenchmarkScanUpgradePlan(b *testing.B) {
	gen, clusters, offered := generatedFleet(b, fleetgen.Options{Clusters: 10_000, Projects: 2_000, Seed: 1})
	cat := testkit.Catalog(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := scanner.Scan(b.Context(), scanner.Options{Catalog: cat, Source: clusters, Offers: offered,
			ScanID: "bench", Now: gen.Now}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(clusters))/b.Elapsed().Seconds(), "clusters/s")
}

// BenchmarkFindingKey is the cost of one finding's key (a SHA-256 of its
// identity, a contract: alert state and the views key on it), a floor of
// BenchmarkMatch's cost per finding.
func BenchmarkFindingKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		scanner.FindingKey("fleet-proj-00001", "europe-west4-b", "cluster-00005", "default-pool", "DPV2-NETPOL-CONNTRACK-SELF")
	}
}
