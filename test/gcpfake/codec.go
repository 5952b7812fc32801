package gcpfake

import (
	"fmt"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// serverCodec is the fake's gRPC codec: protobuf, with the cluster assets
// of a ListAssets page encoded once, when the fleet is indexed, rather
// than at every call. A page of 1,000 real-size clusters (fleetgen
// RealSize) is 9 MB of nested Structs that take 150 ms to encode on this
// machine's cores, which the scanner shares: the fake's cost, not the
// scanner's, which a real Cloud Asset Inventory pays on its own servers.
// The bytes are what proto.Marshal writes for the response, fields in
// another order (TestServerCodecIsMarshal).
type serverCodec struct{ encoded map[*assetpb.Asset][]byte }

// assetsField is ListAssetsResponse.assets's number.
var assetsField = (&assetpb.ListAssetsResponse{}).ProtoReflect().Descriptor().Fields().ByName("assets").Number()

func (c serverCodec) Marshal(v any) ([]byte, error) {
	if r, ok := v.(*assetpb.ListAssetsResponse); ok {
		if b, ok := c.assets(r); ok {
			return b, nil
		}
	}
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("gcpfake: cannot encode %T", v)
	}
	return proto.Marshal(m)
}

// assets encodes r from its assets' encodings; false when one has none
// (Kubernetes assets, made for each call).
func (c serverCodec) assets(r *assetpb.ListAssetsResponse) ([]byte, bool) {
	n := 0
	for _, a := range r.Assets {
		enc, ok := c.encoded[a]
		if !ok {
			return nil, false
		}
		n += len(enc) + 8
	}
	b, err := proto.Marshal(&assetpb.ListAssetsResponse{ReadTime: r.ReadTime, NextPageToken: r.NextPageToken})
	if err != nil {
		return nil, false
	}
	b = append(make([]byte, 0, len(b)+n), b...)
	for _, a := range r.Assets {
		b = protowire.AppendTag(b, assetsField, protowire.BytesType)
		b = protowire.AppendBytes(b, c.encoded[a])
	}
	return b, true
}

func (serverCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("gcpfake: cannot decode into %T", v)
	}
	return proto.Unmarshal(data, m)
}

func (serverCodec) Name() string { return "proto" }
