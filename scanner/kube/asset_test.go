package kube

import (
	"testing"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"github.com/fleetscan/fleetscan/scanner"
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

// An object the inventory holds but fleetscan cannot decode makes its
// cluster undecidable (a scan error and UNKNOWN), never a silent pass; a
// cluster the inventory holds nothing of is undecidable too.
func TestAssetInventoryUndecodable(t *testing.T) {
	a := &AssetInventory{}
	a.once.Do(func() {}) // loaded: nothing to list
	a.objects, a.seen, a.broken = map[scanner.ClusterKey]*Objects{}, map[scanner.ClusterKey]int{}, map[scanner.ClusterKey][]string{}
	bad, err := structpb.NewStruct(map[string]any{"metadata": map[string]any{"name": "web", "namespace": "shop"}, "spec": map[string]any{"type": 7}})
	if err != nil {
		t.Fatal(err)
	}
	name := "//container.googleapis.com/projects/shop-prod/locations/europe-west1/clusters/web/k8s/namespaces/shop/services/web"
	a.add("Service", "v1", &assetpb.Asset{Name: name, Resource: &assetpb.Resource{Data: bad}}, nil)
	_, covered, err := a.Check(t.Context(), &scanner.Cluster{ProjectID: "shop-prod", Location: "europe-west1", Name: "web"}, nil)
	want := "1 Kubernetes object(s) in Cloud Asset Inventory could not be read, e.g. " + name +
		": json: cannot unmarshal number into Go struct field ServiceSpec.spec.type of type v1.ServiceType"
	if !covered || err == nil || err.Error() != want {
		t.Errorf("Check() = covered %v, %v\nwant the error %s", covered, err, want)
	}
	if e, ok := err.(assetError); !ok || e.Code() != "INVALID_DATA" || e.API() != "cloudasset" {
		t.Errorf("error %#v does not name cloudasset INVALID_DATA", err)
	}
	_, _, err = a.Check(t.Context(), &scanner.Cluster{ProjectID: "shop-prod", Location: "europe-west1", Name: "api"}, nil)
	if err == nil || err.Error() != "Cloud Asset Inventory holds no Kubernetes objects of this cluster (every cluster has at least the default/kubernetes Service)" {
		t.Errorf("a cluster without objects: %v", err)
	}
}
