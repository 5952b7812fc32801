package evidence

import (
	"context"
	"strings"
	"testing"
	"time"

	logging "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
)

// agentLines are the start-up lines of an ip-masq-agent pod of cluster c
// (project p) at `at`, with random-fully on, as Cloud Logging stores them.
func agentLines(p, location, cluster, pod string, at time.Time) []*loggingpb.LogEntry {
	line := func(n int, text string) *loggingpb.LogEntry {
		ts := at.Add(time.Duration(n) * time.Millisecond)
		return &loggingpb.LogEntry{
			LogName:  "projects/" + p + "/logs/stderr",
			InsertId: pod + "-" + ts.Format(time.RFC3339Nano),
			Resource: &monitoredres.MonitoredResource{Type: "k8s_container", Labels: map[string]string{
				"project_id": p, "location": location, "cluster_name": cluster,
				"namespace_name": "kube-system", "pod_name": pod, "container_name": "ip-masq-agent",
			}},
			Labels:    map[string]string{"compute.googleapis.com/resource_name": "gke-" + cluster + "-node-" + pod},
			Timestamp: timestamppb.New(ts),
			Payload:   &loggingpb.LogEntry_TextPayload{TextPayload: ts.Format("I0102 15:04:05.000000") + "       1 " + text},
		}
	}
	return []*loggingpb.LogEntry{
		line(0, "ip-masq-agent.go:140] ip-masq-agent version: v2.12.0"),
		line(1, `flags.go:64] FLAG: --masq-chain="IP-MASQ"`),
		line(2, `flags.go:64] FLAG: --random-fully="true"`),
		line(3, `flags.go:64] FLAG: --to-ports=""`),
	}
}

// One Observe through the real Logging client against test/gcpfake asks
// for both (the IPAM symptom's events and the ip-masq-agent lines) in one
// filter per batch of projects, so the agent lines cost no call: the
// denied project is isolated and recorded once, and every other project
// keeps both kinds of evidence, exactly as the offline path computes them.
func TestLoggingAgentLinesWithSymptom(t *testing.T) {
	f, err := fleetgen.Generate(fleetgen.Options{Clusters: 120, Projects: 12, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	// The agent runs in the first cluster of two projects; the second
	// project's logs may not be read.
	byProject := map[string][3]string{}
	for _, c := range f.Clusters {
		p := strings.Split(c.GetSelfLink(), "/")[5]
		if _, ok := byProject[p]; !ok {
			byProject[p] = [3]string{p, c.GetLocation(), c.GetName()}
		}
	}
	ids := f.ProjectIDs()
	readable, denied := byProject[ids[1]], byProject[ids[6]]
	if readable[0] == "" || denied[0] == "" {
		t.Fatalf("projects %s and %s have no clusters; pick another seed", ids[1], ids[6])
	}
	at := f.Now.Add(-30 * time.Hour)
	f.Events = append(f.Events, agentLines(readable[0], readable[1], readable[2], "ip-masq-agent-a", at)...)
	f.Events = append(f.Events, agentLines(readable[0], readable[1], readable[2], "ip-masq-agent-b", at.Add(time.Minute))...)
	f.Events = append(f.Events, agentLines(denied[0], denied[1], denied[2], "ip-masq-agent-c", at)...)

	srv, err := gcpfake.Start(f, gcpfake.Options{Deny: map[string]codes.Code{denied[0]: codes.PermissionDenied}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	client, err := logging.NewClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	q := agentQuery(t, true, ids...)
	q.Since, q.Until = f.Now.Add(-168*time.Hour), f.Now
	var c collect
	got, err := (&Logging{Client: client, Policy: quick}).Observe(t.Context(), q, c.failed)
	if err != nil {
		t.Fatal(err)
	}

	if len(c.errs) != 1 || c.errs[0].ProjectID != denied[0] || c.errs[0].Code != "PERMISSION_DENIED" {
		t.Errorf("scan errors = %+v, want one PERMISSION_DENIED for %s", c.errs, denied[0])
	}
	ipam, agent := Filter(q.Symptoms[0], q.Since, q.Until), AgentFilter(q.Agents[0].Kubernetes, q.Since, q.Until)
	both := "(" + ipam + ") OR (" + agent + ")"
	if QueryFilter(q) != both {
		t.Errorf("QueryFilter = %s, want %s", QueryFilter(q), both)
	}
	filters := srv.Filters()
	for _, f := range filters {
		if f != both {
			t.Errorf("filter %s, want the one combined query %s", f, both)
		}
	}
	// 12 projects: one call, then halves until the denied one is alone.
	if len(filters) > 1+2*4 {
		t.Errorf("%d calls for 12 projects with one denied", len(filters))
	}
	if n := srv.Calls()["logging.ListLogEntries"]; n != len(filters) {
		t.Errorf("ListLogEntries calls = %d, filters %d", n, len(filters))
	}

	// The offline path over every entry of the readable projects.
	var offline Entries
	for _, e := range f.Events {
		if e.GetResource().GetLabels()["project_id"] != denied[0] {
			offline = append(offline, EntryFromProto(e))
		}
	}
	want, err := offline.Observe(t.Context(), q, func(e scanner.ScanError) { t.Errorf("offline scan error %+v", e) })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("live (-offline +live):\n%s", diff)
	}
	var agents, symptoms int
	for _, o := range got {
		switch {
		case o.IssueID == "":
			symptoms++
		case o.Cluster == (scanner.ClusterKey{ProjectID: readable[0], Location: readable[1], Name: readable[2]}):
			agents++
			if o.Evidence.Summary != "ip-masq-agent v2.12.0 started with random-fully on, on 2 pod(s) across 2 node(s)" || o.Evidence.Query != agent ||
				!o.Evidence.FirstSeen.Equal(at) || !o.Evidence.LastSeen.Equal(at.Add(time.Minute)) {
				t.Errorf("agent observation %+v", o)
			}
		default:
			t.Errorf("agent observation of %s, want only %s's", o.Cluster, readable[2])
		}
	}
	if agents != 1 || symptoms == 0 {
		t.Errorf("%d agent and %d symptom observations, want 1 and some", agents, symptoms)
	}
}
