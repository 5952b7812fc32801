package kube_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/test/testkit"
)

var demoInputs = []string{
	"../../testdata/gcpdiag/gke1-container-clusters.json",
	"../../testdata/gcpdiag/gke2-container-clusters.json",
	"../../testdata/gcpdiag/gke3-container-clusters.json",
	"../../testdata/demo/fleet.json",
}

func scanWith(t *testing.T, dir string) *scanner.Result {
	t.Helper()
	d, err := kube.LoadDumps(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scanner.Scan(t.Context(), scanner.Options{Catalog: testkit.Catalog(t), Source: discovery.Files{Paths: demoInputs},
		InCluster: d, ScanID: "kube", Now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The bundled dumps decide all three in-cluster issues on the demo fleet:
// expectations derived by hand from testdata/demo/kube.
func TestScanDemoDumps(t *testing.T) {
	res := scanWith(t, "../../testdata/demo/kube")
	var got []string
	for _, f := range res.Findings {
		if f.Evidence[0].Source == "kubernetes_api" {
			got = append(got, f.IssueID+" "+string(f.Status)+" "+f.ProjectID+"/"+f.Location+"/"+f.Cluster)
		}
	}
	slices.Sort(got)
	want := []string{
		"DPV2-NETPOL-ENDPORT AFFECTED acme-payments-prod/us-central1/pay-prod-1",
		"DPV2-NODEPORT-EPHEMERAL AFFECTED acme-data-dev/us-central1/data-etl",
		"DPV2-NODEPORT-RANDOMFULLY AFFECTED acme-payments-prod/us-central1/pay-prod-1",
		"DPV2-NODEPORT-RANDOMFULLY UNKNOWN acme-payments-prod/us-east1/pay-prod-2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("in-cluster findings (-want +got):\n%s", diff)
	}
	// The four clusters with a dump have no skipped checks left; the other
	// seven Dataplane V2 clusters keep all three.
	skipped := 0
	for _, c := range res.Clusters {
		dumped := slices.Contains([]string{"pay-prod-1", "data-etl", "pay-prod-2", "edge-stg-1"}, c.Name) && c.Location != "europe-west4"
		switch {
		case dumped && len(c.SkippedChecks) != 0:
			t.Errorf("%s still skips %v", c.Key(), c.SkippedChecks)
		case !dumped:
			skipped += len(c.SkippedChecks)
		}
	}
	// ml-train's gpu-pool sets the range in linuxNodeConfig.sysctls: that
	// decides DPV2-NODEPORT-EPHEMERAL there from the Container API alone.
	if skipped != 20 || res.Summary.SkippedChecks != 20 {
		t.Errorf("skipped checks = %d (summary %d), want 20 on the 7 clusters without a dump", skipped, res.Summary.SkippedChecks)
	}
	if len(res.Errors) != 0 {
		t.Errorf("errors = %v", res.Errors)
	}
	for _, f := range res.Findings {
		if f.IssueID == "DPV2-NODEPORT-RANDOMFULLY" && f.Status == scanner.Affected {
			want := "1 DaemonSet runs ip-masq-agent with random-fully on; 1 NodePort or LoadBalancer Service can collide with masqueraded source ports: DaemonSet kube-system/ip-masq-agent, Service payments/checkout"
			if e := f.Evidence[0]; e.Summary != want || e.Count != 2 || e.Nodes == nil {
				t.Errorf("evidence = %+v\nwant summary %s", e, want)
			}
		}
	}
}

// A dump of a cluster no input has is a scan error, not ignored.
func TestScanDumpNotInInventory(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../testdata/demo/kube/gke_acme-edge-stg_us-west1_edge-stg-1.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gke_acme-edge-stg_us-west1_edge-stg-9.json"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	res := scanWith(t, dir)
	want := []scanner.ScanError{{ScanID: "kube", ScannedAt: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), ProjectID: "acme-edge-stg",
		Resource: filepath.Join(dir, "gke_acme-edge-stg_us-west1_edge-stg-9.json"), API: "kubectl", Code: "NOT_IN_INVENTORY",
		Message: "kube objects of cluster acme-edge-stg/us-west1/edge-stg-9, which no cluster input has; they were not used"}}
	if diff := cmp.Diff(want, res.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
