package fleetgen

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
)

// sortedJSON is the JSON object b, as json.Marshal prints a typed value
// (compact), with "apiVersion" and "kind" added at its top and the keys of
// every object sorted: the bytes json.Marshal prints for the map[string]any
// that b decodes to (with json.Number) once apiVersion and kind are set,
// without building that map. Strings and numbers are copied as written,
// which is what the round trip prints for json.Marshal's own output; ok is
// false when b is not such an object (or not compact), a key holds an escape (which the
// round trip compares unescaped), a key repeats, or b already has
// apiVersion or kind.
func sortedJSON(b []byte, apiVersion, kind string) (out []byte, ok bool) {
	s := sorters.Get().(*keySorter)
	s.in, s.pos, s.out, s.members, s.ok = b, 0, make([]byte, 0, len(b)+len(apiVersion)+len(kind)+32), s.members[:0], true
	defer func() {
		if recover() != nil { // an index out of range: not compact JSON
			out, ok = nil, false
		}
		s.in, s.out = nil, nil
		sorters.Put(s)
	}()
	if len(b) == 0 || b[0] != '{' || !plain(apiVersion) || !plain(kind) || apiVersion == "" {
		return nil, false
	}
	s.object([2]string{apiVersion, kind})
	if !s.ok || s.pos != len(b) {
		return nil, false
	}
	return s.out, true
}

var sorters = sync.Pool{New: func() any { return new(keySorter) }}

// keySorter copies s.in[s.pos:] to s.out, one value at a time, sorting
// the members of every object.
type keySorter struct {
	in      []byte
	pos     int
	out     []byte
	scratch []byte
	members []member // a stack: each object's members above its parent's
	ok      bool
}

// member is one "key":value of an object, at out[start:end]; its key is
// out[start+1:start+1+keyLen].
type member struct{ start, end, keyLen int32 }

func (s *keySorter) value() {
	switch s.in[s.pos] {
	case '{':
		s.object([2]string{})
	case '[':
		s.array()
	case '"':
		s.str()
	default: // a number, true, false or null: up to the next delimiter
		start := s.pos
		for c := s.in[s.pos]; c != ',' && c != ']' && c != '}'; c = s.in[s.pos] {
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				s.ok = false // not compact
			}
			s.pos++
		}
		s.out = append(s.out, s.in[start:s.pos]...)
	}
}

// str copies a string and returns its contents as written.
func (s *keySorter) str() []byte {
	if s.in[s.pos] != '"' {
		s.ok = false
	}
	start := s.pos
	for s.pos++; ; {
		i := bytes.IndexByte(s.in[s.pos:], '"')
		if i < 0 {
			s.ok = false
			s.pos = len(s.in)
			return nil
		}
		j := s.pos + i
		s.pos = j + 1
		backslashes := 0 // before the quote: an odd count escapes it
		for j--; s.in[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			break
		}
	}
	s.out = append(s.out, s.in[start:s.pos]...)
	return s.in[start+1 : s.pos-1]
}

func (s *keySorter) array() {
	s.out = append(s.out, '[')
	s.pos++
	if s.in[s.pos] == ']' {
		s.pos++
		s.out = append(s.out, ']')
		return
	}
	for {
		s.value()
		c := s.in[s.pos]
		s.pos++
		s.out = append(s.out, c)
		if c == ']' {
			return
		}
		if c != ',' {
			s.ok = false
			return
		}
	}
}

// object copies an object, its members sorted by key; typeMeta, when
// set, is the apiVersion and kind to add.
func (s *keySorter) object(typeMeta [2]string) {
	base, first := len(s.out), len(s.members)
	s.out = append(s.out, '{')
	s.pos++
	if s.in[s.pos] == '}' {
		s.pos++
	} else {
		for {
			if len(s.members) > first {
				s.out = append(s.out, ',')
			}
			start := len(s.out)
			key := s.str()
			if bytes.IndexByte(key, '\\') >= 0 || s.in[s.pos] != ':' {
				s.ok = false
				return
			}
			s.out = append(s.out, ':')
			s.pos++
			s.value()
			s.members = append(s.members, member{start: int32(start), end: int32(len(s.out)), keyLen: int32(len(key))})
			c := s.in[s.pos]
			s.pos++
			if c == '}' {
				break
			}
			if c != ',' {
				s.ok = false
				return
			}
		}
	}
	if typeMeta[0] != "" {
		for i, key := range typeMetaKeys {
			if len(s.members) > first {
				s.out = append(s.out, ',')
			}
			start := len(s.out)
			s.out = strconv.AppendQuote(append(strconv.AppendQuote(s.out, string(key)), ':'), typeMeta[i])
			s.members = append(s.members, member{start: int32(start), end: int32(len(s.out)), keyLen: int32(len(key))})
		}
	}
	s.out = append(s.out, '}')
	ms := s.members[first:]
	s.members = s.members[:first] // ms stays valid: nothing appends until it is used
	sorted := true
	for i := 1; i < len(ms); i++ {
		switch c := bytes.Compare(s.key(ms[i-1]), s.key(ms[i])); {
		case c == 0:
			s.ok = false
		case c > 0:
			sorted = false
		}
	}
	if sorted || !s.ok { // as json.Marshal prints maps, or a single member
		return
	}
	slices.SortFunc(ms, func(a, b member) int { return bytes.Compare(s.key(a), s.key(b)) })
	for i := 1; i < len(ms); i++ {
		if bytes.Equal(s.key(ms[i-1]), s.key(ms[i])) {
			s.ok = false
			return
		}
	}
	s.scratch = append(s.scratch[:0], s.out[base:]...)
	s.out = append(s.out[:base], '{')
	for i, m := range ms {
		if i > 0 {
			s.out = append(s.out, ',')
		}
		s.out = append(s.out, s.scratch[int(m.start)-base:int(m.end)-base]...)
	}
	s.out = append(s.out, '}')
}

var typeMetaKeys = [2][]byte{[]byte("apiVersion"), []byte("kind")}

func (s *keySorter) key(m member) []byte { return s.out[m.start+1 : m.start+1+m.keyLen] }

// plain reports whether json.Marshal prints s between quotes as it is.
func plain(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
