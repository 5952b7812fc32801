package discovery

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// errSlowPath says fromStruct met a value it does not decode itself; the
// caller then takes the protojson round trip, which also words the error
// of a malformed value exactly as a file's.
var errSlowPath = errors.New("take the protojson path")

// fromStruct fills m from s (Cloud Asset Inventory's resource.data) with
// protojson's semantics and DiscardUnknown, without the round trip through
// JSON text: keys are JSON or proto field names, unknown keys and enum
// names are dropped, null leaves a field unset, 64-bit integers may be
// strings. A well-known type's value (a Duration, a wrapper) is decoded by
// protojson on its own. Anything else that protojson would refuse returns
// errSlowPath, so that the message is protojson's.
func fromStruct(s *structpb.Struct, m protoreflect.Message) error {
	fields := m.Descriptor().Fields()
	for key, v := range s.GetFields() {
		fd := fields.ByJSONName(key)
		if fd == nil {
			if fd = fields.ByTextName(key); fd == nil {
				continue // DiscardUnknown
			}
			if _, both := s.GetFields()[fd.JSONName()]; both {
				return errSlowPath // protojson: a duplicate field
			}
		}
		if od := fd.ContainingOneof(); od != nil && m.WhichOneof(od) != nil {
			return errSlowPath // protojson: a second member of a oneof
		}
		if _, null := v.GetKind().(*structpb.Value_NullValue); null && !isValue(fd) {
			continue
		}
		if err := setField(m, fd, v); err != nil {
			return err
		}
	}
	return nil
}

func isValue(fd protoreflect.FieldDescriptor) bool {
	return fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Value"
}

func setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v *structpb.Value) error {
	switch {
	case fd.IsList():
		lv := v.GetListValue()
		if lv == nil {
			return errSlowPath
		}
		list := m.Mutable(fd).List()
		for _, e := range lv.GetValues() {
			if fd.Message() != nil {
				el := list.NewElement()
				if err := setMessage(el.Message(), e); err != nil {
					return err
				}
				list.Append(el)
				continue
			}
			x, ok, err := scalar(fd, scalarOf(e))
			if err != nil {
				return err
			}
			if ok {
				list.Append(x)
			}
		}
		return nil
	case fd.IsMap():
		sv := v.GetStructValue()
		if sv == nil {
			return errSlowPath
		}
		mp := m.Mutable(fd).Map()
		for k, e := range sv.GetFields() {
			key, err := mapKey(fd.MapKey(), k)
			if err != nil {
				return err
			}
			val := fd.MapValue()
			if val.Message() != nil {
				el := mp.NewValue()
				if err := setMessage(el.Message(), e); err != nil {
					return err
				}
				mp.Set(key, el)
				continue
			}
			x, ok, err := scalar(val, scalarOf(e))
			if err != nil {
				return err
			}
			if ok {
				mp.Set(key, x)
			}
		}
		return nil
	case fd.Message() != nil:
		return setMessage(m.Mutable(fd).Message(), v)
	}
	x, ok, err := scalar(fd, scalarOf(v))
	if err != nil || !ok {
		return err
	}
	m.Set(fd, x)
	return nil
}

// setMessage decodes v into m: a Struct for an ordinary message, protojson
// for a well-known type (its JSON form is not an object of its fields).
func setMessage(m protoreflect.Message, v *structpb.Value) error {
	if m.Descriptor().FullName().Parent() == "google.protobuf" {
		raw, err := protojson.Marshal(v)
		if err != nil {
			return errSlowPath
		}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, m.Interface()); err != nil {
			return errSlowPath
		}
		return nil
	}
	sv := v.GetStructValue()
	if sv == nil {
		return errSlowPath
	}
	return fromStruct(sv, m)
}

// jsonScalar is a JSON value that is not an object or an array, from a
// Struct's Value or from its wire form.
type jsonScalar struct {
	kind    jsonKind
	num     float64
	str     string
	view    bool // str aliases a buffer that will be reused: copy what is kept
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

func scalarOf(v *structpb.Value) jsonScalar {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NullValue:
		return jsonScalar{kind: jsonNull}
	case *structpb.Value_NumberValue:
		return jsonScalar{kind: jsonNumber, num: k.NumberValue}
	case *structpb.Value_StringValue:
		return jsonScalar{kind: jsonString, str: k.StringValue}
	case *structpb.Value_BoolValue:
		return jsonScalar{kind: jsonBool, boolean: k.BoolValue}
	}
	return jsonScalar{}
}

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
			if v.view {
				return protoreflect.ValueOfString(strings.Clone(v.str)), true, nil
			}
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
			if fd.Kind() == protoreflect.FloatKind {
				return protoreflect.ValueOfFloat32(float32(v.num)), true, nil
			}
			return protoreflect.ValueOfFloat64(v.num), true, nil
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
