package gcpfake_test

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	asset "cloud.google.com/go/asset/apiv1"
	"cloud.google.com/go/asset/apiv1/assetpb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	logging "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
)

const clusterType = "container.googleapis.com/Cluster"

// noRetry turns the clients' default retries off, so that each call is one
// RPC.
var noRetry = gax.WithRetry(func() gax.Retryer { return nil })

func fleet(t testing.TB, o fleetgen.Options) *fleetgen.Fleet {
	t.Helper()
	f, err := fleetgen.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func smallFleet(t testing.TB) *fleetgen.Fleet {
	return fleet(t, fleetgen.Options{Clusters: 60, Projects: 12, Seed: 7})
}

func start(t testing.TB, f *fleetgen.Fleet, o gcpfake.Options) *gcpfake.Server {
	t.Helper()
	s, err := gcpfake.Start(f, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type clients struct {
	asset     *asset.Client
	container *container.ClusterManagerClient
	projects  *resourcemanager.ProjectsClient
	folders   *resourcemanager.FoldersClient
	logging   *logging.Client
}

func connect(t testing.TB, s *gcpfake.Server) clients {
	t.Helper()
	ctx := context.Background()
	var c clients
	var err error
	must := func(closer interface{ Close() error }) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = closer.Close() })
	}
	c.asset, err = asset.NewClient(ctx, s.ClientOptions()...)
	must(c.asset)
	c.container, err = container.NewClusterManagerClient(ctx, s.ClientOptions()...)
	must(c.container)
	c.projects, err = resourcemanager.NewProjectsClient(ctx, s.ClientOptions()...)
	must(c.projects)
	c.folders, err = resourcemanager.NewFoldersClient(ctx, s.ClientOptions()...)
	must(c.folders)
	c.logging, err = logging.NewClient(ctx, s.ClientOptions()...)
	must(c.logging)
	return c
}

func code(err error) codes.Code { return status.Code(err) }

// wantStatus fails unless err has the code and, when msg is not "", the
// message.
func wantStatus(t *testing.T, err error, c codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v is not a gRPC status, want %v", err, c)
	}
	if st.Code() != c || (msg != "" && st.Message() != msg) {
		t.Fatalf("error = %v %q, want %v %q", st.Code(), st.Message(), c, msg)
	}
}

func assetName(project string, c *containerpb.Cluster) string {
	return fmt.Sprintf("//container.googleapis.com/projects/%s/locations/%s/clusters/%s", project, c.GetLocation(), c.GetName())
}

// listAssets pages through the cluster assets with pages of size.
func listAssets(t *testing.T, c *asset.Client, parent string, size int) []*assetpb.Asset {
	t.Helper()
	return listTypes(t, c, parent, []string{clusterType}, size)
}

// under returns the projects of f under scope (a folder, nested ones
// included, or the organization), computed from the Fleet alone.
func under(f *fleetgen.Fleet, scope string) map[string]bool {
	parent := map[string]string{}
	for _, fo := range f.Folders {
		parent[fo.Name] = fo.Parent
	}
	out := map[string]bool{}
	for _, p := range f.Projects {
		for a := p.Parent; a != ""; a = parent[a] {
			if a == scope {
				out[p.ID] = true
				break
			}
		}
	}
	return out
}

// wantAssetNames is the asset names of the clusters of projects, in
// project ID then cluster name order.
func wantAssetNames(f *fleetgen.Fleet, projects map[string]bool) []string {
	type key struct{ project, cluster, name string }
	var keys []key
	for id, cs := range f.ByProject {
		if projects[id] {
			for _, c := range cs {
				keys = append(keys, key{id, c.GetName(), assetName(id, c)})
			}
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(strings.Compare(a.project, b.project), strings.Compare(a.cluster, b.cluster))
	})
	var names []string
	for _, k := range keys {
		names = append(names, k.name)
	}
	return names
}

func names(as []*assetpb.Asset) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.GetName())
	}
	return out
}

func TestListAssetsOrganization(t *testing.T) {
	f := smallFleet(t)
	s := start(t, f, gcpfake.Options{})
	c := connect(t, s)
	got := listAssets(t, c.asset, f.Org, 7)
	all := map[string]bool{}
	for _, p := range f.Projects {
		all[p.ID] = true
	}
	// Every cluster exactly once, in project ID then cluster name order.
	if diff := gocmp.Diff(wantAssetNames(f, all), names(got)); diff != "" {
		t.Fatalf("asset names (-want +got):\n%s", diff)
	}
	if n := s.Calls()["asset.ListAssets"]; n != (len(f.Clusters)+6)/7 {
		t.Errorf("ListAssets calls = %d, want %d pages", n, (len(f.Clusters)+6)/7)
	}
	number := map[string]int64{}
	for _, p := range f.Projects {
		number[p.ID] = p.Number
	}
	byName := map[string]*containerpb.Cluster{}
	for id, cs := range f.ByProject {
		for _, cl := range cs {
			byName[assetName(id, cl)] = cl
		}
	}
	for _, a := range got {
		cl := byName[a.GetName()]
		project := strings.Split(a.GetName(), "/")[4]
		want := &assetpb.Resource{
			Version:              "v1",
			DiscoveryDocumentUri: "https://container.googleapis.com/$discovery/rest",
			DiscoveryName:        "Cluster",
			Parent:               fmt.Sprintf("//cloudresourcemanager.googleapis.com/projects/%d", number[project]),
			Location:             cl.GetLocation(),
		}
		r := proto.Clone(a.GetResource()).(*assetpb.Resource)
		r.Data = nil
		if a.GetAssetType() != clusterType || !proto.Equal(r, want) {
			t.Errorf("asset %s: type %q, resource %v, want %q, %v", a.GetName(), a.GetAssetType(), r, clusterType, want)
		}
		if as := a.GetAncestors(); len(as) < 2 || as[0] != fmt.Sprintf("projects/%d", number[project]) || as[len(as)-1] != f.Org {
			t.Errorf("asset %s: ancestors %q", a.GetName(), as)
		}
		js, err := protojson.Marshal(a.GetResource().GetData())
		if err != nil {
			t.Fatal(err)
		}
		back := &containerpb.Cluster{}
		if err := protojson.Unmarshal(js, back); err != nil {
			t.Fatalf("asset %s: resource.data is not a Cluster: %v", a.GetName(), err)
		}
		if !proto.Equal(back, cl) {
			t.Errorf("asset %s: resource.data round-trips to\n%v\nwant\n%v", a.GetName(), back, cl)
		}
	}
}

func TestListAssetsFolders(t *testing.T) {
	// 60 projects make 6 folders; this seed nests some of them.
	for _, f := range []*fleetgen.Fleet{smallFleet(t), fleet(t, fleetgen.Options{Clusters: 90, Projects: 60, Seed: 3})} {
		s := start(t, f, gcpfake.Options{})
		c := connect(t, s)
		for _, fo := range f.Folders {
			want := wantAssetNames(f, under(f, fo.Name))
			if diff := gocmp.Diff(want, names(listAssets(t, c.asset, fo.Name, 7))); diff != "" {
				t.Errorf("ListAssets(%s) names (-want +got):\n%s", fo.Name, diff)
			}
		}
	}
	f := fleet(t, fleetgen.Options{Clusters: 90, Projects: 60, Seed: 3})
	nested := 0
	for _, fo := range f.Folders {
		if strings.HasPrefix(fo.Parent, "folders/") {
			nested++
		}
	}
	if nested == 0 {
		t.Fatal("the test fleet has no nested folder; pick another seed")
	}
}

func TestListAssetsProject(t *testing.T) {
	f := smallFleet(t)
	c := connect(t, start(t, f, gcpfake.Options{}))
	p := f.Projects[3]
	want := wantAssetNames(f, map[string]bool{p.ID: true})
	for _, parent := range []string{"projects/" + p.ID, fmt.Sprintf("projects/%d", p.Number)} {
		if diff := gocmp.Diff(want, names(listAssets(t, c.asset, parent, 100))); diff != "" {
			t.Errorf("ListAssets(%s) names (-want +got):\n%s", parent, diff)
		}
	}
}

func TestListAssetsErrors(t *testing.T) {
	f := smallFleet(t)
	c := connect(t, start(t, f, gcpfake.Options{}))
	ok := assetpb.ListAssetsRequest{Parent: f.Org, AssetTypes: []string{clusterType}, ContentType: assetpb.ContentType_RESOURCE}
	for _, tc := range []struct {
		name string
		edit func(*assetpb.ListAssetsRequest)
		code codes.Code
		msg  string
	}{
		{"no types", func(r *assetpb.ListAssetsRequest) { r.AssetTypes = nil }, codes.InvalidArgument,
			`asset_types is empty: gcpfake lists ["container.googleapis.com/Cluster"] or any of the Kubernetes asset types ` + kubeTypeList},
		{"two types", func(r *assetpb.ListAssetsRequest) {
			r.AssetTypes = append(r.AssetTypes, "compute.googleapis.com/Instance")
		}, codes.InvalidArgument,
			`asset_types ["container.googleapis.com/Cluster" "compute.googleapis.com/Instance"]: gcpfake does not list "compute.googleapis.com/Instance"; ` +
				`it lists ["container.googleapis.com/Cluster"] or any of the Kubernetes asset types ` + kubeTypeList},
		{"unknown Kubernetes type", func(r *assetpb.ListAssetsRequest) { r.AssetTypes = []string{"k8s.io/Pod", "k8s.io/Namespace"} }, codes.InvalidArgument,
			`asset_types ["k8s.io/Pod" "k8s.io/Namespace"]: gcpfake does not list "k8s.io/Namespace"; ` +
				`it lists ["container.googleapis.com/Cluster"] or any of the Kubernetes asset types ` + kubeTypeList},
		{"Kubernetes types with the cluster type", func(r *assetpb.ListAssetsRequest) { r.AssetTypes = []string{"k8s.io/Pod", clusterType} }, codes.InvalidArgument,
			`asset_types ["k8s.io/Pod" "container.googleapis.com/Cluster"]: gcpfake lists "container.googleapis.com/Cluster" alone, not with Kubernetes asset types`},
		{"Kubernetes content type", func(r *assetpb.ListAssetsRequest) {
			r.AssetTypes, r.ContentType = []string{"k8s.io/Pod"}, assetpb.ContentType_IAM_POLICY
		}, codes.InvalidArgument, "content_type IAM_POLICY: gcpfake supports only RESOURCE"},
		{"Kubernetes unknown project", func(r *assetpb.ListAssetsRequest) {
			r.AssetTypes, r.Parent = []string{"k8s.io/Pod"}, "projects/nope-nope"
		}, codes.NotFound, "projects/nope-nope not found"},
		{"content type", func(r *assetpb.ListAssetsRequest) { r.ContentType = assetpb.ContentType_IAM_POLICY }, codes.InvalidArgument,
			"content_type IAM_POLICY: gcpfake supports only RESOURCE"},
		{"page size", func(r *assetpb.ListAssetsRequest) { r.PageSize = 1001 }, codes.InvalidArgument,
			"page_size 1001 exceeds the maximum of 1000"},
		{"token", func(r *assetpb.ListAssetsRequest) { r.PageToken = "bogus" }, codes.InvalidArgument,
			`invalid page_token "bogus": not issued by this server for this request`},
		{"parent", func(r *assetpb.ListAssetsRequest) { r.Parent = "orgs/1" }, codes.InvalidArgument,
			`parent "orgs/1" must be organizations/N, folders/N, projects/ID or projects/NUMBER`},
		{"unknown org", func(r *assetpb.ListAssetsRequest) { r.Parent = "organizations/42" }, codes.NotFound, "organizations/42 not found"},
		{"unknown folder", func(r *assetpb.ListAssetsRequest) { r.Parent = "folders/42" }, codes.NotFound, "folders/42 not found"},
		{"unknown project", func(r *assetpb.ListAssetsRequest) { r.Parent = "projects/nope-nope" }, codes.NotFound, "projects/nope-nope not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := proto.Clone(&ok).(*assetpb.ListAssetsRequest)
			tc.edit(req)
			_, err := c.asset.ListAssets(context.Background(), req, noRetry).Next()
			wantStatus(t, err, tc.code, tc.msg)
		})
	}

	// A token is bound to its request.
	it := c.asset.ListAssets(context.Background(), &ok, noRetry)
	var pg []*assetpb.Asset
	token, err := iterator.NewPager(it, 5, "").NextPage(&pg)
	if err != nil || token == "" {
		t.Fatalf("first page: token %q, err %v", token, err)
	}
	other := proto.Clone(&ok).(*assetpb.ListAssetsRequest)
	other.Parent, other.PageToken = f.Folders[0].Name, token
	_, err = c.asset.ListAssets(context.Background(), other, noRetry).Next()
	wantStatus(t, err, codes.InvalidArgument, fmt.Sprintf("invalid page_token %q: not issued by this server for this request", token))
}

func TestListClusters(t *testing.T) {
	f := fleet(t, fleetgen.Options{Clusters: 10, Projects: 12, Seed: 7}) // two projects without clusters
	s := start(t, f, gcpfake.Options{})
	c := connect(t, s)
	ctx := context.Background()
	empty := 0
	for _, p := range f.Projects {
		for _, parent := range []string{"projects/" + p.ID + "/locations/-", fmt.Sprintf("projects/%d/locations/-", p.Number)} {
			resp, err := c.container.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: parent}, noRetry)
			if err != nil {
				t.Fatalf("ListClusters(%s): %v", parent, err)
			}
			if diff := gocmp.Diff(f.ByProject[p.ID], resp.GetClusters(), gocmp.Comparer(proto.Equal)); diff != "" {
				t.Errorf("ListClusters(%s) (-want +got):\n%s", parent, diff)
			}
		}
		if len(f.ByProject[p.ID]) == 0 {
			empty++
		}
	}
	if empty == 0 {
		t.Error("no project without clusters in the test fleet")
	}
	for _, p := range f.Projects {
		if len(f.ByProject[p.ID]) == 0 {
			if got := listAssets(t, c.asset, "projects/"+p.ID, 10); len(got) != 0 {
				t.Errorf("ListAssets of a project without clusters: %d assets", len(got))
			}
		}
	}

	cl := f.Clusters[0]
	project := f.Projects[0].ID
	resp, err := c.container.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + project + "/locations/" + cl.GetLocation()}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range resp.GetClusters() {
		if got.GetLocation() != cl.GetLocation() {
			t.Errorf("ListClusters in %s returned a cluster in %s", cl.GetLocation(), got.GetLocation())
		}
	}
	if !slices.ContainsFunc(resp.GetClusters(), func(g *containerpb.Cluster) bool { return g.GetName() == cl.GetName() }) {
		t.Errorf("ListClusters in %s misses %s", cl.GetLocation(), cl.GetName())
	}

	//lint:ignore SA1019 testing that the fake rejects the deprecated fields
	_, err = c.container.ListClusters(ctx, &containerpb.ListClustersRequest{ProjectId: project, Zone: "-"}, noRetry)
	wantStatus(t, err, codes.InvalidArgument, "project_id and zone are deprecated and not supported by gcpfake: set parent to projects/P/locations/L")
	_, err = c.container.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + project}, noRetry)
	wantStatus(t, err, codes.InvalidArgument, `parent "projects/`+project+`" must be projects/P/locations/- or projects/P/locations/L`)
	_, err = c.container.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/not-mine/locations/-"}, noRetry)
	wantStatus(t, err, codes.PermissionDenied, `Required "container.clusters.list" permission(s) for "projects/not-mine".`)
}

func TestResourceManagerWalk(t *testing.T) {
	f := fleet(t, fleetgen.Options{Clusters: 90, Projects: 60, Seed: 3})
	s := start(t, f, gcpfake.Options{})
	c := connect(t, s)
	ctx := context.Background()
	var got []*resourcemanagerpb.Project
	var folders []string
	queue := []string{f.Org}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		pi := iterator.NewPager(c.projects.ListProjects(ctx, &resourcemanagerpb.ListProjectsRequest{Parent: parent}, noRetry), 4, "")
		for {
			var pg []*resourcemanagerpb.Project
			next, err := pi.NextPage(&pg)
			if err != nil {
				t.Fatalf("ListProjects(%s): %v", parent, err)
			}
			got = append(got, pg...)
			if next == "" {
				break
			}
		}
		fi := iterator.NewPager(c.folders.ListFolders(ctx, &resourcemanagerpb.ListFoldersRequest{Parent: parent}, noRetry), 2, "")
		for {
			var pg []*resourcemanagerpb.Folder
			next, err := fi.NextPage(&pg)
			if err != nil {
				t.Fatalf("ListFolders(%s): %v", parent, err)
			}
			for _, fo := range pg {
				if fo.GetParent() != parent || fo.GetState() != resourcemanagerpb.Folder_ACTIVE || fo.GetDisplayName() == "" {
					t.Errorf("folder %v under %s", fo, parent)
				}
				folders = append(folders, fo.GetName())
				queue = append(queue, fo.GetName())
			}
			if next == "" {
				break
			}
		}
	}
	var want []string
	for _, fo := range f.Folders {
		want = append(want, fo.Name)
	}
	slices.Sort(folders)
	if diff := gocmp.Diff(want, folders); diff != "" {
		t.Errorf("folders (-want +got):\n%s", diff)
	}
	slices.SortFunc(got, func(a, b *resourcemanagerpb.Project) int { return strings.Compare(a.GetProjectId(), b.GetProjectId()) })
	if len(got) != len(f.Projects) {
		t.Fatalf("walk found %d projects, want %d", len(got), len(f.Projects))
	}
	for i, p := range f.Projects {
		g := got[i]
		if g.GetProjectId() != p.ID || g.GetName() != fmt.Sprintf("projects/%d", p.Number) || g.GetParent() != p.Parent ||
			g.GetState() != resourcemanagerpb.Project_ACTIVE || g.GetDisplayName() == "" {
			t.Errorf("project %d = %v, want %+v", i, g, p)
		}
	}

	p := f.Projects[5]
	for _, name := range []string{"projects/" + p.ID, fmt.Sprintf("projects/%d", p.Number)} {
		g, err := c.projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: name}, noRetry)
		if err != nil || g.GetProjectId() != p.ID {
			t.Errorf("GetProject(%s) = %v, %v", name, g, err)
		}
	}
	fo, err := c.folders.GetFolder(ctx, &resourcemanagerpb.GetFolderRequest{Name: f.Folders[0].Name}, noRetry)
	if err != nil || fo.GetParent() != f.Folders[0].Parent {
		t.Errorf("GetFolder = %v, %v", fo, err)
	}
	_, err = c.projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/unknown-project"}, noRetry)
	wantStatus(t, err, codes.PermissionDenied, "The caller does not have permission to get projects/unknown-project")
	_, err = c.projects.ListProjects(ctx, &resourcemanagerpb.ListProjectsRequest{Parent: "folders/42"}, noRetry).Next()
	wantStatus(t, err, codes.PermissionDenied, "The caller does not have permission to list the children of folders/42")
	_, err = c.projects.ListProjects(ctx, &resourcemanagerpb.ListProjectsRequest{Parent: "projects/x"}, noRetry).Next()
	wantStatus(t, err, codes.InvalidArgument, `parent "projects/x" must be organizations/N or folders/N`)
	_, err = c.folders.ListFolders(ctx, &resourcemanagerpb.ListFoldersRequest{Parent: f.Org, PageSize: 1001}, noRetry).Next()
	wantStatus(t, err, codes.InvalidArgument, "page_size 1001 exceeds the maximum of 1000")
}

// ipamFilter is the filter that the scanner sends.
func ipamFilter(since time.Time) string {
	return `log_id("events") resource.type="k8s_pod" jsonPayload.reason="FailedCreatePodSandBox" ` +
		`jsonPayload.message:"no IP addresses available in range set" ` +
		`(jsonPayload.source.component="kubelet" OR jsonPayload.reportingComponent="kubelet") timestamp>="` + since.Format(time.RFC3339) + `"`
}

func listEntries(t *testing.T, c *logging.Client, req *loggingpb.ListLogEntriesRequest, size int) ([]*loggingpb.LogEntry, error) {
	t.Helper()
	p := iterator.NewPager(c.ListLogEntries(context.Background(), req, noRetry), size, "")
	var all []*loggingpb.LogEntry
	for {
		var pg []*loggingpb.LogEntry
		next, err := p.NextPage(&pg)
		if err != nil {
			return nil, err
		}
		all = append(all, pg...)
		if next == "" {
			return all, nil
		}
	}
}

func insertIDs(es []*loggingpb.LogEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.GetInsertId())
	}
	return out
}

func TestListLogEntries(t *testing.T) {
	f := fleet(t, fleetgen.Options{Clusters: 300, Projects: 12, Seed: 7})
	s := start(t, f, gcpfake.Options{})
	c := connect(t, s)
	since := f.Now.Add(-168 * time.Hour)
	// The projects of every other event, so that some have none.
	in := map[string]bool{}
	for i, e := range f.Events {
		if i%2 == 0 {
			in[strings.Split(e.GetLogName(), "/")[1]] = true
		}
	}
	var resources []string
	for id := range in {
		resources = append(resources, "projects/"+id)
	}
	slices.Sort(resources)
	var want []string
	old := 0
	for _, e := range f.Events {
		if !e.GetTimestamp().AsTime().Before(since) && in[e.GetResource().GetLabels()["project_id"]] {
			want = append(want, e.GetInsertId())
		} else if in[e.GetResource().GetLabels()["project_id"]] {
			old++
		}
	}
	if len(want) < 10 || old == 0 || len(in) == len(f.Projects) {
		t.Fatalf("test fleet: %d events to find, %d old, %d of %d projects; pick another", len(want), old, len(in), len(f.Projects))
	}
	filter := ipamFilter(since)
	got, err := listEntries(t, c.logging, &loggingpb.ListLogEntriesRequest{ResourceNames: resources, Filter: filter}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(want, insertIDs(got)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	pages := (len(want) + 3) / 4
	if diff := gocmp.Diff(slices.Repeat([]string{filter}, pages), s.Filters()); diff != "" {
		t.Errorf("Filters (-want +got):\n%s", diff)
	}

	// Every other supported term narrows the result.
	e := f.Events[len(f.Events)-1]
	labels := e.GetResource().GetLabels()
	narrow := fmt.Sprintf(`%s resource.labels.cluster_name="%s" timestamp<="%s" timestamp>"%s" timestamp<"%s"`,
		ipamFilter(since), labels["cluster_name"], e.GetTimestamp().AsTime().Format(time.RFC3339Nano),
		since.Format(time.RFC3339), f.Now.Add(time.Hour).Format(time.RFC3339))
	got, err = listEntries(t, c.logging, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + labels["project_id"]}, Filter: narrow}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want = nil
	for _, w := range f.Events {
		if w.GetResource().GetLabels()["cluster_name"] == labels["cluster_name"] && w.GetResource().GetLabels()["project_id"] == labels["project_id"] &&
			!w.GetTimestamp().AsTime().Before(since) {
			want = append(want, w.GetInsertId())
		}
	}
	if diff := gocmp.Diff(want, insertIDs(got)); diff != "" || len(want) == 0 {
		t.Errorf("narrowed entries (-want +got):\n%s", diff)
	}
	// Other log IDs, resource types and values match nothing.
	for _, other := range []string{`log_id("event")`, `resource.type="k8s_node"`, `jsonPayload.reason="failedcreatepodsandbox"`, `jsonPayload.nope:"a"`, `jsonPayload.count="1"`} {
		got, err := listEntries(t, c.logging, &loggingpb.ListLogEntriesRequest{ResourceNames: resources, Filter: other}, 1000)
		if err != nil || len(got) != 0 {
			t.Errorf("filter %s: %d entries, %v; want none", other, len(got), err)
		}
	}
	// "has" is case-insensitive.
	got, err = listEntries(t, c.logging, &loggingpb.ListLogEntriesRequest{ResourceNames: resources, Filter: `jsonPayload.message:"NO IP ADDRESSES"`}, 1000)
	if err != nil || len(got) == 0 {
		t.Errorf("case-insensitive has: %d entries, %v", len(got), err)
	}
}

func TestListLogEntriesEscapes(t *testing.T) {
	f := smallFleet(t)
	e := f.Events[0]
	project := e.GetResource().GetLabels()["project_id"]
	msg := e.GetJsonPayload().GetFields()["message"].GetStringValue()
	sandbox := regexp.MustCompile(`sandbox "[0-9a-f]+"`).FindString(msg)
	if sandbox == "" {
		t.Fatalf("no quoted sandbox ID in %q", msg)
	}
	// An entry with a backslash and quotes, as a Windows node might log.
	f.Events = append(f.Events, &loggingpb.LogEntry{
		LogName:   "projects/" + project + "/logs/events",
		Resource:  &monitoredres.MonitoredResource{Type: "k8s_pod", Labels: map[string]string{"project_id": project}},
		Timestamp: timestamppb.New(f.Now),
		InsertId:  "windows",
		Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: func() *structpb.Struct {
			s, _ := structpb.NewStruct(map[string]any{"message": `open C:\var\run "x"`})
			return s
		}()},
	})
	c := connect(t, start(t, f, gcpfake.Options{}))
	for _, tc := range []struct{ filter, want string }{
		{`jsonPayload.message:"` + strings.ReplaceAll(sandbox, `"`, `\"`) + `"`, e.GetInsertId()},
		{`jsonPayload.message="open C:\\var\\run \"x\""`, "windows"},
		{`jsonPayload.message : "C:\\var"`, "windows"},
	} {
		got, err := listEntries(t, c.logging, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + project}, Filter: tc.filter}, 50)
		if err != nil {
			t.Fatalf("filter %s: %v", tc.filter, err)
		}
		if diff := gocmp.Diff([]string{tc.want}, insertIDs(got)); diff != "" {
			t.Errorf("filter %s (-want +got):\n%s", tc.filter, diff)
		}
	}
}

// The scanner's kubelet condition, a parenthesized OR over nested
// jsonPayload fields, leaves out the events that another component wrote.
func TestListLogEntriesReporter(t *testing.T) {
	f := smallFleet(t)
	e := f.Events[len(f.Events)-1]
	project := e.GetResource().GetLabels()["project_id"]
	for _, tc := range []struct {
		id     string
		fields map[string]any
	}{
		{"both", map[string]any{"source": map[string]any{"component": "kubelet", "host": "n1"}, "reportingComponent": "kubelet"}},
		{"attacker", map[string]any{"source": map[string]any{"component": "attacker", "host": "n1"}}},
		{"no-component", map[string]any{"source": map[string]any{"host": "n1"}}},
		{"source-only", map[string]any{"source": map[string]any{"component": "kubelet"}}},
		{"reporting-only", map[string]any{"reportingComponent": "kubelet"}},
		{"reporting-attacker", map[string]any{"reportingComponent": "attacker", "source": map[string]any{"component": "kubectl"}}},
	} {
		payload := proto.Clone(e.GetJsonPayload()).(*structpb.Struct)
		delete(payload.Fields, "source")
		delete(payload.Fields, "reportingComponent")
		for k, v := range tc.fields {
			pv, err := structpb.NewValue(v)
			if err != nil {
				t.Fatal(err)
			}
			payload.Fields[k] = pv
		}
		forged := proto.Clone(e).(*loggingpb.LogEntry)
		forged.InsertId = tc.id
		forged.Timestamp = timestamppb.New(f.Now) // after every generated event
		forged.Payload = &loggingpb.LogEntry_JsonPayload{JsonPayload: payload}
		f.Events = append(f.Events, forged)
	}
	c := connect(t, start(t, f, gcpfake.Options{}))
	got, err := listEntries(t, c.logging, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + project}, Filter: ipamFilter(f.Now)}, 50)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff([]string{"both", "source-only", "reporting-only"}, insertIDs(got)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

func TestListLogEntriesErrors(t *testing.T) {
	f := smallFleet(t)
	c := connect(t, start(t, f, gcpfake.Options{}))
	p := "projects/" + f.Projects[0].ID
	var many []string
	for i := range 101 {
		many = append(many, fmt.Sprintf("projects/p%d", i))
	}
	for _, tc := range []struct {
		name string
		req  *loggingpb.ListLogEntriesRequest
		code codes.Code
		msg  string
	}{
		{"injection", &loggingpb.ListLogEntriesRequest{ResourceNames: []string{p}, Filter: `jsonPayload.reason="x" OR logName:"y"`}, codes.InvalidArgument,
			"invalid filter: field logName at offset 26 is not supported: gcpfake knows only log_id(), resource.type, resource.labels.KEY, jsonPayload.FIELD, textPayload and timestamp"},
		{"quote breakout", &loggingpb.ListLogEntriesRequest{ResourceNames: []string{p}, Filter: `jsonPayload.reason="x\\" OR "y"`}, codes.InvalidArgument,
			`invalid filter: global restriction "y" at offset 28 is not supported: gcpfake supports only terms joined either by whitespace (implicitly ANDed) or by OR, each log_id("X"), FIELD OP "VALUE" or such a sequence in parentheses`},
		{"unterminated", &loggingpb.ListLogEntriesRequest{ResourceNames: []string{p}, Filter: `jsonPayload.reason="x\"`}, codes.InvalidArgument,
			"invalid filter: unterminated string starting at offset 19"},
		{"unknown field", &loggingpb.ListLogEntriesRequest{ResourceNames: []string{p}, Filter: `severity>="WARNING"`}, codes.InvalidArgument,
			"invalid filter: field severity at offset 0 is not supported: gcpfake knows only log_id(), resource.type, resource.labels.KEY, jsonPayload.FIELD, textPayload and timestamp"},
		{"bad time", &loggingpb.ListLogEntriesRequest{ResourceNames: []string{p}, Filter: `timestamp>="yesterday"`}, codes.InvalidArgument,
			`invalid filter: timestamp "yesterday" at offset 0 is not RFC 3339`},
		{"101 resource names", &loggingpb.ListLogEntriesRequest{ResourceNames: many}, codes.InvalidArgument,
			"resource_names has 101 entries, want 1 to 100"},
		{"no resource names", &loggingpb.ListLogEntriesRequest{}, codes.InvalidArgument,
			"resource_names has 0 entries, want 1 to 100"},
		{"folder", &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"folders/1"}}, codes.InvalidArgument,
			`resource name "folders/1": gcpfake supports only projects/P`},
		{"order", &loggingpb.ListLogEntriesRequest{ResourceNames: []string{p}, OrderBy: "timestamp desc"}, codes.InvalidArgument,
			`order_by "timestamp desc": gcpfake supports only "timestamp asc"`},
		{"page size", &loggingpb.ListLogEntriesRequest{ResourceNames: []string{p}, PageSize: 1001}, codes.InvalidArgument,
			"page_size 1001 exceeds the maximum of 1000"},
		{"unknown project", &loggingpb.ListLogEntriesRequest{ResourceNames: []string{p, "projects/not-mine"}}, codes.PermissionDenied,
			"The caller does not have permission to read the logs of projects/not-mine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.logging.ListLogEntries(context.Background(), tc.req, noRetry).Next()
			wantStatus(t, err, tc.code, tc.msg)
		})
	}
}

func TestDeny(t *testing.T) {
	f := fleet(t, fleetgen.Options{Clusters: 90, Projects: 60, Seed: 3})
	p, fo := f.Projects[1], f.Folders[1]
	s := start(t, f, gcpfake.Options{Deny: map[string]codes.Code{
		p.ID:    codes.PermissionDenied,
		fo.Name: codes.NotFound,
		f.Org:   codes.PermissionDenied,
	}})
	c := connect(t, s)
	ctx := context.Background()
	deniedP := "gcpfake: access to " + p.ID + " denied (Options.Deny)"
	deniedF := "gcpfake: access to " + fo.Name + " denied (Options.Deny)"
	deniedO := "gcpfake: access to " + f.Org + " denied (Options.Deny)"
	req := func(parent string) *assetpb.ListAssetsRequest {
		return &assetpb.ListAssetsRequest{Parent: parent, AssetTypes: []string{clusterType}, ContentType: assetpb.ContentType_RESOURCE}
	}
	_, err := c.asset.ListAssets(ctx, req(fo.Name), noRetry).Next()
	wantStatus(t, err, codes.NotFound, deniedF)
	_, err = c.asset.ListAssets(ctx, req(f.Org), noRetry).Next()
	wantStatus(t, err, codes.PermissionDenied, deniedO)
	_, err = c.asset.ListAssets(ctx, req(fmt.Sprintf("projects/%d", p.Number)), noRetry).Next()
	wantStatus(t, err, codes.PermissionDenied, deniedP)
	_, err = c.container.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + p.ID + "/locations/-"}, noRetry)
	wantStatus(t, err, codes.PermissionDenied, deniedP)
	_, err = c.projects.ListProjects(ctx, &resourcemanagerpb.ListProjectsRequest{Parent: fo.Name}, noRetry).Next()
	wantStatus(t, err, codes.NotFound, deniedF)
	_, err = c.folders.ListFolders(ctx, &resourcemanagerpb.ListFoldersRequest{Parent: fo.Name}, noRetry).Next()
	wantStatus(t, err, codes.NotFound, deniedF)
	_, err = c.folders.GetFolder(ctx, &resourcemanagerpb.GetFolderRequest{Name: fo.Name}, noRetry)
	wantStatus(t, err, codes.NotFound, deniedF)
	_, err = c.projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + p.ID}, noRetry)
	wantStatus(t, err, codes.PermissionDenied, deniedP)
	_, err = c.logging.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + f.Projects[0].ID, "projects/" + p.ID}}, noRetry).Next()
	wantStatus(t, err, codes.PermissionDenied, deniedP)
	// Others are served.
	if _, err := c.container.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + f.Projects[0].ID + "/locations/-"}, noRetry); err != nil {
		t.Errorf("ListClusters of an allowed project: %v", err)
	}
}

func TestTransientFailures(t *testing.T) {
	f := smallFleet(t)
	s := start(t, f, gcpfake.Options{TransientRate: 1})
	c := connect(t, s)
	ctx := context.Background()
	calls := []func() error{
		func() error {
			_, err := c.asset.ListAssets(ctx, &assetpb.ListAssetsRequest{Parent: f.Org, AssetTypes: []string{clusterType}, ContentType: assetpb.ContentType_RESOURCE}, noRetry).Next()
			return err
		},
		func() error {
			_, err := c.container.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + f.Projects[0].ID + "/locations/-"}, noRetry)
			return err
		},
		func() error {
			_, err := c.projects.ListProjects(ctx, &resourcemanagerpb.ListProjectsRequest{Parent: f.Org}, noRetry).Next()
			return err
		},
		func() error {
			_, err := c.folders.ListFolders(ctx, &resourcemanagerpb.ListFoldersRequest{Parent: f.Org}, noRetry).Next()
			return err
		},
		func() error {
			_, err := c.logging.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + f.Projects[0].ID}, Filter: `log_id("events")`}, noRetry).Next()
			return err
		},
		func() error {
			_, err := c.projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + f.Projects[0].ID}, noRetry)
			return err
		},
	}
	for i, call := range calls {
		want := codes.Unavailable
		if i%2 == 1 {
			want = codes.ResourceExhausted
		}
		if err := call(); code(err) != want {
			t.Errorf("call %d: %v, want %v", i, err, want)
		}
	}
	want := map[string]int{
		"asset.ListAssets": 1, "container.ListClusters": 1, "resourcemanager.ListProjects": 1,
		"resourcemanager.ListFolders": 1, "logging.ListLogEntries": 1, "resourcemanager.GetProject": 1,
	}
	if diff := gocmp.Diff(want, s.Calls()); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
	if s.TotalCalls() != 6 || !slices.Equal(s.Filters(), []string{`log_id("events")`}) {
		t.Errorf("TotalCalls %d, Filters %q", s.TotalCalls(), s.Filters())
	}

	// The same seed fails the same calls.
	pattern := func() []codes.Code {
		s := start(t, f, gcpfake.Options{TransientRate: 0.5, Seed: 11})
		c := connect(t, s)
		var out []codes.Code
		for range 40 {
			_, err := c.container.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + f.Projects[0].ID + "/locations/-"}, noRetry)
			out = append(out, code(err))
		}
		return out
	}
	a, b := pattern(), pattern()
	if !slices.Equal(a, b) {
		t.Errorf("the same seed gave %v and %v", a, b)
	}
	failed := 0
	for _, c := range a {
		if c != codes.OK {
			failed++
		}
	}
	if failed < 8 || failed > 32 {
		t.Errorf("%d of 40 calls failed at rate 0.5", failed)
	}
}

func TestLatency(t *testing.T) {
	f := smallFleet(t)
	const latency = 80 * time.Millisecond
	c := connect(t, start(t, f, gcpfake.Options{Latency: latency}))
	ctx := context.Background()
	begin := time.Now()
	if _, err := c.container.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + f.Projects[0].ID + "/locations/-"}, noRetry); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d < latency {
		t.Errorf("call took %v, want at least %v", d, latency)
	}
	short, cancel := context.WithTimeout(ctx, latency/4)
	defer cancel()
	_, err := c.container.ListClusters(short, &containerpb.ListClustersRequest{Parent: "projects/" + f.Projects[0].ID + "/locations/-"}, noRetry)
	if code(err) != codes.DeadlineExceeded {
		t.Errorf("call with a deadline shorter than the latency: %v", err)
	}
}

func TestCallsAndReset(t *testing.T) {
	f := smallFleet(t)
	s := start(t, f, gcpfake.Options{})
	c := connect(t, s)
	ctx := context.Background()
	listAssets(t, c.asset, f.Org, 25) // 60 clusters: 3 pages
	for _, p := range f.Projects[:4] {
		if _, err := c.container.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + p.ID + "/locations/-"}, noRetry); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = c.logging.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + f.Projects[0].ID}, Filter: "OR"}, noRetry).Next()
	want := map[string]int{"asset.ListAssets": 3, "container.ListClusters": 4, "logging.ListLogEntries": 1}
	if diff := gocmp.Diff(want, s.Calls()); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
	if s.TotalCalls() != 8 || !slices.Equal(s.Filters(), []string{"OR"}) {
		t.Errorf("TotalCalls %d, Filters %q", s.TotalCalls(), s.Filters())
	}
	s.ResetCounters()
	if len(s.Calls()) != 0 || s.TotalCalls() != 0 || len(s.Filters()) != 0 {
		t.Errorf("after ResetCounters: %v %d %q", s.Calls(), s.TotalCalls(), s.Filters())
	}
	if _, _, ok := strings.Cut(s.Addr(), "127.0.0.1:"); !ok {
		t.Errorf("Addr %q is not on 127.0.0.1", s.Addr())
	}
}

// TestConcurrent drives every method from many goroutines (for -race).
func TestConcurrent(t *testing.T) {
	f := smallFleet(t)
	s := start(t, f, gcpfake.Options{TransientRate: 0.2, Seed: 1})
	c := connect(t, s)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			p := f.Projects[i%len(f.Projects)]
			_, _ = c.container.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + p.ID + "/locations/-"}, noRetry)
			it := c.asset.ListAssets(ctx, &assetpb.ListAssetsRequest{Parent: f.Org, AssetTypes: []string{clusterType}, ContentType: assetpb.ContentType_RESOURCE, PageSize: 9})
			for {
				if _, err := it.Next(); err != nil {
					break
				}
			}
			_, _ = c.logging.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + p.ID}, Filter: ipamFilter(f.Now.Add(-time.Hour * 24))}, noRetry).Next()
			_, _ = c.projects.ListProjects(ctx, &resourcemanagerpb.ListProjectsRequest{Parent: f.Org}, noRetry).Next()
			_ = s.Calls()
			_ = s.Filters()
		})
	}
	wg.Wait()
	if s.Calls()["logging.ListLogEntries"] != 8 {
		t.Errorf("Calls = %v", s.Calls())
	}
}

// A container's text lines (an ip-masq-agent's start-up lines) are served
// like events: the scanner's query selects the version and flag lines of
// the ip-masq-agent container, and no other container's or payload's.
func TestListLogEntriesContainerLines(t *testing.T) {
	f := smallFleet(t)
	c0 := f.Clusters[0]
	project := strings.Split(c0.GetSelfLink(), "/")[5]
	at := f.Now.Add(-time.Hour)
	line := func(id, container, text string, d time.Duration) *loggingpb.LogEntry {
		return &loggingpb.LogEntry{
			LogName:  "projects/" + project + "/logs/stderr",
			InsertId: id,
			Resource: &monitoredres.MonitoredResource{Type: "k8s_container", Labels: map[string]string{
				"project_id": project, "location": c0.GetLocation(), "cluster_name": c0.GetName(),
				"namespace_name": "kube-system", "pod_name": "ip-masq-agent-x7k2p", "container_name": container,
			}},
			Labels:    map[string]string{"compute.googleapis.com/resource_name": "gke-node-1"},
			Timestamp: timestamppb.New(at.Add(d)),
			Payload:   &loggingpb.LogEntry_TextPayload{TextPayload: text},
		}
	}
	jsonLine := line("json", "ip-masq-agent", "", 4*time.Millisecond)
	payload, _ := structpb.NewStruct(map[string]any{"message": "ip-masq-agent version: v2.12.0"})
	jsonLine.Payload = &loggingpb.LogEntry_JsonPayload{JsonPayload: payload}
	f.Events = append(f.Events,
		line("flags", "ip-masq-agent", `I0315 08:00:01.123500       1 flags.go:64] FLAG: --random-fully="true"`, 2*time.Millisecond),
		line("version", "ip-masq-agent", `I0315 08:00:01.123456       1 ip-masq-agent.go:140] ip-masq-agent version: v2.12.0`, time.Millisecond),
		line("to-ports", "ip-masq-agent", `I0315 08:00:01.123600       1 flags.go:64] FLAG: --to-ports="20000-29999"`, 3*time.Millisecond),
		line("other-flag", "ip-masq-agent", `I0315 08:00:01.123550       1 flags.go:64] FLAG: --masq-chain="IP-MASQ"`, 3*time.Millisecond),
		line("sidecar", "sidecar", `I0315 08:00:01.123456       1 ip-masq-agent.go:140] ip-masq-agent version: v2.12.0`, time.Millisecond),
		jsonLine,
	)
	s := start(t, f, gcpfake.Options{})
	c := connect(t, s)
	filter := `resource.type="k8s_container" resource.labels.container_name="ip-masq-agent" ` +
		`(textPayload:"ip-masq-agent version:" OR textPayload:"FLAG: --random-fully=" OR textPayload:"FLAG: --to-ports=") ` +
		`timestamp>="` + f.Now.Add(-168*time.Hour).Format(time.RFC3339) + `" timestamp<="` + f.Now.Format(time.RFC3339) + `"`
	got, err := listEntries(t, c.logging, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + project}, Filter: filter}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff([]string{"version", "flags", "to-ports"}, insertIDs(got)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if len(got) > 0 && (got[0].GetTextPayload() == "" || got[0].GetLabels()["compute.googleapis.com/resource_name"] != "gke-node-1") {
		t.Errorf("entry served without its text payload or labels: %v", got[0])
	}
}
