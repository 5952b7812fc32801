package discovery

import (
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/fleetscan/fleetscan/scanner/structwire"
)

// fromWire fills m, a message with no field set, from b, the wire form of
// a Struct (Cloud Asset Inventory's resource.data, as structwire.Codec
// keeps it), with protojson's semantics and DiscardUnknown, without the
// Struct or JSON text between: keys are JSON or proto field names, unknown
// keys and enum names are dropped, null leaves a field unset, 64-bit
// integers may be strings. A well-known type's value (a Duration, a
// wrapper) is decoded by protojson on its own. Anything else that
// protojson would refuse, and wire forms no JSON text gives (a key sent
// twice, a value of two kinds), return errSlowPath, so that the caller
// takes the round trip and its words.
//
// The Struct is rewritten as m's own wire form (appendMessage), which
// proto.Unmarshal reads with the generated code's fast paths: setting each
// field through protoreflect cost three times as much.
func fromWire(b []byte, m protoreflect.Message, mask *fieldMask) error {
	buf := wireBuffers.Get().(*[]byte)
	defer wireBuffers.Put(buf)
	out, err := appendMessage((*buf)[:0], b, m.Descriptor(), mask)
	*buf = out[:0]
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(out, m.Interface()); err != nil {
		return errSlowPath // not reached: appendMessage writes what proto reads
	}
	return nil
}

// wireBuffers hold the messages fromWire writes: proto.Unmarshal copies
// what it keeps.
var wireBuffers = sync.Pool{New: func() any { return new([]byte) }}

// appendMessage appends to out the wire form of md's message that b, the
// wire form of a Struct of its fields, gives: of the fields mask keeps.
func appendMessage(out, b []byte, md protoreflect.MessageDescriptor, mask *fieldMask) ([]byte, error) {
	fields := md.Fields()
	var seen [4]uint64 // field numbers below 256 already read: a key sent twice
	var oneofs uint64  // oneofs with a member read
	for len(b) > 0 {
		key, val, rest, err := structwire.Entry(b)
		if err != nil {
			return out, err
		}
		b = rest
		if key == nil {
			continue // not a field of Struct
		}
		fd := fields.ByJSONName(structwire.View(key))
		if fd == nil {
			fd = fields.ByTextName(structwire.View(key))
		}
		var sub *fieldMask
		keep := fd != nil
		if keep {
			sub, keep = mask.field(fd.Number())
		}
		if !keep {
			// An unknown field, dropped as DiscardUnknown does, or one
			// nothing reads: once proto would have read it.
			if err := structwire.CheckValue(val); err != nil {
				return out, err
			}
			continue
		}
		if n := fd.Number(); n < 256 {
			if seen[n/64]&(1<<(n%64)) != 0 {
				return out, errSlowPath
			}
			seen[n/64] |= 1 << (n % 64)
		} else {
			return out, errSlowPath
		}
		v, err := structwire.ReadValue(val)
		if err != nil {
			return out, err
		}
		if v.Kind == structwire.Null && !isValue(fd) {
			continue
		}
		if od := fd.ContainingOneof(); od != nil {
			// protojson refuses a second member of a oneof that is not
			// null, even when it drops the first (an enum name unknown).
			i := od.Index()
			if i >= 64 || oneofs&(1<<i) != 0 {
				return out, errSlowPath
			}
			oneofs |= 1 << i
		}
		if out, err = appendField(out, fd, v, sub); err != nil {
			return out, err
		}
	}
	return out, nil
}

// scalarOf is v as a jsonScalar.
func scalarOf(v structwire.Value) jsonScalar {
	switch v.Kind {
	case structwire.Null:
		return jsonScalar{kind: jsonNull}
	case structwire.Number:
		return jsonScalar{kind: jsonNumber, num: v.Num}
	case structwire.String:
		return jsonScalar{kind: jsonString, str: structwire.View(v.Bytes)}
	case structwire.Bool:
		return jsonScalar{kind: jsonBool, boolean: v.Boolean}
	}
	return jsonScalar{}
}

// appendField appends field fd with value v, of its messages the fields
// mask keeps.
func appendField(out []byte, fd protoreflect.FieldDescriptor, v structwire.Value, mask *fieldMask) ([]byte, error) {
	switch {
	case fd.IsList():
		if v.Kind != structwire.List {
			return out, errSlowPath
		}
		err := structwire.EachValue(v.Bytes, func(e structwire.Value) error {
			var err error
			out, err = appendSingular(out, fd, e, mask)
			return err
		})
		return out, err
	case fd.IsMap():
		return appendMap(out, fd, v, mask)
	}
	return appendSingular(out, fd, v, mask)
}

// appendSingular appends one value of fd, or of a list of fd: a message,
// or a scalar (nothing for an enum name this client does not know).
func appendSingular(out []byte, fd protoreflect.FieldDescriptor, v structwire.Value, mask *fieldMask) ([]byte, error) {
	if fd.Message() == nil {
		return appendScalar(out, fd, scalarOf(v))
	}
	out = protowire.AppendTag(out, fd.Number(), protowire.BytesType)
	at := len(out)
	out, err := appendMessageValue(out, fd.Message(), v, mask)
	if err != nil {
		return out, err
	}
	return prefixLength(out, at), nil
}

// appendMessageValue appends the fields of md's message that v gives: an
// object of its fields, or, for a well-known type, its Value read by
// protojson.
func appendMessageValue(out []byte, md protoreflect.MessageDescriptor, v structwire.Value, mask *fieldMask) ([]byte, error) {
	if md.FullName().Parent() == "google.protobuf" {
		return appendWellKnown(out, md, v.Raw)
	}
	if v.Kind != structwire.Object {
		return out, errSlowPath
	}
	return appendMessage(out, v.Bytes, md, mask)
}

// appendMap appends the entries of map field fd that the object v gives.
func appendMap(out []byte, fd protoreflect.FieldDescriptor, v structwire.Value, mask *fieldMask) ([]byte, error) {
	if v.Kind != structwire.Object {
		return out, errSlowPath
	}
	var keys []string // the keys read: the Struct keeps the last of one sent twice
	for b := v.Bytes; len(b) > 0; {
		k, val, rest, err := structwire.Entry(b)
		if err != nil {
			return out, err
		}
		b = rest
		if k == nil {
			continue
		}
		key := structwire.View(k)
		if slices.Contains(keys, key) {
			return out, errSlowPath
		}
		keys = append(keys, key)
		e, err := structwire.ReadValue(val)
		if err != nil {
			return out, err
		}
		start := len(out)
		out = protowire.AppendTag(out, fd.Number(), protowire.BytesType)
		at := len(out)
		if out, err = appendMapKey(out, fd.MapKey(), key); err != nil {
			return out, err
		}
		keyEnd := len(out)
		if out, err = appendSingular(out, fd.MapValue(), e, mask); err != nil {
			return out, err
		}
		if len(out) == keyEnd && fd.MapValue().Message() == nil {
			out = out[:start] // an enum name this client does not know: no entry
			continue
		}
		out = prefixLength(out, at)
	}
	return out, nil
}

// prefixLength makes out[at:] a length-delimited field's payload, its
// length written before it.
func prefixLength(out []byte, at int) []byte {
	n := len(out) - at
	size := protowire.SizeVarint(uint64(n))
	out = append(out, make([]byte, size)...)
	copy(out[at+size:], out[at:at+n])
	protowire.AppendVarint(out[at:at], uint64(n))
	return out
}

// wireDatapath is networkConfig.datapathProvider of a Struct's wire form,
// when it is a string: the enum name sent, which the enum may not know.
func wireDatapath(b []byte) string {
	network := lookup(b, "networkConfig")
	if network.Kind != structwire.Object {
		return ""
	}
	if dp := lookup(network.Bytes, "datapathProvider"); dp.Kind == structwire.String {
		return strings.Clone(structwire.View(dp.Bytes))
	}
	return ""
}

// lookup is the value of key in a Struct's wire form (fromWire has read it
// already: each key is there once).
func lookup(b []byte, key string) structwire.Value {
	for len(b) > 0 {
		k, val, rest, err := structwire.Entry(b)
		if err != nil {
			return structwire.Value{}
		}
		b = rest
		if k != nil && structwire.View(k) == key {
			v, _ := structwire.ReadValue(val)
			return v
		}
	}
	return structwire.Value{}
}
