package kube

import (
	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// ObjectJSON is objectJSON of an asset holding data, for tests outside the
// package; wire reports whether the wire path wrote it (not
// marshalObject).
func ObjectJSON(kind, apiVersion string, data *structpb.Struct) (out []byte, wire bool, err error) {
	b, err := proto.Marshal(data)
	if err != nil {
		return nil, false, err
	}
	_, werr := appendObjectJSON(nil, kind, apiVersion, b)
	out, err = objectJSON(kind, apiVersion, &assetpb.Asset{Resource: &assetpb.Resource{Data: data}}, nil)
	return out, werr == nil, err
}

// MarshalObject is marshalObject of data, the reference objectJSON is
// held to.
func MarshalObject(kind, apiVersion string, data *structpb.Struct) ([]byte, error) {
	b, err := proto.Marshal(data)
	if err != nil {
		return nil, err
	}
	return marshalObject(kind, apiVersion, b)
}
