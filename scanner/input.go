package scanner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrListShape is returned by SplitList for JSON that is neither an array
// nor an object; the caller says what it wanted.
var ErrListShape = errors.New("wrong shape")

// A File is an input file: its name (for messages) and its bytes. It turns
// byte offsets into the FILE:LINE:COL positions that editors go to.
type File struct {
	Name string
	Data []byte

	lines []int // byte offset of each line's start, made on first use
}

// A Value is one JSON value of a File and the byte offset where it starts.
type Value struct {
	Raw    json.RawMessage
	Offset int
}

// Position returns the line and column of a byte offset, both from 1;
// columns count characters, as protojson's do.
func (f *File) Position(off int) (line, col int) {
	if f.lines == nil {
		f.lines = []int{0}
		for i, b := range f.Data {
			if b == '\n' {
				f.lines = append(f.lines, i+1)
			}
		}
	}
	off = min(max(off, 0), len(f.Data))
	i, ok := slices.BinarySearch(f.lines, off)
	if !ok {
		i--
	}
	return i + 1, utf8.RuneCount(f.Data[f.lines[i]:off]) + 1
}

// At returns "NAME:LINE:COL" of a byte offset.
func (f *File) At(off int) string {
	line, col := f.Position(off)
	return fmt.Sprintf("%s:%d:%d", f.Name, line, col)
}

// Line returns "NAME:LINE" of a byte offset.
func (f *File) Line(off int) string {
	line, _ := f.Position(off)
	return fmt.Sprintf("%s:%d", f.Name, line)
}

// Errorf returns the error "NAME:LINE:COL: message" about a byte offset.
func (f *File) Errorf(off int, format string, a ...any) error {
	return fmt.Errorf("%s: %s", f.At(off), fmt.Sprintf(format, a...))
}

// jsonSpace is what JSON allows between tokens.
const jsonSpace = " \t\r\n"

// content is the file without the white space that ends it, so that a
// truncated file's error points at its last character instead of past its
// last newline. Offsets are the same as in Data.
func (f *File) content() []byte { return bytes.TrimRight(f.Data, jsonSpace) }

// Value reads a file that holds one JSON value. The value shares the
// file's bytes.
func (f *File) Value() (Value, error) {
	data := f.content()
	if len(bytes.TrimSpace(data)) == 0 {
		return Value{}, fmt.Errorf("%s: file is empty", f.Name)
	}
	if !json.Valid(data) {
		var v any
		return Value{}, f.syntaxError(json.Unmarshal(data, &v))
	}
	off := len(data) - len(bytes.TrimLeft(data, jsonSpace))
	return Value{Raw: data[off:], Offset: off}, nil
}

// Values reads a file that holds one JSON value or several in a row, such
// as NDJSON (one a line) or jq's output. The values share the file's
// bytes.
func (f *File) Values() ([]Value, error) {
	v, err := f.Value()
	var pe *posError
	switch {
	case err == nil:
		return []Value{v}, nil
	case !errors.As(err, &pe) || !pe.another:
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(f.content()))
	var vs []Value
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return vs, nil
		}
		if err != nil {
			return nil, f.syntaxError(err)
		}
		end := int(dec.InputOffset())
		vs = append(vs, Value{Raw: f.Data[end-len(raw) : end : end], Offset: end - len(raw)})
	}
}

// posError is a JSON syntax error at a position. It wraps encoding/json's
// error.
type posError struct {
	at, msg string
	another bool // the error is another object or array after the first value
	err     error
}

func (e *posError) Error() string { return e.at + ": invalid JSON: " + e.msg }
func (e *posError) Unwrap() error { return e.err }

// syntaxError places a JSON syntax error in the file's content.
func (f *File) syntaxError(err error) error {
	data := f.content()
	var se *json.SyntaxError
	var off int
	msg := "unexpected end of JSON input"
	switch {
	case errors.As(err, &se):
		// The offset is that of the byte after the bad one. At the end of
		// the data, encoding/json steps a space to end a literal ("tru")
		// and calls the space bad: that is the end of the input.
		off, msg = int(se.Offset)-1, se.Error()
		if se.Offset >= int64(len(data)) && (strings.HasPrefix(msg, "invalid character ' '") || strings.HasPrefix(msg, "unexpected end")) {
			off, msg = len(data), "unexpected end of JSON input"
		}
	case errors.Is(err, io.ErrUnexpectedEOF): // a Decoder's
		off = len(data)
	default:
		return fmt.Errorf("%s: invalid JSON: %v", f.Name, err)
	}
	off = min(max(off, 0), len(data))
	another := strings.HasSuffix(msg, "after top-level value") && off < len(data) && (data[off] == '{' || data[off] == '[')
	return &posError{at: f.At(off), msg: msg, another: another, err: err}
}

// Elements returns the elements of an array value, each with its offset;
// false when the value is not an array. The value must be valid JSON, as
// File's are: its elements share its bytes.
func Elements(v Value) ([]Value, bool) {
	raw := v.Raw
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	out := []Value{}
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return out, true
	}
	for i < len(raw) {
		end := skipValue(raw, i)
		if end < 0 {
			return nil, false
		}
		out = append(out, Value{Raw: raw[i:end:end], Offset: v.Offset + i})
		i = skipSpace(raw, end)
		switch {
		case i < len(raw) && raw[i] == ',':
			i = skipSpace(raw, i+1)
		case i < len(raw) && raw[i] == ']':
			return out, true
		default:
			return nil, false
		}
	}
	return nil, false
}

// Members returns the members of an object value, each with its offset;
// false when the value is not an object. A repeated key keeps its last
// value, as encoding/json does. The value must be valid JSON, as File's
// are: its members share its bytes.
func Members(v Value) (map[string]Value, bool) {
	raw := v.Raw
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	out := map[string]Value{}
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == '}' {
		return out, true
	}
	for i < len(raw) {
		if raw[i] != '"' {
			return nil, false
		}
		end := skipValue(raw, i)
		if end < 0 {
			return nil, false
		}
		key := string(raw[i+1 : end-1])
		if bytes.IndexByte(raw[i:end], '\\') >= 0 {
			if json.Unmarshal(raw[i:end], &key) != nil {
				return nil, false
			}
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		i = skipSpace(raw, i+1)
		end = skipValue(raw, i)
		if end < 0 {
			return nil, false
		}
		out[key] = Value{Raw: raw[i:end:end], Offset: v.Offset + i}
		i = skipSpace(raw, end)
		switch {
		case i < len(raw) && raw[i] == ',':
			i = skipSpace(raw, i+1)
		case i < len(raw) && raw[i] == '}':
			return out, true
		default:
			return nil, false
		}
	}
	return nil, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipValue returns the index after the JSON value at b[i], or -1 when
// none ends there. It trusts the value to be valid JSON, and only finds
// where it ends.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			case '"':
				end := skipValue(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			}
		}
		return -1
	}
	j := i // a number, true, false or null
	for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// Text returns a value that is a JSON string, or "".
func (v Value) Text() string {
	var s string
	if json.Unmarshal(v.Raw, &s) != nil {
		return ""
	}
	return s
}

// IsNull reports whether the value is JSON null.
func (v Value) IsNull() bool { return string(v.Raw) == "null" }

// SplitList reads a file that holds a list, as gcloud and the APIs write
// them: a JSON array, or a list response holding the array under key. For
// an object without key it returns the object's fields as rest (and no
// items) for the caller to decide: one item, or an empty response. name and
// noun ("clusters", "log entries") are used in messages, which give the
// position of a problem as FILE:LINE:COL.
func SplitList(name string, data []byte, key, noun string) (items []json.RawMessage, rest map[string]json.RawMessage, err error) {
	f := &File{Name: name, Data: data}
	v, err := f.Value()
	if err != nil {
		return nil, nil, err
	}
	if es, ok := Elements(v); ok {
		return raws(es), nil, nil
	}
	m, ok := Members(v)
	if !ok {
		return nil, nil, fmt.Errorf("%s: %w", name, ErrListShape)
	}
	list, ok := m[key]
	if !ok {
		rest = make(map[string]json.RawMessage, len(m))
		for k, v := range m {
			rest[k] = v.Raw
		}
		return nil, rest, nil
	}
	if list.IsNull() {
		return nil, nil, nil
	}
	es, ok := Elements(list)
	if !ok {
		return nil, nil, f.Errorf(list.Offset, "%q is not an array of %s", key, noun)
	}
	return raws(es), nil, nil
}

func raws(vs []Value) []json.RawMessage {
	out := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		out[i] = v.Raw
	}
	return out
}

// A Kind is what a JSON object of an input file is, told from its fields,
// so that a file given to the wrong flag gets one line naming the flag
// that takes it.
type Kind int

// Kinds of input.
const (
	KindUnknown       Kind = iota
	KindClusters           // Container API clusters: an object with a name, or {"clusters": [...]}
	KindClusterAssets      // Cloud Asset Inventory assets of GKE clusters
	KindAssets             // Cloud Asset Inventory assets of another type, or {"assets": [...]}
	KindLogEntries         // Cloud Logging entries, or {"entries": [...]}
	KindKubernetes         // a Kubernetes object or List (kubectl get -o json)
	KindServerConfig       // gcloud container get-server-config
)

// clusterAssetType is the Cloud Asset Inventory type of a GKE cluster
// (discovery.ClusterAssetType, which imports this package).
const clusterAssetType = "container.googleapis.com/Cluster"

// KindOf tells what one JSON value of an input is: an object from its
// fields, an array from its first element.
func KindOf(raw json.RawMessage) Kind {
	v := Value{Raw: bytes.TrimLeft(raw, jsonSpace)}
	if es, ok := Elements(v); ok {
		if len(es) == 0 {
			return KindUnknown
		}
		v = es[0]
	}
	m, ok := Members(v)
	if !ok {
		return KindUnknown
	}
	return KindOfMembers(m)
}

// KindOfMembers tells what a JSON object is from its members.
func KindOfMembers(m map[string]Value) Kind {
	has := func(keys ...string) bool {
		return slices.ContainsFunc(keys, func(k string) bool { _, ok := m[k]; return ok })
	}
	switch {
	case has("assetType", "asset_type"):
		t, ok := m["assetType"]
		if !ok {
			t = m["asset_type"]
		}
		if t.Text() == clusterAssetType {
			return KindClusterAssets
		}
		return KindAssets
	case has("logName", "insertId", "receiveTimestamp", "entries"):
		return KindLogEntries
	case has("apiVersion") && has("kind"):
		return KindKubernetes
	case has("validMasterVersions", "validNodeVersions", "defaultClusterVersion", "validImageTypes", "defaultImageType", "channels"):
		return KindServerConfig
	case has("assets"):
		return KindAssets
	case has("clusters", "name"):
		return KindClusters
	}
	return KindUnknown
}

// kinds says what each kind is, for a file and for one object, and which
// flag takes it.
var kinds = map[Kind]struct{ file, one, flag, pass string }{
	KindClusters:      {"GKE clusters (gcloud container clusters list output)", "a GKE cluster", "--input", "pass it with"},
	KindClusterAssets: {"GKE cluster assets (gcloud asset list or export output)", "a GKE cluster asset", "--input", "pass it with"},
	KindLogEntries:    {"Cloud Logging entries (gcloud logging read output)", "a Cloud Logging entry", "--logs", "pass it with"},
	KindKubernetes:    {"a kubectl dump", "a Kubernetes object", "--kube-objects", "pass its folder with"},
	KindServerConfig:  {"a GKE server config (gcloud container get-server-config output)", "a GKE server config", "--server-config", "pass its folder with"},
}

// WrongFlag returns the one line for a file of this kind given to flag, or
// nil when the flag takes it or no flag does.
func (k Kind) WrongFlag(name, flag string) error {
	d, ok := kinds[k]
	if !ok || d.flag == flag {
		return nil
	}
	return fmt.Errorf("%s: this looks like %s: %s %s, not %s", name, d.file, d.pass, d.flag, flag)
}

// One names one object of this kind ("a Cloud Logging entry"), or "".
func (k Kind) One() string { return kinds[k].one }
