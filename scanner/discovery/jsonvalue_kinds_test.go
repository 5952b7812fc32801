package discovery

import (
	"bytes"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestAppendValueIsMarshal: appendValue writes a field of every scalar
// kind as proto.Marshal does, at the edges of each kind's range, including
// the kinds the Container API does not use today.
func TestAppendValueIsMarshal(t *testing.T) {
	kinds := []descriptorpb.FieldDescriptorProto_Type{
		descriptorpb.FieldDescriptorProto_TYPE_BOOL, descriptorpb.FieldDescriptorProto_TYPE_INT32, descriptorpb.FieldDescriptorProto_TYPE_INT64,
		descriptorpb.FieldDescriptorProto_TYPE_SINT32, descriptorpb.FieldDescriptorProto_TYPE_SINT64, descriptorpb.FieldDescriptorProto_TYPE_UINT32,
		descriptorpb.FieldDescriptorProto_TYPE_UINT64, descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, descriptorpb.FieldDescriptorProto_TYPE_FIXED32,
		descriptorpb.FieldDescriptorProto_TYPE_SFIXED64, descriptorpb.FieldDescriptorProto_TYPE_FIXED64, descriptorpb.FieldDescriptorProto_TYPE_FLOAT,
		descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_BYTES,
	}
	msg := &descriptorpb.DescriptorProto{Name: proto.String("Kinds")}
	for i, k := range kinds {
		msg.Field = append(msg.Field, &descriptorpb.FieldDescriptorProto{Name: proto.String("f" + k.String()), Number: proto.Int32(int32(i + 1)),
			Type: k.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()})
	}
	// A field number past 15 needs a tag of two bytes.
	msg.Field = append(msg.Field, &descriptorpb.FieldDescriptorProto{Name: proto.String("far"), Number: proto.Int32(100000),
		Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()})
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{Name: proto.String("kinds.proto"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{msg}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().Get(0)
	values := func(k protoreflect.Kind) []protoreflect.Value {
		switch k {
		case protoreflect.BoolKind:
			return []protoreflect.Value{protoreflect.ValueOfBool(true)}
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
			return []protoreflect.Value{protoreflect.ValueOfInt32(1), protoreflect.ValueOfInt32(-1), protoreflect.ValueOfInt32(math.MinInt32), protoreflect.ValueOfInt32(math.MaxInt32)}
		case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
			return []protoreflect.Value{protoreflect.ValueOfInt64(1), protoreflect.ValueOfInt64(-1), protoreflect.ValueOfInt64(math.MinInt64), protoreflect.ValueOfInt64(math.MaxInt64)}
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
			return []protoreflect.Value{protoreflect.ValueOfUint32(1), protoreflect.ValueOfUint32(math.MaxUint32)}
		case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			return []protoreflect.Value{protoreflect.ValueOfUint64(1), protoreflect.ValueOfUint64(math.MaxUint64)}
		case protoreflect.FloatKind:
			return []protoreflect.Value{protoreflect.ValueOfFloat32(-1.5), protoreflect.ValueOfFloat32(math.MaxFloat32)}
		case protoreflect.DoubleKind:
			return []protoreflect.Value{protoreflect.ValueOfFloat64(-1.5), protoreflect.ValueOfFloat64(math.SmallestNonzeroFloat64)}
		case protoreflect.StringKind:
			return []protoreflect.Value{protoreflect.ValueOfString("é"), protoreflect.ValueOfString(string(make([]byte, 200)))}
		case protoreflect.BytesKind:
			return []protoreflect.Value{protoreflect.ValueOfBytes([]byte{0, 0xff})}
		}
		return nil
	}
	for i := range md.Fields().Len() {
		f := md.Fields().Get(i)
		vs := values(f.Kind())
		if len(vs) == 0 {
			t.Fatalf("no values for kind %s", f.Kind())
		}
		for _, v := range vs {
			m := dynamicpb.NewMessage(md)
			m.Set(f, v)
			want, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendValue(nil, f, v); !bytes.Equal(got, want) {
				t.Errorf("%s = %v: appendValue writes %x, proto.Marshal %x", f.Name(), v, got, want)
			}
		}
	}
}
