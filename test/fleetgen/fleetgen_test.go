package fleetgen

import (
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/test/testkit"
)

func TestGenerate(t *testing.T) {
	opt := Options{Clusters: 2000, Projects: 300, Seed: 5}
	a, err := Generate(opt)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(opt)
	if len(a.Clusters) != 2000 || len(a.Projects) != 300 || len(a.Events) == 0 {
		t.Fatalf("fleet: %d clusters, %d projects, %d events", len(a.Clusters), len(a.Projects), len(a.Events))
	}
	for i := range a.Clusters {
		if !proto.Equal(a.Clusters[i], b.Clusters[i]) {
			t.Fatalf("cluster %d differs between two runs with the same seed", i)
		}
	}
	// Every fixed version of the catalog appears with both of its sides.
	seen := map[string]bool{}
	var dpv2, nodeless, nested int
	for _, c := range a.Clusters {
		seen[c.GetCurrentMasterVersion()] = true
		for _, p := range c.GetNodePools() {
			seen[p.GetVersion()] = true
		}
		if c.GetNetworkConfig().GetDatapathProvider().String() == "ADVANCED_DATAPATH" {
			dpv2++
		}
		if c.GetAutopilot().GetEnabled() && len(c.GetNodePools()) == 0 {
			nodeless++
		}
	}
	cat := testkit.Catalog(t)
	for _, is := range cat.Issues {
		for _, r := range is.Affected {
			if r.FixedIn == "" {
				continue
			}
			v := catalog.MustParseVersion(r.FixedIn)
			below := v
			below.Build--
			for _, s := range []string{below.String(), v.String()} {
				if !seen[s] {
					t.Errorf("boundary version %s of %s is not in the fleet", s, is.ID)
				}
			}
		}
	}
	for _, f := range a.Folders {
		if f.Parent != a.Org {
			nested++
		}
	}
	if dpv2 < 1000 || dpv2 > 1400 || nodeless == 0 || nested == 0 {
		t.Errorf("mix: %d Dataplane V2 (want about 60%%), %d Autopilot without pools, %d nested folders", dpv2, nodeless, nested)
	}
	if _, err := Generate(Options{}); err == nil || err.Error() != "fleetgen: need clusters > 0 and projects > 0, got 0 and 0" {
		t.Errorf("Generate(zero) error = %v", err)
	}
}

// Every generated event is reported by the kubelet, as real
// FailedCreatePodSandBox events are: the scanner counts no other.
func TestEventsReportedByKubelet(t *testing.T) {
	f, err := Generate(Options{Clusters: 500, Projects: 50, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Events) == 0 {
		t.Fatal("no events")
	}
	for _, e := range f.Events {
		p := e.GetJsonPayload().GetFields()
		component := p["source"].GetStructValue().GetFields()["component"].GetStringValue()
		if component != "kubelet" || p["reportingComponent"].GetStringValue() != "kubelet" {
			t.Fatalf("event %s: source.component %q, reportingComponent %q; want kubelet for both", e.GetInsertId(), component, p["reportingComponent"].GetStringValue())
		}
	}
}

// RealSize pads the clusters to a dump's size and changes nothing else:
// each padded cluster is its plain one with realSize applied, and the
// events are the same.
func TestRealSize(t *testing.T) {
	opt := Options{Clusters: 500, Projects: 100, Seed: 5}
	plain, err := Generate(opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.RealSize = true
	padded, err := Generate(opt)
	if err != nil {
		t.Fatal(err)
	}
	size := func(cs []*containerpb.Cluster) int {
		n := 0
		for _, c := range cs {
			b, err := protojson.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			n += len(b)
		}
		return n / len(cs)
	}
	if got := size(padded.Clusters); got < 6000 || got > 10000 {
		t.Errorf("padded clusters are %d bytes of JSON on average, want 6–10 KB (the dumps' 4–6 KB and the CA certificate they leave out)", got)
	}
	if got := size(plain.Clusters); got > 2000 {
		t.Errorf("plain clusters are %d bytes of JSON on average, want about 1 KB", got)
	}
	for i, c := range plain.Clusters {
		want := proto.Clone(c).(*containerpb.Cluster)
		realSize(want, padded.Projects[i*opt.Projects/opt.Clusters].ID)
		if !proto.Equal(want, padded.Clusters[i]) {
			t.Fatalf("cluster %d: padded is not the plain cluster padded", i)
		}
	}
	if len(plain.Events) != len(padded.Events) {
		t.Fatalf("events: %d plain, %d padded", len(plain.Events), len(padded.Events))
	}
	for i := range plain.Events {
		if !proto.Equal(plain.Events[i], padded.Events[i]) {
			t.Fatalf("event %d differs with RealSize", i)
		}
	}
}
