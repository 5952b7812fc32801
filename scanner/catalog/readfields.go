package catalog

import (
	"slices"

	"cel.dev/cel-go/common/ast"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FieldPath is a chain of Cluster fields from the Cluster message: each
// field but the last is a message, or a list or map of messages whose
// elements the next field is of; the last field is read whole, with all
// that is below it. It is an alias, so that a reader of ReadFields needs
// nothing of this package.
type FieldPath = []protoreflect.FieldDescriptor

// ReadFields are the Cluster fields the catalog's conditions can read,
// pools' conditions read through nodePools; all is true when a condition
// reads more than fields say (an object read whole), and then it may read
// any field. A decoder that keeps these fields of a cluster (and, of a
// message on a path, at least its presence) gives every condition the
// outcome the whole cluster gives.
func (c *Catalog) ReadFields() (paths []FieldPath, all bool) {
	if c == nil {
		return nil, false // no conditions
	}
	for _, is := range c.celIssues {
		if is.cel.allFields {
			return nil, true
		}
		paths = append(paths, is.cel.fields...)
	}
	return paths, false
}

var nodePoolsField = (&containerpb.Cluster{}).ProtoReflect().Descriptor().Fields().ByName("node_pools")

// fieldsRead lists the fields a checked condition can read, conservatively:
// every chain of selections from an object (cluster, pool, or a macro's
// variable over a list of messages) is a path read whole at its end; an
// object used any other way, or a field that cannot be told, reads
// everything (all).
func fieldsRead(e ast.Expr, pool bool) (paths []FieldPath, all bool) {
	w := fieldWalker{bound: map[string]FieldPath{"cluster": {}}}
	if pool {
		w.bound["pool"] = FieldPath{nodePoolsField}
	}
	w.walk(e)
	return w.paths, w.all
}

type fieldWalker struct {
	bound map[string]FieldPath // the variables that are objects: the path to them (cluster's is empty)
	paths []FieldPath
	all   bool
}

// message is the message the path leads to (for a list or a map, of its
// elements), or nil when it leads to a scalar.
func message(p FieldPath) protoreflect.MessageDescriptor {
	if len(p) == 0 {
		return (&containerpb.Cluster{}).ProtoReflect().Descriptor()
	}
	fd := p[len(p)-1]
	if fd.IsMap() {
		fd = fd.MapValue()
	}
	return fd.Message()
}

func (w *fieldWalker) read(p FieldPath) {
	if len(p) == 0 {
		w.all = true // the cluster read whole
		return
	}
	w.paths = append(w.paths, slices.Clone(p))
}

func (w *fieldWalker) walk(e ast.Expr) {
	switch e.Kind() {
	case ast.IdentKind:
		if p, ok := w.bound[e.AsIdent()]; ok {
			w.read(p) // an object used whole
		}
	case ast.SelectKind:
		if p, ok := w.path(e); ok {
			w.read(p)
			return
		}
		w.walk(e.AsSelect().Operand())
	case ast.CallKind:
		call := e.AsCall()
		if call.IsMemberFunction() {
			w.walk(call.Target())
		}
		for _, a := range call.Args() {
			w.walk(a)
		}
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			w.walk(el)
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			w.walk(me.Key())
			w.walk(me.Value())
		}
	case ast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			w.walk(f.AsStructField().Value())
		}
	case ast.ComprehensionKind:
		w.comprehension(e.AsComprehension())
	case ast.LiteralKind:
	default:
		w.all = true // anything newer: read whole
	}
}

// comprehension binds a macro's variable over a list or map of messages
// that a path gives to that path, so that its body's selections are paths
// through it; over anything else, the range is read whole and the
// variables are values.
func (w *fieldWalker) comprehension(c ast.ComprehensionExpr) {
	vars := []string{c.IterVar(), c.AccuVar()}
	if c.HasIterVar2() {
		vars = append(vars, c.IterVar2())
	}
	saved := map[string]FieldPath{}
	for _, v := range vars {
		if p, ok := w.bound[v]; ok {
			saved[v] = p
		}
	}
	var elem FieldPath
	if c.IterRange().Kind() == ast.SelectKind {
		if p, ok := w.path(c.IterRange()); ok && len(p) > 0 && p[len(p)-1].Message() != nil && p[len(p)-1].IsList() {
			elem = p
		}
	}
	if elem == nil {
		w.walk(c.IterRange())
	}
	before := len(w.paths)
	for _, v := range vars {
		delete(w.bound, v)
	}
	if elem != nil {
		// one variable: the element; two: the index, then the element
		v := c.IterVar()
		if c.HasIterVar2() {
			v = c.IterVar2()
		}
		w.bound[v] = elem
	}
	for _, part := range []ast.Expr{c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
		w.walk(part)
	}
	if elem != nil && !slices.ContainsFunc(w.paths[before:], func(p FieldPath) bool { return len(p) > len(elem) && slices.Equal(p[:len(elem)], elem) }) {
		w.read(elem) // nothing of an element read: the list, for its length
	}
	for _, v := range vars {
		delete(w.bound, v)
		if p, ok := saved[v]; ok {
			w.bound[v] = p
		}
	}
}

// path reads a chain of selections down from an object variable: ok false
// when its root is not one (a qualified constant, a value, a call). A
// selection on a map (by key) or past a scalar ends the path at that
// field, read whole; a name that is not a field reads everything.
func (w *fieldWalker) path(e ast.Expr) (FieldPath, bool) {
	var names []string
	for e.Kind() == ast.SelectKind {
		names = append(names, e.AsSelect().FieldName())
		e = e.AsSelect().Operand()
	}
	if e.Kind() != ast.IdentKind {
		return nil, false
	}
	root, ok := w.bound[e.AsIdent()]
	if !ok {
		return nil, false
	}
	p := slices.Clone(root)
	for i := len(names) - 1; i >= 0; i-- {
		md := message(p)
		if md == nil || len(p) > 0 && (p[len(p)-1].IsMap() || p[len(p)-1].IsList()) && len(p) > len(root) {
			break // a map's key, or past a scalar: the field above is read whole
		}
		fd := md.Fields().ByJSONName(names[i])
		if fd == nil {
			fd = md.Fields().ByTextName(names[i])
		}
		if fd == nil {
			w.all = true
			return nil, false
		}
		p = append(p, fd)
	}
	return p, true
}
