package discovery

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/fleetscan/fleetscan/scanner/structwire"
)

// fromWire fills m from b, the wire form of a Struct (Cloud Asset
// Inventory's resource.data, as structwire.Codec keeps it), with
// protojson's semantics and DiscardUnknown, without the Struct or JSON
// text between: keys are JSON or proto field names, unknown keys and enum
// names are dropped, null leaves a field unset, 64-bit integers may be
// strings. A well-known type's value (a Duration, a wrapper) is decoded by
// protojson on its own. Anything else that protojson would refuse, and
// wire forms no JSON text gives (a key sent twice, a value of two kinds),
// return errSlowPath, so that the caller takes the round trip and its
// words.
func fromWire(b []byte, m protoreflect.Message) error {
	fields := m.Descriptor().Fields()
	var seen [4]uint64 // field numbers below 256 already set: a key sent twice
	for len(b) > 0 {
		key, val, rest, err := structwire.Entry(b)
		if err != nil {
			return err
		}
		b = rest
		if key == nil {
			continue // not a field of Struct
		}
		fd := fields.ByJSONName(structwire.View(key))
		if fd == nil {
			if fd = fields.ByTextName(structwire.View(key)); fd == nil {
				// DiscardUnknown, once proto would have read it.
				if err := structwire.CheckValue(val); err != nil {
					return err
				}
				continue
			}
		}
		if n := fd.Number(); n < 256 {
			if seen[n/64]&(1<<(n%64)) != 0 {
				return errSlowPath
			}
			seen[n/64] |= 1 << (n % 64)
		} else {
			return errSlowPath
		}
		if od := fd.ContainingOneof(); od != nil && m.WhichOneof(od) != nil {
			return errSlowPath // protojson: a second member of a oneof
		}
		v, err := structwire.ReadValue(val)
		if err != nil {
			return err
		}
		if v.Kind == structwire.Null && !isValue(fd) {
			continue
		}
		if err := setWireField(m, fd, v); err != nil {
			return err
		}
	}
	return nil
}

// scalarOf is v as a jsonScalar.
func scalarOf(v structwire.Value) jsonScalar {
	switch v.Kind {
	case structwire.Null:
		return jsonScalar{kind: jsonNull}
	case structwire.Number:
		return jsonScalar{kind: jsonNumber, num: v.Num}
	case structwire.String:
		return jsonScalar{kind: jsonString, str: structwire.View(v.Bytes), view: true}
	case structwire.Bool:
		return jsonScalar{kind: jsonBool, boolean: v.Boolean}
	}
	return jsonScalar{}
}

// setWireField sets fd of m from v.
func setWireField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v structwire.Value) error {
	switch {
	case fd.IsList():
		if v.Kind != structwire.List {
			return errSlowPath
		}
		list := m.Mutable(fd).List()
		return structwire.EachValue(v.Bytes, func(e structwire.Value) error {
			if fd.Message() != nil {
				el := list.NewElement()
				if err := setWireMessage(el.Message(), e); err != nil {
					return err
				}
				list.Append(el)
				return nil
			}
			x, ok, err := scalar(fd, scalarOf(e))
			if err != nil {
				return err
			}
			if ok {
				list.Append(x)
			}
			return nil
		})
	case fd.IsMap():
		if v.Kind != structwire.Object {
			return errSlowPath
		}
		mp := m.Mutable(fd).Map()
		for b := v.Bytes; len(b) > 0; {
			k, val, rest, err := structwire.Entry(b)
			if err != nil {
				return err
			}
			b = rest
			if k == nil {
				continue
			}
			key, err := mapKey(fd.MapKey(), string(k))
			if err != nil {
				return err
			}
			if mp.Has(key) {
				return errSlowPath // a key sent twice: the Struct keeps the last
			}
			e, err := structwire.ReadValue(val)
			if err != nil {
				return err
			}
			if fd.MapValue().Message() != nil {
				el := mp.NewValue()
				if err := setWireMessage(el.Message(), e); err != nil {
					return err
				}
				mp.Set(key, el)
				continue
			}
			x, ok, err := scalar(fd.MapValue(), scalarOf(e))
			if err != nil {
				return err
			}
			if ok {
				mp.Set(key, x)
			}
		}
		return nil
	case fd.Message() != nil:
		return setWireMessage(m.Mutable(fd).Message(), v)
	}
	x, ok, err := scalar(fd, scalarOf(v))
	if err != nil || !ok {
		return err
	}
	m.Set(fd, x)
	return nil
}

// setWireMessage decodes v into m: an object of its fields, or, for a
// well-known type, its Value with protojson.
func setWireMessage(m protoreflect.Message, v structwire.Value) error {
	if m.Descriptor().FullName().Parent() == "google.protobuf" {
		var sv structpb.Value
		if err := proto.Unmarshal(v.Raw, &sv); err != nil {
			return errSlowPath
		}
		return setWellKnown(m, &sv)
	}
	if v.Kind != structwire.Object {
		return errSlowPath
	}
	return fromWire(v.Bytes, m)
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
