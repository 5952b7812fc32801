package bqfake

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// decodeValidObject decodes a JSON value known to be valid (a row that
// json.Unmarshal has already read as a json.RawMessage) into what
// decodeObject gives for it: a JSON object as map[string]any with
// json.Number for numbers, nil for null, and an error for anything else.
// It is decodeObject without encoding/json's decoder, whose buffers and
// reflection are most of the cost of an insertAll. A string with an
// escape or non-ASCII bytes is decoded by encoding/json itself, so that
// \u escapes, surrogates and invalid UTF-8 come out as they would.
func decodeValidObject(b []byte) (map[string]any, error) {
	d := validDecoder{b: b}
	d.space()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	if d.space(); d.i != len(d.b) {
		return nil, errSyntax
	}
	switch m := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return m, nil
	}
	return nil, errors.New("bqfake: not a JSON object")
}

var errSyntax = errors.New("bqfake: malformed JSON")

type validDecoder struct {
	b []byte
	i int
}

func (d *validDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *validDecoder) value() (any, error) {
	if d.i >= len(d.b) {
		return nil, errSyntax
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		start := d.i
		for d.i < len(d.b) {
			switch c := d.b[d.i]; {
			case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
				d.i++
				continue
			}
			break
		}
		return json.Number(d.b[start:d.i]), nil
	}
	return nil, errSyntax
}

func (d *validDecoder) literal(s string) error {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return errSyntax
	}
	d.i += len(s)
	return nil
}

func (d *validDecoder) object() (any, error) {
	d.i++ // {
	m := map[string]any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, errSyntax
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, errSyntax
		}
		d.i++
		d.space()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m[k] = v // a repeated key: the last one wins, as in encoding/json
		if more, err := d.more('}'); err != nil {
			return nil, err
		} else if !more {
			return m, nil
		}
	}
}

// more reads what follows a member or an element: true after a comma,
// false after close.
func (d *validDecoder) more(close byte) (bool, error) {
	d.space()
	if d.i >= len(d.b) {
		return false, errSyntax
	}
	switch d.b[d.i] {
	case ',':
		d.i++
		return true, nil
	case close:
		d.i++
		return false, nil
	}
	return false, errSyntax
}

func (d *validDecoder) array() (any, error) {
	d.i++ // [
	a := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		d.space()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if more, err := d.more(']'); err != nil {
			return nil, err
		} else if !more {
			return a, nil
		}
	}
}

// str decodes the string at d.i.
func (d *validDecoder) str() (string, error) {
	start := d.i
	d.i++ // "
	escaped, ascii := false, true
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			d.i++
			raw := d.b[start+1 : d.i-1]
			if !escaped && (ascii || utf8.Valid(raw)) {
				return string(raw), nil // what encoding/json unquotes it to
			}
			var s string
			if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
				return "", err
			}
			return s, nil
		case c == '\\':
			escaped = true
			d.i += 2
		case c >= utf8.RuneSelf:
			ascii = false
			d.i++
		default:
			d.i++
		}
	}
	return "", errSyntax
}
