package schema

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/bigquery"
)

// A rowPlan encodes rows of one Go type as the JSON object that the
// BigQuery client sends for them in tabledata.insertAll when they are given
// to Inserter.Put as a bigquery.StructSaver with the table's schema, byte
// for byte: the client turns the struct into a map[string]bigquery.Value
// (structToMap) and encoding/json encodes that map, so
//
//   - the keys are the schema's column names, sorted (encoding/json sorts a
//     map's keys), at every level;
//   - a scalar is its Go value as encoding/json encodes it: strings escaped
//     with HTML escaping on, time.Time in RFC 3339 with nanoseconds, a nil
//     *time.Time as null;
//   - a REPEATED scalar with no elements (nil or empty) is left out; with
//     elements, it is encoding/json's array of the slice;
//   - a RECORD is an object of its own columns; a REPEATED RECORD that is
//     nil is left out, one that is empty but not nil is [].
//
// The plan is worked out once per type from the struct's fields and the
// table schema; encoding a row then walks the plan: no map, no reflection
// over tags, no allocation. writer_test.go checks it against the client
// itself, byte for byte.
type rowPlan struct {
	cols []column // sorted by name
}

type column struct {
	name  string
	key   string // `"name":`
	index []int  // the struct field, through embedded structs
	enc   valueEncoder
}

// A valueEncoder appends v's JSON value to b; present is false, and b
// unchanged, when the client leaves the column out of the row.
type valueEncoder func(b []byte, v reflect.Value) (out []byte, present bool, err error)

var plans sync.Map // reflect.Type → *rowPlan (or error), of the tables' row types

// planFor returns the plan of a table's rows.
func planFor(t Table) (*rowPlan, error) {
	rt := reflect.TypeOf(t.row)
	if p, ok := plans.Load(rt); ok {
		if err, bad := p.(error); bad {
			return nil, err
		}
		return p.(*rowPlan), nil
	}
	p, err := newRowPlan(rt, t.Schema())
	if err != nil {
		err = fmt.Errorf("encode %s rows: %w", t.Name, err)
		plans.Store(rt, err)
		return nil, err
	}
	plans.Store(rt, p)
	return p, nil
}

func newRowPlan(rt reflect.Type, s bigquery.Schema) (*rowPlan, error) {
	if rt.Kind() != reflect.Struct {
		return nil, fmt.Errorf("row type %s is not a struct", rt)
	}
	fields := structFields(rt, nil)
	p := &rowPlan{}
	for _, fs := range s {
		// As the client's StructSaver does: the field of the column's name,
		// else one whose name matches it case-insensitively; a column the
		// type lacks is left out.
		i := slices.IndexFunc(fields, func(f structField) bool { return f.name == fs.Name })
		if i < 0 {
			i = slices.IndexFunc(fields, func(f structField) bool { return strings.EqualFold(f.name, fs.Name) })
		}
		if i < 0 {
			continue
		}
		enc, err := fieldEncoder(fields[i].typ, fs)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", fs.Name, err)
		}
		p.cols = append(p.cols, column{name: fs.Name, key: string(AppendJSONString(nil, fs.Name, true)) + ":", index: fields[i].index, enc: enc})
	}
	slices.SortFunc(p.cols, func(a, b column) int { return strings.Compare(a.name, b.name) })
	return p, nil
}

// appendObject appends the row v (a struct value) as a JSON object.
func (p *rowPlan) appendObject(b []byte, v reflect.Value) ([]byte, error) {
	b = append(b, '{')
	n := 0
	for i := range p.cols {
		c := &p.cols[i]
		mark := len(b)
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, c.key...)
		var fv reflect.Value
		if len(c.index) == 1 {
			fv = v.Field(c.index[0])
		} else {
			fv = v.FieldByIndex(c.index)
		}
		var present bool
		var err error
		if b, present, err = c.enc(b, fv); err != nil {
			return b, err
		}
		if !present {
			b = b[:mark]
			continue
		}
		n++
	}
	return append(b, '}'), nil
}

// appendColumns appends each present column's JSON value to b and calls
// add with its name and the value's bytes, for a map of the row's columns.
func (p *rowPlan) appendColumns(b []byte, v reflect.Value, add func(name string, value []byte)) ([]byte, error) {
	for i := range p.cols {
		c := &p.cols[i]
		start := len(b)
		var present bool
		var err error
		if b, present, err = c.enc(b, v.FieldByIndex(c.index)); err != nil {
			return b, err
		}
		if present {
			add(c.name, b[start:len(b):len(b)])
		}
	}
	return b, nil
}

var (
	typeOfJSONMarshaler = reflect.TypeFor[json.Marshaler]()
	typeOfTextMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// arrayEncoder encodes a slice as a JSON array of its elements, each by
// elem; a slice absent(v) holds is no value, as the client leaves it out.
func arrayEncoder(elem func(b []byte, v reflect.Value) ([]byte, error), absent func(reflect.Value) bool) valueEncoder {
	return func(b []byte, v reflect.Value) ([]byte, bool, error) {
		if absent(v) {
			return b, false, nil
		}
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = elem(b, v.Index(i)); err != nil {
				return b, false, err
			}
		}
		return append(b, ']'), true, nil
	}
}

// fieldEncoder encodes a struct field of type t as the column fs, as the
// client's structFieldToUploadValue and toUploadValueReflect turn it into a
// map value.
func fieldEncoder(t reflect.Type, fs *bigquery.FieldSchema) (valueEncoder, error) {
	switch fs.Type {
	case bigquery.TimeFieldType, bigquery.DateTimeFieldType, bigquery.NumericFieldType,
		bigquery.BigNumericFieldType, bigquery.IntervalFieldType, bigquery.RangeFieldType:
		// The client converts these (civil times, *big.Rat, …) before
		// encoding; fleetscan's rows have none.
		return nil, fmt.Errorf("type %s is not supported", fs.Type)
	}
	if fs.Repeated {
		if t.Kind() != reflect.Slice {
			return nil, fmt.Errorf("repeated column requires a slice, not %s", t)
		}
		if fs.Type == bigquery.RecordFieldType {
			sub, err := newRowPlan(t.Elem(), fs.Schema)
			if err != nil {
				return nil, err
			}
			// A nil slice of records is no value; an empty one is [].
			return arrayEncoder(sub.appendObject, func(v reflect.Value) bool { return v.IsNil() }), nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			// encoding/json writes a []byte as base64, not as an array.
			return func(b []byte, v reflect.Value) ([]byte, bool, error) {
				if v.Len() == 0 {
					return b, false, nil
				}
				out, err := appendMarshal(b, v)
				return out, true, err
			}, nil
		}
		// An empty slice of scalars is no value.
		return arrayEncoder(scalarEncoder(t.Elem()), func(v reflect.Value) bool { return v.Len() == 0 }), nil
	}
	if fs.Type == bigquery.RecordFieldType {
		if t.Kind() != reflect.Struct {
			return nil, fmt.Errorf("record column requires a struct, not %s", t)
		}
		sub, err := newRowPlan(t, fs.Schema)
		if err != nil {
			return nil, err
		}
		return func(b []byte, v reflect.Value) ([]byte, bool, error) {
			out, err := sub.appendObject(b, v)
			return out, true, err
		}, nil
	}
	enc := scalarEncoder(t)
	return func(b []byte, v reflect.Value) ([]byte, bool, error) {
		out, err := enc(b, v)
		return out, true, err
	}, nil
}

// scalarEncoder encodes a value of type t as encoding/json does; a type it
// has no fast way for goes through encoding/json itself.
func scalarEncoder(t reflect.Type) func(b []byte, v reflect.Value) ([]byte, error) {
	switch {
	case t == typeOfTime:
		return func(b []byte, v reflect.Value) ([]byte, error) {
			tm, _ := reflect.TypeAssert[time.Time](v)
			return appendTime(b, tm)
		}
	case t.Kind() == reflect.Pointer && t.Elem() == typeOfTime:
		return func(b []byte, v reflect.Value) ([]byte, error) {
			tm, _ := reflect.TypeAssert[*time.Time](v)
			if tm == nil {
				return append(b, "null"...), nil
			}
			out, err := appendTime(b, *tm)
			if err != nil {
				_, err = json.Marshal(tm) // the error names *time.Time
			}
			return out, err
		}
	case t.Implements(typeOfJSONMarshaler) || t.Implements(typeOfTextMarshaler):
		return appendMarshal
	}
	switch t.Kind() {
	case reflect.String:
		return func(b []byte, v reflect.Value) ([]byte, error) { return AppendJSONString(b, v.String(), true), nil }
	case reflect.Bool:
		return func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendBool(b, v.Bool()), nil }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendInt(b, v.Int(), 10), nil }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendUint(b, v.Uint(), 10), nil }
	}
	return appendMarshal // floats, and anything else
}

// appendMarshal appends v as encoding/json encodes it, by calling it.
func appendMarshal(b []byte, v reflect.Value) ([]byte, error) {
	j, err := json.Marshal(v.Interface())
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// appendTime appends t as time.Time.MarshalJSON does, without its
// allocation; its error is the one encoding/json reports.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	out, err := t.AppendText(b)
	if err != nil {
		_, err = json.Marshal(t)
		return b, err
	}
	return append(out, '"'), nil
}

const hexDigits = "0123456789abcdef"

// jsonSafe are the bytes that encoding/json copies as they are into a
// string: ASCII but for control characters, " and \, and, with HTML
// escaping (index 1), <, > and &.
var jsonSafe = func() (safe [2][256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		safe[0][c] = c != '"' && c != '\\'
		safe[1][c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return safe
}()

// AppendJSONString appends s as a JSON string exactly as encoding/json
// encodes a string: ", \ and control characters escaped (\b \f \n \r \t
// short), U+2028 and U+2029 escaped, and each byte of invalid UTF-8 as
// \ufffd; with escapeHTML (as json.Marshal and the BigQuery client do),
// also <, > and & as \u003c \u003e \u0026, and without, as an Encoder with
// SetEscapeHTML(false).
func AppendJSONString(b []byte, s string, escapeHTML bool) []byte {
	safe := &jsonSafe[0]
	if escapeHTML {
		safe = &jsonSafe[1]
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if safe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
