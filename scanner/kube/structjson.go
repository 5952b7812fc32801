package kube

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/fleetscan/fleetscan/scanner/structwire"
)

// appendObjectJSON appends the JSON text of a Cloud Asset Inventory
// object from data, its resource.data on the wire: kind and apiVersion
// set, protobuf-shaped IntOrString values in their JSON form. It is byte
// for byte what marshalObject writes (TestObjectJSONMatchesMarshal),
// without the Struct or the map; a wire form it does not read is
// structwire.ErrOdd.
func appendObjectJSON(b []byte, kind, apiVersion string, data []byte) ([]byte, error) {
	ms, err := members(data)
	if err != nil {
		return nil, err
	}
	ms = slices.DeleteFunc(ms, func(m member) bool { return m.key == "kind" || m.key == "apiVersion" })
	ms = append(ms, member{key: "kind", set: kind}, member{key: "apiVersion", set: apiVersion})
	slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
	b = append(b, '{')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendJSONString(b, m.key), ':')
		if m.val == nil {
			b = appendJSONString(b, m.set)
			continue
		}
		if b, err = appendValueJSON(b, m.val, true); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// member is one key of an object on the wire and its Value's bytes (or,
// with val nil, a string set in its place).
type member struct {
	key string // a view of the wire bytes
	val []byte
	set string
}

// members are the keys of a Struct's wire form, sorted. A key sent twice
// (proto keeps the last) is left to the Struct path.
func members(b []byte) ([]member, error) {
	var ms []member
	for len(b) > 0 {
		k, val, rest, err := structwire.Entry(b)
		if err != nil {
			return nil, err
		}
		b = rest
		if k == nil {
			continue
		}
		if val == nil {
			return nil, structwire.ErrOdd // a Value of no kind
		}
		ms = append(ms, member{key: structwire.View(k), val: val})
	}
	slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
	for i := 1; i < len(ms); i++ {
		if ms[i].key == ms[i-1].key {
			return nil, structwire.ErrOdd
		}
	}
	return ms, nil
}

// appendValueJSON appends the Value raw as json.Marshal writes what
// AsInterface makes of it, after lenient when lenient is set.
func appendValueJSON(b, raw []byte, lenient bool) ([]byte, error) {
	v, err := structwire.ReadValue(raw)
	if err != nil {
		return nil, err
	}
	switch v.Kind {
	case structwire.Null:
		return append(b, "null"...), nil
	case structwire.Number:
		return appendJSONNumber(b, v.Num), nil
	case structwire.String:
		return appendJSONString(b, structwire.View(v.Bytes)), nil
	case structwire.Bool:
		return strconv.AppendBool(b, v.Boolean), nil
	case structwire.List:
		b = append(b, '[')
		first := true
		err := structwire.EachValue(v.Bytes, func(e structwire.Value) error {
			if !first {
				b = append(b, ',')
			}
			first = false
			var err error
			b, err = appendValueJSON(b, e.Raw, lenient)
			return err
		})
		if err != nil {
			return nil, err
		}
		return append(b, ']'), nil
	}
	ms, err := members(v.Bytes)
	if err != nil {
		return nil, err
	}
	if lenient {
		if iv, ok := intOrStringMember(ms); ok {
			return appendValueJSON(b, iv, false) // lenient does not look inside what it returns
		}
	}
	b = append(b, '{')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendValueJSON(append(appendJSONString(b, m.key), ':'), m.val, lenient); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// intOrStringMember is intOrString on an object's members: the Value that
// stands for the whole object, when it is a protobuf-shaped IntOrString.
func intOrStringMember(ms []member) ([]byte, bool) {
	if len(ms) == 0 || len(ms) > 3 {
		return nil, false
	}
	var intVal, strVal []byte
	for _, m := range ms {
		switch m.key {
		case "intVal":
			intVal = m.val
		case "strVal":
			strVal = m.val
		case "type":
		default:
			return nil, false
		}
	}
	if strVal != nil {
		if s, err := structwire.ReadValue(strVal); err == nil && s.Kind == structwire.String && len(s.Bytes) > 0 {
			return strVal, true
		}
	}
	return intVal, intVal != nil
}

// marshalObject is the object's JSON through its Struct: the map AsMap
// makes of it, kind and apiVersion set, IntOrString values rewritten
// (lenient), through json.Marshal. It is what appendObjectJSON writes,
// for the wire forms that leaves.
func marshalObject(kind, apiVersion string, data []byte) ([]byte, error) {
	var s structpb.Struct
	if err := proto.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	obj := s.AsMap()
	obj["kind"], obj["apiVersion"] = kind, apiVersion
	return json.Marshal(lenient(obj))
}

// lenient rewrites protobuf-shaped IntOrString values ({"intVal": N},
// {"strVal": "s"}, with or without "type") to their JSON form.
func lenient(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if iv, ok := intOrString(x); ok {
			return iv
		}
		for k, e := range x {
			x[k] = lenient(e)
		}
	case []any:
		for i, e := range x {
			x[i] = lenient(e)
		}
	}
	return v
}

func intOrString(m map[string]any) (any, bool) {
	if len(m) == 0 || len(m) > 3 {
		return nil, false
	}
	for k := range m {
		if k != "type" && k != "intVal" && k != "strVal" {
			return nil, false
		}
	}
	if s, ok := m["strVal"].(string); ok && s != "" {
		return s, true
	}
	if n, ok := m["intVal"]; ok {
		return n, true
	}
	return nil, false
}

// appendJSONNumber appends f as encoding/json writes a float64: the
// shortest decimal, in exponent form below 1e-6 and from 1e21. NaN and the
// infinities are the strings AsInterface makes of them.
func appendJSONNumber(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return appendJSONString(b, "NaN")
	case math.IsInf(f, 1):
		return appendJSONString(b, "Infinity")
	case math.IsInf(f, -1):
		return appendJSONString(b, "-Infinity")
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 is written e-9.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString appends s quoted as encoding/json quotes it. A string
// that needs no escape is copied; any other is left to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // HTML-safe escapes, U+2028 and U+2029
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}
