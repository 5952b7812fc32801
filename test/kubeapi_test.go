package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
	"github.com/fleetscan/fleetscan/test/kubefake"
	"github.com/fleetscan/fleetscan/test/testkit"
)

const kubeToken = "ya29.fleetscan-test"

// startKube serves the objects of f's clusters on a fake Kubernetes API
// per cluster, and points f's clusters at it (endpoint and CA certificate)
// before anything else reads f.
func startKube(t *testing.T, f *fleetgen.Fleet, opt kubefake.Options) *kubefake.Server {
	t.Helper()
	srv, err := kubefake.Start(f.Kube, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.Attach(f)
	return srv
}

func apiSource(t *testing.T) *kube.API {
	return &kube.API{Catalog: embedded(t), TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: kubeToken})}
}

// Each cluster's own Kubernetes API, read by the real client-go in
// protobuf (every list answered in it), decides the in-cluster checks exactly as kubectl dumps of the
// same objects do, in a handful of calls a cluster, paged or not.
func TestKubeAPIMatchesDumps(t *testing.T) {
	f := kubeFleet(t, 60, 12)
	ks := startKube(t, f, kubefake.Options{Token: kubeToken})
	want := scanKubeDumps(t, f)
	if len(inClusterFindings(want.Findings)) == 0 {
		t.Fatal("the fleet has no in-cluster finding")
	}
	l := startLive(t, f, gcpfake.Options{})
	for _, page := range []int64{0, 3} {
		t.Run("page size "+map[int64]string{0: "default", 3: "3"}[page], func(t *testing.T) {
			before := ks.TotalCalls()
			pbBefore, jsonBefore := ks.Answers()
			api := apiSource(t)
			api.PageSize = page
			got, err := l.scanWith(t.Context(), t, f, discovery.ModeAssetInventory, api)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.Findings, got.Findings); diff != "" {
				t.Errorf("findings (-dumps +api):\n%s", diff)
			}
			if diff := cmp.Diff(want.Clusters, got.Clusters); diff != "" {
				t.Errorf("clusters (-dumps +api):\n%s", diff)
			}
			if len(got.Errors) != 0 {
				t.Errorf("errors = %v", got.Errors)
			}
			if pb, js := ks.Answers(); pb == pbBefore || js != jsonBefore {
				t.Errorf("answers in protobuf %d, in JSON %d; want every list in protobuf", pb-pbBefore, js-jsonBefore)
			}
			_, most := api.Calls()
			var sum int64
			for _, c := range got.KubernetesCalls {
				sum += c.Calls
			}
			if int(sum) != ks.TotalCalls()-before {
				t.Errorf("the scan record counts %d list calls, the server served %d", sum, ks.TotalCalls()-before)
			}
			if page == 0 && most > 9 {
				t.Errorf("a cluster took %d list calls, want at most one per kind (9)", most)
			}
			if page == 3 && most <= 9 {
				t.Errorf("pages of 3 took at most %d calls a cluster: the lists were not paged", most)
			}
			t.Logf("list calls: %s; at most %d for one cluster", scanner.CallsLine(got.KubernetesCalls), most)
		})
	}
}

// A cluster whose API forbids the lists, times out or is down gets UNKNOWN
// findings and a scan error naming the code; a 5xx once is retried; every
// other cluster is decided as from its dump; without in-cluster data a
// cluster with no endpoint is UNKNOWN too.
func TestKubeAPIFaults(t *testing.T) {
	f := kubeFleet(t, 40, 8)
	ks := startKube(t, f, kubefake.Options{Token: kubeToken})
	want := scanKubeDumps(t, f)
	var dpv2 []*scanner.ClusterRecord
	for i := range want.Clusters {
		if c := &want.Clusters[i]; len(c.SkippedChecks) == 0 && c.DataplaneV2 && !c.Autopilot {
			dpv2 = append(dpv2, c)
		}
	}
	if len(dpv2) < 4 {
		t.Fatalf("only %d Dataplane V2 clusters", len(dpv2))
	}
	key := func(c *scanner.ClusterRecord) string { return c.Key().String() }
	forbidden, slow, flaky, down := dpv2[0], dpv2[1], dpv2[2], dpv2[3]
	ks.SetFault(key(forbidden), kubefake.Fault{Code: 403})
	ks.SetFault(key(slow), kubefake.Fault{Delay: time.Minute})
	ks.SetFault(key(flaky), kubefake.Fault{Code: 503, Times: 1})
	ks.SetFault(key(down), kubefake.Fault{Code: 500})
	l := startLive(t, f, gcpfake.Options{})
	api := apiSource(t)
	api.Timeout = 2 * time.Second
	api.Policy.Initial, api.Policy.Max, api.Policy.Attempts = time.Millisecond, 5*time.Millisecond, 2
	got, err := l.scanWith(t.Context(), t, f, discovery.ModeAssetInventory, api)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, e := range got.Errors {
		codes[e.Resource] = e.API + " " + e.Code
		if !strings.HasPrefix(e.Message, "list ") {
			t.Errorf("scan error message %q does not name the call", e.Message)
		}
	}
	wantCodes := map[string]string{
		resourceOf(forbidden): "kubernetes PERMISSION_DENIED",
		resourceOf(slow):      "kubernetes DEADLINE_EXCEEDED",
		resourceOf(down):      "kubernetes UNAVAILABLE",
	}
	if diff := cmp.Diff(wantCodes, codes); diff != "" {
		t.Errorf("scan errors (-want +got):\n%s", diff)
	}
	broken := map[string]bool{key(forbidden): true, key(slow): true, key(down): true}
	for _, fd := range inClusterFindings(got.Findings) {
		k := fd.ProjectID + "/" + fd.Location + "/" + fd.Cluster
		if broken[k] && (fd.Status != scanner.Unknown || !strings.Contains(fd.Reason, "could not be read (list ")) {
			t.Errorf("%s %s: %s %q, want UNKNOWN saying the objects could not be read", k, fd.IssueID, fd.Status, fd.Reason)
		}
	}
	// Apart from the three broken clusters, the API gives what the dumps give.
	other := func(fs []scanner.Finding) []scanner.Finding {
		return slices.DeleteFunc(slices.Clone(fs), func(fd scanner.Finding) bool {
			return broken[fd.ProjectID+"/"+fd.Location+"/"+fd.Cluster] && fd.Evidence[0].Source == "kubernetes_api"
		})
	}
	if diff := cmp.Diff(other(want.Findings), other(got.Findings)); diff != "" {
		t.Errorf("findings of the clusters that answered (-dumps +api):\n%s", diff)
	}
	if n := ks.Calls(key(flaky)); n < 2 {
		t.Errorf("the cluster that failed once was called %d time(s): not retried", n)
	}
}

func resourceOf(c *scanner.ClusterRecord) string {
	return "projects/" + c.ProjectID + "/locations/" + c.Location + "/clusters/" + c.Name
}

// The installed kubectl, pointed at the fake, writes the dumps that the
// offline scan reads; they decide exactly what the API path decides, so
// the fake serves what a real server does to kubectl and the two paths
// read the same objects.
func TestKubectlDumpsOfTheFake(t *testing.T) {
	endToEnd(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	f := kubeFleet(t, 12, 3)
	ks := startKube(t, f, kubefake.Options{Token: kubeToken})
	dir := t.TempDir()
	config := filepath.Join(dir, "kubeconfig")
	if err := ks.WriteKubeconfig(config); err != nil {
		t.Fatal(err)
	}
	dumps := filepath.Join(dir, "dumps")
	if err := os.Mkdir(dumps, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := withDeadline(t)
	for _, c := range f.Clusters {
		project, _, _ := strings.Cut(fleetgen.KubeKey(c), "/")
		name := kube.ContextName(scanner.ClusterKey{ProjectID: project, Location: c.GetLocation(), Name: c.GetName()})
		cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", config, "--context", name,
			"get", "daemonsets,services,networkpolicies,pods,deployments,statefulsets,replicasets,jobs,cronjobs", "-A", "-o", "json")
		cmd.Env = append(os.Environ(), "HOME="+dir, "KUBECACHEDIR="+filepath.Join(dir, "cache"), "CLOUDSDK_CONFIG="+filepath.Join(dir, "gcloud"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl --context %s: %v\n%s", name, err, stderrOf(err))
		}
		if err := os.WriteFile(filepath.Join(dumps, name+".json"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := kube.LoadDumps(dumps)
	if err != nil {
		t.Fatal(err)
	}
	offline := scanFilesWith(t, f, d)
	if len(inClusterFindings(offline.Findings)) == 0 {
		t.Fatal("no in-cluster finding in the kubectl dumps' scan")
	}
	l := startLive(t, f, gcpfake.Options{})
	live, err := l.scanWith(t.Context(), t, f, discovery.ModeAssetInventory, apiSource(t))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(offline.Findings, live.Findings); diff != "" {
		t.Errorf("findings (-kubectl dumps +api):\n%s", diff)
	}
	if diff := cmp.Diff(scanKubeDumps(t, f).Findings, offline.Findings); diff != "" {
		t.Errorf("findings (-generated dumps +kubectl dumps):\n%s", diff)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// The function with FLEETSCAN_KUBERNETES=api, fanned out: each shard reads
// the Kubernetes APIs of its own clusters (credentials from Application
// Default Credentials), and BigQuery holds what the kubectl dumps give.
func TestFunctionKubeAPIFanOut(t *testing.T) {
	endToEnd(t)
	f := kubeFleet(t, 60, 12)
	ks := startKube(t, f, kubefake.Options{Token: kubeToken})
	want := scanKubeDumps(t, f)
	issued := testkit.ADC(t, kubeToken)
	s := newStack(t, "")
	s.serve(f, gcpfake.Options{}, "FLEETSCAN_SHARD_SIZE=4", "FLEETSCAN_KUBERNETES=api")
	s.publish("")
	d := s.deliver()
	if len(d) != 4 {
		t.Fatalf("deliveries = %d, want the request and 3 shards\n%s", len(d), s.fn.log())
	}
	for _, x := range d {
		if x.status != 200 {
			t.Errorf("delivery %s: status %d\n%s", x.id, x.status, s.fn.log())
		}
	}
	if diff := cmp.Diff(findingKeys(want.Findings), stripScan(s.viewKeys())); diff != "" {
		t.Errorf("findings over 3 shards (-dumps +function):\n%s", diff)
	}
	if issued() == 0 {
		t.Error("the function asked Application Default Credentials for no token")
	}
	// Every Dataplane V2 cluster's API was read once, by the shard that
	// holds it, and no other cluster's.
	for _, c := range want.Clusters {
		n := ks.Calls(c.Key().String())
		if c.DataplaneV2 && (n == 0 || n > 9) || !c.DataplaneV2 && n != 0 {
			t.Errorf("cluster %s (Dataplane V2 %t): %d list calls", c.Key(), c.DataplaneV2, n)
		}
	}
	if n := len(s.fn.logLines("scan complete")); n != 3 {
		t.Errorf("scan complete log lines = %d, want one per shard", n)
	}
}
