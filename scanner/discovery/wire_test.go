package discovery

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/structwire"
)

// checkWire decodes b, the wire form of a Struct, with fromWire, and the
// Struct proto makes of it with protojson through its JSON text. When
// fromWire decodes it, proto and protojson must read it, to the same
// message; otherwise fromWire must leave it to that path (errSlowPath).
func checkWire(t *testing.T, b []byte) (fast bool) {
	t.Helper()
	var w containerpb.Cluster
	werr := fromWire(b, w.ProtoReflect(), nil)
	if werr != nil && !errors.Is(werr, errSlowPath) {
		t.Fatalf("fromWire returned %v, want nil or errSlowPath", werr)
	}
	var s structpb.Struct
	if err := proto.Unmarshal(b, &s); err != nil {
		if werr == nil {
			t.Fatalf("fromWire accepted %x, which proto refuses: %v", b, err)
		}
		return false
	}
	raw, err := protojson.Marshal(&s)
	if err != nil {
		return werr == nil // a Struct without a JSON form (NaN): never sent
	}
	var slow containerpb.Cluster
	serr := unmarshal.Unmarshal(raw, &slow)
	switch {
	case werr == nil && serr != nil:
		t.Fatalf("fromWire decoded %s, which protojson refuses: %v", raw, serr)
	case werr == nil && !proto.Equal(&w, &slow):
		t.Fatalf("fromWire and protojson differ for %s:\n%s", raw, cmp.Diff(protojson.Format(&slow), protojson.Format(&w)))
	}
	return werr == nil
}

func structWire(t testing.TB, raw []byte) []byte {
	t.Helper()
	var s structpb.Struct
	if err := protojson.Unmarshal(raw, &s); err != nil {
		return nil
	}
	b, err := proto.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFromWireOddWire: wire forms no JSON text gives take the slow path.
func TestFromWireOddWire(t *testing.T) {
	name := func(v []byte) []byte { return entry("name", v) }
	str := func(s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), s)
	}
	num := func(f float64) []byte {
		return protowire.AppendFixed64(protowire.AppendTag(nil, 2, protowire.Fixed64Type), math.Float64bits(f))
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"key twice", append(name(str("a")), name(str("b"))...)},
		{"two kinds", name(append(str("a"), num(1)...))},
		{"no kind", name(nil)},
		{"bad UTF-8 value", name(str("\xff"))},
		{"bad UTF-8 in an unknown key's value", entry("noSuchField", str("\xff"))},
		{"truncated", name(str("abc"))[:4]},
	} {
		var w containerpb.Cluster
		if err := fromWire(tc.b, w.ProtoReflect(), nil); !errors.Is(err, errSlowPath) {
			t.Errorf("%s: fromWire = %v, want errSlowPath", tc.name, err)
		}
		checkWire(t, tc.b)
	}
}

// entry is one field of a Struct on the wire: key and the Value's bytes
// (nil: no value).
func entry(key string, value []byte) []byte {
	e := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), key)
	if value != nil {
		e = protowire.AppendBytes(protowire.AppendTag(e, 2, protowire.BytesType), value)
	}
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), e)
}

// FuzzFromWire: for any bytes, fromWire either leaves them to protojson or
// decodes them exactly as proto and protojson do.
func FuzzFromWire(f *testing.F) {
	for _, raw := range clusterObjects(f) {
		f.Add(structWire(f, raw))
	}
	for _, raw := range jsonEdges {
		if b := structWire(f, []byte(raw)); b != nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkWire(t, b) })
}

// TestClustersThroughTheCodec: cluster assets read through
// structwire.Codec become the clusters a file of the same objects gives,
// errors included, whether fromWire reads them or leaves them to protojson.
func TestClustersThroughTheCodec(t *testing.T) {
	want := &assetpb.ListAssetsResponse{NextPageToken: "next"}
	for i, raw := range clusterObjects(t) {
		var s structpb.Struct
		if err := protojson.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		want.Assets = append(want.Assets, &assetpb.Asset{
			Name:      "//container.googleapis.com/projects/p/locations/l/clusters/c" + string(rune('a'+i%26)),
			AssetType: ClusterAssetType,
			Resource:  &assetpb.Resource{Data: &s},
		})
	}
	slow, _ := structpb.NewStruct(map[string]any{"name": "slow", "initialNodeCount": 1.5})                                                        // protojson refuses it
	slowOK, _ := structpb.NewStruct(map[string]any{"name": "slowok", "nodePools": []any{map[string]any{"name": "p", "initialNodeCount": "1e3"}}}) // fromWire leaves it, protojson reads it
	want.Assets = append(want.Assets,
		&assetpb.Asset{Name: "//container.googleapis.com/projects/p/locations/l/clusters/slow", AssetType: ClusterAssetType, Resource: &assetpb.Resource{Data: slow}},
		&assetpb.Asset{Name: "//container.googleapis.com/projects/p/locations/l/clusters/slowok", AssetType: ClusterAssetType, Resource: &assetpb.Resource{Data: slowOK}},
		&assetpb.Asset{Name: "//container.googleapis.com/projects/p/locations/l/clusters/nodata", AssetType: ClusterAssetType, Resource: &assetpb.Resource{}},
	)
	b, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	codec := structwire.NewCodec(func(_ *assetpb.Asset, data []byte) (*wireCluster, bool) { return readCluster(data, nil) })
	var got assetpb.ListAssetsResponse
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &got); err != nil {
		t.Fatal(err)
	}
	slowRead := false
	for i, as := range got.Assets {
		ref := want.Assets[i]
		w, _ := codec.Take(as)
		gotC, gerr := clusterFromAsset(as, w, nil)
		if ref.Resource.Data == nil {
			if gerr == nil || gerr.Error() != "asset "+ref.Name+" has no resource data (content type RESOURCE needed)" {
				t.Errorf("asset %d without data: %v", i, gerr)
			}
			continue
		}
		// What a file of the same object gives: the protojson path.
		raw, err := protojson.Marshal(ref.Resource.Data)
		if err != nil {
			t.Fatal(err)
		}
		wantC, werr := ParseCluster(raw, "p")
		if gerr != nil || werr != nil {
			if gerr == nil || werr == nil || gerr.Error() != werr.Error() {
				t.Errorf("asset %d: error %v, a file's %v", i, gerr, werr)
			}
			continue
		}
		slowRead = slowRead || gotC.Name == "slowok" && len(gotC.Object.GetNodePools()) == 1 && gotC.Object.GetNodePools()[0].GetInitialNodeCount() == 1000
		if diff := cmp.Diff(wantC, gotC, noObject); diff != "" || !proto.Equal(wantC.Object, gotC.Object) {
			t.Errorf("asset %d: cluster (-file +wire):\n%s", i, diff)
		}
	}
	if !slowRead {
		t.Error("the cluster fromWire leaves to protojson was not read")
	}
	if n := codec.Kept(); n != 0 {
		t.Errorf("%d assets' data not taken", n)
	}
}

// TestFromWireMutations holds fromWire to proto and protojson (checkWire)
// on the dumps' clusters and the edges, each with a few bytes flipped,
// replaced, dropped or cut: a fixed sample of what FuzzFromWire explores,
// run by every go test.
func TestFromWireMutations(t *testing.T) {
	var seeds [][]byte
	for _, raw := range clusterObjects(t) {
		seeds = append(seeds, structWire(t, raw))
	}
	for _, raw := range jsonEdges {
		if b := structWire(t, []byte(raw)); b != nil {
			seeds = append(seeds, b)
		}
	}
	n := 20_000
	if testing.Short() {
		n = 2_000
	}
	r := rand.New(rand.NewPCG(1, 2))
	fast := 0
	for range n {
		if checkWire(t, mutate(r, seeds)) {
			fast++
		}
	}
	// Most mutations break the wire or a value; enough must still decode
	// for the test to hold the fast path to anything.
	if fast < n/50 {
		t.Errorf("only %d of %d mutated clusters took the fast path", fast, n)
	}
}

// mutate is one of seeds with one to four bytes flipped, replaced, dropped
// or cut at.
func mutate(r *rand.Rand, seeds [][]byte) []byte {
	b := slices.Clone(seeds[r.IntN(len(seeds))])
	for k := r.IntN(4) + 1; k > 0 && len(b) > 0; k-- {
		i := r.IntN(len(b))
		switch r.IntN(4) {
		case 0:
			b[i] ^= 1 << r.IntN(8)
		case 1:
			b[i] = byte(r.IntN(256))
		case 2:
			b = slices.Delete(b, i, i+1)
		default:
			b = b[:i]
		}
	}
	return b
}

// BenchmarkFromWire decodes the dumps' real clusters (6 KB each as a
// Struct on the wire, far more than a generated one) from Cloud Asset
// Inventory's wire form: every field (fields=whole), and only what
// FromProto and the embedded catalog read (fields=catalog, as a scan
// does). It reports µs/cluster and allocs/cluster.
func BenchmarkFromWire(b *testing.B) {
	var wires [][]byte
	for _, raw := range clusterObjects(b) {
		wires = append(wires, structWire(b, raw))
	}
	cat, err := catalog.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range []struct {
		name string
		mask *fieldMask
	}{{"whole", nil}, {"catalog", clusterMask(cat, false)}} {
		b.Run("fields="+m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, w := range wires {
					var pc containerpb.Cluster
					if err := fromWire(w, pc.ProtoReflect(), m.mask); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(wires))/1e3, "µs/cluster")
			allocs := testing.AllocsPerRun(1, func() {
				for _, w := range wires {
					var pc containerpb.Cluster
					_ = fromWire(w, pc.ProtoReflect(), m.mask)
				}
			})
			b.ReportMetric(allocs/float64(len(wires)), "allocs/cluster")
		})
	}
}
