package scanner_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/testkit"
)

// TestFactsMemoMatchesCEL: the outcomes a scan's memo gives are CEL's, for
// every cluster of generated fleets, with the embedded catalog and the
// contract one, and the memo is used: far fewer outcomes kept than
// subjects evaluated.
func TestFactsMemoMatchesCEL(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 400
	}
	for name, cat := range map[string]*catalog.Catalog{"embedded": testkit.Catalog(t), "contract": testkit.ContractCatalog(t)} {
		fm := catalog.NewFactsMemo()
		subjects := 0
		for _, seed := range []uint64{1, 2, 3} {
			fleet, err := fleetgen.Generate(fleetgen.Options{Clusters: n, Projects: n / 5, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			for _, pc := range fleet.Clusters {
				want := cat.Facts(pc)
				if diff := cmp.Diff(want, cat.FactsWith(pc, fm)); diff != "" {
					t.Fatalf("%s catalog, seed %d, cluster %s: the memo's facts differ from CEL's (-CEL +memo):\n%s", name, seed, pc.GetName(), diff)
				}
				if want != nil {
					subjects += 1 + len(pc.GetNodePools())
				}
			}
		}
		if name == "embedded" && (fm.Len() == 0 || fm.Len()*5 > subjects) {
			t.Errorf("%s catalog: %d outcomes kept for %d clusters and pools: the memo is not shared", name, fm.Len(), subjects)
		}
		t.Logf("%s catalog: %d outcomes kept for %d clusters and pools", name, fm.Len(), subjects)
	}
}
