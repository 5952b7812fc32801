package kube_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/test/fleetgen"
)

// checkObjectJSON holds objectJSON to marshalObject, byte for byte,
// errors included; it reports whether the wire path wrote it.
func checkObjectJSON(t *testing.T, data *structpb.Struct) (wire bool) {
	t.Helper()
	want, werr := kube.MarshalObject("Pod", "v1", data)
	got, wire, gerr := kube.ObjectJSON("Pod", "v1", data)
	switch {
	case werr != nil || gerr != nil:
		if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
			t.Fatalf("errors differ: got %v, want %v", gerr, werr)
		}
	case !bytes.Equal(got, want):
		t.Fatalf("objectJSON differs:\n got %s\nwant %s", got, want)
	}
	return wire
}

func structOf(t testing.TB, raw []byte) *structpb.Struct {
	t.Helper()
	var s structpb.Struct
	if err := protojson.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return &s
}

// listItem is one item of a kubectl List file.
type listItem struct {
	file string
	raw  json.RawMessage
}

// listItems reads the items of the kubectl List files that pattern
// matches, and fails when it matches none.
func listItems(t *testing.T, pattern string) []listItem {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no kubectl Lists match %s: %v", pattern, err)
	}
	var items []listItem
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var list struct{ Items []json.RawMessage }
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(p, err)
		}
		for _, it := range list.Items {
			items = append(items, listItem{p, it})
		}
	}
	return items
}

// objectEdges are objects at encoding/json's and lenient's edges.
var objectEdges = []string{
	`{}`,
	`{"kind":"NotPod","apiVersion":"v9","metadata":{"name":"x"}}`,
	`{"metadata":{"name":"<a&b>","annotations":{"q":"say \"hi\"\\ \n\t\r\u0001\u001f","u":"é ünïcødé \u2028 \u2029 ☃"}}}`,
	`{"spec":{"n":[0,-0,1,-1,0.5,1e-6,1e-7,1.5e-10,123456789,1e20,1e21,1.7976931348623157e308,5e-324,12345678901234567890]}}`,
	`{"spec":{"ports":[{"targetPort":{"intVal":8080}},{"targetPort":{"type":1,"strVal":"https"}},{"targetPort":{"type":1,"strVal":"","intVal":3}}]}}`,
	`{"spec":{"a":{"type":0},"b":{"strVal":""},"c":{"intVal":null},"d":{"intVal":{"x":{"intVal":1}}},"e":{"strVal":7,"intVal":8}}}`,
	`{"spec":{"list":[[],{},null,true,false,"s",[{"intVal":1}]],"nested":{"deep":{"deeper":[{"strVal":"p"}]}}}}`,
	`{"spec":{"type":1,"intVal":2}}`,
	`{"metadata":{"labels":{"b":"2","a":"1","B":"3","":"empty","aa":"x"}}}`,
}

// TestObjectJSONMatchesMarshal: objectJSON writes what json.Marshal wrote
// of the object as a map, for generated typical clusters' objects, the
// bundled kubectl dumps and the edges.
func TestObjectJSONMatchesMarshal(t *testing.T) {
	n := 0
	shape := fleetgen.TypicalCluster
	fleet, err := fleetgen.Generate(fleetgen.Options{Clusters: 4, Projects: 2, Seed: 5, Kube: true, KubeShape: &shape})
	if err != nil {
		t.Fatal(err)
	}
	for _, objs := range fleet.Kube {
		for _, o := range objs {
			if !checkObjectJSON(t, structOf(t, o.JSON)) {
				t.Fatalf("a generated object took the Struct path: %.200s", o.JSON)
			}
			n++
		}
	}
	for _, it := range listItems(t, "../../testdata/demo/kube/*.json") {
		if !checkObjectJSON(t, structOf(t, it.raw)) {
			t.Fatalf("a dumped object took the Struct path: %.200s", it.raw)
		}
		n++
	}
	for _, raw := range objectEdges {
		checkObjectJSON(t, structOf(t, []byte(raw)))
	}
	// Numbers JSON has no text for: the same error.
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		checkObjectJSON(t, &structpb.Struct{Fields: map[string]*structpb.Value{"spec": structpb.NewNumberValue(f)}})
	}
	// A Value of no kind is null, as AsMap makes it (through the Struct).
	checkObjectJSON(t, &structpb.Struct{Fields: map[string]*structpb.Value{"spec": {}, "status": nil}})

	if n < 1000 {
		t.Fatalf("only %d objects compared", n)
	}
}

// FuzzObjectJSON: for any JSON object, objectJSON writes what json.Marshal
// wrote of it as a map.
func FuzzObjectJSON(f *testing.F) {
	for _, raw := range objectEdges {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var s structpb.Struct
		if protojson.Unmarshal(raw, &s) != nil {
			return
		}
		checkObjectJSON(t, &s)
	})
}
