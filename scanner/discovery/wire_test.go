package discovery

import (
	"errors"
	"math"
	"testing"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// checkWire decodes b, the wire form of a Struct, with fromWire, and the
// Struct proto makes of it with protojson through its JSON text. When
// fromWire decodes it, proto and protojson must read it, to the same
// message; otherwise fromWire must leave it to that path (errSlowPath).
func checkWire(t *testing.T, b []byte) (fast bool) {
	t.Helper()
	var w containerpb.Cluster
	werr := fromWire(b, w.ProtoReflect())
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
		if err := fromWire(tc.b, w.ProtoReflect()); !errors.Is(err, errSlowPath) {
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

// TestAssetCodecMatchesProto: a ListAssets answer read by assetCodec is
// the one the proto codec reads, its clusters' data decoded on the side to
// the clusters a file of the same objects gives; assets of another type,
// and data fromWire leaves, keep their Struct.
func TestAssetCodecMatchesProto(t *testing.T) {
	want := &assetpb.ListAssetsResponse{ReadTime: timestamppb.New(timestamppb.Now().AsTime()), NextPageToken: "next"}
	for i, raw := range clusterObjects(t) {
		var s structpb.Struct
		if err := protojson.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		want.Assets = append(want.Assets, &assetpb.Asset{
			Name:      "//container.googleapis.com/projects/p/locations/l/clusters/c" + string(rune('a'+i%26)),
			AssetType: ClusterAssetType,
			Resource:  &assetpb.Resource{Version: "v1", Parent: "//cloudresourcemanager.googleapis.com/projects/1", Data: &s, Location: "l"},
			Ancestors: []string{"projects/1", "organizations/2"},
		})
	}
	slow, _ := structpb.NewStruct(map[string]any{"name": "slow", "initialNodeCount": 1.5}) // fromWire leaves it
	other, _ := structpb.NewStruct(map[string]any{"metadata": map[string]any{"name": "x"}})
	want.Assets = append(want.Assets,
		&assetpb.Asset{Name: "//container.googleapis.com/projects/p/locations/l/clusters/slow", AssetType: ClusterAssetType, Resource: &assetpb.Resource{Data: slow}},
		&assetpb.Asset{Name: "//k8s.io/Namespace/x", AssetType: "k8s.io/Namespace", Resource: &assetpb.Resource{Data: other}},
		&assetpb.Asset{Name: "//container.googleapis.com/projects/p/locations/l/clusters/nodata", AssetType: ClusterAssetType, Resource: &assetpb.Resource{Version: "v1"}},
	)
	b, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	codec := newAssetCodec()
	var got assetpb.ListAssetsResponse
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &got); err != nil {
		t.Fatal(err)
	}
	decoded := 0
	for i, as := range got.Assets {
		ref := want.Assets[i]
		w, ok := codec.take(as)
		if !ok {
			if !proto.Equal(as, ref) {
				t.Errorf("asset %d without a decoded cluster differs:\n%s", i, cmp.Diff(protojson.Format(ref), protojson.Format(as)))
			}
			continue
		}
		decoded++
		if as.GetResource().GetData() != nil {
			t.Errorf("asset %d: decoded, yet its Struct is kept", i)
		}
		as.Resource.Data = ref.Resource.Data
		if !proto.Equal(as, ref) {
			t.Errorf("asset %d differs apart from its data:\n%s", i, cmp.Diff(protojson.Format(ref), protojson.Format(as)))
		}
		gotC, err := clusterFromAsset(as, w.pc, w.datapath)
		if err != nil {
			t.Fatal(err)
		}
		// What a file of the same object gives: the protojson path.
		raw, err := protojson.Marshal(ref.Resource.Data)
		if err != nil {
			t.Fatal(err)
		}
		wantC, err := ParseCluster(raw, "p")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantC, gotC, noObject); diff != "" || !proto.Equal(wantC.Object, gotC.Object) {
			t.Errorf("asset %d: cluster (-file +wire):\n%s", i, diff)
		}
	}
	if want := len(want.Assets) - 3; decoded != want {
		t.Errorf("%d clusters decoded from the wire, want %d", decoded, want)
	}
	if len(codec.decoded) != 0 {
		t.Errorf("%d decoded clusters not taken", len(codec.decoded))
	}
	got.Assets, want.Assets = nil, nil
	if !proto.Equal(&got, want) {
		t.Errorf("page fields differ: %v, want %v", &got, want)
	}
	// A truncated answer: proto's error, and nothing kept on the side.
	for _, n := range []int{len(b) - 1, len(b) / 2, 3} {
		var viaProto, viaCodec assetpb.ListAssetsResponse
		perr := proto.Unmarshal(b[:n], &viaProto)
		cerr := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b[:n])}, &viaCodec)
		if perr == nil || cerr == nil || cerr.Error() != perr.Error() {
			t.Errorf("answer cut to %d bytes: codec error %v, proto error %v", n, cerr, perr)
		}
		if len(codec.decoded) != 0 {
			t.Errorf("answer cut to %d bytes: %d decoded clusters kept", n, len(codec.decoded))
		}
	}
	// An answer that is not a ListAssetsResponse is the proto codec's.
	var ts timestamppb.Timestamp
	tb, _ := proto.Marshal(want.ReadTime)
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(tb)}, &ts); err != nil || !proto.Equal(&ts, want.ReadTime) {
		t.Errorf("Timestamp through the codec: %v, %v", &ts, err)
	}
}
