package evidence

import (
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/test/testkit"
)

const randomFully = "DPV2-NODEPORT-RANDOMFULLY"

// randomFullyIssue is the embedded catalog's DPV2-NODEPORT-RANDOMFULLY.
func randomFullyIssue(t *testing.T) *catalog.Issue {
	t.Helper()
	is := testkit.Catalog(t).Issue(randomFully)
	if is == nil || !is.Kubernetes.Logged() {
		t.Fatalf("%s has no logged kubernetes check in the embedded catalog", randomFully)
	}
	return is
}

// agentQuery is the window's query of the catalog's ip-masq-agent lines
// (and, with ipam, the IPAM symptom).
func agentQuery(t *testing.T, ipam bool, projects ...string) scanner.EvidenceQuery {
	q := scanner.EvidenceQuery{Projects: projects, Agents: []*catalog.Issue{randomFullyIssue(t)}, Since: since, Until: until}
	if ipam {
		q.Symptoms = []*catalog.Symptom{ipamSymptom(t)}
	}
	return q
}

// agentFilterWindow is AgentFilter of the catalog's check over the tests' window.
const agentFilterWindow = `resource.type="k8s_container" resource.labels.container_name="ip-masq-agent" (textPayload:"ip-masq-agent version:" OR textPayload:"FLAG: --random-fully=" OR textPayload:"FLAG: --to-ports=") timestamp>="2026-11-20T12:00:00Z" timestamp<="2026-11-27T12:00:00Z"`

// start is one start of an ip-masq-agent pod of cluster p/l/c on node:
// its version line (none when version is "-") at, then its flag lines
// (`random-fully="true"`) a millisecond apart.
func start(pod, node string, at time.Time, version string, flags ...string) []Entry {
	line := func(n int, text string) Entry {
		ts := at.Add(time.Duration(n) * time.Millisecond)
		return Entry{
			InsertID: pod + ts.Format(time.RFC3339Nano), Timestamp: ts, ResourceType: "k8s_container",
			ProjectID: "p", Location: "l", Cluster: "c", Node: node,
			TextPayload:   ts.Format("I0102 15:04:05.000000") + "       1 " + text,
			ContainerName: "ip-masq-agent", Namespace: "kube-system", PodName: pod,
		}
	}
	var out []Entry
	if version != "-" {
		out = append(out, line(0, "ip-masq-agent.go:140] ip-masq-agent version: "+version))
	}
	for i, f := range flags {
		out = append(out, line(i+1, "flags.go:64] FLAG: --"+f))
	}
	return out
}

func concat(parts ...[]Entry) []Entry {
	var out []Entry
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func agentObs(k scanner.ClusterKey, pods int, summary string, first, last time.Time, nodes []string, sample string) scanner.Observation {
	return scanner.Observation{Cluster: k, IssueID: randomFully, Events: pods, Evidence: scanner.Evidence{
		Source: "cloud_logging", Summary: summary, Count: int64(pods), FirstSeen: ptr(first), LastSeen: ptr(last),
		Nodes: nodes, Sample: sample, Query: agentFilterWindow,
	}}
}

func TestAgentFilter(t *testing.T) {
	if got := AgentFilter(randomFullyIssue(t).Kubernetes, since, until); got != agentFilterWindow {
		t.Errorf("AgentFilter =\n%s\nwant\n%s", got, agentFilterWindow)
	}
	hostile := &catalog.KubernetesCheck{LogContainer: `x" OR logName:"y`, LogVersionText: `v\" OR "`, LogFlagText: `F"--`}
	const want = `resource.type="k8s_container" resource.labels.container_name="x\" OR logName:\"y" (textPayload:"v\\\" OR \"" OR textPayload:"F\"--random-fully=" OR textPayload:"F\"--to-ports=") timestamp>="2026-11-20T12:00:00Z" timestamp<="2026-11-27T12:00:00Z"`
	if got := AgentFilter(hostile, since, until); got != want {
		t.Errorf("AgentFilter(hostile) =\n%s\nwant\n%s", got, want)
	}
}

func TestAgentObservations(t *testing.T) {
	t0 := day(24, 8)
	t1 := t0.Add(30 * time.Minute)
	line := func(version string) string { return "ip-masq-agent.go:140] ip-masq-agent version: " + version }
	sample := func(at time.Time, version string) string {
		return at.Format("I0102 15:04:05.000000") + "       1 " + line(version)
	}
	// on is the observation of agents that logged version: the summary
	// names it, or says it is unknown when it is "latest".
	on := func(version, why string, pods int, first, last time.Time, nodes []string, sampleAt time.Time) []scanner.Observation {
		summary := "ip-masq-agent " + version + " started " + why
		if version == "latest" {
			summary = "ip-masq-agent of unknown version started " + why
		}
		summary += ", on " + strconv.Itoa(pods) + " pod(s)"
		if len(nodes) > 0 {
			summary += " across " + strconv.Itoa(len(nodes)) + " node(s)"
		}
		return []scanner.Observation{agentObs(pclc, pods, summary, first, last, nodes, sample(sampleAt, version))}
	}
	none := []scanner.Observation{}
	for _, tc := range []struct {
		name    string
		entries []Entry
		want    []scanner.Observation
	}{
		{
			name: "2.12 on two pods of two nodes",
			entries: concat(
				start("ip-masq-agent-a", "n1", t0, "v2.12.0", `random-fully="true"`, `to-ports=""`),
				start("ip-masq-agent-b", "n2", t1, "v2.12.0", `random-fully="true"`),
			),
			want: on("v2.12.0", "with random-fully on", 2, t0, t1, []string{"n1", "n2"}, t1),
		},
		{
			name:    "2.9 is below 2.10",
			entries: start("ip-masq-agent-a", "n1", t0, "v2.9.3"),
			want:    none,
		},
		{
			name:    "2.11 with random-fully false",
			entries: start("ip-masq-agent-a", "n1", t0, "v2.11.0", `random-fully="false"`),
			want:    none,
		},
		{
			name:    "2.10 whatever the flag",
			entries: start("ip-masq-agent-a", "n1", t0, "v2.10.0", `random-fully="false"`),
			want:    on("v2.10.0", "with random-fully on, which --random-fully=false cannot turn off before 2.11", 1, t0, t0, []string{"n1"}, t0),
		},
		{
			name:    "2.10 without the flag",
			entries: start("ip-masq-agent-a", "", t0, "v2.10.1"),
			want:    on("v2.10.1", "with random-fully on", 1, t0, t0, nil, t0),
		},
		{
			name:    "2.12 with --to-ports outside the NodePort range",
			entries: start("ip-masq-agent-a", "n1", t0, "v2.12.0", `random-fully="true"`, `to-ports="20000-29999"`),
			want:    none,
		},
		{
			name:    "2.11 ignores --to-ports",
			entries: start("ip-masq-agent-a", "n1", t0, "v2.11.0", `random-fully="true"`, `to-ports="20000-29999"`),
			want:    on("v2.11.0", "with random-fully on", 1, t0, t0, []string{"n1"}, t0),
		},
		{
			name:    "unreadable version with the flag true: on, version unknown",
			entries: start("ip-masq-agent-a", "n1", t0, "latest", `random-fully="true"`),
			want:    on("latest", "with random-fully on by --random-fully=true, a flag that no agent below 2.10 has", 1, t0, t0, []string{"n1"}, t0),
		},
		{
			name:    "unreadable version without the flag",
			entries: start("ip-masq-agent-a", "n1", t0, "latest"),
			want:    none,
		},
		{
			name:    "unreadable version with --to-ports outside: cannot be decided",
			entries: start("ip-masq-agent-a", "n1", t0, "latest", `random-fully="true"`, `to-ports="20000-29999"`),
			want:    none,
		},
		{
			name:    "flag lines without a version line",
			entries: start("ip-masq-agent-a", "n1", t0, "-", `random-fully="true"`),
			want: []scanner.Observation{agentObs(pclc, 1, "ip-masq-agent of unknown version started with random-fully on by --random-fully=true, a flag that no agent below 2.10 has, on 1 pod(s) across 1 node(s)",
				t0.Add(time.Millisecond), t0.Add(time.Millisecond), []string{"n1"}, t0.Add(time.Millisecond).Format("I0102 15:04:05.000000")+`       1 flags.go:64] FLAG: --random-fully="true"`)},
		},
		{
			name: "restarted with random-fully off: the latest start decides",
			entries: concat(
				start("ip-masq-agent-a", "n1", t0, "v2.11.0", `random-fully="true"`),
				start("ip-masq-agent-a", "n1", t1, "v2.11.0", `random-fully="false"`),
			),
			want: none,
		},
		{
			name: "restarted with random-fully on",
			entries: concat(
				start("ip-masq-agent-a", "n1", t0, "v2.11.0", `random-fully="false"`),
				start("ip-masq-agent-a", "n1", t1, "v2.12.0", `random-fully="true"`),
			),
			want: on("v2.12.0", "with random-fully on", 1, t1, t1, []string{"n1"}, t1),
		},
		{
			// Two starts 20s apart (a crash loop): each flag line belongs
			// to the version line nearest to it.
			name: "quick restart: flags go with the nearest version line",
			entries: concat(
				start("ip-masq-agent-a", "n1", t0, "v2.12.0", `random-fully="true"`, `to-ports="20000-29999"`),
				start("ip-masq-agent-a", "n1", t0.Add(20*time.Second), "v2.12.0", `random-fully="true"`),
			),
			want: on("v2.12.0", "with random-fully on", 1, t0.Add(20*time.Second), t0.Add(20*time.Second), []string{"n1"}, t0.Add(20*time.Second)),
		},
		{
			name: "the cluster's latest start is off: no claim, whatever older pods say",
			entries: concat(
				start("ip-masq-agent-a", "n1", t0, "v2.12.0", `random-fully="true"`),
				start("ip-masq-agent-b", "n2", t1, "v2.12.0", `random-fully="false"`),
			),
			want: none,
		},
		{
			name: "only the pods with random-fully on are counted",
			entries: concat(
				start("ip-masq-agent-a", "n1", t0, "v2.11.0", `random-fully="false"`),
				start("ip-masq-agent-b", "n2", t0.Add(time.Minute), "v2.12.0", `random-fully="true"`),
				start("ip-masq-agent-c", "n3", t1, "v2.12.0", `random-fully="true"`),
			),
			want: on("v2.12.0", "with random-fully on", 2, t0.Add(time.Minute), t1, []string{"n2", "n3"}, t1),
		},
		{
			name: "an entry read twice counts once; other containers and times are left out",
			entries: concat(
				start("ip-masq-agent-a", "n1", t0, "v2.12.0", `random-fully="true"`),
				start("ip-masq-agent-a", "n1", t0, "v2.12.0", `random-fully="true"`),
				[]Entry{
					with(start("ip-masq-agent-b", "n2", t1, "v2.11.0")[0], func(e *Entry) { e.ContainerName = "sidecar" }),
					with(start("ip-masq-agent-b", "n2", t1, "v2.11.0")[0], func(e *Entry) { e.ResourceType = "k8s_pod" }),
				},
				start("ip-masq-agent-z", "n9", day(19, 0), "v2.12.0", `random-fully="false"`), // before the window
				start("ip-masq-agent-z", "n9", day(28, 0), "v2.12.0", `random-fully="false"`), // after it
			),
			want: on("v2.12.0", "with random-fully on", 1, t0, t0, []string{"n1"}, t0),
		},
		{
			name: "flag values that no agent prints are left out",
			entries: concat(
				start("ip-masq-agent-a", "n1", t0, "v2.11.0", `random-fully="false"`, `random-fully="true --x"`, `random-fully=`),
			),
			want: none,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewQueryAggregator(agentQuery(t, false))
			for _, e := range tc.entries {
				a.Add(e)
			}
			got := a.Observations(func(*catalog.Symptom) string { return "" })
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Observations (-want +got):\n%s", diff)
			}
		})
	}
}

// Several clusters and the IPAM symptom in one pass: each cluster gets its
// own observations, symptom first; an aggregator not asked for agents
// ignores their lines.
func TestAgentObservationsPerCluster(t *testing.T) {
	t0 := day(24, 8)
	other := scanner.ClusterKey{ProjectID: "q", Location: "l2", Name: "c2"}
	entries := concat(
		start("ip-masq-agent-a", "n1", t0, "v2.12.0", `random-fully="true"`),
		[]Entry{ev("i1", "u1", t0, 2, "n1", "10.0.0.1-10.0.0.62")},
	)
	for _, e := range start("ip-masq-agent-x", "m1", t0, "v2.11.0", `random-fully="true"`) {
		e.ProjectID, e.Location, e.Cluster = other.ProjectID, other.Location, other.Name
		entries = append(entries, e)
	}
	a := NewQueryAggregator(agentQuery(t, true))
	for _, e := range entries {
		a.Add(e)
	}
	got := a.Observations(func(*catalog.Symptom) string { return "ipam" })
	var keys []string
	for _, o := range got {
		keys = append(keys, o.Cluster.String()+" "+o.IssueID+" "+o.Evidence.Summary)
	}
	want := []string{
		"p/l/c  2 FailedCreatePodSandBox event(s) from 1 event object(s) reported by kubelet on 1 node(s), range(s) 10.0.0.1-10.0.0.62",
		"p/l/c DPV2-NODEPORT-RANDOMFULLY ip-masq-agent v2.12.0 started with random-fully on, on 1 pod(s) across 1 node(s)",
		"q/l2/c2 DPV2-NODEPORT-RANDOMFULLY ip-masq-agent v2.11.0 started with random-fully on, on 1 pod(s) across 1 node(s)",
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("observations (-want +got):\n%s", diff)
	}
	if a.AgentLines != 4 || a.Matched != 1 {
		t.Errorf("AgentLines = %d, Matched = %d; want 4 and 1", a.AgentLines, a.Matched)
	}

	plain := NewAggregator([]*catalog.Symptom{ipamSymptom(t)}, since, until)
	for _, e := range entries {
		plain.Add(e)
	}
	if got := plain.Observations(func(*catalog.Symptom) string { return "" }); len(got) != 1 || got[0].IssueID != "" || plain.AgentLines != 0 {
		t.Errorf("without agents: %+v, %d agent lines; want the IPAM observation only", got, plain.AgentLines)
	}
}

// containerLine is an ip-masq-agent line as `gcloud logging read
// --format=json` prints it.
const containerLine = `{
  "insertId": "x1k9q2f3m8c7",
  "labels": {
    "compute.googleapis.com/resource_name": "gke-pay-prod-1-default-pool-8f2a1c3e-q9m4",
    "k8s-pod/controller-revision-hash": "6d9c5b7f4",
    "k8s-pod/k8s-app": "ip-masq-agent"
  },
  "logName": "projects/acme-payments-prod/logs/stderr",
  "receiveTimestamp": "2026-11-24T08:00:03.512000000Z",
  "resource": {
    "labels": {
      "cluster_name": "pay-prod-1",
      "container_name": "ip-masq-agent",
      "location": "us-central1",
      "namespace_name": "kube-system",
      "pod_name": "ip-masq-agent-x7k2p",
      "project_id": "acme-payments-prod"
    },
    "type": "k8s_container"
  },
  "severity": "INFO",
  "textPayload": "I1124 08:00:01.123456       1 ip-masq-agent.go:140] ip-masq-agent version: v2.12.0",
  "timestamp": "2026-11-24T08:00:01.123456Z"
}`

var containerLineEntry = Entry{
	InsertID:      "x1k9q2f3m8c7",
	Timestamp:     time.Date(2026, 11, 24, 8, 0, 1, 123456000, time.UTC),
	ResourceType:  "k8s_container",
	ProjectID:     "acme-payments-prod",
	Location:      "us-central1",
	Cluster:       "pay-prod-1",
	Node:          "gke-pay-prod-1-default-pool-8f2a1c3e-q9m4",
	TextPayload:   "I1124 08:00:01.123456       1 ip-masq-agent.go:140] ip-masq-agent version: v2.12.0",
	ContainerName: "ip-masq-agent",
	Namespace:     "kube-system",
	PodName:       "ip-masq-agent-x7k2p",
}

// A container line reads the same from a gcloud file and from the API.
func TestContainerLineEntry(t *testing.T) {
	got, err := ParseEntries("logs.json", []byte("["+containerLine+"]"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Entry{containerLineEntry}, got); diff != "" {
		t.Errorf("ParseEntries(container line) (-want +got):\n%s", diff)
	}
	var pb loggingpb.LogEntry
	if err := protojson.Unmarshal([]byte(containerLine), &pb); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(containerLineEntry, EntryFromProto(&pb)); diff != "" {
		t.Errorf("EntryFromProto(container line) (-want +got):\n%s", diff)
	}
}

// Offline (--logs FILE): a file's container lines give the observation.
func TestEntriesObserveAgent(t *testing.T) {
	flag := with(containerLineEntry, func(e *Entry) {
		e.InsertID, e.Timestamp = "x1k9q2f3m8c8", e.Timestamp.Add(44*time.Microsecond)
		e.TextPayload = `I1124 08:00:01.123500       1 flags.go:64] FLAG: --random-fully="true"`
	})
	got, err := Entries{containerLineEntry, flag}.Observe(t.Context(), agentQuery(t, true, "acme-payments-prod"), func(e scanner.ScanError) { t.Errorf("scan error %+v", e) })
	if err != nil {
		t.Fatal(err)
	}
	at := containerLineEntry.Timestamp
	want := []scanner.Observation{agentObs(scanner.ClusterKey{ProjectID: "acme-payments-prod", Location: "us-central1", Name: "pay-prod-1"}, 1,
		"ip-masq-agent v2.12.0 started with random-fully on, on 1 pod(s) across 1 node(s)", at, at,
		[]string{"gke-pay-prod-1-default-pool-8f2a1c3e-q9m4"}, containerLineEntry.TextPayload)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Entries.Observe (-want +got):\n%s", diff)
	}
}
