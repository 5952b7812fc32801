package kube

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"
)

// appendObjectJSON appends the JSON text of a Cloud Asset Inventory
// object, kind and apiVersion set, its protobuf-shaped IntOrString values
// in their JSON form: byte for byte what json.Marshal writes of
// lenient(fields as a map), without the map (TestObjectJSONMatchesMarshal).
func appendObjectJSON(b []byte, kind, apiVersion string, fields map[string]*structpb.Value) []byte {
	keys := make([]string, 0, len(fields)+2)
	for k := range fields {
		if k != "kind" && k != "apiVersion" {
			keys = append(keys, k)
		}
	}
	keys = append(keys, "kind", "apiVersion")
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendJSONString(b, k), ':')
		switch k {
		case "kind":
			b = appendJSONString(b, kind)
		case "apiVersion":
			b = appendJSONString(b, apiVersion)
		default:
			b = appendValueJSON(b, fields[k], true)
		}
	}
	return append(b, '}')
}

// appendValueJSON appends v as json.Marshal writes v.AsInterface(), after
// lenient when lenient is set.
func appendValueJSON(b []byte, v *structpb.Value, lenient bool) []byte {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		return appendJSONNumber(b, k.NumberValue)
	case *structpb.Value_StringValue:
		return appendJSONString(b, k.StringValue)
	case *structpb.Value_BoolValue:
		return strconv.AppendBool(b, k.BoolValue)
	case *structpb.Value_StructValue:
		fields := k.StructValue.GetFields()
		if lenient {
			if iv, ok := intOrStringValue(fields); ok {
				return appendValueJSON(b, iv, false) // lenient does not look inside what it returns
			}
		}
		keys := make([]string, 0, len(fields))
		for key := range fields {
			keys = append(keys, key)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, key := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValueJSON(append(appendJSONString(b, key), ':'), fields[key], lenient)
		}
		return append(b, '}')
	case *structpb.Value_ListValue:
		b = append(b, '[')
		for i, e := range k.ListValue.GetValues() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValueJSON(b, e, lenient)
		}
		return append(b, ']')
	}
	return append(b, "null"...) // null, or a Value of no kind
}

// intOrStringValue is intOrString on a Struct's fields: the value that
// stands for the whole object (strVal when it is a non-empty string, else
// intVal), when the object is a protobuf-shaped IntOrString. A present
// intVal of null stands as null (a nil Value).
func intOrStringValue(fields map[string]*structpb.Value) (*structpb.Value, bool) {
	if len(fields) == 0 || len(fields) > 3 {
		return nil, false
	}
	for k := range fields {
		if k != "type" && k != "intVal" && k != "strVal" {
			return nil, false
		}
	}
	if s, ok := fields["strVal"]; ok {
		if sv, ok := s.GetKind().(*structpb.Value_StringValue); ok && sv.StringValue != "" {
			return s, true
		}
	}
	if n, ok := fields["intVal"]; ok {
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
			q, _ := json.Marshal(s) // HTML-safe escapes, U+2028 and U+2029, invalid UTF-8
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}
