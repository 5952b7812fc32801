package scanner_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/evidence"
	"github.com/fleetscan/fleetscan/test/testkit"
)

var asOf = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type row struct {
	Issue, Project, Location, Cluster, Pool, Status, Component, Version, FixedIn string
}

func rows(fs []scanner.Finding) []row {
	var out []row
	for _, f := range fs {
		out = append(out, row{f.IssueID, f.ProjectID, f.Location, f.Cluster, f.NodePool, string(f.Status), f.Component, f.Version, f.FixedIn})
	}
	return out
}

var mustCatalog = testkit.ContractCatalog

// endOfSupportRows are the GKE-END-OF-SUPPORT findings of clusters whose
// every version is past its minor's end of support: the control plane and
// each pool, AFFECTED, with no fix (offline, no offered versions).
func endOfSupportRows(cs []scanner.ClusterRecord) []row {
	var out []row
	for _, c := range cs {
		out = append(out, row{"GKE-END-OF-SUPPORT", c.ProjectID, c.Location, c.Name, "", "AFFECTED", "control_plane", c.MasterVersion, ""})
		for _, p := range c.NodePools {
			out = append(out, row{"GKE-END-OF-SUPPORT", c.ProjectID, c.Location, c.Name, p.Name, "AFFECTED", "node_pool", p.Version, ""})
		}
	}
	return out
}

// withoutEndOfSupport leaves out GKE-END-OF-SUPPORT findings, for tests of
// other issues on versions long out of support.
func withoutEndOfSupport(fs []scanner.Finding) []scanner.Finding {
	return slices.DeleteFunc(slices.Clone(fs), func(f scanner.Finding) bool { return f.IssueID == "GKE-END-OF-SUPPORT" })
}

// The real gcpdiag dumps, with expectations derived by hand from DOMAIN.md:
// only autopilot-gke1 and autopilot-gke2 run Dataplane V2. Both are
// Autopilot without nodePools, so DPV2-IPAM-LEAK compares
// currentNodeVersion 1.22.10-gke.600 (below 1.22.17-gke.3100); their
// control plane 1.24.10-gke.2300 is below every control-plane fix, on a
// minor with none. Every other cluster is legacy dataplane (field absent,
// or LEGACY_DATAPATH in gke2) and has no finding, whatever its version.
// The log dump holds audit entries only: no evidence.
func TestScanGcpdiag(t *testing.T) {
	logs, err := evidence.ReadFiles([]string{"../testdata/gcpdiag/gke1-logging-entries.json"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := scanner.Scan(t.Context(), scanner.Options{
		Catalog: mustCatalog(t),
		Source: discovery.Files{Paths: []string{
			"../testdata/gcpdiag/gke1-container-clusters.json",
			"../testdata/gcpdiag/gke2-container-clusters.json",
			"../testdata/gcpdiag/gke3-container-clusters.json",
		}},
		Evidence: evidence.Entries(logs),
		ScanID:   "s1",
		Now:      asOf,
	})
	if err != nil {
		t.Fatal(err)
	}
	const p, l = "gcpdiag-gke1-aaaa", "europe-west4"
	want := []row{
		{"DPV2-IPAM-LEAK", p, l, "autopilot-gke1", "", "AFFECTED", "node_pool", "1.22.10-gke.600", "1.22.17-gke.3100"},
		{"DPV2-IPAM-LEAK", p, l, "autopilot-gke2", "", "AFFECTED", "node_pool", "1.22.10-gke.600", "1.22.17-gke.3100"},
		{"DPV2-HAIRPIN-CONNTRACK-LEAK", p, l, "autopilot-gke1", "", "AFFECTED", "control_plane", "1.24.10-gke.2300", ""},
		{"DPV2-HAIRPIN-CONNTRACK-LEAK", p, l, "autopilot-gke2", "", "AFFECTED", "control_plane", "1.24.10-gke.2300", ""},
		{"DPV2-NETPOL-CONNTRACK-SELF", p, l, "autopilot-gke1", "", "AFFECTED", "control_plane", "1.24.10-gke.2300", ""},
		{"DPV2-NETPOL-CONNTRACK-SELF", p, l, "autopilot-gke2", "", "AFFECTED", "control_plane", "1.24.10-gke.2300", ""},
	}
	// As of asOf (2026-11-27) every minor of these dumps (1.22 to 1.27) is
	// past its end of standard support: the control plane and every pool.
	eos := endOfSupportRows(res.Clusters)
	want = append(want, eos...)
	if diff := cmp.Diff(want, rows(res.Findings), cmpopts.SortSlices(func(a, b row) bool { return fmt.Sprint(a) < fmt.Sprint(b) })); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if len(eos) < 10 {
		t.Errorf("%d end-of-support rows, want at least one per cluster", len(eos))
	}
	wantSummary := scanner.Summary{
		Clusters: 10, DataplaneV2: 2, Projects: 3, Findings: 6 + len(eos),
		ByStatus:      map[scanner.Status]int{scanner.Affected: 6 + len(eos)},
		SkippedChecks: 6, // three Kubernetes API checks on each Dataplane V2 cluster
	}
	if diff := cmp.Diff(wantSummary, res.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	for _, f := range res.Findings {
		if f.ScanID != "s1" || !f.ScannedAt.Equal(asOf) {
			t.Errorf("%s: scan fields = %q %v", f.IssueID, f.ScanID, f.ScannedAt)
		}
	}
}

func ipamEvent(project, location, cluster, uid, node string, at time.Time, count int64) evidence.Entry {
	return evidence.Entry{
		InsertID: uid + at.String(), Timestamp: at, ResourceType: "k8s_pod",
		ProjectID: project, Location: location, Cluster: cluster,
		Reason:  "FailedCreatePodSandBox",
		Message: `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "3248bb99": failed to allocate for range 0: no IP addresses available in range set: 10.60.28.1-10.60.28.254`,
		UID:     uid, Node: node, Count: count, Component: "kubelet",
	}
}

// fleet is a static cluster source for scan tests.
type fleet []scanner.Cluster

func (f fleet) Discover(_ context.Context, found func(scanner.Cluster), _ func(scanner.ScanError)) (scanner.Coverage, error) {
	for _, c := range f {
		found(c)
	}
	return scanner.Coverage{All: true}, nil
}

func TestScanEvidence(t *testing.T) {
	dpv2 := "ADVANCED_DATAPATH"
	affected := scanner.Cluster{ProjectID: "p", Location: "us-central1", Name: "leaky", Datapath: dpv2, MasterVersion: "1.30.1-gke.1",
		NodePools: []scanner.Pool{{Name: "a", Version: "1.24.1-gke.1", ImageType: "COS_CONTAINERD"}, {Name: "b", Version: "1.24.1-gke.1", ImageType: "COS_CONTAINERD"}, {Name: "fixed", Version: "1.30.1-gke.1", ImageType: "COS_CONTAINERD"}}}
	fixed := scanner.Cluster{ProjectID: "p", Location: "us-central1", Name: "full", Datapath: dpv2, MasterVersion: "1.30.1-gke.1",
		NodePools: []scanner.Pool{{Name: "a", Version: "1.30.1-gke.1", ImageType: "COS_CONTAINERD"}}}
	unknown := scanner.Cluster{ProjectID: "p", Location: "us-central1", Name: "unsure", Datapath: dpv2, MasterVersion: "1.30.1-gke.1",
		NodePools: []scanner.Pool{{Name: "a", Version: "1.24", ImageType: "COS_CONTAINERD"}}}
	quiet := scanner.Cluster{ProjectID: "p", Location: "us-central1", Name: "quiet", Datapath: dpv2, MasterVersion: "1.30.1-gke.1",
		NodePools: []scanner.Pool{{Name: "a", Version: "1.24.1-gke.1", ImageType: "COS_CONTAINERD"}}}
	// Same name as "full", other location: the events there are not full's.
	twin := scanner.Cluster{ProjectID: "p", Location: "europe-west1", Name: "full", MasterVersion: "1.30.1-gke.1"}

	at := asOf.Add(-time.Hour)
	logs := evidence.Entries{
		ipamEvent("p", "us-central1", "leaky", "u1", "n1", at, 1),
		ipamEvent("p", "us-central1", "leaky", "u1", "n1", at.Add(time.Minute), 5), // same event, count grew
		ipamEvent("p", "us-central1", "leaky", "u2", "n2", at, 1),
		ipamEvent("p", "us-central1", "full", "u3", "n1", at, 2),
		ipamEvent("p", "us-central1", "unsure", "u4", "n1", at, 1),
		ipamEvent("p", "us-central1", "gone", "u5", "n1", at, 1),                        // not in the inventory
		ipamEvent("p", "us-central1", "quiet", "u6", "n1", asOf.Add(-200*time.Hour), 1), // outside the 168h window
	}
	res, err := scanner.Scan(t.Context(), scanner.Options{
		Catalog: mustCatalog(t), Source: fleet{affected, fixed, unknown, quiet, twin}, Evidence: logs, Now: asOf,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []row
	for _, f := range withoutEndOfSupport(res.Findings) {
		if f.Component != "control_plane" || f.IssueID == "GKE-POD-IP-EXHAUSTION" {
			got = append(got, row{f.IssueID, f.ProjectID, f.Location, f.Cluster, f.NodePool, string(f.Status), f.Component, f.Version, f.FixedIn})
		}
	}
	want := []row{
		{"DPV2-IPAM-LEAK", "p", "us-central1", "leaky", "a", "OBSERVED", "node_pool", "1.24.1-gke.1", "1.24.9-gke.3200"},
		{"DPV2-IPAM-LEAK", "p", "us-central1", "leaky", "b", "OBSERVED", "node_pool", "1.24.1-gke.1", "1.24.9-gke.3200"},
		{"DPV2-IPAM-LEAK", "p", "us-central1", "quiet", "a", "AFFECTED", "node_pool", "1.24.1-gke.1", "1.24.9-gke.3200"},
		{"DPV2-IPAM-LEAK", "p", "us-central1", "unsure", "a", "OBSERVED", "node_pool", "1.24", ""},
		{"GKE-POD-IP-EXHAUSTION", "p", "us-central1", "full", "", "OBSERVED", "", "", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if res.Summary.LogEvents != 5 || res.Summary.UnmatchedEvents != 1 {
		t.Errorf("log events = %d, unmatched = %d; want 5 and 1", res.Summary.LogEvents, res.Summary.UnmatchedEvents)
	}
	for _, f := range res.Findings {
		if f.Cluster != "leaky" || f.NodePool != "a" || f.IssueID != "DPV2-IPAM-LEAK" {
			continue
		}
		if len(f.Evidence) != 2 || f.Evidence[1].Source != "cloud_logging" {
			t.Fatalf("leaky/a evidence = %+v, want container_api then cloud_logging", f.Evidence)
		}
		e := f.Evidence[1]
		if e.Count != 6 || !cmp.Equal(e.Nodes, []string{"n1", "n2"}) || !e.LastSeen.Equal(at.Add(time.Minute)) || !e.FirstSeen.Equal(at) {
			t.Errorf("leaky/a log evidence = %+v, want count 6 (5+1) on n1, n2", e)
		}
		wantReason := "Node pool a (COS_CONTAINERD) runs 1.24.1-gke.1, below 1.24.9-gke.3200, the first fixed version on 1.24; Cloud Logging shows the symptom: 6 FailedCreatePodSandBox event(s) from 2 event object(s) reported by kubelet on 2 node(s), range(s) 10.60.28.1-10.60.28.254."
		if f.Reason != wantReason {
			t.Errorf("reason =\n%s\nwant\n%s", f.Reason, wantReason)
		}
	}
}

func TestScanDeduplicatesClusters(t *testing.T) {
	c := scanner.Cluster{ProjectID: "p", Location: "l", Name: "c", MasterVersion: "1.30.1-gke.1"}
	res, err := scanner.Scan(t.Context(), scanner.Options{Catalog: mustCatalog(t), Source: fleet{c, c, c}, Now: asOf})
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Clusters != 1 || res.Summary.DuplicateClusters != 2 {
		t.Errorf("clusters = %d, duplicates = %d; want 1 and 2", res.Summary.Clusters, res.Summary.DuplicateClusters)
	}
}

func TestScanSourceError(t *testing.T) {
	_, err := scanner.Scan(t.Context(), scanner.Options{Catalog: mustCatalog(t), Source: discovery.Files{Paths: []string{"no-such-file.json"}}})
	if err == nil || err.Error() != "cluster input: open no-such-file.json: no such file or directory" {
		t.Errorf("Scan error = %v", err)
	}
	if _, err := scanner.Scan(t.Context(), scanner.Options{}); err == nil || err.Error() != "scan: catalog and source are required" {
		t.Errorf("Scan without options error = %v", err)
	}
}

func TestParseLookback(t *testing.T) {
	for in, want := range map[string]time.Duration{"168h": 168 * time.Hour, "7d": 7 * 24 * time.Hour, "90m": 90 * time.Minute, "1d": 24 * time.Hour} {
		if got, err := scanner.ParseLookback(in); err != nil || got != want {
			t.Errorf("ParseLookback(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0h", "-1h", "7", "d", "-1d", "0d", "1.5d", "401d", "a week"} {
		_, err := scanner.ParseLookback(in)
		want := `invalid lookback "` + in + `": want a positive duration such as 168h, 7d or 90m`
		if err == nil || err.Error() != want {
			t.Errorf("ParseLookback(%q) error = %v, want %s", in, err, want)
		}
	}
}

func TestNewScanID(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 5, 999, time.FixedZone("CET", 3600))
	// printf '//pubsub.googleapis.com/projects/p/topics/t\x00m-1' | sha256sum: 9039cf…
	seeded := scanner.NewScanID(at, "//pubsub.googleapis.com/projects/p/topics/t\x00m-1")
	if seeded != "20261127T110005Z-9039cf" {
		t.Errorf("NewScanID(seeded) = %q", seeded)
	}
	if again := scanner.NewScanID(at, "//pubsub.googleapis.com/projects/p/topics/t\x00m-1"); again != seeded {
		t.Errorf("NewScanID is not stable for one seed: %q, %q", seeded, again)
	}
	a, b := scanner.NewScanID(at, ""), scanner.NewScanID(at, "")
	if a == b || !regexp.MustCompile(`^20261127T110005Z-[0-9a-f]{6}$`).MatchString(a) {
		t.Errorf("NewScanID without a seed = %q, %q; want two different IDs of the same time", a, b)
	}
}

// unreachable is an in-cluster source whose clusters cannot be read.
type unreachable struct{}

type forbidden struct{}

func (forbidden) Error() string { return "the API server answered 403 Forbidden" }
func (forbidden) API() string   { return "kubernetes" }
func (forbidden) Code() string  { return "PERMISSION_DENIED" }

func (unreachable) Check(context.Context, *scanner.Cluster, []*catalog.Issue) ([]scanner.CheckResult, bool, error) {
	return nil, true, forbidden{}
}

// A cluster whose objects cannot be read while in-cluster checks are on
// gets an UNKNOWN finding per in-cluster issue and a scan error.
func TestScanInClusterUnreadable(t *testing.T) {
	c := scanner.Cluster{ProjectID: "shop-prod", Location: "europe-west1", Name: "web", Datapath: "ADVANCED_DATAPATH",
		MasterVersion: "1.31.5-gke.1000", NodePools: []scanner.Pool{{Name: "p", Version: "1.31.5-gke.1000", ImageType: "COS_CONTAINERD"}}}
	res, err := scanner.Scan(t.Context(), scanner.Options{Catalog: mustCatalog(t), Source: fleet{c}, InCluster: unreachable{}, ScanID: "s", Now: asOf})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range withoutEndOfSupport(res.Findings) { // 1.31 ended 2026-01-16
		got = append(got, f.IssueID+" "+string(f.Status))
		if f.Reason != "The cluster's Kubernetes objects could not be read (the API server answered 403 Forbidden), so exposure to this issue cannot be decided." {
			t.Errorf("%s reason = %q", f.IssueID, f.Reason)
		}
	}
	want := []string{"DPV2-NETPOL-ENDPORT UNKNOWN", "DPV2-NODEPORT-RANDOMFULLY UNKNOWN", "DPV2-NODEPORT-EPHEMERAL UNKNOWN"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	wantErr := []scanner.ScanError{{ScanID: "s", ScannedAt: asOf, ProjectID: "shop-prod", Resource: "projects/shop-prod/locations/europe-west1/clusters/web",
		API: "kubernetes", Code: "PERMISSION_DENIED", Message: "the API server answered 403 Forbidden"}}
	if diff := cmp.Diff(wantErr, res.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if n := len(res.Clusters[0].SkippedChecks); n != 0 || res.Summary.SkippedChecks != 0 {
		t.Errorf("skipped checks = %v, want none once decided (as UNKNOWN)", res.Clusters[0].SkippedChecks)
	}
	if res.Complete("shop-prod") {
		t.Errorf("a project whose cluster could not be read counts as complete")
	}
}

// objectsOf is an in-cluster source with the objects of some clusters:
// their results by cluster name; another cluster is not covered.
type objectsOf map[string][]scanner.CheckResult

func (o objectsOf) Check(_ context.Context, c *scanner.Cluster, _ []*catalog.Issue) ([]scanner.CheckResult, bool, error) {
	rs, ok := o[c.Name]
	return rs, ok, nil
}

// recorded is an evidence source that keeps the query it was asked.
type recorded struct {
	evidence.Entries
	q *scanner.EvidenceQuery
}

func (r recorded) Observe(ctx context.Context, q scanner.EvidenceQuery, failed func(scanner.ScanError)) ([]scanner.Observation, error) {
	*r.q = q
	return r.Entries.Observe(ctx, q, failed)
}

// agentStart is an ip-masq-agent pod's start-up lines in cluster name.
func agentStart(name, pod, node string, at time.Time, version, randomFully string) []evidence.Entry {
	line := func(n int, text string) evidence.Entry {
		ts := at.Add(time.Duration(n) * time.Millisecond)
		return evidence.Entry{
			InsertID: name + pod + ts.String(), Timestamp: ts, ResourceType: "k8s_container",
			ProjectID: "p", Location: "us-central1", Cluster: name, Node: node,
			TextPayload:   "I1127 10:00:00.000000       1 " + text,
			ContainerName: "ip-masq-agent", Namespace: "kube-system", PodName: pod,
		}
	}
	return []evidence.Entry{
		line(0, "ip-masq-agent.go:140] ip-masq-agent version: "+version),
		line(1, `flags.go:64] FLAG: --random-fully="`+randomFully+`"`),
	}
}

// ip-masq-agent start-up lines in Cloud Logging are evidence for
// DPV2-NODEPORT-RANDOMFULLY: they confirm a finding from the objects,
// give a cluster without in-cluster data an UNKNOWN finding (its Services
// are not known), and change nothing where the objects found the cluster
// not affected, where random-fully is off, or outside the inventory.
func TestScanAgentEvidence(t *testing.T) {
	const id = "DPV2-NODEPORT-RANDOMFULLY"
	dpv2 := func(name string) scanner.Cluster {
		return scanner.Cluster{ProjectID: "p", Location: "us-central1", Name: name, Datapath: "ADVANCED_DATAPATH", MasterVersion: "1.31.5-gke.1000",
			NodePools: []scanner.Pool{{Name: "a", Version: "1.31.5-gke.1000", ImageType: "COS_CONTAINERD"}}}
	}
	const objectsReason = "The cluster runs ip-masq-agent 2.12.0 with random-fully on (DaemonSet kube-system/ip-masq-agent) and has NodePort or LoadBalancer Services (default/web)."
	objectsEvidence := scanner.Evidence{Source: "kubernetes_api", Summary: "1 DaemonSet runs ip-masq-agent with random-fully on; 1 NodePort or LoadBalancer Service can collide with masqueraded source ports: DaemonSet kube-system/ip-masq-agent, Service default/web", Count: 2}
	ic := objectsOf{
		"confirmed": {{IssueID: id, Status: scanner.Affected, Reason: objectsReason, Evidence: objectsEvidence}},
		"clean":     {}, // the objects decided every check: not affected
	}
	at := asOf.Add(-50 * time.Hour)
	var logs evidence.Entries
	for _, name := range []string{"confirmed", "skipped", "clean", "gone"} {
		logs = append(logs, agentStart(name, "ip-masq-agent-a", "n1", at, "v2.12.0", "true")...)
		logs = append(logs, agentStart(name, "ip-masq-agent-b", "n2", at.Add(time.Minute), "v2.12.0", "true")...)
	}
	logs = append(logs, agentStart("off", "ip-masq-agent-a", "n1", at, "v2.12.0", "false")...)
	logs = append(logs, ipamEvent("p", "us-central1", "gone", "u1", "n1", at, 1)) // a symptom event outside the inventory

	var q scanner.EvidenceQuery
	res, err := scanner.Scan(t.Context(), scanner.Options{
		Catalog: mustCatalog(t), Source: fleet{dpv2("confirmed"), dpv2("skipped"), dpv2("clean"), dpv2("off")},
		InCluster: ic, Evidence: recorded{logs, &q}, ScanID: "s", Now: asOf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Agents) != 1 || q.Agents[0].ID != id {
		t.Errorf("EvidenceQuery.Agents = %v, want %s", q.Agents, id)
	}

	const filter = `resource.type="k8s_container" resource.labels.container_name="ip-masq-agent" (textPayload:"ip-masq-agent version:" OR textPayload:"FLAG: --random-fully=" OR textPayload:"FLAG: --to-ports=") timestamp>="2026-11-20T12:00:00Z" timestamp<="2026-11-27T12:00:00Z"`
	first, last := at, at.Add(time.Minute)
	logEvidence := scanner.Evidence{
		Source: "cloud_logging", Summary: "ip-masq-agent v2.12.0 started with random-fully on, on 2 pod(s) across 2 node(s)", Count: 2,
		FirstSeen: &first, LastSeen: &last, Nodes: []string{"n1", "n2"},
		Sample: "I1127 10:00:00.000000       1 ip-masq-agent.go:140] ip-masq-agent version: v2.12.0", Query: filter,
	}
	type found struct {
		Cluster, Status, Reason string
		Evidence                []scanner.Evidence
	}
	var got []found
	for _, f := range res.Findings {
		if f.IssueID == id {
			got = append(got, found{f.Cluster, string(f.Status), f.Reason, f.Evidence})
		}
	}
	objectsEvidence.Nodes = []string{}
	want := []found{
		{"confirmed", "AFFECTED",
			"The cluster runs ip-masq-agent 2.12.0 with random-fully on (DaemonSet kube-system/ip-masq-agent) and has NodePort or LoadBalancer Services (default/web); " +
				"Cloud Logging confirms ip-masq-agent v2.12.0 started with random-fully on, on 2 pod(s) across 2 node(s).",
			[]scanner.Evidence{objectsEvidence, logEvidence}},
		{"skipped", "UNKNOWN",
			"Cloud Logging shows ip-masq-agent v2.12.0 started with random-fully on, on 2 pod(s) across 2 node(s) between 2026-11-25T10:00:00Z and 2026-11-25T10:01:00Z, " +
				"but the cluster's Services could not be checked (no in-cluster data), so exposure to this issue cannot be decided.",
			[]scanner.Evidence{logEvidence}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s findings (-want +got):\n%s", id, diff)
	}

	skipped := map[string][]string{}
	for _, c := range res.Clusters {
		skipped[c.Name] = c.SkippedChecks
	}
	wantSkipped := map[string][]string{
		"confirmed": {},
		"skipped":   {"DPV2-NETPOL-ENDPORT", "DPV2-NODEPORT-EPHEMERAL"}, // the check the logs answered is no longer skipped
		"clean":     {},
		"off":       {"DPV2-NETPOL-ENDPORT", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NODEPORT-RANDOMFULLY"},
	}
	if diff := cmp.Diff(wantSkipped, skipped); diff != "" {
		t.Errorf("skipped checks (-want +got):\n%s", diff)
	}
	if s := res.Summary; s.SkippedChecks != 5 || s.LogEvents != 1 || s.UnmatchedEvents != 1 || s.ByStatus[scanner.Unknown] != 1 {
		t.Errorf("summary = %+v, want 5 skipped checks, 1 log event (unmatched), 1 UNKNOWN", s)
	}
}

// The agent's lines are asked for only where they can change a finding: a
// cluster that has a finding of the issue or skipped its check.
func TestScanAgentQueryOnlyWhenNeeded(t *testing.T) {
	legacy := scanner.Cluster{ProjectID: "old", Location: "l", Name: "legacy", MasterVersion: "1.31.5-gke.1000"}
	dpv2 := scanner.Cluster{ProjectID: "p", Location: "l", Name: "dpv2", Datapath: "ADVANCED_DATAPATH", MasterVersion: "1.31.5-gke.1000"}
	for _, tc := range []struct {
		name   string
		fleet  fleet
		agents []string
	}{
		{"legacy dataplane only", fleet{legacy}, nil},
		{"a Dataplane V2 cluster skips the check", fleet{legacy, dpv2}, []string{"DPV2-NODEPORT-RANDOMFULLY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q scanner.EvidenceQuery
			if _, err := scanner.Scan(t.Context(), scanner.Options{Catalog: mustCatalog(t), Source: tc.fleet, Evidence: recorded{nil, &q}, Now: asOf}); err != nil {
				t.Fatal(err)
			}
			var agents []string
			for _, is := range q.Agents {
				agents = append(agents, is.ID)
			}
			if len(q.Symptoms) != 1 || !cmp.Equal(agents, tc.agents) {
				t.Errorf("query: %d symptoms, agents %v; want the IPAM symptom, %v", len(q.Symptoms), agents, tc.agents)
			}
		})
	}
}
