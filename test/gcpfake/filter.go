package gcpfake

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// A filter is the conjunction of its terms; the empty filter matches every
// entry.
type filter []term

type termKind int

const (
	logID         termKind = iota // log_id("X")
	resourceType                  // resource.type="X"
	resourceLabel                 // resource.labels.KEY="X"
	payloadEqual                  // jsonPayload.FIELD="X" (FIELD may be a path: source.component)
	payloadHas                    // jsonPayload.FIELD:"X"
	textEqual                     // textPayload="X"
	textHas                       // textPayload:"X"
	timestampCmp                  // timestamp OP "RFC3339"
	anyOf                         // TERM OR TERM …
	allOf                         // TERM TERM … (implicit AND)
)

type term struct {
	kind  termKind
	key   string // label key or jsonPayload field path
	op    string // of timestampCmp
	value string
	time  time.Time
	alts  []term // of anyOf and allOf
}

// parseFilter parses the subset of the Logging query language that the
// package doc describes. Errors name the offending text and its byte offset.
func parseFilter(src string) (filter, error) {
	p := &parser{src: src}
	t, err := p.sequence(-1)
	if err != nil {
		return nil, err
	}
	if t.kind == allOf {
		return filter(t.alts), nil
	}
	return filter{t}, nil
}

type parser struct {
	src string
	i   int
}

func (p *parser) rest() string {
	r := p.src[p.i:]
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return r
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }

// skipSpace skips whitespace and reports whether there was some.
func (p *parser) skipSpace() bool {
	start := p.i
	for p.i < len(p.src) && isSpace(p.src[p.i]) {
		p.i++
	}
	return p.i > start
}

const subset = `gcpfake supports only terms joined either by whitespace (implicitly ANDed) or by OR, each log_id("X"), FIELD OP "VALUE" or such a sequence in parentheses`

// term parses one term at p.i, which is not whitespace.
func (p *parser) term() (term, error) {
	start := p.i
	switch c := p.src[p.i]; {
	case c == '"':
		s, err := p.str()
		if err != nil {
			return term{}, err
		}
		return term{}, fmt.Errorf("global restriction %q at offset %d is not supported: %s", s, start, subset)
	case c == '(':
		return p.group()
	case c == ')':
		return term{}, fmt.Errorf("unmatched ')' at offset %d", start)
	case c == '-':
		return term{}, fmt.Errorf("negation at offset %d is not supported: %s", start, subset)
	case !isIdentStart(c):
		return term{}, fmt.Errorf("unexpected %q at offset %d: %s", c, start, subset)
	}
	field, err := p.fieldPath()
	if err != nil {
		return term{}, err
	}
	p.skipSpace()
	if p.i < len(p.src) && p.src[p.i] == '(' {
		return p.call(field, start)
	}
	op := p.op()
	if op == "" {
		return term{}, fmt.Errorf("bare word %q at offset %d is not supported (no AND, NOT or global restrictions): %s", field, start, subset)
	}
	p.skipSpace()
	if p.i == len(p.src) || p.src[p.i] != '"' {
		return term{}, fmt.Errorf("the value of %s%s at offset %d must be a double-quoted string", field, op, p.i)
	}
	value, err := p.str()
	if err != nil {
		return term{}, err
	}
	return makeTerm(field, op, value, start)
}

// group parses a parenthesized sequence at p.i, '('.
func (p *parser) group() (term, error) {
	start := p.i
	p.i++
	return p.sequence(start)
}

// sequence parses terms joined either all by whitespace (AND) or all by
// OR, up to the ')' of the '(' at offset open, or to the end when open is
// -1. The Logging query language gives OR precedence over AND; a sequence
// that mixes them is refused rather than read by other rules.
func (p *parser) sequence(open int) (term, error) {
	var items []term
	join, pendingOR := "", -1
	for {
		space := p.skipSpace()
		switch {
		case p.i == len(p.src) && open >= 0:
			return term{}, fmt.Errorf("unclosed parenthesis at offset %d", open)
		case p.i < len(p.src) && p.src[p.i] == ')' && open < 0:
			return term{}, fmt.Errorf("unmatched ')' at offset %d", p.i)
		case p.i == len(p.src) || p.src[p.i] == ')':
			if pendingOR >= 0 {
				return term{}, fmt.Errorf("OR at offset %d has no term after it", pendingOR)
			}
			if open >= 0 {
				if len(items) == 0 {
					return term{}, fmt.Errorf("empty parentheses at offset %d", open)
				}
				p.i++
			}
			if join == "OR" {
				return term{kind: anyOf, alts: items}, nil
			}
			return term{kind: allOf, alts: items}, nil
		}
		if len(items) > 0 && pendingOR < 0 {
			if rest := p.src[p.i:]; space && strings.HasPrefix(rest, "OR") && (len(rest) == 2 || isSpace(rest[2]) || rest[2] == '(') {
				if join == "AND" {
					return term{}, fmt.Errorf("OR at offset %d follows terms joined by AND: %s", p.i, mixed)
				}
				join, pendingOR = "OR", p.i
				p.i += 2
				continue
			}
			if !space {
				return term{}, fmt.Errorf("want whitespace between terms at offset %d, found %q", p.i, p.rest())
			}
			if join == "OR" {
				return term{}, fmt.Errorf("terms joined by whitespace (AND) at offset %d follow terms joined by OR: %s", p.i, mixed)
			}
			join = "AND"
		}
		t, err := p.term()
		if err != nil {
			return term{}, err
		}
		items = append(items, t)
		pendingOR = -1
	}
}

// mixed explains why AND and OR may not share a sequence.
const mixed = "the Logging query language gives OR precedence over AND, so gcpfake asks for parentheses"

// fieldPath reads NAME{.NAME}.
func (p *parser) fieldPath() (string, error) {
	start := p.i
	for {
		if p.i == len(p.src) || !isIdentStart(p.src[p.i]) {
			return "", fmt.Errorf("malformed field name %q at offset %d", p.src[start:p.i], start)
		}
		for p.i < len(p.src) && isIdent(p.src[p.i]) {
			p.i++
		}
		if p.i == len(p.src) || p.src[p.i] != '.' {
			return p.src[start:p.i], nil
		}
		p.i++
	}
}

// op reads a comparison operator, or returns "" (consuming nothing).
func (p *parser) op() string {
	for _, op := range []string{">=", "<=", "!=", "=~", "!~", "=", ":", ">", "<"} {
		if strings.HasPrefix(p.src[p.i:], op) {
			p.i += len(op)
			return op
		}
	}
	return ""
}

// str reads a double-quoted string at p.i, in which \\ and \" are the only
// escapes.
func (p *parser) str() (string, error) {
	start := p.i
	p.i++ // the opening quote
	var b strings.Builder
	for p.i < len(p.src) {
		switch c := p.src[p.i]; c {
		case '"':
			p.i++
			return b.String(), nil
		case '\\':
			if p.i+1 == len(p.src) {
				return "", fmt.Errorf("unterminated string starting at offset %d", start)
			}
			switch e := p.src[p.i+1]; e {
			case '\\', '"':
				b.WriteByte(e)
				p.i += 2
			default:
				return "", fmt.Errorf("unsupported escape \\%c at offset %d (gcpfake supports only \\\\ and \\\")", e, p.i)
			}
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", fmt.Errorf("unterminated string starting at offset %d", start)
}

// call parses the arguments of a function call at p.i, '('.
func (p *parser) call(name string, start int) (term, error) {
	if name != "log_id" {
		return term{}, fmt.Errorf("function %s at offset %d is not supported: %s", name, start, subset)
	}
	p.i++
	p.skipSpace()
	if p.i == len(p.src) || p.src[p.i] != '"' {
		return term{}, fmt.Errorf("log_id at offset %d takes one double-quoted string", start)
	}
	id, err := p.str()
	if err != nil {
		return term{}, err
	}
	p.skipSpace()
	if p.i == len(p.src) || p.src[p.i] != ')' {
		return term{}, fmt.Errorf("log_id at offset %d takes one double-quoted string and a closing parenthesis", start)
	}
	p.i++
	return term{kind: logID, value: id}, nil
}

func makeTerm(field, op, value string, at int) (term, error) {
	bad := func() (term, error) {
		return term{}, fmt.Errorf("operator %s on %s at offset %d is not supported: %s", op, field, at, subset)
	}
	parts := strings.Split(field, ".")
	switch {
	case field == "resource.type":
		if op != "=" {
			return bad()
		}
		return term{kind: resourceType, value: value}, nil
	case len(parts) == 3 && parts[0] == "resource" && parts[1] == "labels":
		if op != "=" {
			return bad()
		}
		return term{kind: resourceLabel, key: parts[2], value: value}, nil
	case len(parts) >= 2 && parts[0] == "jsonPayload":
		key := strings.Join(parts[1:], ".")
		switch op {
		case "=":
			return term{kind: payloadEqual, key: key, value: value}, nil
		case ":":
			return term{kind: payloadHas, key: key, value: value}, nil
		}
		return bad()
	case field == "textPayload":
		switch op {
		case "=":
			return term{kind: textEqual, value: value}, nil
		case ":":
			return term{kind: textHas, value: value}, nil
		}
		return bad()
	case field == "timestamp":
		switch op {
		case ">=", "<=", ">", "<":
		default:
			return bad()
		}
		t, err := time.Parse(time.RFC3339Nano, value)
		if err != nil {
			return term{}, fmt.Errorf("timestamp %q at offset %d is not RFC 3339", value, at)
		}
		return term{kind: timestampCmp, op: op, value: value, time: t}, nil
	}
	return term{}, fmt.Errorf("field %s at offset %d is not supported: gcpfake knows only log_id(), resource.type, resource.labels.KEY, jsonPayload.FIELD, textPayload and timestamp", field, at)
}

func (f filter) match(e *loggingpb.LogEntry) bool {
	for _, t := range f {
		if !t.match(e) {
			return false
		}
	}
	return true
}

func (t term) match(e *loggingpb.LogEntry) bool {
	switch t.kind {
	case logID:
		name := e.GetLogName()
		i := strings.LastIndex(name, "/logs/")
		if i < 0 {
			return false
		}
		id, err := url.PathUnescape(name[i+len("/logs/"):])
		return err == nil && id == t.value
	case resourceType:
		return e.GetResource().GetType() == t.value
	case resourceLabel:
		v, ok := e.GetResource().GetLabels()[t.key]
		return ok && v == t.value
	case payloadEqual, payloadHas:
		sv, ok := payloadField(e, t.key).GetKind().(*structpb.Value_StringValue)
		if !ok {
			return false
		}
		if t.kind == payloadEqual {
			return sv.StringValue == t.value
		}
		return strings.Contains(strings.ToLower(sv.StringValue), strings.ToLower(t.value))
	case textEqual, textHas:
		p, ok := e.GetPayload().(*loggingpb.LogEntry_TextPayload)
		if !ok {
			return false // no textPayload: neither equal to nor holding anything
		}
		if t.kind == textEqual {
			return p.TextPayload == t.value
		}
		return strings.Contains(strings.ToLower(p.TextPayload), strings.ToLower(t.value))
	case timestampCmp:
		if e.GetTimestamp() == nil {
			return false
		}
		c := e.GetTimestamp().AsTime().Compare(t.time)
		switch t.op {
		case ">=":
			return c >= 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		case "<":
			return c < 0
		}
	case anyOf:
		for _, a := range t.alts {
			if a.match(e) {
				return true
			}
		}
	case allOf:
		return filter(t.alts).match(e)
	}
	return false
}

// payloadField is the jsonPayload value at a dotted path, or nil.
func payloadField(e *loggingpb.LogEntry, path string) *structpb.Value {
	fields := e.GetJsonPayload().GetFields()
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		fields = fields[k].GetStructValue().GetFields()
	}
	return fields[keys[len(keys)-1]]
}
