package test

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
)

func kubeFleet(t *testing.T, clusters, projects int) *fleetgen.Fleet {
	t.Helper()
	f, err := fleetgen.Generate(fleetgen.Options{Clusters: clusters, Projects: projects, Seed: 11, Kube: true})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// scanKubeDumps is the offline in-cluster path: the fleet's clusters and
// logs as files, its objects as kubectl dumps.
func scanKubeDumps(t *testing.T, f *fleetgen.Fleet) *scanner.Result {
	t.Helper()
	dir := t.TempDir()
	if err := f.WriteKubeDumps(dir); err != nil {
		t.Fatal(err)
	}
	d, err := kube.LoadDumps(dir)
	if err != nil {
		t.Fatal(err)
	}
	return scanFilesWith(t, f, d)
}

func (l *live) scanKube(t *testing.T, f *fleetgen.Fleet, mode string, pageSize int) (*scanner.Result, *kube.AssetInventory, error) {
	t.Helper()
	scope, err := scanner.ParseScope(f.Org)
	if err != nil {
		t.Fatal(err)
	}
	ai := &kube.AssetInventory{Client: l.asset, Scope: scope, Catalog: embedded(t), Policy: fast, PageSize: pageSize}
	res, err := l.scanWith(t.Context(), t, f, mode, ai)
	return res, ai, err
}

func inClusterFindings(fs []scanner.Finding) []scanner.Finding {
	return slices.DeleteFunc(slices.Clone(fs), func(f scanner.Finding) bool { return f.Evidence[0].Source != "kubernetes_api" })
}

// Cloud Asset Inventory's objects decide the in-cluster checks exactly as
// kubectl dumps of the same objects do, in both discovery modes, paged and
// with a fifth of the calls failing transiently.
func TestKubeAssetInventoryMatchesDumps(t *testing.T) {
	f := kubeFleet(t, 120, 24)
	want := scanKubeDumps(t, f)
	statuses := map[scanner.Status]int{}
	for _, fd := range inClusterFindings(want.Findings) {
		statuses[fd.Status]++
	}
	if statuses[scanner.Affected] == 0 || statuses[scanner.Unknown] == 0 {
		t.Fatalf("fleet lacks an in-cluster case: %v", statuses)
	}
	for _, tc := range []struct {
		name string
		mode string
		opt  gcpfake.Options
		page int
	}{
		{"asset-inventory", discovery.ModeAssetInventory, gcpfake.Options{}, 0},
		{"container-api, pages of 50", discovery.ModeContainerAPI, gcpfake.Options{}, 50},
		{"transient faults", discovery.ModeAssetInventory, gcpfake.Options{TransientRate: 0.2, Seed: 5}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLive(t, f, tc.opt)
			got, ai, err := l.scanKube(t, f, tc.mode, tc.page)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.Findings, got.Findings); diff != "" {
				t.Errorf("findings (-dumps +asset inventory):\n%s", diff)
			}
			if diff := cmp.Diff(want.Clusters, got.Clusters); diff != "" {
				t.Errorf("clusters (-dumps +asset inventory):\n%s", diff)
			}
			if len(got.Errors) != 0 {
				t.Errorf("errors = %v", got.Errors)
			}
			if diff := cmp.Diff(ai.CallCounts(), got.KubernetesCalls); diff != "" || len(got.KubernetesCalls) != 9 {
				t.Errorf("the scan record's kubernetes_calls are not the 9 types' ListAssets calls (-source +record):\n%s", diff)
			}
			t.Logf("ListAssets calls for objects: %s", scanner.CallsLine(got.KubernetesCalls))
		})
	}
}

// A Dataplane V2 cluster with no object in the inventory gets UNKNOWN
// findings and a scan error; an inventory that cannot be listed fails the
// scan.
func TestKubeAssetInventoryGaps(t *testing.T) {
	f := kubeFleet(t, 40, 8)
	var victim *scanner.ClusterRecord
	res := scanKubeDumps(t, f)
	for i, c := range res.Clusters {
		if c.DataplaneV2 {
			victim = &res.Clusters[i]
			break
		}
	}
	delete(f.Kube, victim.Key().String())
	l := startLive(t, f, gcpfake.Options{})
	got, _, err := l.scanKube(t, f, discovery.ModeAssetInventory, 0)
	if err != nil {
		t.Fatal(err)
	}
	var unknown []string
	for _, fd := range inClusterFindings(got.Findings) {
		if fd.Cluster == victim.Name && fd.Location == victim.Location && fd.ProjectID == victim.ProjectID {
			unknown = append(unknown, fd.IssueID+" "+string(fd.Status))
		}
	}
	slices.Sort(unknown)
	if diff := cmp.Diff([]string{"DPV2-NETPOL-ENDPORT UNKNOWN", "DPV2-NODEPORT-EPHEMERAL UNKNOWN", "DPV2-NODEPORT-RANDOMFULLY UNKNOWN"}, unknown); diff != "" {
		t.Errorf("findings of the cluster without objects (-want +got):\n%s", diff)
	}
	wantErr := []scanner.ScanError{{ScanID: "e2e", ScannedAt: f.Now.UTC(), ProjectID: victim.ProjectID,
		Resource: "projects/" + victim.ProjectID + "/locations/" + victim.Location + "/clusters/" + victim.Name, API: "cloudasset", Code: "NOT_FOUND",
		Message: "Cloud Asset Inventory holds no Kubernetes objects of this cluster (every cluster has at least the default/kubernetes Service)"}}
	if diff := cmp.Diff(wantErr, got.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}

	t.Run("inventory down", func(t *testing.T) {
		var srv atomic.Pointer[gcpfake.Server]
		l := startLive(t, f, gcpfake.Options{Latency: 20 * time.Millisecond, OnCall: func(method string, n int) {
			if method == "asset.ListAssets" && n == 2 { // the first Kubernetes type
				go srv.Load().Close()
			}
		}})
		srv.Store(l.srv)
		if _, _, err := l.scanKube(t, f, discovery.ModeAssetInventory, 0); err == nil || gcpclient.Code(err) != codes.Unavailable && gcpclient.Code(err) != codes.DeadlineExceeded {
			t.Errorf("scan with the inventory down: error %v, want UNAVAILABLE or DEADLINE_EXCEEDED", err)
		}
	})
	t.Run("scope denied", func(t *testing.T) {
		l := startLive(t, f, gcpfake.Options{Deny: map[string]codes.Code{f.Org: codes.PermissionDenied}})
		if _, _, err := l.scanKube(t, f, discovery.ModeContainerAPI, 0); err == nil {
			t.Errorf("scan with the organization's inventory denied succeeded")
		}
	})
}

// The function with FLEETSCAN_KUBERNETES=asset-inventory writes the
// in-cluster findings the kubectl dumps give, and alerts them.
func TestFunctionInClusterChecks(t *testing.T) {
	endToEnd(t)
	f := kubeFleet(t, 60, 12)
	f.Now = time.Now().UTC()
	want := scanKubeDumps(t, f)
	s := newStack(t, "")
	in := instances(1, s.startGCP(f, gcpfake.Options{}, "FLEETSCAN_SHARD_SIZE=0", "FLEETSCAN_KUBERNETES=asset-inventory"))
	if err := failedDeliveries(deliverAll(withDeadline(t), in, []event.Event{messageEvent("kube-1", f.Now, nil)})); err != nil {
		t.Fatalf("%v\n%s", err, logsOf(in))
	}
	wantKeys := findingKeys(inClusterFindings(want.Findings))
	if len(wantKeys) == 0 {
		t.Fatal("the fleet has no in-cluster finding")
	}
	got := stripScan(s.viewKeys())
	for k, st := range wantKeys {
		if got[k] != st {
			t.Errorf("in-cluster finding %s: BigQuery has %q, want %q", k, got[k], st)
		}
	}
	if diff := cmp.Diff(findingKeys(want.Findings), got); diff != "" {
		t.Errorf("all findings (-dumps +function):\n%s", diff)
	}
	s.alertsOnce(t, expectedTransitions(nil, want.Findings))
	if logs := logsOf(in); !strings.Contains(logs, `"kubernetes_calls":"apps.k8s.io/DaemonSet=1 k8s.io/Service=1`) {
		t.Errorf("the scan log does not report the Kubernetes ListAssets calls by type:\n%s", logs)
	}
}
