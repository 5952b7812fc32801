package kube

import (
	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/fleetscan/fleetscan/scanner/catalog"
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

// Needled reads one object of kind as Load does: skipped reports whether
// its data holds none of the needles of checks (the codec then skips it),
// and kept whether matters keeps it once decoded (err: it does not decode).
func Needled(kind string, data *structpb.Struct, checks []*catalog.KubernetesCheck) (skipped, kept bool, err error) {
	b, err := proto.Marshal(data)
	if err != nil {
		return false, false, err
	}
	skipped = !needlesOf(checks).mayMatter(kind, b)
	apiVersion := ""
	for _, k := range assetKinds {
		if k.kind == kind {
			apiVersion = k.apiVersion
		}
	}
	raw, err := objectJSON(kind, apiVersion, &assetpb.Asset{Resource: &assetpb.Resource{Data: data}}, nil)
	if err != nil {
		return skipped, false, err
	}
	var one Objects
	if err := one.addKind(kind, raw); err != nil {
		return skipped, false, err
	}
	return skipped, matters(&one, checks), nil
}
