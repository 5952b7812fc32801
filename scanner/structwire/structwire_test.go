package structwire

import (
	"math/rand/v2"
	"slices"
	"testing"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func structOf(t testing.TB, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCodecMatchesProto: a ListAssets answer read by Codec is the one the
// proto codec reads, what read makes of each asset's data kept on the
// side (here: its bytes, which are its Struct), data read leaves kept as
// the Struct; data proto refuses, and an answer cut short, fail as proto
// fails, keeping nothing; other messages are the proto codec's.
func TestCodecMatchesProto(t *testing.T) {
	want := &assetpb.ListAssetsResponse{ReadTime: timestamppb.New(timestamppb.Now().AsTime()), NextPageToken: "next"}
	for i, m := range []map[string]any{
		{"metadata": map[string]any{"name": "a", "labels": map[string]any{"x": "1"}}, "spec": map[string]any{"ports": []any{80.0, map[string]any{"intVal": 8080.0}}}},
		{"name": "c", "nodePools": []any{map[string]any{"name": "p"}}, "autopilot": nil},
		{},
	} {
		want.Assets = append(want.Assets, &assetpb.Asset{Name: "a" + string(rune('0'+i)), AssetType: "k8s.io/Pod",
			Resource: &assetpb.Resource{Version: "v1", Parent: "//p", Data: structOf(t, m), Location: "l"}, Ancestors: []string{"projects/1"}})
	}
	want.Assets = append(want.Assets, &assetpb.Asset{Name: "nodata", Resource: &assetpb.Resource{Version: "v1"}}, &assetpb.Asset{Name: "noresource"})
	b, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	codec := NewCodec(func(as *assetpb.Asset, data []byte) ([]byte, bool) {
		if as.GetName() == "a1" {
			return nil, false // left: the Struct path
		}
		if proto.Unmarshal(data, &structpb.Struct{}) != nil {
			return nil, false // read refuses what proto would not read
		}
		return slices.Clone(data), true
	})
	for _, sp := range splits {
		t.Run(sp.name, func(t *testing.T) { codecMatchesProto(t, codec, want, b, sp.split) })
	}

	// Another message is the proto codec's.
	var ts timestamppb.Timestamp
	tb, _ := proto.Marshal(timestamppb.Now())
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(tb)}, &ts); err != nil || ts.GetSeconds() == 0 {
		t.Errorf("Timestamp through the codec: %v, %v", &ts, err)
	}
}

// splits are the ways an answer reaches the codec: one buffer, or the
// pieces gRPC receives it in (of any size: a varint, an asset and its
// data split anywhere).
var splits = []struct {
	name  string
	split func([]byte) mem.BufferSlice
}{
	{"whole", func(b []byte) mem.BufferSlice { return mem.BufferSlice{mem.SliceBuffer(b)} }},
	{"bytes", func(b []byte) mem.BufferSlice { return pieceSlice(b, func(int) int { return 1 }) }},
	{"halves", func(b []byte) mem.BufferSlice { return pieceSlice(b, func(int) int { return (len(b) + 1) / 2 }) }},
	{"7 bytes", func(b []byte) mem.BufferSlice { return pieceSlice(b, func(int) int { return 7 }) }},
	{"random", func(b []byte) mem.BufferSlice {
		r := rand.New(rand.NewPCG(uint64(len(b)), 1))
		return pieceSlice(b, func(int) int { return 1 + r.IntN(64) })
	}},
	{"empty pieces", func(b []byte) mem.BufferSlice {
		out := mem.BufferSlice{mem.SliceBuffer(nil)}
		for _, p := range pieceSlice(b, func(i int) int { return 5 + i%11 }) {
			out = append(out, p, mem.SliceBuffer([]byte{}))
		}
		return out
	}},
}

// pieceSlice cuts b into pieces of size(i) bytes, the i'th piece's.
func pieceSlice(b []byte, size func(i int) int) mem.BufferSlice {
	var out mem.BufferSlice
	for i := 0; len(b) > 0; i++ {
		n := min(size(i), len(b))
		out = append(out, mem.SliceBuffer(slices.Clone(b[:n])))
		b = b[n:]
	}
	return out
}

func codecMatchesProto(t *testing.T, codec *Codec[[]byte], want *assetpb.ListAssetsResponse, b []byte, split func([]byte) mem.BufferSlice) {
	want = proto.Clone(want).(*assetpb.ListAssetsResponse)
	var got assetpb.ListAssetsResponse
	if err := codec.Unmarshal(split(b), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Assets) != len(want.Assets) {
		t.Fatalf("%d assets, want %d", len(got.Assets), len(want.Assets))
	}
	kept := 0
	for i, as := range got.Assets {
		ref := want.Assets[i]
		if data, ok := codec.Take(as); ok {
			kept++
			if as.GetResource().GetData() != nil {
				t.Errorf("asset %d: kept on the wire, yet its Struct is made", i)
			}
			var s structpb.Struct
			if err := proto.Unmarshal(data, &s); err != nil || !proto.Equal(&s, ref.Resource.Data) {
				t.Errorf("asset %d: the data kept is not its Struct (%v)", i, err)
			}
			as.Resource.Data = ref.Resource.Data
		}
		if !proto.Equal(as, ref) {
			t.Errorf("asset %d differs:\n%s", i, cmp.Diff(protojson.Format(ref), protojson.Format(as)))
		}
	}
	if kept != 2 || codec.Kept() != 0 {
		t.Errorf("kept %d assets' data (want 2), %d not taken", kept, codec.Kept())
	}
	got.Assets, want.Assets = nil, nil
	if !proto.Equal(&got, want) {
		t.Errorf("page fields differ: %v, want %v", &got, want)
	}

	// Data proto refuses (a key that is not UTF-8), and answers cut short.
	bad := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType),
		protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "\xff")) // Struct{"\xff": no value}
	res := protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), bad)
	asset := protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), res)
	badAnswer := protowire.AppendBytes(protowire.AppendTag(b[:0:0], 2, protowire.BytesType), asset)
	for name, in := range map[string][]byte{"data not UTF-8": append(b[:len(b):len(b)], badAnswer...), "cut by one": b[:len(b)-1], "cut in half": b[:len(b)/2], "cut to 3 bytes": b[:3]} {
		var viaProto, viaCodec assetpb.ListAssetsResponse
		perr := proto.Unmarshal(in, &viaProto)
		cerr := codec.Unmarshal(split(in), &viaCodec)
		if perr == nil || cerr == nil || cerr.Error() != perr.Error() {
			t.Errorf("%s: codec error %v, proto error %v", name, cerr, perr)
		}
		if codec.Kept() != 0 {
			t.Errorf("%s: %d assets' data kept", name, codec.Kept())
		}
	}
}

// TestReadValue: each kind of Value is read as proto reads it; odd forms
// are ErrOdd.
func TestReadValue(t *testing.T) {
	for _, v := range []*structpb.Value{structpb.NewNullValue(), structpb.NewNumberValue(-1.5), structpb.NewStringValue("é"), structpb.NewBoolValue(true),
		structpb.NewStructValue(structOf(t, map[string]any{"a": "b"})), structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewBoolValue(false)}})} {
		raw, err := proto.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadValue(raw)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		var back structpb.Value
		switch got.Kind {
		case Null:
			back = *structpb.NewNullValue()
		case Number:
			back = *structpb.NewNumberValue(got.Num)
		case String:
			back = *structpb.NewStringValue(string(got.Bytes))
		case Bool:
			back = *structpb.NewBoolValue(got.Boolean)
		case Object:
			var s structpb.Struct
			if err := proto.Unmarshal(got.Bytes, &s); err != nil {
				t.Fatal(err)
			}
			back = *structpb.NewStructValue(&s)
		case List:
			var l structpb.ListValue
			if err := proto.Unmarshal(got.Bytes, &l); err != nil {
				t.Fatal(err)
			}
			back = *structpb.NewListValue(&l)
		}
		if !proto.Equal(&back, v) {
			t.Errorf("ReadValue(%v) read back as %v", v, &back)
		}
	}
	str := protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "a")
	num := protowire.AppendFixed64(protowire.AppendTag(nil, 2, protowire.Fixed64Type), 0)
	obj := protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), nil)
	badList := protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), []byte{0x0a, 0x05}) // a value past the end
	for name, raw := range map[string][]byte{"no kind": nil, "two objects": append(append([]byte{}, obj...), obj...),
		"a list proto refuses, then a string": append(append([]byte{}, badList...), str...), "an object, then a number": append(append([]byte{}, obj...), num...),
		"string as varint": protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 1), "not UTF-8": protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "\xff"),
		"truncated": str[:2]} {
		if _, err := ReadValue(raw); err != ErrOdd {
			t.Errorf("%s: ReadValue = %v, want ErrOdd", name, err)
		}
	}
	// A Struct is checked as far down as it goes.
	nested, err := proto.Marshal(structOf(t, map[string]any{"a": map[string]any{"b": []any{"c", 1.0, nil}}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckStruct(nested); err != nil {
		t.Errorf("CheckStruct of a nested Struct: %v", err)
	}
	entry := func(val []byte) []byte {
		e := protowire.AppendBytes(protowire.AppendTag(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "k"), 2, protowire.BytesType), val)
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), e)
	}
	listOf := func(val []byte) []byte {
		l := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), val)
		return protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), l)
	}
	badUTF8 := protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "\xff")
	for name, raw := range map[string][]byte{"truncated": nested[:len(nested)-1], "a value not UTF-8": entry(badUTF8),
		"deep in a list": entry(listOf(badUTF8)), "a value of no kind": entry([]byte{})} {
		if err := CheckStruct(raw); err != ErrOdd {
			t.Errorf("%s: CheckStruct = %v, want ErrOdd", name, err)
		}
	}
	// Two scalar kinds: the last wins, as in proto.
	if v, err := ReadValue(append(append([]byte{}, str...), num...)); err != nil || v.Kind != Number {
		t.Errorf("string then number: %+v, %v", v, err)
	}
}

// plainNextField is NextField as protowire reads a field, without its
// one-byte fast path: what NextField must always agree with.
func plainNextField(b []byte) (f Field, rest []byte, ok bool) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num > protowire.MaxValidNumber {
		return f, nil, false
	}
	m := protowire.ConsumeFieldValue(num, typ, b[n:])
	if m < 0 {
		return f, nil, false
	}
	f = Field{Num: num, Type: typ, Raw: b[:n+m], Payload: b[n : n+m]}
	if typ == protowire.BytesType {
		f.Bytes, _ = protowire.ConsumeBytes(f.Payload)
	}
	return f, b[n+m:], true
}

func checkNextField(t *testing.T, b []byte) {
	t.Helper()
	f, rest, ok := NextField(b)
	wf, wrest, wok := plainNextField(b)
	if ok != wok || !slices.Equal(rest, wrest) || len(rest) != len(wrest) {
		t.Fatalf("NextField(%x) = rest %x, %v; protowire reads rest %x, %v", b, rest, ok, wrest, wok)
	}
	if diff := cmp.Diff(wf, f); diff != "" {
		t.Fatalf("NextField(%x) (-protowire +NextField):\n%s", b, diff)
	}
}

// nextFieldEdges are fields at the edges of NextField's one-byte tag
// path: every wire type, tags of one and of several bytes, field number 0
// and above the largest, lengths past the end.
var nextFieldEdges = [][]byte{
	nil,
	{0x0a, 0x03, 'a', 'b', 'c', 0x10, 0x01}, // field 1 bytes, then field 2 varint
	{0x0a, 0x05, 'a'},                       // a length past the end
	{0x0a},                                  // no length
	{0x0a, 0x00},                            // empty bytes
	{0x11, 1, 2, 3, 4, 5, 6, 7, 8},          // field 2 fixed64
	{0x11, 1, 2, 3},                         // fixed64 cut short
	{0x1d, 1, 2, 3, 4},                      // field 3 fixed32
	{0x20, 0x96, 0x01},                      // field 4 varint of two bytes
	{0x20, 0x96},                            // varint cut short
	{0x00, 0x01},                            // field number 0
	{0x07, 0x01},                            // field 0, wire type 7
	{0x0f},                                  // field 1, wire type 7
	{0x0b, 0x0c},                            // field 1 group, ended
	{0x0b},                                  // a group not ended
	{0x0c},                                  // an end of group alone
	{0x80, 0x01, 0x00},                      // field 16 varint: a two-byte tag
	{0x82, 0x01, 0x01, 'x'},                 // field 16 bytes
	{0xfa, 0xff, 0xff, 0xff, 0x0f, 0x00},    // field 2^29-1, bytes: the largest number
	{0x82, 0x80, 0x80, 0x80, 0x10, 0x00},    // field 2^29: past the largest
	{0x80},                                  // a tag cut short
	protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), make([]byte, 300)), // a length of two bytes
}

func TestNextField(t *testing.T) {
	for _, b := range nextFieldEdges {
		checkNextField(t, b)
	}
}

// FuzzNextField: NextField reads any bytes as protowire does.
func FuzzNextField(f *testing.F) {
	for _, b := range nextFieldEdges {
		f.Add(b)
	}
	f.Fuzz(checkNextField)
}

// FuzzCodecPieces: an answer read in pieces is read as it is whole (the
// same response and assets kept, or the same error), wherever it is cut.
func FuzzCodecPieces(f *testing.F) {
	page := &assetpb.ListAssetsResponse{NextPageToken: "n", Assets: []*assetpb.Asset{
		{Name: "a", Resource: &assetpb.Resource{Data: structOf(f, map[string]any{"name": "c", "nodePools": []any{map[string]any{"name": "p"}}})}},
		{Name: "b", Ancestors: []string{"projects/1"}},
	}}
	b, err := proto.Marshal(page)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, uint64(1))
	f.Add(b[:len(b)-2], uint64(2))
	f.Add(append(b, 0x80), uint64(3))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		read := func(as *assetpb.Asset, data []byte) ([]byte, bool) {
			if proto.Unmarshal(data, &structpb.Struct{}) != nil {
				return nil, false
			}
			return slices.Clone(data), true
		}
		r := rand.New(rand.NewPCG(seed, 0))
		var out [2]*assetpb.ListAssetsResponse
		var errs [2]error
		var kept [2][][]byte
		for i, bs := range []mem.BufferSlice{{mem.SliceBuffer(in)}, pieceSlice(in, func(int) int { return r.IntN(40) + 1 })} {
			c := NewCodec(read)
			out[i] = &assetpb.ListAssetsResponse{}
			errs[i] = c.Unmarshal(bs, out[i])
			for _, as := range out[i].Assets {
				v, _ := c.Take(as)
				kept[i] = append(kept[i], v)
			}
		}
		if (errs[0] == nil) != (errs[1] == nil) || errs[0] != nil && errs[0].Error() != errs[1].Error() {
			t.Fatalf("whole: %v; in pieces: %v", errs[0], errs[1])
		}
		if errs[0] != nil {
			return
		}
		if !proto.Equal(out[0], out[1]) {
			t.Fatalf("whole and in pieces differ:\n%v\n%v", out[0], out[1])
		}
		if !slices.EqualFunc(kept[0], kept[1], slices.Equal) {
			t.Fatal("the data kept differs")
		}
	})
}
