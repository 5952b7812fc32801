package discovery

import (
	"math"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// assetCodec is the gRPC codec of Discover's ListAssets calls. It reads
// each cluster asset's resource.data, a google.protobuf.Struct on the
// wire, straight into a containerpb.Cluster (fromWire), so that a page of
// 1,000 clusters is never a tree of Struct values first: that tree is
// about 15 MB of small objects, made to be read once. The rest of each
// asset, other messages, and data fromWire leaves (errSlowPath) take the
// proto codec, and such data reaches clusterFromAsset as the Struct.
type assetCodec struct {
	proto encoding.CodecV2
	mu    sync.Mutex
	// decoded holds the clusters read from the wire until Discover takes
	// them, by their asset (whose resource.data is then unset).
	decoded map[*assetpb.Asset]wireCluster
}

// wireCluster is a cluster asset's resource.data decoded by fromWire.
type wireCluster struct {
	pc *containerpb.Cluster
	// datapath is networkConfig.datapathProvider as sent, when the enum
	// did not take it (a name this client does not know): reduceDecoded
	// keeps it.
	datapath string
}

func newAssetCodec() *assetCodec {
	return &assetCodec{proto: encoding.GetCodecV2(protocodec.Name), decoded: map[*assetpb.Asset]wireCluster{}}
}

func (c *assetCodec) Name() string { return c.proto.Name() }

func (c *assetCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c *assetCodec) Unmarshal(data mem.BufferSlice, v any) error {
	resp, ok := v.(*assetpb.ListAssetsResponse)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	b := buf.ReadOnlyData()
	if err := c.listAssets(b, resp); err != nil {
		// Not the shape this reader takes: the proto codec's answer,
		// error included.
		for _, as := range resp.Assets {
			c.take(as)
		}
		proto.Reset(resp)
		return proto.Unmarshal(b, resp)
	}
	return nil
}

// take returns the cluster decoded for as, and forgets it.
func (c *assetCodec) take(as *assetpb.Asset) (wireCluster, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.decoded[as]
	delete(c.decoded, as)
	return w, ok
}

// listAssets decodes a ListAssetsResponse: its assets one by one, every
// other field with proto.
func (c *assetCodec) listAssets(b []byte, resp *assetpb.ListAssetsResponse) error {
	var rest []byte
	for len(b) > 0 {
		f, next, ok := nextField(b)
		if !ok {
			return errSlowPath
		}
		b = next
		if !f.is(2, protowire.BytesType) { // assets
			rest = append(rest, f.raw...)
			continue
		}
		as, err := c.asset(f.val)
		if err != nil {
			return err
		}
		resp.Assets = append(resp.Assets, as)
	}
	assets := resp.Assets
	resp.Assets = nil
	if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(rest, resp); err != nil {
		return err
	}
	resp.Assets = append(assets, resp.Assets...)
	return nil
}

// asset decodes one Asset: with proto, except a cluster's resource.data,
// which fromWire decodes into c.decoded. Data it leaves becomes the Struct
// as proto would decode it.
func (c *assetCodec) asset(raw []byte) (*assetpb.Asset, error) {
	var (
		rest, resource, data []byte
		resources, datas     int
		assetType            string
	)
	for b := raw; len(b) > 0; {
		f, next, ok := nextField(b)
		if !ok {
			return nil, errSlowPath
		}
		b = next
		switch {
		case f.is(2, protowire.BytesType): // asset_type
			assetType = string(f.val)
			rest = append(rest, f.raw...)
		case f.is(3, protowire.BytesType): // resource
			resources++
			var others []byte
			for rb := f.val; len(rb) > 0; {
				rf, rnext, ok := nextField(rb)
				if !ok {
					return nil, errSlowPath
				}
				rb = rnext
				if rf.is(6, protowire.BytesType) { // data
					datas++
					data = rf.val
				} else {
					others = append(others, rf.raw...)
				}
			}
			resource = others
		default:
			rest = append(rest, f.raw...)
		}
	}
	as := &assetpb.Asset{}
	if resources > 1 || datas > 1 || assetType != ClusterAssetType {
		// Repeated messages merge in proto: leave them to it.
		return as, proto.Unmarshal(raw, as)
	}
	if resources == 1 {
		rest = protowire.AppendTag(rest, 3, protowire.BytesType)
		rest = protowire.AppendBytes(rest, resource)
	}
	if err := proto.Unmarshal(rest, as); err != nil {
		return nil, err
	}
	if datas == 0 {
		return as, nil
	}
	pc := &containerpb.Cluster{}
	if err := fromWire(data, pc.ProtoReflect()); err == nil {
		w := wireCluster{pc: pc}
		if pc.GetNetworkConfig().GetDatapathProvider() == containerpb.DatapathProvider_DATAPATH_PROVIDER_UNSPECIFIED {
			w.datapath = wireDatapath(data)
		}
		c.mu.Lock()
		c.decoded[as] = w
		c.mu.Unlock()
		return as, nil
	}
	s := &structpb.Struct{}
	if err := proto.Unmarshal(data, s); err != nil {
		return nil, err
	}
	as.Resource.Data = s
	return as, nil
}

// fromWire fills m from b, the wire form of a Struct (Cloud Asset
// Inventory's resource.data), with protojson's semantics and
// DiscardUnknown, without the Struct or JSON text between: keys are JSON
// or proto field names, unknown keys and enum names are dropped, null
// leaves a field unset, 64-bit integers may be strings. A well-known
// type's value (a Duration, a wrapper) is decoded by protojson on its own.
// Anything else that protojson would refuse, and wire forms no JSON text
// gives (a key sent twice, a value of two kinds), return errSlowPath, so
// that the caller takes the round trip and its words.
func fromWire(b []byte, m protoreflect.Message) error {
	fields := m.Descriptor().Fields()
	var seen [4]uint64 // field numbers below 256 already set: a key sent twice
	for len(b) > 0 {
		key, val, rest, err := structEntry(b)
		if err != nil {
			return err
		}
		b = rest
		if key == nil {
			continue // not a field of Struct
		}
		fd := fields.ByJSONName(view(key))
		if fd == nil {
			if fd = fields.ByTextName(view(key)); fd == nil {
				// DiscardUnknown, once proto would have read it.
				if err := checkValue(val); err != nil {
					return err
				}
				continue
			}
		}
		if n := fd.Number(); n < 256 {
			if seen[n/64]&(1<<(n%64)) != 0 {
				return errSlowPath
			}
			seen[n/64] |= 1 << (n % 64)
		} else {
			return errSlowPath
		}
		if od := fd.ContainingOneof(); od != nil && m.WhichOneof(od) != nil {
			return errSlowPath // protojson: a second member of a oneof
		}
		v, err := wireValueOf(val)
		if err != nil {
			return err
		}
		if v.kind == jsonNull && !isValue(fd) {
			continue
		}
		if err := setWireField(m, fd, v); err != nil {
			return err
		}
	}
	return nil
}

// view is b as a string without a copy, for lookups that do not keep it.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// structEntry reads one field of a Struct from b: for an entry of its
// fields map, the key (not nil) and the value's bytes (nil when absent).
func structEntry(b []byte) (key, val, rest []byte, err error) {
	f, rest, ok := nextField(b)
	switch {
	case !ok:
		return nil, nil, nil, errSlowPath
	case f.num != 1:
		return nil, nil, rest, nil // an unknown field: proto keeps it aside
	case f.typ != protowire.BytesType:
		return nil, nil, nil, errSlowPath
	}
	key = []byte{} // an entry without a key has the key ""
	for entry := f.val; len(entry) > 0; {
		e, next, ok := nextField(entry)
		if !ok {
			return nil, nil, nil, errSlowPath
		}
		entry = next
		switch {
		case e.is(1, protowire.BytesType):
			if key = e.val; !utf8.Valid(key) {
				return nil, nil, nil, errSlowPath
			}
		case e.is(2, protowire.BytesType):
			if val != nil {
				return nil, nil, nil, errSlowPath // proto merges a value sent twice
			}
			val = e.val
		case e.num == 1 || e.num == 2:
			return nil, nil, nil, errSlowPath
		}
	}
	return key, val, rest, nil
}

// wireField is one field of a message on the wire.
type wireField struct {
	num     protowire.Number
	typ     protowire.Type
	raw     []byte // the whole field, its tag included
	payload []byte // the field without its tag
	val     []byte // a length-delimited field's bytes
}

func (f wireField) is(num protowire.Number, typ protowire.Type) bool {
	return f.num == num && f.typ == typ
}

// nextField splits the first field off b; ok is false when b does not
// start with a well-formed field.
func nextField(b []byte) (f wireField, rest []byte, ok bool) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return f, nil, false
	}
	m := protowire.ConsumeFieldValue(num, typ, b[n:])
	if m < 0 {
		return f, nil, false
	}
	f = wireField{num: num, typ: typ, raw: b[:n+m], payload: b[n : n+m]}
	if typ == protowire.BytesType {
		f.val, _ = protowire.ConsumeBytes(f.payload)
	}
	return f, b[n+m:], true
}

// wireValue is a google.protobuf.Value read from the wire.
type wireValue struct {
	jsonScalar
	object, list bool   // a struct_value or a list_value, its bytes in b
	b            []byte // the object's or list's bytes
	raw          []byte // the whole Value, for the well-known types
}

// wireValueOf reads a Value. A Value without a kind, or with a message
// kind sent twice (which proto merges), is left to the protojson path.
func wireValueOf(raw []byte) (wireValue, error) {
	v := wireValue{raw: raw}
	messages := 0
	for b := raw; len(b) > 0; {
		f, next, ok := nextField(b)
		if !ok {
			return v, errSlowPath
		}
		b = next
		switch {
		case f.is(1, protowire.VarintType): // null_value
			v = wireValue{jsonScalar: jsonScalar{kind: jsonNull}, raw: raw}
		case f.is(2, protowire.Fixed64Type): // number_value
			x, _ := protowire.ConsumeFixed64(f.payload)
			v = wireValue{jsonScalar: jsonScalar{kind: jsonNumber, num: math.Float64frombits(x)}, raw: raw}
		case f.is(3, protowire.BytesType): // string_value
			if !utf8.Valid(f.val) {
				return v, errSlowPath
			}
			v = wireValue{jsonScalar: jsonScalar{kind: jsonString, str: view(f.val), view: true}, raw: raw}
		case f.is(4, protowire.VarintType): // bool_value
			x, _ := protowire.ConsumeVarint(f.payload)
			v = wireValue{jsonScalar: jsonScalar{kind: jsonBool, boolean: x != 0}, raw: raw}
		case f.is(5, protowire.BytesType) || f.is(6, protowire.BytesType): // struct_value, list_value
			if messages++; messages > 1 {
				return v, errSlowPath
			}
			v = wireValue{object: f.num == 5, list: f.num == 6, b: f.val, raw: raw}
		case f.num >= 1 && f.num <= 6:
			return v, errSlowPath // a known field in another wire type
		}
	}
	if v.kind == jsonOther && !v.object && !v.list {
		return v, errSlowPath // no kind: refused wherever it is
	}
	return v, nil
}

// checkValue checks that raw is a Value this reader takes, as far down as
// it goes: what it skips must be what proto would have read.
func checkValue(raw []byte) error {
	v, err := wireValueOf(raw)
	switch {
	case err != nil:
		return err
	case v.list:
		return listValues(v.b, func(e wireValue) error { return checkValue(e.raw) })
	case v.object:
		for b := v.b; len(b) > 0; {
			_, val, rest, err := structEntry(b)
			if err != nil {
				return err
			}
			if val != nil {
				if err := checkValue(val); err != nil {
					return err
				}
			}
			b = rest
		}
	}
	return nil
}

// listValues calls f for each value of a ListValue's bytes.
func listValues(b []byte, f func(wireValue) error) error {
	for len(b) > 0 {
		lf, next, ok := nextField(b)
		switch {
		case !ok:
			return errSlowPath
		case lf.is(1, protowire.BytesType):
			v, err := wireValueOf(lf.val)
			if err != nil {
				return err
			}
			if err := f(v); err != nil {
				return err
			}
		case lf.num == 1:
			return errSlowPath
		}
		b = next
	}
	return nil
}

// setWireField sets fd of m from v.
func setWireField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v wireValue) error {
	switch {
	case fd.IsList():
		if !v.list {
			return errSlowPath
		}
		list := m.Mutable(fd).List()
		return listValues(v.b, func(e wireValue) error {
			if fd.Message() != nil {
				el := list.NewElement()
				if err := setWireMessage(el.Message(), e); err != nil {
					return err
				}
				list.Append(el)
				return nil
			}
			x, ok, err := scalar(fd, e.jsonScalar)
			if err != nil {
				return err
			}
			if ok {
				list.Append(x)
			}
			return nil
		})
	case fd.IsMap():
		if !v.object {
			return errSlowPath
		}
		mp := m.Mutable(fd).Map()
		for b := v.b; len(b) > 0; {
			k, val, rest, err := structEntry(b)
			if err != nil {
				return err
			}
			b = rest
			if k == nil {
				continue
			}
			key, err := mapKey(fd.MapKey(), string(k))
			if err != nil {
				return err
			}
			if mp.Has(key) {
				return errSlowPath // a key sent twice: the Struct keeps the last
			}
			e, err := wireValueOf(val)
			if err != nil {
				return err
			}
			if fd.MapValue().Message() != nil {
				el := mp.NewValue()
				if err := setWireMessage(el.Message(), e); err != nil {
					return err
				}
				mp.Set(key, el)
				continue
			}
			x, ok, err := scalar(fd.MapValue(), e.jsonScalar)
			if err != nil {
				return err
			}
			if ok {
				mp.Set(key, x)
			}
		}
		return nil
	case fd.Message() != nil:
		return setWireMessage(m.Mutable(fd).Message(), v)
	}
	x, ok, err := scalar(fd, v.jsonScalar)
	if err != nil || !ok {
		return err
	}
	m.Set(fd, x)
	return nil
}

// setWireMessage decodes v into m: an object of its fields, or, for a
// well-known type, its Value with protojson.
func setWireMessage(m protoreflect.Message, v wireValue) error {
	if m.Descriptor().FullName().Parent() == "google.protobuf" {
		var sv structpb.Value
		if err := proto.Unmarshal(v.raw, &sv); err != nil {
			return errSlowPath
		}
		return setWellKnown(m, &sv)
	}
	if !v.object {
		return errSlowPath
	}
	return fromWire(v.b, m)
}

// wireDatapath is networkConfig.datapathProvider of a Struct's wire form,
// when it is a string: the enum name sent, which the enum may not know.
func wireDatapath(b []byte) string {
	network := lookup(b, "networkConfig")
	if !network.object {
		return ""
	}
	if dp := lookup(network.b, "datapathProvider"); dp.kind == jsonString {
		return strings.Clone(dp.str)
	}
	return ""
}

// lookup is the value of key in a Struct's wire form (fromWire has read it
// already: each key is there once).
func lookup(b []byte, key string) wireValue {
	for len(b) > 0 {
		k, val, rest, err := structEntry(b)
		if err != nil {
			return wireValue{}
		}
		b = rest
		if k != nil && view(k) == key {
			v, _ := wireValueOf(val)
			return v
		}
	}
	return wireValue{}
}
