// Package structwire reads google.protobuf.Struct values in their wire
// form, and keeps Cloud Asset Inventory's resource.data in that form: a
// ListAssets page of 1,000 objects decoded as Struct trees is millions of
// small objects, each read once. Discovery reads cluster data from it
// straight into containerpb.Cluster, the in-cluster reader Kubernetes
// objects straight into their JSON text.
//
// Every reader here either reads what proto would, to the same values, or
// returns ErrOdd, and its caller takes the Struct (or protojson) path:
// wire forms no JSON text gives (a key sent twice, a value of two kinds)
// are odd, not errors.
package structwire

import (
	"errors"
	"math"
	"sync"
	"unicode/utf8"
	"unsafe"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// ErrOdd says a reader met a wire form it does not read itself.
var ErrOdd = errors.New("not a wire form read here: take the Struct path")

// Codec is the gRPC codec of ListAssets calls whose resource.data is read
// from the wire. Its read function reads each asset's data on the call's
// own buffers, which it must not keep, and what it returns is kept for
// Take (Resource.Data then unset); data read leaves (ok false) is decoded into the Struct as by the
// proto codec, and data proto refuses fails the call as it fails the
// proto codec. read must refuse (ok false) anything proto would not read.
// Every other message is the proto codec's.
type Codec[T any] struct {
	proto encoding.CodecV2
	read  func(as *assetpb.Asset, data []byte) (T, bool)
	mu    sync.Mutex
	kept  map[*assetpb.Asset]T
}

// NewCodec returns a Codec for one listing.
func NewCodec[T any](read func(as *assetpb.Asset, data []byte) (T, bool)) *Codec[T] {
	return &Codec[T]{proto: encoding.GetCodecV2(protocodec.Name), read: read, kept: map[*assetpb.Asset]T{}}
}

func (c *Codec[T]) Name() string { return c.proto.Name() }

func (c *Codec[T]) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c *Codec[T]) Unmarshal(data mem.BufferSlice, v any) error {
	resp, ok := v.(*assetpb.ListAssetsResponse)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	if len(data) > 1 {
		// The answer as gRPC received it, in pieces: read in place, so
		// that a page (9 MB of real-size clusters) is not copied whole.
		if c.listAssetsFrom(&pieces{bufs: data, left: data.Len()}, resp) == nil {
			return nil
		}
		c.forget(resp) // a shape read only whole: read it so
	}
	var b []byte
	if len(data) == 1 {
		b = data[0].ReadOnlyData()
	} else {
		buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
		defer buf.Free()
		b = buf.ReadOnlyData()
	}
	if err := c.listAssets(b, resp); err != nil {
		// Not the shape read here: the proto codec's answer, error
		// included, and nothing kept of this one.
		c.forget(resp)
		return proto.Unmarshal(b, resp)
	}
	return nil
}

// forget undoes a read of resp: nothing kept of its assets, resp empty.
func (c *Codec[T]) forget(resp *assetpb.ListAssetsResponse) {
	for _, as := range resp.Assets {
		c.Take(as)
	}
	proto.Reset(resp)
}

// listAssetsFrom is listAssets on an answer in pieces. Its fields must
// all be length-delimited, as ListAssetsResponse's are; any other shape,
// and any error, has the answer read whole instead. An asset split
// across pieces is copied into a buffer that the next one reuses, so read
// must not keep the bytes it is given (it makes what it returns).
func (c *Codec[T]) listAssetsFrom(r *pieces, resp *assetpb.ListAssetsResponse) error {
	var rest, scratch []byte
	for !r.done() {
		tag, ok := r.varint()
		if !ok {
			return ErrOdd
		}
		num, typ := protowire.DecodeTag(tag)
		n, ok := r.varint()
		if !ok || typ != protowire.BytesType || !num.IsValid() || n > uint64(r.left) {
			return ErrOdd
		}
		b, whole := r.next(int(n), scratch[:0])
		if !whole {
			scratch = b
		}
		if num != 2 { // not assets
			rest = protowire.AppendBytes(protowire.AppendTag(rest, num, typ), b)
			continue
		}
		as, err := c.asset(b)
		if err != nil {
			return err
		}
		resp.Assets = append(resp.Assets, as)
	}
	return mergeRest(resp, rest)
}

// pieces reads a message received in pieces, front to back.
type pieces struct {
	bufs mem.BufferSlice
	i    int // the piece being read
	off  int // in it
	left int // bytes left, in every piece
}

func (r *pieces) done() bool { return r.left == 0 }

// byte reads one byte.
func (r *pieces) byte() (byte, bool) {
	for r.i < len(r.bufs) {
		if b := r.bufs[r.i].ReadOnlyData(); r.off < len(b) {
			r.off++
			r.left--
			return b[r.off-1], true
		}
		r.i, r.off = r.i+1, 0
	}
	return 0, false
}

// varint reads a varint as protowire does: at most 10 bytes, the last
// at most 1.
func (r *pieces) varint() (uint64, bool) {
	var v uint64
	for i := range 10 {
		b, ok := r.byte()
		if !ok {
			return 0, false
		}
		if i == 9 && b > 1 {
			return 0, false
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, true
		}
	}
	return 0, false
}

// next returns the next n bytes (n ≤ left): in place when one piece holds
// them (whole), else copied to buf, grown as needed.
func (r *pieces) next(n int, buf []byte) ([]byte, bool) {
	r.left -= n
	for r.i < len(r.bufs) && r.off == len(r.bufs[r.i].ReadOnlyData()) {
		r.i, r.off = r.i+1, 0
	}
	if r.i < len(r.bufs) {
		if b := r.bufs[r.i].ReadOnlyData(); len(b)-r.off >= n {
			r.off += n
			return b[r.off-n : r.off], true
		}
	}
	for n > 0 {
		b := r.bufs[r.i].ReadOnlyData()[r.off:]
		k := min(n, len(b))
		buf = append(buf, b[:k]...)
		n -= k
		r.off += k
		if r.off == len(r.bufs[r.i].ReadOnlyData()) {
			r.i, r.off = r.i+1, 0
		}
	}
	return buf, false
}

// Take returns what read made of as's resource.data (ok false when
// nothing: then as.Resource.Data holds it, if anything does), and forgets
// it.
func (c *Codec[T]) Take(as *assetpb.Asset) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.kept[as]
	delete(c.kept, as)
	return v, ok
}

// Kept is how many assets' data the codec holds, not yet taken.
func (c *Codec[T]) Kept() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.kept)
}

// listAssets decodes a ListAssetsResponse: its assets one by one, every
// other field with proto.
func (c *Codec[T]) listAssets(b []byte, resp *assetpb.ListAssetsResponse) error {
	var rest []byte
	for len(b) > 0 {
		f, next, ok := NextField(b)
		if !ok {
			return ErrOdd
		}
		b = next
		if !f.Is(2, protowire.BytesType) { // assets
			rest = append(rest, f.Raw...)
			continue
		}
		as, err := c.asset(f.Bytes)
		if err != nil {
			return err
		}
		resp.Assets = append(resp.Assets, as)
	}
	return mergeRest(resp, rest)
}

// mergeRest decodes rest, the page's fields other than its assets, into
// resp with proto, its assets staying first.
func mergeRest(resp *assetpb.ListAssetsResponse, rest []byte) error {
	assets := resp.Assets
	resp.Assets = nil
	if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(rest, resp); err != nil {
		return err
	}
	resp.Assets = append(assets, resp.Assets...)
	return nil
}

// asset decodes one Asset with proto, except its resource.data, which
// read reads.
func (c *Codec[T]) asset(raw []byte) (*assetpb.Asset, error) {
	var (
		rest, resource, data []byte
		resources, datas     int
	)
	for b := raw; len(b) > 0; {
		f, next, ok := NextField(b)
		if !ok {
			return nil, ErrOdd
		}
		b = next
		if !f.Is(3, protowire.BytesType) { // resource
			rest = append(rest, f.Raw...)
			continue
		}
		resources++
		var others []byte
		for rb := f.Bytes; len(rb) > 0; {
			rf, rnext, ok := NextField(rb)
			if !ok {
				return nil, ErrOdd
			}
			rb = rnext
			if rf.Is(6, protowire.BytesType) { // data
				datas++
				data = rf.Bytes
			} else {
				others = append(others, rf.Raw...)
			}
		}
		resource = others
	}
	as := &assetpb.Asset{}
	if resources > 1 || datas > 1 {
		// Repeated messages merge in proto: leave them to it.
		return as, proto.Unmarshal(raw, as)
	}
	if resources == 1 {
		rest = protowire.AppendBytes(protowire.AppendTag(rest, 3, protowire.BytesType), resource)
	}
	if err := proto.Unmarshal(rest, as); err != nil {
		return nil, err
	}
	if datas == 0 {
		return as, nil
	}
	if v, ok := c.read(as, data); ok {
		c.mu.Lock()
		c.kept[as] = v
		c.mu.Unlock()
		return as, nil
	}
	s := &structpb.Struct{}
	if err := proto.Unmarshal(data, s); err != nil {
		return nil, err // proto's own words
	}
	as.Resource.Data = s
	return as, nil
}

// Field is one field of a message on the wire.
type Field struct {
	Num     protowire.Number
	Type    protowire.Type
	Raw     []byte // the whole field, its tag included
	Payload []byte // the field without its tag
	Bytes   []byte // a length-delimited field's bytes
}

// Is reports whether f is field num of wire type typ.
func (f Field) Is(num protowire.Number, typ protowire.Type) bool {
	return f.Num == num && f.Type == typ
}

// NextField splits the first field off b; ok is false when b does not
// start with a well-formed field.
func NextField(b []byte) (f Field, rest []byte, ok bool) {
	var num protowire.Number
	var typ protowire.Type
	n := 1
	if len(b) > 0 && b[0] < 0x80 && b[0] >= 8 {
		// A one-byte tag, as every field of Struct and Value has: what
		// ConsumeTag reads, without its call.
		num, typ = protowire.Number(b[0]>>3), protowire.Type(b[0]&7)
	} else if num, typ, n = protowire.ConsumeTag(b); n < 0 || num > protowire.MaxValidNumber { // proto refuses what protowire lets through
		return f, nil, false
	}
	if typ == protowire.BytesType {
		v, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return f, nil, false
		}
		return Field{Num: num, Type: typ, Raw: b[:n+m], Payload: b[n : n+m], Bytes: v}, b[n+m:], true
	}
	m := protowire.ConsumeFieldValue(num, typ, b[n:])
	if m < 0 {
		return f, nil, false
	}
	return Field{Num: num, Type: typ, Raw: b[:n+m], Payload: b[n : n+m]}, b[n+m:], true
}

// View is b as a string without a copy, for lookups that do not keep it
// and for bytes that are not changed while it is in use.
func View(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Entry reads one field of a Struct from b: for an entry of its fields
// map, the key (not nil; "" when the entry has none) and the value's bytes
// (nil when absent); for any other field, a nil key.
func Entry(b []byte) (key, val, rest []byte, err error) {
	f, rest, ok := NextField(b)
	switch {
	case !ok:
		return nil, nil, nil, ErrOdd
	case f.Num != 1:
		return nil, nil, rest, nil // an unknown field: proto keeps it aside
	case f.Type != protowire.BytesType:
		return nil, nil, nil, ErrOdd
	}
	key = []byte{}
	for entry := f.Bytes; len(entry) > 0; {
		e, next, ok := NextField(entry)
		if !ok {
			return nil, nil, nil, ErrOdd
		}
		entry = next
		switch {
		case e.Is(1, protowire.BytesType):
			if key = e.Bytes; !utf8.Valid(key) {
				return nil, nil, nil, ErrOdd
			}
		case e.Is(2, protowire.BytesType):
			if val != nil {
				return nil, nil, nil, ErrOdd // proto merges a value sent twice
			}
			val = e.Bytes
		case e.Num == 1 || e.Num == 2:
			return nil, nil, nil, ErrOdd
		}
	}
	return key, val, rest, nil
}

// Kind is which field of a Value is set.
type Kind uint8

const (
	Null Kind = iota + 1
	Number
	String
	Bool
	Object // struct_value
	List   // list_value
)

// Value is a google.protobuf.Value read from the wire.
type Value struct {
	Kind    Kind
	Num     float64
	Boolean bool
	Bytes   []byte // a string's UTF-8, or an object's or list's wire bytes
	Raw     []byte // the whole Value
}

// ReadValue reads a Value: of two kinds sent, the last, as in proto. A
// Value without a kind, or with a message kind followed by another kind
// (proto reads the message before it keeps the other, and merges one sent
// twice), is odd: no JSON text gives one.
func ReadValue(raw []byte) (Value, error) {
	v := Value{Raw: raw}
	for b := raw; len(b) > 0; {
		f, next, ok := NextField(b)
		if !ok {
			return v, ErrOdd
		}
		b = next
		if f.Num >= 1 && f.Num <= 6 && (v.Kind == Object || v.Kind == List) {
			return v, ErrOdd
		}
		switch {
		case f.Is(1, protowire.VarintType): // null_value
			v = Value{Kind: Null, Raw: raw}
		case f.Is(2, protowire.Fixed64Type): // number_value
			x, _ := protowire.ConsumeFixed64(f.Payload)
			v = Value{Kind: Number, Num: math.Float64frombits(x), Raw: raw}
		case f.Is(3, protowire.BytesType): // string_value
			if !utf8.Valid(f.Bytes) {
				return v, ErrOdd
			}
			v = Value{Kind: String, Bytes: f.Bytes, Raw: raw}
		case f.Is(4, protowire.VarintType): // bool_value
			x, _ := protowire.ConsumeVarint(f.Payload)
			v = Value{Kind: Bool, Boolean: x != 0, Raw: raw}
		case f.Is(5, protowire.BytesType): // struct_value
			v = Value{Kind: Object, Bytes: f.Bytes, Raw: raw}
		case f.Is(6, protowire.BytesType): // list_value
			v = Value{Kind: List, Bytes: f.Bytes, Raw: raw}
		case f.Num >= 1 && f.Num <= 6:
			return v, ErrOdd // a known field in another wire type
		}
	}
	if v.Kind == 0 {
		return v, ErrOdd
	}
	return v, nil
}

// EachValue calls f for each value of a ListValue's wire bytes.
func EachValue(b []byte, f func(Value) error) error {
	for len(b) > 0 {
		lf, next, ok := NextField(b)
		switch {
		case !ok:
			return ErrOdd
		case lf.Is(1, protowire.BytesType):
			v, err := ReadValue(lf.Bytes)
			if err != nil {
				return err
			}
			if err := f(v); err != nil {
				return err
			}
		case lf.Num == 1:
			return ErrOdd
		}
		b = next
	}
	return nil
}

// CheckValue reports whether raw is a Value these readers take, as far
// down as it goes: what a reader skips must be what proto would read.
func CheckValue(raw []byte) error {
	v, err := ReadValue(raw)
	switch {
	case err != nil:
		return err
	case v.Kind == List:
		return EachValue(v.Bytes, func(e Value) error { return CheckValue(e.Raw) })
	case v.Kind == Object:
		return CheckStruct(v.Bytes)
	}
	return nil
}

// CheckStruct is CheckValue of a Struct's wire bytes: whether a reader
// that skips the whole Struct skips what proto would read.
func CheckStruct(b []byte) error {
	for len(b) > 0 {
		_, val, rest, err := Entry(b)
		if err != nil {
			return err
		}
		if val != nil {
			if err := CheckValue(val); err != nil {
				return err
			}
		}
		b = rest
	}
	return nil
}
