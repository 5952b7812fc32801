package discovery

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// TestClusterMask: a cluster decoded for the embedded catalog
// (clusterMask) reduces to the scanner.Cluster the whole cluster gives,
// and gives every condition the outcome it gives, for the dumps'
// clusters, the edges, the catalog's own examples (each condition holding
// and not) and 20,000 mutations of them. Whatever the whole decode reads,
// the masked one reads; the dumps' clusters decode to less.
func TestClusterMask(t *testing.T) {
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	mask := clusterMask(cat, false)
	if mask == nil {
		t.Fatal("clusterMask of the embedded catalog keeps every field")
	}
	var seeds [][]byte
	for _, raw := range clusterObjects(t) {
		seeds = append(seeds, structWire(t, raw))
	}
	dumps := len(seeds)
	for _, raw := range jsonEdges {
		if b := structWire(t, []byte(raw)); b != nil {
			seeds = append(seeds, b)
		}
	}
	examples := 0
	for _, is := range cat.Issues {
		if is.Examples == nil {
			continue
		}
		for _, ex := range []map[string]any{is.Examples.Holds, is.Examples.Fails} {
			pc, err := catalog.ExampleCluster(ex)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := protojson.Marshal(pc)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, structWire(t, raw))
			examples++
		}
	}
	if examples < 20 {
		t.Fatalf("only %d examples in the catalog", examples)
	}
	check := func(b []byte) (decoded bool) {
		t.Helper()
		var whole, masked containerpb.Cluster
		if fromWire(b, whole.ProtoReflect(), nil) != nil {
			return false
		}
		if err := fromWire(b, masked.ProtoReflect(), mask); err != nil {
			t.Fatalf("the masked decode refuses what the whole one reads (%v): %x", err, b)
		}
		want, werr := FromProto(&whole, "p")
		got, gerr := FromProto(&masked, "p")
		if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
			t.Fatalf("FromProto: %v whole, %v masked", werr, gerr)
		}
		if diff := cmp.Diff(want, got, noObject); diff != "" {
			t.Fatalf("FromProto of %s (-whole +masked):\n%s", protojson.Format(&whole), diff)
		}
		if diff := cmp.Diff(cat.Facts(&whole), cat.Facts(&masked)); diff != "" {
			t.Fatalf("the conditions' outcomes for %s (-whole +masked):\n%s", protojson.Format(&whole), diff)
		}
		return true
	}
	for i, b := range seeds {
		if !check(b) && i < dumps {
			t.Fatalf("a dump's cluster did not decode: %x", b[:min(len(b), 64)])
		}
		if i < dumps {
			var whole, masked containerpb.Cluster
			_ = fromWire(b, whole.ProtoReflect(), nil)
			_ = fromWire(b, masked.ProtoReflect(), mask)
			if proto.Size(&masked) >= proto.Size(&whole) {
				t.Errorf("a dump's cluster decoded for the catalog is %d bytes, whole %d: nothing is left out", proto.Size(&masked), proto.Size(&whole))
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	decoded := 0
	n := 20_000
	if testing.Short() {
		n = 2_000
	}
	for range n {
		if check(mutate(r, seeds)) {
			decoded++
		}
	}
	if decoded < n/50 {
		t.Errorf("only %d of %d mutated clusters decoded", decoded, n)
	}
}

// TestClusterMaskWithout: no catalog, or one whose condition may read any
// field, decodes every field.
func TestClusterMaskWithout(t *testing.T) {
	if m := clusterMask(nil, false); m != nil {
		t.Errorf("clusterMask(nil, false) = %+v, want nil", m)
	}
	cat, err := catalog.LoadDir("testdata/wholecluster", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := clusterMask(cat, false); m != nil {
		t.Errorf("clusterMask of a catalog reading the cluster whole keeps only %d fields", len(m.fields))
	}
}

// TestClusterMaskSkipped: a field nothing reads is checked to be what
// proto reads, not what its type wants. Malformed protobuf there leaves the
// cluster to the Struct path (which refuses it); a value of the wrong type
// (README: no longer a scan error) is dropped, where the whole decode
// leaves it to protojson, which refuses it.
func TestClusterMaskSkipped(t *testing.T) {
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	mask := clusterMask(cat, false)
	name := entry("name", protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "c"))
	badUTF8 := append(slices.Clone(name), entry("description", protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "\xff"))...)
	var pc containerpb.Cluster
	if err := fromWire(badUTF8, pc.ProtoReflect(), mask); !errors.Is(err, errSlowPath) {
		t.Errorf("a skipped field that is not UTF-8: %v, want errSlowPath", err)
	}
	number := protowire.AppendFixed64(protowire.AppendTag(nil, 2, protowire.Fixed64Type), math.Float64bits(5))
	wrongType := append(slices.Clone(name), entry("description", number)...)
	if err := fromWire(wrongType, (&containerpb.Cluster{}).ProtoReflect(), nil); !errors.Is(err, errSlowPath) {
		t.Errorf("description a number, decoded whole: %v, want errSlowPath", err)
	}
	var masked containerpb.Cluster
	if err := fromWire(wrongType, masked.ProtoReflect(), mask); err != nil {
		t.Fatalf("description a number, decoded for the catalog: %v", err)
	}
	if masked.GetName() != "c" || masked.GetDescription() != "" {
		t.Errorf("decoded for the catalog: %v, want the name alone", &masked)
	}
}

// Without access, a cluster decodes to what it decodes to with it, less
// its scanner.Access, and the CA certificate is not kept: for the dumps'
// clusters, and for one that has every field of Access.
func TestClusterMaskWithoutAccess(t *testing.T) {
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	with, without := clusterMask(cat, false), clusterMask(cat, true)
	reachable := &containerpb.Cluster{
		Name: "c", Location: "europe-west4", CurrentMasterVersion: "1.31.1-gke.1000", Endpoint: "34.1.2.3",
		MasterAuth: &containerpb.MasterAuth{ClusterCaCertificate: "TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0Q2c9PQ=="},
		ControlPlaneEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig{DnsEndpointConfig: &containerpb.ControlPlaneEndpointsConfig_DNSEndpointConfig{
			Endpoint: "gke-abc.europe-west4.gke.goog", AllowExternalTraffic: proto.Bool(true),
		}},
		NodePools: []*containerpb.NodePool{{Name: "default-pool", Version: "1.31.1-gke.1000"}},
	}
	raw, err := protojson.Marshal(reachable)
	if err != nil {
		t.Fatal(err)
	}
	var seeds [][]byte
	for _, raw := range append(clusterObjects(t), raw) {
		seeds = append(seeds, structWire(t, raw))
	}
	for i, b := range seeds {
		var full, lean containerpb.Cluster
		if err := fromWire(b, full.ProtoReflect(), with); err != nil {
			t.Fatal(err)
		}
		if err := fromWire(b, lean.ProtoReflect(), without); err != nil {
			t.Fatal(err)
		}
		want, err := FromProto(&full, "p")
		if err != nil {
			t.Fatal(err)
		}
		got, err := FromProto(&lean, "p")
		if err != nil {
			t.Fatal(err)
		}
		if got.Access != (scanner.Access{}) {
			t.Errorf("cluster %d: Access = %+v without access, want none", i, got.Access)
		}
		want.Access = scanner.Access{}
		if diff := cmp.Diff(want, got, noObject); diff != "" {
			t.Errorf("cluster %d (-with access, less it +without):\n%s", i, diff)
		}
		if lean.GetMasterAuth().GetClusterCaCertificate() != "" || lean.GetEndpoint() != "" {
			t.Errorf("cluster %d: the CA certificate or endpoint was decoded without access", i)
		}
	}
	var full containerpb.Cluster
	_ = fromWire(seeds[len(seeds)-1], full.ProtoReflect(), with)
	c, _ := FromProto(&full, "p")
	if want := (scanner.Access{Endpoint: "34.1.2.3", CACert: reachable.MasterAuth.ClusterCaCertificate, DNSEndpoint: "gke-abc.europe-west4.gke.goog"}); c.Access != want {
		t.Errorf("with access: Access = %+v, want %+v", c.Access, want)
	}
}
