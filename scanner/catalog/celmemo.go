package catalog

import (
	"math"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// A condition's outcome is a function of the values it reads, and a
// fleet's clusters and pools repeat the same machine types, enums and
// flags: FactsMemo keeps each outcome by those values, so that CEL runs
// once for each distinct combination.
//
// A condition is memoized only when its checked expression reads the
// objects through field paths alone (singular messages down to a scalar,
// a list's or a map's size, or a list of messages that a macro such as
// exists iterates, by the same kinds of paths of each element). Anything
// else (has(), a whole message or list compared or passed to a function,
// a map indexed) leaves it to CEL every time.

// readPath is one value a condition reads.
type readPath struct {
	root   string                         // "cluster", "pool", or an iteration variable
	fields []protoreflect.FieldDescriptor // singular messages, then the field read
	size   bool                           // the last is a list or a map, read for its size
	each   []readPath                     // the last is a list of messages: these paths of every element (root "")
}

// memoPaths are the values tree reads, or ok false when a value it reads
// is not a field path.
func memoPaths(tree *cel.Ast) (paths []readPath, ok bool) {
	vars := map[string]protoreflect.MessageDescriptor{
		"cluster": (&containerpb.Cluster{}).ProtoReflect().Descriptor(),
		"pool":    (&containerpb.NodePool{}).ProtoReflect().Descriptor(),
	}
	w := pathWalker{vars: vars, accus: map[string]bool{}}
	if !w.walk(tree.NativeRep().Expr()) {
		return nil, false
	}
	return w.paths, true
}

type pathWalker struct {
	vars  map[string]protoreflect.MessageDescriptor // the variables that are objects
	accus map[string]bool                           // comprehension accumulators: values, not objects
	paths []readPath
}

func (w *pathWalker) walk(e ast.Expr) bool {
	switch e.Kind() {
	case ast.LiteralKind:
		return true
	case ast.IdentKind:
		name := e.AsIdent()
		_, object := w.vars[name]
		return !object // an object read whole; anything else is a constant or an accumulator
	case ast.SelectKind:
		p, kind, ok := w.path(e)
		switch {
		case !ok:
			return false
		case p == nil:
			return true // a qualified constant
		case kind != scalarField:
			return false
		}
		w.paths = append(w.paths, *p)
		return true
	case ast.CallKind:
		call := e.AsCall()
		if call.FunctionName() == "size" {
			arg := call.Target() // x.size(), or size(x)
			if !call.IsMemberFunction() && len(call.Args()) == 1 {
				arg = call.Args()[0]
			}
			if arg != nil && arg.Kind() == ast.SelectKind {
				if p, kind, ok := w.path(arg); ok && p != nil && (kind == messageList || kind == otherList) {
					p.size = true
					w.paths = append(w.paths, *p)
					return true
				}
			}
		}
		if call.IsMemberFunction() && !w.walk(call.Target()) {
			return false
		}
		for _, a := range call.Args() {
			if !w.walk(a) {
				return false
			}
		}
		return true
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			if !w.walk(el) {
				return false
			}
		}
		return true
	case ast.ComprehensionKind:
		return w.comprehension(e.AsComprehension())
	}
	return false // maps, structs and anything newer: not read by paths
}

// comprehension takes a macro over a list of messages that a path gives:
// its body's paths from the element become the path's each.
func (w *pathWalker) comprehension(c ast.ComprehensionExpr) bool {
	if c.HasIterVar2() || c.IterRange().Kind() != ast.SelectKind {
		return false
	}
	p, kind, ok := w.path(c.IterRange())
	if !ok || p == nil || kind != messageList {
		return false
	}
	if _, taken := w.vars[c.IterVar()]; taken || w.accus[c.IterVar()] {
		return false // shadowing: left to CEL
	}
	inner := pathWalker{vars: map[string]protoreflect.MessageDescriptor{}, accus: map[string]bool{c.AccuVar(): true}}
	for k, v := range w.vars {
		inner.vars[k] = v
	}
	for k := range w.accus {
		inner.accus[k] = true
	}
	inner.vars[c.IterVar()] = p.fields[len(p.fields)-1].Message()
	for _, part := range []ast.Expr{c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
		if !inner.walk(part) {
			return false
		}
	}
	for _, q := range inner.paths {
		if q.root == c.IterVar() {
			q.root = ""
			p.each = append(p.each, q)
		} else {
			w.paths = append(w.paths, q)
		}
	}
	w.paths = append(w.paths, *p)
	return true
}

// fieldKind is what a path ends at.
type fieldKind uint8

const (
	scalarField fieldKind = iota
	messageField
	messageList
	otherList // a list of scalars, or a map
)

// path reads a chain of field selections down from a variable: nil when
// its root is not an object (a qualified enum constant), ok false when it
// cannot be read as a path.
func (w *pathWalker) path(e ast.Expr) (p *readPath, kind fieldKind, ok bool) {
	var names []string
	for e.Kind() == ast.SelectKind {
		sel := e.AsSelect()
		if sel.IsTestOnly() {
			return nil, 0, false // has(): presence, which the values do not show
		}
		names = append(names, sel.FieldName())
		e = sel.Operand()
	}
	if e.Kind() != ast.IdentKind {
		return nil, 0, false
	}
	md, object := w.vars[e.AsIdent()]
	if !object {
		if w.accus[e.AsIdent()] {
			return nil, 0, false
		}
		return nil, 0, true
	}
	p = &readPath{root: e.AsIdent()}
	for i := len(names) - 1; i >= 0; i-- {
		if md == nil {
			return nil, 0, false
		}
		fd := md.Fields().ByJSONName(names[i])
		if fd == nil {
			fd = md.Fields().ByTextName(names[i])
		}
		if fd == nil {
			return nil, 0, false
		}
		p.fields = append(p.fields, fd)
		last := i == 0
		switch {
		case fd.IsMap() || fd.IsList() && fd.Message() == nil:
			if !last {
				return nil, 0, false
			}
			return p, otherList, true
		case fd.IsList():
			if !last {
				return nil, 0, false
			}
			return p, messageList, true
		case fd.Message() != nil:
			if last {
				return p, messageField, true
			}
			md = fd.Message()
		case !last:
			return nil, 0, false
		}
	}
	return p, scalarField, true
}

// appendValues appends what the paths read of the objects.
func appendValues(b []byte, paths []readPath, cluster, pool, elem protoreflect.Message) []byte {
	for i := range paths {
		p := &paths[i]
		m := elem
		switch p.root {
		case "cluster":
			m = cluster
		case "pool":
			m = pool
		}
		for _, fd := range p.fields[:len(p.fields)-1] {
			m = m.Get(fd).Message()
		}
		fd := p.fields[len(p.fields)-1]
		v := m.Get(fd)
		switch {
		case p.size && fd.IsMap():
			b = protowire.AppendVarint(b, uint64(v.Map().Len()))
		case p.size:
			b = protowire.AppendVarint(b, uint64(v.List().Len()))
		case p.each != nil || fd.IsList():
			l := v.List()
			b = protowire.AppendVarint(b, uint64(l.Len()))
			for j := range l.Len() {
				b = appendValues(b, p.each, cluster, pool, l.Get(j).Message())
			}
		default:
			b = appendScalar(b, fd.Kind(), v)
		}
	}
	return b
}

func appendScalar(b []byte, k protoreflect.Kind, v protoreflect.Value) []byte {
	switch k {
	case protoreflect.BoolKind:
		if v.Bool() {
			return append(b, 1)
		}
		return append(b, 0)
	case protoreflect.EnumKind:
		return protowire.AppendVarint(b, protowire.EncodeZigZag(int64(v.Enum())))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protowire.AppendVarint(b, protowire.EncodeZigZag(v.Int()))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protowire.AppendVarint(b, v.Uint())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return protowire.AppendFixed64(b, math.Float64bits(v.Float()))
	case protoreflect.StringKind:
		return protowire.AppendString(b, v.String())
	case protoreflect.BytesKind:
		return protowire.AppendBytes(b, v.Bytes())
	}
	panic("catalog: memo of a " + k.String() + " field") // memoPaths takes scalars only
}

// FactsMemo keeps the outcomes of a catalog's conditions by the values
// they read, for the clusters of one scan (Catalog.FactsWith). It is not
// safe for concurrent use.
type FactsMemo struct {
	facts map[string]Fact
	key   []byte
}

// NewFactsMemo returns an empty FactsMemo.
func NewFactsMemo() *FactsMemo { return &FactsMemo{facts: map[string]Fact{}} }

// Len is how many outcomes fm keeps.
func (fm *FactsMemo) Len() int { return len(fm.facts) }

// maxMemoFacts bounds a FactsMemo: past it, conditions are evaluated as
// without one.
const maxMemoFacts = 100_000

// eval is k.eval, from the memo when the values k reads were seen.
func (fm *FactsMemo) eval(k *celCondition, vars *celVars, cluster, pool protoreflect.Message) Fact {
	if fm == nil || !k.memo {
		return k.eval(vars, cluster, pool)
	}
	if f, missing := k.missing(cluster, pool); missing {
		return f
	}
	b := protowire.AppendVarint(fm.key[:0], uint64(k.index))
	if k.pool {
		b = append(b, 'p')
	}
	b = appendValues(b, k.paths, cluster, pool, nil)
	fm.key = b
	if f, ok := fm.facts[string(b)]; ok {
		return f
	}
	f := k.evalPresent(vars)
	if len(fm.facts) < maxMemoFacts {
		fm.facts[string(b)] = f
	}
	return f
}
