package kube

import (
	"testing"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"github.com/fleetscan/fleetscan/scanner"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/fleetscan/fleetscan/scanner/structwire"
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
	raw, err := objectJSON("Service", "v1", &assetpb.Asset{Resource: &assetpb.Resource{Data: data}}, nil)
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
	if _, err := objectJSON("Service", "v1", &assetpb.Asset{}, nil); err == nil || err.Error() != "no resource data (content type RESOURCE needed)" {
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
	a.add("Service", "v1", &assetpb.Asset{Name: name, Resource: &assetpb.Resource{Data: bad}}, wireObject{}, nil)
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

// Through a listing's codec, an object that holds none of its kind's
// needles is counted but neither written nor decoded, so one that would
// not decode is no error: it holds nothing a check reads. One that holds a
// needle and does not decode makes its cluster undecidable.
func TestAssetInventoryNeedles(t *testing.T) {
	a := &AssetInventory{}
	a.once.Do(func() {})
	a.objects, a.seen, a.broken = map[scanner.ClusterKey]*Objects{}, map[scanner.ClusterKey]int{}, map[scanner.ClusterKey][]string{}
	prefix := "//container.googleapis.com/projects/shop-prod/locations/europe-west1/clusters/web/k8s/namespaces/shop/services/"
	var page []byte
	for name, spec := range map[string]map[string]any{
		"nodeport-bad": {"type": "NodePort", "ports": 7.0},
		"number-type":  {"type": 7.0},
		"clusterip":    {"type": "ClusterIP"},
		"loadbalancer": {"type": "LoadBalancer"},
	} {
		data, err := structpb.NewStruct(map[string]any{"metadata": map[string]any{"name": name, "namespace": "shop"}, "spec": spec})
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(&assetpb.Asset{Name: prefix + name, AssetType: "k8s.io/Service", Resource: &assetpb.Resource{Data: data}})
		if err != nil {
			t.Fatal(err)
		}
		page = protowire.AppendBytes(protowire.AppendTag(page, 2, protowire.BytesType), b)
	}
	codec := objectCodec("Service", "v1", needlesOf(nil))
	var resp assetpb.ListAssetsResponse
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(page)}, &resp); err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, as := range resp.Assets {
		w, ok := codec.Take(as)
		if !ok || as.GetResource().GetData() != nil {
			t.Fatalf("%s: the codec did not read its data", as.Name)
		}
		if w.skip {
			skipped++
		}
		a.add("Service", "v1", as, w, nil)
	}
	key := scanner.ClusterKey{ProjectID: "shop-prod", Location: "europe-west1", Name: "web"}
	if skipped != 2 || a.seen[key] != 4 || len(a.objects[key].Services) != 1 || a.objects[key].Services[0].Name != "loadbalancer" {
		t.Errorf("skipped %d, seen %d, kept %+v: want 2 skipped of 4 seen, the LoadBalancer kept", skipped, a.seen[key], a.objects[key])
	}
	// An object skipped unread must still be what proto reads: data that
	// is not fails the call with proto's words, as without the needles.
	bad := protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "\xff") // a string Value not UTF-8
	entry := protowire.AppendBytes(protowire.AppendTag(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "name"), 2, protowire.BytesType), bad)
	data := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), entry)
	resource := protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), data)
	asset := protowire.AppendBytes(protowire.AppendTag(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), prefix+"odd"), 3, protowire.BytesType), resource)
	odd := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), asset)
	var viaProto assetpb.ListAssetsResponse
	perr := proto.Unmarshal(odd, &viaProto)
	if perr == nil {
		t.Fatal("proto reads a string that is not UTF-8")
	}
	var viaCodec assetpb.ListAssetsResponse
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(odd)}, &viaCodec); err == nil || err.Error() != perr.Error() || codec.Kept() != 0 {
		t.Errorf("a page with data proto refuses: %v (kept %d), want proto's %v", err, codec.Kept(), perr)
	}

	_, _, err := a.Check(t.Context(), &scanner.Cluster{ProjectID: "shop-prod", Location: "europe-west1", Name: "web"}, nil)
	want := "1 Kubernetes object(s) in Cloud Asset Inventory could not be read, e.g. " + prefix + "nodeport-bad" +
		": json: cannot unmarshal number into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort"
	if err == nil || err.Error() != want {
		t.Errorf("Check() = %v\nwant the error %s", err, want)
	}
}

// Wire forms no JSON text gives (a key sent twice, a Value of no kind) go
// through the Struct.
func TestObjectJSONWireForms(t *testing.T) {
	entry := func(key string, value []byte) []byte {
		e := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), key)
		if value != nil {
			e = protowire.AppendBytes(protowire.AppendTag(e, 2, protowire.BytesType), value)
		}
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), e)
	}
	str := func(s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), s)
	}
	twice := append(entry("a", str("first")), entry("a", str("last"))...)
	if _, err := appendObjectJSON(nil, "Pod", "v1", twice); err != structwire.ErrOdd {
		t.Errorf("a key sent twice: %v, want ErrOdd", err)
	}
	if got, err := marshalObject("Pod", "v1", twice); err != nil || string(got) != `{"a":"last","apiVersion":"v1","kind":"Pod"}` {
		t.Errorf("a key sent twice, through the Struct: %s (%v)", got, err)
	}
	noKind := entry("spec", nil)
	if _, err := appendObjectJSON(nil, "Pod", "v1", noKind); err != structwire.ErrOdd {
		t.Errorf("a Value of no kind: %v, want ErrOdd", err)
	}
	data := &structpb.Struct{Fields: map[string]*structpb.Value{"spec": {}}}
	got, err := objectJSON("Pod", "v1", &assetpb.Asset{Resource: &assetpb.Resource{Data: data}}, nil)
	if err != nil || string(got) != `{"apiVersion":"v1","kind":"Pod","spec":null}` {
		t.Errorf("a Value of no kind, through the Struct: %s, %v", got, err)
	}
}

// FuzzObjectJSONWire: for any bytes, appendObjectJSON either leaves them
// (ErrOdd) or reads what proto reads as a Struct, writing what
// marshalObject writes of it: the codec keeps only what proto would read.
func FuzzObjectJSONWire(f *testing.F) {
	for _, m := range []map[string]any{{"metadata": map[string]any{"name": "a"}, "spec": map[string]any{"ports": []any{map[string]any{"intVal": 80}}}}, {}} {
		s, _ := structpb.NewStruct(m)
		b, _ := proto.Marshal(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := appendObjectJSON(nil, "Pod", "v1", b)
		if err != nil {
			return
		}
		if perr := proto.Unmarshal(b, &structpb.Struct{}); perr != nil {
			t.Fatalf("appendObjectJSON read %x, which proto refuses: %v", b, perr)
		}
		want, err := marshalObject("Pod", "v1", b)
		if err != nil || string(got) != string(want) {
			t.Fatalf("appendObjectJSON wrote %s, marshalObject %s (%v)", got, want, err)
		}
	})
}
