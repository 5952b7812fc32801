package discovery

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// clusterObjects are the cluster objects of the bundled dumps, each as its
// JSON text: gcpdiag's ListClusters responses, the demo fleet and
// Forseti's Cloud Asset Inventory export.
func clusterObjects(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range []string{"../../testdata/gcpdiag/gke1-container-clusters.json", "../../testdata/gcpdiag/gke2-container-clusters.json",
		"../../testdata/gcpdiag/gke3-container-clusters.json"} {
		var resp struct{ Clusters []json.RawMessage }
		if err := json.Unmarshal(readFile(t, p), &resp); err != nil {
			t.Fatal(p, err)
		}
		out = append(out, asBytes(resp.Clusters)...)
	}
	var fleet []json.RawMessage
	if err := json.Unmarshal(readFile(t, "../../testdata/demo/fleet.json"), &fleet); err != nil {
		t.Fatal(err)
	}
	out = append(out, asBytes(fleet)...)
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, "../../testdata/forseti/cai-cluster-asset.ndjson")))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var as struct {
			Resource struct{ Data json.RawMessage }
		}
		if err := json.Unmarshal(sc.Bytes(), &as); err != nil {
			t.Fatal(err)
		}
		out = append(out, as.Resource.Data)
	}
	if len(out) < 10 {
		t.Fatalf("only %d cluster objects in the dumps", len(out))
	}
	return out
}

func asBytes(raws []json.RawMessage) [][]byte {
	out := make([][]byte, len(raws))
	for i, r := range raws {
		out[i] = r
	}
	return out
}

// checkFromJSON decodes the JSON object raw both ways: as a Struct's wire
// form with fromWire, and as JSON text with protojson (checkWire).
func checkFromJSON(t *testing.T, raw []byte) (fast bool) {
	t.Helper()
	var s structpb.Struct
	if err := protojson.Unmarshal(raw, &s); err != nil {
		return false // not a JSON object: Cloud Asset Inventory never sends one
	}
	b, err := proto.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	return checkWire(t, b)
}

// TestFromWireMatchesProtojson: every cluster of the bundled dumps, and
// values at each of protojson's edges, decode to the same message both
// ways; the dumps' clusters all take the fast path, and reduce to the same
// scanner.Cluster as a file's.
func TestFromWireMatchesProtojson(t *testing.T) {
	for _, raw := range clusterObjects(t) {
		if !checkFromJSON(t, raw) {
			t.Fatalf("a real cluster took the slow path: %.200s", raw)
		}
		b := structWire(t, raw)
		var pc containerpb.Cluster
		if err := fromWire(b, pc.ProtoReflect(), nil); err != nil {
			t.Fatal(err)
		}
		got, err := reduceDecoded(&pc, wireDatapath(b), "p")
		if err != nil {
			t.Fatal(err)
		}
		want, err := ParseCluster(raw, "p")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, noObject); diff != "" {
			t.Errorf("cluster %s (-file +asset):\n%s", want.Name, diff)
		}
		if !proto.Equal(want.Object, got.Object) || got.Object != &pc {
			t.Errorf("cluster %s: the asset's Object is not its decoded message", want.Name)
		}
	}
	for _, raw := range jsonEdges {
		checkFromJSON(t, []byte(raw))
	}
}

// jsonEdges are cluster objects at each of protojson's edges.
var jsonEdges = []string{
	`{"name":"c","initialNodeCount":3,"nodePools":[{"name":"p","initialNodeCount":"2","maxPodsConstraint":{"maxPodsPerNode":"110"}}]}`,
	`{"name":"c","node_pools":[{"name":"p"}],"current_master_version":"1.30.1-gke.1"}`, // proto names
	`{"name":"c","nodePools":[{"name":"p"}],"node_pools":[{"name":"q"}]}`,              // both names: protojson refuses
	`{"name":"c","status":"NO_SUCH_STATUS","networkConfig":{"datapathProvider":"ADVANCED_DATAPATH"}}`,
	`{"name":"c","status":2,"releaseChannel":{"channel":"EXTENDED"}}`,
	`{"name":"c","status":2.5}`,
	`{"name":"c","initialNodeCount":1.5}`,
	`{"name":"c","initialNodeCount":"x"}`,
	`{"name":"c","initialNodeCount":1e3}`,
	`{"name":"c","initialNodeCount":4294967296}`,
	`{"name":"c","autopilot":{"enabled":"true"}}`,
	`{"name":"c","autopilot":null,"nodePools":null,"resourceLabels":null}`,
	`{"name":"c","resourceLabels":{"team":"a","env":"prod"}}`,
	`{"name":"c","resourceLabels":{"team":1}}`,
	`{"name":"c","nodePools":[null]}`,
	`{"name":"c","nodePools":{"name":"p"}}`,
	`{"name":"c","locations":["us-central1-a",null]}`,
	`{"name":"c","nodePools":[{"name":"p","config":{"linuxNodeConfig":{"sysctls":{"net.core.somaxconn":"4096"}},"kubeletConfig":{"cpuCfsQuota":true}}}]}`,
	`{"name":"c","nodePools":[{"name":"p","config":{"maxRunDuration":"3600s"}}]}`,
	`{"name":"c","nodePools":[{"name":"p","config":{"maxRunDuration":"an hour"}}]}`,
	`{"name":"c","nodePools":[{"name":"p","config":{"accelerators":[{"acceleratorCount":"1","acceleratorType":"nvidia-l4"}]}}]}`,
	`{"name":"c","masterAuth":{"clusterCaCertificate":"LS0t"},"unknownField":{"deep":[1,2]}}`,
	`{"name":"c","nodePools":[{"name":"p","upgradeSettings":{"strategy":"BLUE_GREEN","blueGreenSettings":{"nodePoolSoakDuration":"60s","standardRolloutPolicy":{"batchPercentage":0.5}}}}]}`,
	`{"name":"c","nodePools":[{"name":"p","upgradeSettings":{"blueGreenSettings":{"standardRolloutPolicy":{"batchPercentage":0.5,"batchNodeCount":2}}}}]}`, // two oneof members
	`{"name":"c","nodePools":[{"name":"p","upgradeSettings":{"blueGreenSettings":{"standardRolloutPolicy":{"batchPercentage":3.4028235e38}}}}]}`,           // the largest float
	`{"name":"c","nodePools":[{"name":"p","upgradeSettings":{"blueGreenSettings":{"standardRolloutPolicy":{"batchPercentage":1e39}}}}]}`,                   // past a float: protojson refuses
	`{"name":"c","nodePools":[{"name":"p","upgradeSettings":{"blueGreenSettings":{"standardRolloutPolicy":{"batchPercentage":-1e39}}}}]}`,
	`{"name":"c","nodePools":[{"name":"p","upgradeSettings":{"blueGreenSettings":{"standardRolloutPolicy":{"batchPercentage":1e-50}}}}]}`, // below a float's least: zero
}

// FuzzFromJSON: for any JSON object, fromWire either leaves its Struct to
// protojson or decodes it exactly as protojson does.
func FuzzFromJSON(f *testing.F) {
	for _, raw := range clusterObjects(f) {
		f.Add(raw)
	}
	f.Add([]byte(`{"name":"c","nodePools":[{"name":"p","config":{"maxRunDuration":"3600s"}}],"initialNodeCount":"2"}`))
	f.Fuzz(func(t *testing.T, raw []byte) { checkFromJSON(t, raw) })
}
