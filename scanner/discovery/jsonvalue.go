package discovery

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/fleetscan/fleetscan/scanner/structwire"
)

// errSlowPath says fromWire met a value it does not decode itself; the
// caller then takes the protojson round trip, which also words the error
// of a malformed value exactly as a file's.
var errSlowPath = structwire.ErrOdd

func isValue(fd protoreflect.FieldDescriptor) bool {
	return fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Value"
}

// appendWellKnown appends the wire form of md's message, a well-known
// type (a Duration, a wrapper), that raw, the wire form of a Value, gives:
// read by protojson, as its JSON form is not an object of its fields.
func appendWellKnown(out []byte, md protoreflect.MessageDescriptor, raw []byte) ([]byte, error) {
	var v structpb.Value
	if err := proto.Unmarshal(raw, &v); err != nil {
		return out, errSlowPath
	}
	text, err := protojson.Marshal(&v)
	if err != nil {
		return out, errSlowPath
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		return out, errSlowPath
	}
	m := mt.New().Interface()
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(text, m); err != nil {
		return out, errSlowPath
	}
	return proto.MarshalOptions{}.MarshalAppend(out, m)
}

// jsonScalar is a JSON value that is not an object or an array, as
// fromWire reads it.
type jsonScalar struct {
	kind    jsonKind
	num     float64
	str     string // may alias the Struct's bytes: written out, never kept
	boolean bool
}

type jsonKind uint8

const (
	jsonOther jsonKind = iota // an object, an array or no value
	jsonNull
	jsonNumber
	jsonString
	jsonBool
)

// scalar converts v to fd's kind; ok is false for an enum name this
// client does not know (dropped, as protojson's DiscardUnknown does).
func scalar(fd protoreflect.FieldDescriptor, v jsonScalar) (protoreflect.Value, bool, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if v.kind == jsonBool {
			return protoreflect.ValueOfBool(v.boolean), true, nil
		}
	case protoreflect.StringKind:
		if v.kind == jsonString {
			return protoreflect.ValueOfString(v.str), true, nil
		}
	case protoreflect.EnumKind:
		switch v.kind {
		case jsonString:
			ev := fd.Enum().Values().ByName(protoreflect.Name(v.str))
			if ev == nil {
				return protoreflect.Value{}, false, nil
			}
			return protoreflect.ValueOfEnum(ev.Number()), true, nil
		case jsonNumber:
			if n, ok := integer(v.num, math.MinInt32, math.MaxInt32); ok {
				return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), true, nil
			}
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if n, ok := number(v, math.MinInt32, math.MaxInt32); ok {
			return protoreflect.ValueOfInt32(int32(n)), true, nil
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if n, ok := number(v, math.MinInt64, math.MaxInt64); ok {
			return protoreflect.ValueOfInt64(int64(n)), true, nil
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if n, ok := number(v, 0, math.MaxUint32); ok {
			return protoreflect.ValueOfUint32(uint32(n)), true, nil
		}
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		if v.kind == jsonNumber {
			if fd.Kind() == protoreflect.DoubleKind {
				return protoreflect.ValueOfFloat64(v.num), true, nil
			}
			// protojson reads the number's text as a float32, and refuses
			// one outside its range: so does this, from the same text.
			f, err := strconv.ParseFloat(strconv.FormatFloat(v.num, 'g', -1, 64), 32)
			if err == nil {
				return protoreflect.ValueOfFloat32(float32(f)), true, nil
			}
		}
	case protoreflect.BytesKind:
		if v.kind == jsonString {
			if b, err := base64.StdEncoding.DecodeString(v.str); err == nil {
				return protoreflect.ValueOfBytes(b), true, nil
			}
		}
	}
	// uint64 and everything protojson reads from other shapes ("NaN",
	// quoted floats, URL-safe base64) or refuses: its own words.
	return protoreflect.Value{}, false, errSlowPath
}

// number reads an integer within [lo, hi] from a JSON number or a decimal
// string, as protojson does for every integer kind.
func number(v jsonScalar, lo, hi float64) (float64, bool) {
	switch v.kind {
	case jsonNumber:
		return integer(v.num, lo, hi)
	case jsonString:
		if !jsonInteger(v.str) {
			return 0, false // "00", "+1", " 1", "1e3": protojson's own reading
		}
		n, err := strconv.ParseInt(v.str, 10, 64)
		if err != nil {
			return 0, false
		}
		return integer(float64(n), lo, hi)
	}
	return 0, false
}

// jsonInteger reports whether s is an integer in JSON's grammar,
// -?(0|[1-9][0-9]*), the only quoted integers read here.
func jsonInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// integer is f when it is a whole number in [lo, hi]. A float64 holds
// integers exactly only up to 2^53; Cluster's 64-bit fields (sizes,
// counts) stay far below it, and a value above falls to protojson.
func integer(f, lo, hi float64) (float64, bool) {
	if f != math.Trunc(f) || f < lo || f > hi || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return f, true
}

// appendScalar appends field fd with the value v gives: nothing for an
// enum name this client does not know (dropped, as protojson's
// DiscardUnknown does).
func appendScalar(out []byte, fd protoreflect.FieldDescriptor, v jsonScalar) ([]byte, error) {
	x, ok, err := scalar(fd, v)
	if err != nil || !ok {
		return out, err
	}
	return appendValue(out, fd, x), nil
}

// appendValue appends field fd with value x of fd's kind, as proto.Marshal
// writes it.
func appendValue(out []byte, fd protoreflect.FieldDescriptor, x protoreflect.Value) []byte {
	n := fd.Number()
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protowire.AppendVarint(protowire.AppendTag(out, n, protowire.VarintType), protowire.EncodeBool(x.Bool()))
	case protoreflect.EnumKind:
		return protowire.AppendVarint(protowire.AppendTag(out, n, protowire.VarintType), uint64(x.Enum()))
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		return protowire.AppendVarint(protowire.AppendTag(out, n, protowire.VarintType), uint64(x.Int()))
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protowire.AppendVarint(protowire.AppendTag(out, n, protowire.VarintType), protowire.EncodeZigZag(x.Int()))
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		return protowire.AppendVarint(protowire.AppendTag(out, n, protowire.VarintType), x.Uint())
	case protoreflect.Sfixed32Kind:
		return protowire.AppendFixed32(protowire.AppendTag(out, n, protowire.Fixed32Type), uint32(x.Int()))
	case protoreflect.Fixed32Kind:
		return protowire.AppendFixed32(protowire.AppendTag(out, n, protowire.Fixed32Type), uint32(x.Uint()))
	case protoreflect.FloatKind:
		return protowire.AppendFixed32(protowire.AppendTag(out, n, protowire.Fixed32Type), math.Float32bits(float32(x.Float())))
	case protoreflect.Sfixed64Kind:
		return protowire.AppendFixed64(protowire.AppendTag(out, n, protowire.Fixed64Type), uint64(x.Int()))
	case protoreflect.Fixed64Kind:
		return protowire.AppendFixed64(protowire.AppendTag(out, n, protowire.Fixed64Type), x.Uint())
	case protoreflect.DoubleKind:
		return protowire.AppendFixed64(protowire.AppendTag(out, n, protowire.Fixed64Type), math.Float64bits(x.Float()))
	case protoreflect.StringKind:
		return protowire.AppendString(protowire.AppendTag(out, n, protowire.BytesType), x.String())
	case protoreflect.BytesKind:
		return protowire.AppendBytes(protowire.AppendTag(out, n, protowire.BytesType), x.Bytes())
	}
	panic("discovery: appendValue of a message field " + string(fd.FullName()))
}

// appendMapKey appends key k of a map entry, whose key field is fd.
func appendMapKey(out []byte, fd protoreflect.FieldDescriptor, k string) ([]byte, error) {
	key, err := mapKey(fd, k)
	if err != nil {
		return out, err
	}
	return appendValue(out, fd, key.Value()), nil
}

func mapKey(fd protoreflect.FieldDescriptor, k string) (protoreflect.MapKey, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(k).MapKey(), nil
	case protoreflect.BoolKind:
		if b, err := strconv.ParseBool(k); err == nil && (k == "true" || k == "false") {
			return protoreflect.ValueOfBool(b).MapKey(), nil
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if n, err := strconv.ParseInt(k, 10, 32); err == nil {
			return protoreflect.ValueOfInt32(int32(n)).MapKey(), nil
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if n, err := strconv.ParseInt(k, 10, 64); err == nil {
			return protoreflect.ValueOfInt64(n).MapKey(), nil
		}
	}
	return protoreflect.MapKey{}, errSlowPath
}
