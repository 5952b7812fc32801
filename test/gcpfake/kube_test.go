package gcpfake_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	asset "cloud.google.com/go/asset/apiv1"
	"cloud.google.com/go/asset/apiv1/assetpb"
	gocmp "github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
)

// kubeTypes are the nine Kubernetes asset types, in the order the fake
// names them in messages.
var kubeTypes = []string{
	"k8s.io/Service", "k8s.io/Pod", "apps.k8s.io/DaemonSet", "apps.k8s.io/Deployment", "apps.k8s.io/StatefulSet",
	"apps.k8s.io/ReplicaSet", "batch.k8s.io/Job", "batch.k8s.io/CronJob", "networking.k8s.io/NetworkPolicy",
}

const kubeTypeList = `["k8s.io/Service" "k8s.io/Pod" "apps.k8s.io/DaemonSet" "apps.k8s.io/Deployment" "apps.k8s.io/StatefulSet" ` +
	`"apps.k8s.io/ReplicaSet" "batch.k8s.io/Job" "batch.k8s.io/CronJob" "networking.k8s.io/NetworkPolicy"]`

// kubeFleet has 3 folders, two of them nested, and every kind of object.
func kubeFleet(t testing.TB) *fleetgen.Fleet {
	return fleet(t, fleetgen.Options{Clusters: 50, Projects: 30, Seed: 18, Kube: true})
}

// listTypes pages through ListAssets of types with pages of size, checking
// each page's size.
func listTypes(t *testing.T, c *asset.Client, parent string, types []string, size int) []*assetpb.Asset {
	t.Helper()
	it := c.ListAssets(context.Background(), &assetpb.ListAssetsRequest{
		Parent: parent, AssetTypes: types, ContentType: assetpb.ContentType_RESOURCE,
	}, noRetry)
	p := iterator.NewPager(it, size, "")
	var all []*assetpb.Asset
	for {
		var pg []*assetpb.Asset
		next, err := p.NextPage(&pg)
		if err != nil {
			t.Fatalf("ListAssets(%s, %q): %v", parent, types, err)
		}
		if len(pg) > size || (next != "" && len(pg) != size) {
			t.Fatalf("ListAssets(%s, %q): page of %d assets with next token %q, want %d", parent, types, len(pg), next, size)
		}
		all = append(all, pg...)
		if next == "" {
			return all
		}
	}
}

// kubeWant is an object of the fleet as its asset should be.
type kubeWant struct {
	obj                        fleetgen.KubeObject
	project, cluster, location string // cluster is the cluster's asset name
}

// kubeResources maps a kind to the end of its objects' asset names, before
// the object's name: the API group (none for the core group) and resource.
var kubeResources = map[string]string{
	"Service": "services", "Pod": "pods",
	"DaemonSet": "apps/daemonsets", "Deployment": "apps/deployments", "StatefulSet": "apps/statefulsets", "ReplicaSet": "apps/replicasets",
	"Job": "batch/jobs", "CronJob": "batch/cronjobs",
	"NetworkPolicy": "networking.k8s.io/networkpolicies",
}

// kubeObjects returns every object of f by its expected asset name,
// computed from the Fleet alone.
func kubeObjects(t *testing.T, f *fleetgen.Fleet) map[string]kubeWant {
	t.Helper()
	out := map[string]kubeWant{}
	for id, cs := range f.ByProject {
		for _, c := range cs {
			cluster := assetName(id, c)
			for _, o := range f.Kube[id+"/"+c.GetLocation()+"/"+c.GetName()] {
				resource, known := kubeResources[o.Kind]
				if !known {
					t.Fatalf("object %s %s/%s of unknown kind", o.Kind, o.Namespace, o.Name)
				}
				name := cluster + "/k8s/namespaces/" + o.Namespace + "/" + resource + "/" + o.Name
				if _, dup := out[name]; dup {
					t.Fatalf("two objects have the asset name %s", name)
				}
				out[name] = kubeWant{obj: o, project: id, cluster: cluster, location: c.GetLocation()}
			}
		}
	}
	return out
}

// wantKubeNames is the asset names of the objects of projects of types,
// in the order of types, then name.
func wantKubeNames(objs map[string]kubeWant, projects map[string]bool, types []string) []string {
	var out []string
	for name, w := range objs {
		if projects[w.project] && slices.Contains(types, w.obj.AssetType) {
			out = append(out, name)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(cmp.Compare(slices.Index(types, objs[a].obj.AssetType), slices.Index(types, objs[b].obj.AssetType)), strings.Compare(a, b))
	})
	return out
}

// withoutTypeMeta is an object's JSON as a map, without apiVersion and kind.
func withoutTypeMeta(t *testing.T, js []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "apiVersion")
	delete(m, "kind")
	return m
}

// TestListKubeAssets lists the nine Kubernetes asset types of a generated
// fleet under the organization, a nested folder and a project, in pages of
// 7: every object comes once, as Cloud Asset Inventory serves it.
func TestListKubeAssets(t *testing.T) {
	f := kubeFleet(t)
	s := start(t, f, gcpfake.Options{})
	c := connect(t, s)
	objs := kubeObjects(t, f)
	kinds := map[string]bool{}
	for _, w := range objs {
		kinds[w.obj.AssetType] = true
	}
	if len(kinds) != len(kubeTypes) {
		t.Fatalf("the fleet has objects of %d asset types, want all %d", len(kinds), len(kubeTypes))
	}
	// The cluster assets, whose ancestors the objects share.
	ancestors := map[string][]string{}
	for _, a := range listAssets(t, c.asset, f.Org, 1000) {
		ancestors[a.GetName()] = a.GetAncestors()
	}

	var folder string // a folder with a folder in it
	for _, fo := range f.Folders {
		if strings.HasPrefix(fo.Parent, "folders/") && folder == "" {
			folder = fo.Parent
		}
	}
	project := f.Projects[slices.IndexFunc(f.Projects, func(p fleetgen.Project) bool { return len(f.ByProject[p.ID]) > 1 })]
	if folder == "" || len(under(f, folder)) == 0 {
		t.Fatalf("the test fleet has no nested folder with projects; pick another seed")
	}
	scopes := []struct {
		parent   string
		projects map[string]bool
	}{
		{f.Org, under(f, f.Org)},
		{folder, under(f, folder)},
		{"projects/" + project.ID, map[string]bool{project.ID: true}},
		{fmt.Sprintf("projects/%d", project.Number), map[string]bool{project.ID: true}},
	}
	if len(scopes[0].projects) != len(f.Projects) {
		t.Fatalf("under(org) = %d projects, want %d", len(scopes[0].projects), len(f.Projects))
	}
	for _, sc := range scopes {
		s.ResetCounters()
		got := listTypes(t, c.asset, sc.parent, kubeTypes, 7)
		want := wantKubeNames(objs, sc.projects, kubeTypes)
		t.Logf("%s: %d projects, %d objects", sc.parent, len(sc.projects), len(want))
		if diff := gocmp.Diff(want, names(got)); diff != "" {
			t.Fatalf("ListAssets(%s) names (-want +got):\n%s", sc.parent, diff)
		}
		if n := s.Calls()["asset.ListAssets"]; n != max(1, (len(want)+6)/7) {
			t.Errorf("ListAssets(%s): %d calls, want %d pages", sc.parent, n, (len(want)+6)/7)
		}
		for _, a := range got {
			w := objs[a.GetName()]
			wantRes := &assetpb.Resource{
				Version:              "v1",
				DiscoveryDocumentUri: "https://raw.githubusercontent.com/kubernetes/kubernetes/master/api/openapi-spec/swagger.json",
				DiscoveryName:        w.obj.Kind,
				Parent:               w.cluster,
				Location:             w.location,
			}
			r := proto.Clone(a.GetResource()).(*assetpb.Resource)
			r.Data = nil
			if a.GetAssetType() != w.obj.AssetType || !proto.Equal(r, wantRes) || !a.GetUpdateTime().AsTime().Equal(f.Now) {
				t.Fatalf("asset %s: type %q, resource %v, updated %v; want %q, %v, %v", a.GetName(), a.GetAssetType(), r, a.GetUpdateTime().AsTime(), w.obj.AssetType, wantRes, f.Now)
			}
			if !slices.Equal(a.GetAncestors(), ancestors[w.cluster]) || len(a.GetAncestors()) < 2 {
				t.Fatalf("asset %s: ancestors %q, want the cluster's %q", a.GetName(), a.GetAncestors(), ancestors[w.cluster])
			}
			data := a.GetResource().GetData().GetFields()
			if _, ok := data["apiVersion"]; ok {
				t.Fatalf("asset %s: resource.data has apiVersion", a.GetName())
			}
			if _, ok := data["kind"]; ok {
				t.Fatalf("asset %s: resource.data has kind", a.GetName())
			}
			js, err := protojson.Marshal(a.GetResource().GetData())
			if err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff(withoutTypeMeta(t, w.obj.JSON), withoutTypeMeta(t, js)); diff != "" {
				t.Fatalf("asset %s: resource.data (-object +data):\n%s", a.GetName(), diff)
			}
		}
	}

	// Types come in the request's order; one type alone; a repeat counts once.
	p := map[string]bool{project.ID: true}
	for _, types := range [][]string{
		{"networking.k8s.io/NetworkPolicy", "k8s.io/Service", "apps.k8s.io/DaemonSet"},
		{"k8s.io/Pod"},
		{"batch.k8s.io/CronJob", "batch.k8s.io/Job", "batch.k8s.io/CronJob"},
	} {
		got := names(listTypes(t, c.asset, f.Org, types, 5))
		if diff := gocmp.Diff(wantKubeNames(objs, under(f, f.Org), types), got); diff != "" {
			t.Errorf("ListAssets(%s, %q) names (-want +got):\n%s", f.Org, types, diff)
		}
		got = names(listTypes(t, c.asset, "projects/"+project.ID, types, 1000))
		if diff := gocmp.Diff(wantKubeNames(objs, p, types), got); diff != "" {
			t.Errorf("ListAssets(%s, %q) names (-want +got):\n%s", project.ID, types, diff)
		}
	}
}

// TestKubeAssetData decodes resource.data of each kind back into its
// k8s.io/api type: it is the object kubectl prints, but for apiVersion and
// kind.
func TestKubeAssetData(t *testing.T) {
	f := kubeFleet(t)
	c := connect(t, start(t, f, gcpfake.Options{}))
	objs := kubeObjects(t, f)
	decoders := map[string]func([]byte) (any, error){
		"Service":       decode[corev1.Service],
		"Pod":           decode[corev1.Pod],
		"DaemonSet":     decode[appsv1.DaemonSet],
		"Deployment":    decode[appsv1.Deployment],
		"StatefulSet":   decode[appsv1.StatefulSet],
		"ReplicaSet":    decode[appsv1.ReplicaSet],
		"Job":           decode[batchv1.Job],
		"CronJob":       decode[batchv1.CronJob],
		"NetworkPolicy": decode[networkingv1.NetworkPolicy],
	}
	seen := map[string]int{}
	for _, a := range listTypes(t, c.asset, "projects/"+f.Projects[0].ID, kubeTypes, 1000) {
		w := objs[a.GetName()]
		js, err := protojson.Marshal(a.GetResource().GetData())
		if err != nil {
			t.Fatal(err)
		}
		dec := decoders[w.obj.Kind]
		got, err := dec(js)
		if err != nil {
			t.Fatalf("asset %s: resource.data is not a %s: %v", a.GetName(), w.obj.Kind, err)
		}
		// The object without its apiVersion and kind.
		bare, _ := json.Marshal(withoutTypeMeta(t, w.obj.JSON))
		want, err := dec(bare)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Fatalf("asset %s: decoded resource.data (-object +data):\n%s", a.GetName(), diff)
		}
		seen[w.obj.Kind]++
	}
	if seen["Service"] == 0 || seen["Pod"] == 0 || seen["Deployment"] == 0 {
		t.Errorf("decoded %v", seen)
	}
}

func decode[T any](js []byte) (any, error) {
	v := new(T)
	err := json.Unmarshal(js, v)
	return v, err
}

// TestListKubeAssetsTokens: a page token is bound to the asset types it
// was issued for, and a fleet without objects lists none.
func TestListKubeAssetsTokens(t *testing.T) {
	f := kubeFleet(t)
	c := connect(t, start(t, f, gcpfake.Options{}))
	ctx := context.Background()
	req := func(types ...string) *assetpb.ListAssetsRequest {
		return &assetpb.ListAssetsRequest{Parent: f.Org, AssetTypes: types, ContentType: assetpb.ContentType_RESOURCE}
	}
	for _, tc := range []struct{ from, to []string }{
		{[]string{"k8s.io/Pod"}, []string{"k8s.io/Service"}},
		{[]string{"k8s.io/Pod", "k8s.io/Service"}, []string{"k8s.io/Service", "k8s.io/Pod"}},
		{[]string{clusterType}, []string{"k8s.io/Pod"}},
	} {
		var pg []*assetpb.Asset
		token, err := iterator.NewPager(c.asset.ListAssets(ctx, req(tc.from...), noRetry), 3, "").NextPage(&pg)
		if err != nil || token == "" {
			t.Fatalf("first page of %q: token %q, err %v", tc.from, token, err)
		}
		other := req(tc.to...)
		other.PageToken = token
		_, err = c.asset.ListAssets(ctx, other, noRetry).Next()
		wantStatus(t, err, codes.InvalidArgument, fmt.Sprintf("invalid page_token %q: not issued by this server for this request", token))
	}

	plain := smallFleet(t)
	pc := connect(t, start(t, plain, gcpfake.Options{}))
	if got := listTypes(t, pc.asset, plain.Org, kubeTypes, 100); len(got) != 0 {
		t.Errorf("a fleet without Kubernetes objects lists %d of them", len(got))
	}
}

// TestListKubeAssetsDeny: Options.Deny refuses Kubernetes assets of a
// project, folder or organization as it refuses their clusters.
func TestListKubeAssetsDeny(t *testing.T) {
	f := kubeFleet(t)
	objs := kubeObjects(t, f)
	var p, allowed fleetgen.Project
	for _, pr := range f.Projects {
		if len(wantKubeNames(objs, map[string]bool{pr.ID: true}, kubeTypes)) == 0 {
			continue
		}
		if p.ID == "" {
			p = pr
		} else if allowed.ID == "" {
			allowed = pr
		}
	}
	fo := f.Folders[1]
	c := connect(t, start(t, f, gcpfake.Options{Deny: map[string]codes.Code{
		p.ID:    codes.PermissionDenied,
		fo.Name: codes.NotFound,
		f.Org:   codes.PermissionDenied,
	}}))
	ctx := context.Background()
	req := func(parent string) *assetpb.ListAssetsRequest {
		return &assetpb.ListAssetsRequest{Parent: parent, AssetTypes: kubeTypes, ContentType: assetpb.ContentType_RESOURCE}
	}
	_, err := c.asset.ListAssets(ctx, req(fo.Name), noRetry).Next()
	wantStatus(t, err, codes.NotFound, "gcpfake: access to "+fo.Name+" denied (Options.Deny)")
	_, err = c.asset.ListAssets(ctx, req(f.Org), noRetry).Next()
	wantStatus(t, err, codes.PermissionDenied, "gcpfake: access to "+f.Org+" denied (Options.Deny)")
	for _, parent := range []string{"projects/" + p.ID, fmt.Sprintf("projects/%d", p.Number)} {
		_, err = c.asset.ListAssets(ctx, req(parent), noRetry).Next()
		wantStatus(t, err, codes.PermissionDenied, "gcpfake: access to "+p.ID+" denied (Options.Deny)")
	}
	// Others are served.
	got := listTypes(t, c.asset, "projects/"+allowed.ID, kubeTypes, 50)
	if diff := gocmp.Diff(wantKubeNames(objs, map[string]bool{allowed.ID: true}, kubeTypes), names(got)); diff != "" {
		t.Errorf("ListAssets(%s) names (-want +got):\n%s", allowed.ID, diff)
	}
}

// TestKubeFleetErrors: Start refuses objects it cannot serve.
func TestKubeFleetErrors(t *testing.T) {
	f := fleet(t, fleetgen.Options{Clusters: 6, Projects: 2, Seed: 1, Kube: true})
	key := slices.Sorted(maps.Keys(f.Kube))[0]
	for _, tc := range []struct {
		name string
		edit func(f *fleetgen.Fleet)
		msg  string
	}{
		{"unknown cluster", func(f *fleetgen.Fleet) { f.Kube["fleet-proj-00000/us-central1/gone"] = f.Kube[key] },
			"gcpfake: Kubernetes objects of fleet-proj-00000/us-central1/gone, which is not a cluster of the fleet"},
		{"unknown type", func(f *fleetgen.Fleet) { f.Kube[key][0].AssetType = "k8s.io/Namespace" },
			fmt.Sprintf(`gcpfake: cluster %s: %s %s/%s: asset type "k8s.io/Namespace" is not one of the fake's Kubernetes types`, key, f.Kube[key][0].Kind, f.Kube[key][0].Namespace, f.Kube[key][0].Name)},
		{"bad JSON", func(f *fleetgen.Fleet) { f.Kube[key][0].JSON = []byte("{") },
			fmt.Sprintf("gcpfake: cluster %s: %s %s/%s: ", key, f.Kube[key][0].Kind, f.Kube[key][0].Namespace, f.Kube[key][0].Name)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := *f
			g.Kube = map[string][]fleetgen.KubeObject{}
			for k, v := range f.Kube {
				g.Kube[k] = slices.Clone(v)
			}
			tc.edit(&g)
			s, err := gcpfake.Start(&g, gcpfake.Options{})
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			// protojson's messages are not stable: the JSON error is checked up to them.
			if err.Error() != tc.msg && (!strings.HasSuffix(tc.msg, ": ") || !strings.HasPrefix(err.Error(), tc.msg)) {
				t.Errorf("Start: %v, want %s", err, tc.msg)
			}
		})
	}
}
