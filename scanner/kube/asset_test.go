package kube

import (
	"testing"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Cloud Asset Inventory gives the object without apiVersion and kind, and
// may spell an IntOrString as its protobuf message: the object is rebuilt
// as kubectl prints it.
func TestObjectJSONFromAsset(t *testing.T) {
	data, err := structpb.NewStruct(map[string]any{
		"metadata": map[string]any{"name": "web", "namespace": "shop"},
		"spec": map[string]any{"type": "NodePort", "ports": []any{
			map[string]any{"port": 80, "targetPort": map[string]any{"type": 0, "intVal": 8080}, "nodePort": 31000},
			map[string]any{"port": 443, "targetPort": map[string]any{"type": 1, "strVal": "https"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := objectJSON("Service", "v1", &assetpb.Asset{Resource: &assetpb.Resource{Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	var o Objects
	if err := o.add(raw); err != nil {
		t.Fatalf("add(%s): %v", raw, err)
	}
	if len(o.Services) != 1 {
		t.Fatalf("services = %d", len(o.Services))
	}
	s := o.Services[0]
	if s.Namespace != "shop" || s.Name != "web" || s.Spec.Type != "NodePort" || s.Kind != "Service" || s.APIVersion != "v1" ||
		s.Spec.Ports[0].TargetPort.IntValue() != 8080 || s.Spec.Ports[1].TargetPort.String() != "https" {
		t.Errorf("service = %+v", s)
	}
	if _, err := objectJSON("Service", "v1", &assetpb.Asset{}); err == nil || err.Error() != "no resource data (content type RESOURCE needed)" {
		t.Errorf("asset without data: %v", err)
	}
}
