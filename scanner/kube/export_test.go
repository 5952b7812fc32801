package kube

import (
	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// ObjectJSON is objectJSON of an asset holding data, for tests outside the
// package.
func ObjectJSON(kind, apiVersion string, data *structpb.Struct) ([]byte, error) {
	return objectJSON(kind, apiVersion, &assetpb.Asset{Resource: &assetpb.Resource{Data: data}})
}
