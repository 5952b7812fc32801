// Package testkit holds the helpers that the tests of several packages
// share. Only tests import it.
package testkit

import (
	"strings"
	"sync"
	"testing"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

var embedded = sync.OnceValues(catalog.Embedded)

// Catalog is the embedded catalog, loaded once per test binary; a load
// error fails the test.
func Catalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := embedded()
	if err != nil {
		t.Fatalf("catalog.Embedded(): %v", err)
	}
	return cat
}

// ContractIDs are DESIGN.md's issue IDs: the Dataplane V2 page's issues,
// the IPAM symptom and end of support.
var ContractIDs = []string{"DPV2-IPAM-LEAK", "DPV2-NETPOL-CONNTRACK-SELF", "DPV2-HAIRPIN-CONNTRACK-LEAK", "DPV2-NODEPORT-RANDOMFULLY",
	"DPV2-NODEPORT-EPHEMERAL", "DPV2-NETPOL-ENDPORT", "GKE-POD-IP-EXHAUSTION", "GKE-END-OF-SUPPORT"}

// ContractCatalog is the embedded catalog narrowed to ContractIDs: for
// tests of the matcher's and the planner's own behaviour on hand-made
// clusters, whose expected findings would otherwise change with every new
// catalog entry. Every entry is tested from its own data elsewhere
// (scanner's TestCatalogEntriesAtTheirBoundaries).
func ContractCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := Catalog(t).Narrow(ContractIDs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// ErrText is err's message, "" for nil. protobuf-go deliberately prints its
// "proto:" prefix with either a regular or a non-breaking space depending on
// the binary; both read as a regular space.
func ErrText(err error) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), "\u00a0", " ")
}

// DeployedLDFlags are the -ldflags the Terraform in deploy/ has the Go
// buildpack build the function with (GOOGLE_GOLDFLAGS): fleetbench
// measures the binary built so, and a test holds deploy/ to it.
const DeployedLDFlags = "-s -w"
