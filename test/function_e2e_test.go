package test

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
)

func liveFleet(t *testing.T, clusters, projects int, seed uint64) *fleetgen.Fleet {
	t.Helper()
	f, err := fleetgen.Generate(fleetgen.Options{Clusters: clusters, Projects: projects, Seed: seed, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// change applies three changes to a fleet (a copy generated with the same
// seed as the one scanned before), chosen from the previous findings:
// one cluster upgraded past every fix, one pool downgraded into
// DPV2-IPAM-LEAK, one affected pool removed.
func change(t *testing.T, f *fleetgen.Fleet, before []scanner.Finding) {
	t.Helper()
	byCluster := map[string][]scanner.Finding{}
	for _, fd := range before {
		k := fd.ProjectID + "/" + fd.Location + "/" + fd.Cluster
		byCluster[k] = append(byCluster[k], fd)
	}
	key := func(c *containerpb.Cluster) string {
		sc, err := discovery.FromProto(c, "")
		if err != nil {
			t.Fatal(err)
		}
		return sc.Key().String()
	}
	var upgraded, added, removed bool
	for _, c := range f.Clusters {
		fs := byCluster[key(c)]
		switch {
		case !upgraded && len(fs) > 0 && slices.ContainsFunc(fs, func(x scanner.Finding) bool { return x.Component == "control_plane" }):
			c.CurrentMasterVersion = "1.31.10-gke.2100"
			for _, p := range c.NodePools {
				p.Version = "1.31.10-gke.2100"
			}
			c.CurrentNodeVersion = "1.31.10-gke.2100" //lint:ignore SA1019 the fleet sets what the API reports
			upgraded = true
		case !added && !slices.ContainsFunc(fs, func(x scanner.Finding) bool { return x.IssueID != "GKE-END-OF-SUPPORT" }) && // only end of support
			c.GetNetworkConfig().GetDatapathProvider() == containerpb.DatapathProvider_ADVANCED_DATAPATH &&
			len(c.NodePools) > 0 && c.NodePools[0].GetConfig().GetImageType() == "COS_CONTAINERD":
			c.NodePools[0].Version = "1.24.9-gke.3199"
			added = true
		case !removed && len(c.NodePools) > 1 && slices.ContainsFunc(fs, func(x scanner.Finding) bool {
			return x.NodePool != "" && x.Status == scanner.Affected
		}):
			i := slices.IndexFunc(c.NodePools, func(p *containerpb.NodePool) bool {
				return slices.ContainsFunc(fs, func(x scanner.Finding) bool { return x.NodePool == p.GetName() })
			})
			c.NodePools = slices.Delete(c.NodePools, i, i+1)
			removed = true
		}
	}
	if !upgraded || !added || !removed {
		t.Fatalf("fleet offers no cluster for a change: upgraded %v, added %v, removed %v", upgraded, added, removed)
	}
}

// The function as deployed, end to end: a Scheduler-shaped message in, the
// BigQuery rows and alert messages out; then a redelivery, a malformed
// message, and a second scan after the fleet changed.
func TestFunctionEndToEnd(t *testing.T) {
	endToEnd(t)
	const clusters, projects, seed = 150, 30, 11
	f1 := liveFleet(t, clusters, projects, seed)
	want1 := scanFiles(t, f1)
	s := newStack(t, "")
	s.serve(f1, gcpfake.Options{}, "FLEETSCAN_SHARD_SIZE=0")

	s.publish("") // Cloud Scheduler with the default scope
	d := s.deliver()
	if len(d) != 1 || d[0].status != 200 {
		t.Fatalf("deliveries = %+v\n%s", d, s.fn.log())
	}
	if diff := cmp.Diff(findingKeys(want1.Findings), stripScan(s.viewKeys())); diff != "" {
		t.Fatalf("BigQuery findings (-offline +function):\n%s\n%s", diff, s.fn.log())
	}
	if n := len(s.bq.Rows(gcpProject, bqDataset, "clusters")); n != clusters {
		t.Errorf("clusters rows = %d, want %d", n, clusters)
	}
	first := s.alerts()
	if len(first) != len(want1.Findings) {
		t.Errorf("first scan alerts = %d, want one NEW per finding (%d)", len(first), len(want1.Findings))
	}
	for _, m := range first {
		a := m.Attributes
		if a["transition"] != "NEW" || a["issue_id"] == "" || a["severity"] == "" || a["status"] == "" ||
			a["project_id"] == "" || a["cluster_location"] == "" || a["cluster_name"] == "" {
			t.Fatalf("alert attributes = %v", a)
		}
	}
	done := s.fn.logLines("scan complete")
	if len(done) != 1 || done[0]["severity"] != "INFO" || done[0]["scan_id"] == nil || done[0]["api_calls"] == nil {
		t.Errorf("scan complete log lines = %v", done)
	}

	t.Run("redelivery adds nothing a view shows and no alerts", func(t *testing.T) {
		before := s.viewKeys()
		if status := s.post(d[0].event, d[0].header); status != 200 {
			t.Fatalf("redelivery status %d\n%s", status, s.fn.log())
		}
		// The same message again as a Pub/Sub push subscription delivers it
		// (the deployed trigger): the same event ID and time, so the same scan.
		push := http.Header{}
		push.Set("Content-Type", "application/json")
		push.Set("X-Test-Path", requestTopic)
		if status := s.post(d[0].event, push); status != 200 {
			t.Fatalf("push redelivery status %d\n%s", status, s.fn.log())
		}
		if diff := cmp.Diff(before, s.viewKeys()); diff != "" {
			t.Errorf("view keys changed (-before +after):\n%s", diff)
		}
		if a := s.alerts(); len(a) != 0 {
			t.Errorf("redelivery published %d alerts: %v", len(a), transitionsOf(a))
		}
	})

	t.Run("malformed message is acknowledged and logged", func(t *testing.T) {
		s.publish(`{"scope": "organizations/acme"}`)
		d := s.deliver()
		if len(d) != 1 || d[0].status != 200 {
			t.Fatalf("deliveries = %+v", d)
		}
		lines := s.fn.logLines("message acknowledged without scanning")
		if len(lines) != 1 || lines[0]["severity"] != "ERROR" ||
			lines[0]["reason"] != `bad message: invalid scope "organizations/acme": organizations are named by number, e.g. organizations/123456789012` {
			t.Errorf("log = %v", lines)
		}
	})

	t.Run("dry run writes and publishes nothing", func(t *testing.T) {
		rows := len(s.bq.Rows(gcpProject, bqDataset, "findings"))
		s.publish(`{"dry_run": true}`)
		if d := s.deliver(); len(d) != 1 || d[0].status != 200 {
			t.Fatalf("deliveries = %+v", d)
		}
		if n := len(s.bq.Rows(gcpProject, bqDataset, "findings")); n != rows {
			t.Errorf("dry run wrote %d findings rows", n-rows)
		}
		if a := s.alerts(); len(a) != 0 {
			t.Errorf("dry run published %d alerts", len(a))
		}
		if n := len(s.fn.logLines("dry run complete: nothing written or published")); n != 1 {
			t.Errorf("dry run log lines = %d, want 1", n)
		}
	})

	t.Run("second scan alerts exactly the transitions", func(t *testing.T) {
		f2 := liveFleet(t, clusters, projects, seed)
		f2.Now, f2.Events = f1.Now, f1.Events
		change(t, f2, want1.Findings)
		want2 := scanFiles(t, f2)
		s.serve(f2, gcpfake.Options{}, "FLEETSCAN_SHARD_SIZE=0")
		s.publish("")
		if d := s.deliver(); len(d) != 1 || d[0].status != 200 {
			t.Fatalf("deliveries = %+v\n%s", d, s.fn.log())
		}
		got := transitionsOf(s.alerts())
		want := expectedTransitions(want1.Findings, want2.Findings)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("alerts (-want +got):\n%s", diff)
		}
		kinds := map[string]bool{}
		for _, g := range got {
			kinds[strings.Fields(g)[0]] = true
		}
		if !kinds["NEW"] || !kinds["RESOLVED"] {
			t.Errorf("transitions %v lack NEW or RESOLVED", got)
		}
	})
}

// A fifth of the GCP API calls failing transiently ends in the same rows
// and alerts as a clean run.
func TestFunctionTransientErrors(t *testing.T) {
	endToEnd(t)
	f := liveFleet(t, 120, 25, 12)
	want := scanFiles(t, f)
	s := newStack(t, "")
	s.serve(f, gcpfake.Options{TransientRate: 0.2, Seed: 9}, "FLEETSCAN_SHARD_SIZE=0")
	s.publish(`{"scope": "` + f.Org + `"}`)
	// Every fault is retried inside the one delivery: it succeeds at once.
	if d := s.deliver(); len(d) != 1 || d[0].status != 200 {
		t.Fatalf("deliveries = %+v, want one with status 200\n%s", d, s.fn.log())
	}
	if n := len(s.fn.logLines("scan failed; Pub/Sub will redeliver")); n != 0 {
		t.Errorf("%d failed scans logged", n)
	}
	if diff := cmp.Diff(findingKeys(want.Findings), stripScan(s.viewKeys())); diff != "" {
		t.Errorf("findings with faults (-clean +faults):\n%s\n%s", diff, s.fn.log())
	}
	if n := len(s.alerts()); n != len(want.Findings) {
		t.Errorf("alerts = %d, want %d", n, len(want.Findings))
	}
	if s.gcp.TotalCalls() == 0 {
		t.Errorf("no API calls reached the fakes")
	}
}

// A scope larger than the shard size fans out: the request plans and
// publishes shards, each shard is its own invocation, and the scans table
// records every shard planned and complete.
func TestFunctionFanOut(t *testing.T) {
	endToEnd(t)
	f := liveFleet(t, 1500, 1200, 13)
	want := scanFiles(t, f)
	s := newStack(t, "")
	s.serve(f, gcpfake.Options{}, "FLEETSCAN_SHARD_SIZE=300")
	s.publish("")
	d := s.deliver()
	if len(d) != 5 {
		t.Fatalf("deliveries = %d, want the request and 4 shards\n%s", len(d), s.fn.log())
	}
	for _, x := range d {
		if x.status != 200 {
			t.Errorf("delivery %s: status %d", x.id, x.status)
		}
	}
	var got []string
	for _, r := range s.bq.Rows(gcpProject, bqDataset, "scans") {
		got = append(got, fmt.Sprintf("%v %v/%v", r["status"], r["shard"], r["shards"]))
	}
	slices.Sort(got)
	wantRows := []string{"COMPLETE 0/4", "COMPLETE 1/4", "COMPLETE 2/4", "COMPLETE 3/4", "PLANNED 0/4", "PLANNED 1/4", "PLANNED 2/4", "PLANNED 3/4"}
	if diff := cmp.Diff(wantRows, got); diff != "" {
		t.Errorf("scans rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(findingKeys(want.Findings), stripScan(s.viewKeys())); diff != "" {
		t.Errorf("findings over 4 shards (-offline +function):\n%s", diff)
	}
	if n := len(s.fn.logLines("scan planned")); n != 1 {
		t.Errorf("scan planned log lines = %d", n)
	}
}

// The same first run against gcloud's Pub/Sub emulator, where installed.
func TestFunctionWithPubSubEmulator(t *testing.T) {
	endToEnd(t)
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not installed; the pstest variants cover the function")
	}
	if exec.Command(gcloud, "beta", "emulators", "pubsub", "env-init", "--help").Run() != nil {
		t.Skip("gcloud has no Pub/Sub emulator component")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	emu := exec.Command(gcloud, "beta", "emulators", "pubsub", "start", "--host-port="+addr, "--quiet")
	emu.Env = append(emu.Environ(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The emulator runs in a child JVM: end the whole process group.
		exec.Command("pkill", "-f", "pubsub-emulator.*"+strings.Split(addr, ":")[1]).Run()
		emu.Process.Kill()
		emu.Wait()
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 600 {
			t.Fatalf("the Pub/Sub emulator did not start on %s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	f := liveFleet(t, 60, 12, 14)
	want := scanFiles(t, f)
	s := newStack(t, addr)
	s.serve(f, gcpfake.Options{}, "FLEETSCAN_SHARD_SIZE=0")
	s.publish("{}") // the real Pub/Sub refuses a message without data or attributes
	if d := s.deliver(); len(d) != 1 || d[0].status != 200 {
		t.Fatalf("deliveries = %+v\n%s", d, s.fn.log())
	}
	if diff := cmp.Diff(findingKeys(want.Findings), stripScan(s.viewKeys())); diff != "" {
		t.Errorf("findings (-offline +function):\n%s", diff)
	}
	if n := len(s.alerts()); n != len(want.Findings) {
		t.Errorf("alerts = %d, want %d", n, len(want.Findings))
	}
}
