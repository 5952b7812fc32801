package gcpfake

import (
	"testing"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/fleetscan/fleetscan/test/fleetgen"
)

// The codec's ListAssets pages decode to the response it was given, real
// size or not; a page with an asset it has no encoding of (a Kubernetes
// asset) is encoded whole, and so is any other message.
func TestServerCodecIsMarshal(t *testing.T) {
	for _, realSize := range []bool{false, true} {
		f, err := fleetgen.Generate(fleetgen.Options{Clusters: 120, Projects: 30, Seed: 3, RealSize: realSize})
		if err != nil {
			t.Fatal(err)
		}
		x, err := newIndex(f)
		if err != nil {
			t.Fatal(err)
		}
		c := serverCodec{x.encoded}
		all := x.assets[f.Org]
		if len(x.encoded) != len(f.Clusters) || len(all) != len(f.Clusters) {
			t.Fatalf("%d encodings, %d assets, for %d clusters", len(x.encoded), len(all), len(f.Clusters))
		}
		uncached := &assetpb.Asset{Name: "//container.googleapis.com/projects/p/locations/l/k8s/namespaces/default/pods/x",
			Resource: &assetpb.Resource{Data: &structpb.Struct{}}}
		for _, r := range []*assetpb.ListAssetsResponse{
			{ReadTime: x.readTime, Assets: all[:50], NextPageToken: "next"},
			{ReadTime: x.readTime, Assets: all},
			{ReadTime: x.readTime},
			{ReadTime: x.readTime, Assets: append([]*assetpb.Asset{uncached}, all[:3]...)},
		} {
			b, err := c.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			got := &assetpb.ListAssetsResponse{}
			if err := c.Unmarshal(b, got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, r) {
				t.Errorf("real size %t, %d assets: the codec's page decodes to another response", realSize, len(r.Assets))
			}
			if want, _ := proto.Marshal(r); len(b) != len(want) {
				t.Errorf("real size %t, %d assets: %d bytes, proto.Marshal writes %d", realSize, len(r.Assets), len(b), len(want))
			}
		}
	}
	if _, err := (serverCodec{}).Marshal("not a message"); err == nil || err.Error() != "gcpfake: cannot encode string" {
		t.Errorf("Marshal(string) = %v, want gcpfake: cannot encode string", err)
	}
	if err := (serverCodec{}).Unmarshal(nil, 1); err == nil || err.Error() != "gcpfake: cannot decode into int" {
		t.Errorf("Unmarshal(int) = %v, want gcpfake: cannot decode into int", err)
	}
}
