package gcpfake

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetscan/fleetscan/test/fleetgen"
)

// index is what Start precomputes from the fleet; it is read-only after.
type index struct {
	fleet    *fleetgen.Fleet
	projects map[string]*resourcemanagerpb.Project // by project ID
	byNumber map[string]string                     // project number -> ID
	folders  map[string]*resourcemanagerpb.Folder  // by folders/N
	// childProjects and childFolders are the direct children of
	// organizations/N or folders/N, in ID and name order.
	childProjects map[string][]*resourcemanagerpb.Project
	childFolders  map[string][]*resourcemanagerpb.Folder
	// assets of the scope organizations/N, folders/N (nested included) or a
	// project ID, in project ID then cluster name order.
	assets map[string][]*assetpb.Asset
	// encoded is each cluster asset's protobuf encoding (serverCodec).
	encoded map[*assetpb.Asset][]byte
	// kube is the Kubernetes assets of the same scopes (nil when a scope
	// has none), each type in asset name order.
	kube     map[string]kubeScope
	events   []event                // in timestamp order
	readTime *timestamppb.Timestamp // of ListAssets: the fleet's Now
}

type event struct {
	project string
	entry   *loggingpb.LogEntry
}

const clusterAssetType = "container.googleapis.com/Cluster"

func newIndex(f *fleetgen.Fleet) (*index, error) {
	x := &index{
		fleet:         f,
		projects:      map[string]*resourcemanagerpb.Project{},
		byNumber:      map[string]string{},
		folders:       map[string]*resourcemanagerpb.Folder{},
		childProjects: map[string][]*resourcemanagerpb.Project{},
		childFolders:  map[string][]*resourcemanagerpb.Folder{},
		assets:        map[string][]*assetpb.Asset{f.Org: nil},
		encoded:       map[*assetpb.Asset][]byte{},
		readTime:      timestamppb.New(f.Now),
	}
	created := timestamppb.New(f.Now.AddDate(-1, 0, 0))
	parentOf := map[string]string{}
	for _, fo := range f.Folders {
		if _, dup := x.folders[fo.Name]; dup {
			return nil, fmt.Errorf("gcpfake: folder %s appears twice", fo.Name)
		}
		pb := &resourcemanagerpb.Folder{
			Name:        fo.Name,
			Parent:      fo.Parent,
			DisplayName: "folder-" + strings.TrimPrefix(fo.Name, "folders/"),
			State:       resourcemanagerpb.Folder_ACTIVE,
			CreateTime:  created,
		}
		x.folders[fo.Name] = pb
		x.childFolders[fo.Parent] = append(x.childFolders[fo.Parent], pb)
		x.assets[fo.Name] = nil
		parentOf[fo.Name] = fo.Parent
	}
	for _, p := range f.Projects {
		if _, dup := x.projects[p.ID]; dup {
			return nil, fmt.Errorf("gcpfake: project %s appears twice", p.ID)
		}
		pb := &resourcemanagerpb.Project{
			Name:        "projects/" + strconv.FormatInt(p.Number, 10),
			Parent:      p.Parent,
			ProjectId:   p.ID,
			State:       resourcemanagerpb.Project_ACTIVE,
			DisplayName: p.ID,
			CreateTime:  created,
		}
		x.projects[p.ID] = pb
		x.assets[p.ID] = nil
		x.byNumber[strconv.FormatInt(p.Number, 10)] = p.ID
		x.childProjects[p.Parent] = append(x.childProjects[p.Parent], pb)
	}
	for _, ps := range x.childProjects {
		slices.SortFunc(ps, func(a, b *resourcemanagerpb.Project) int { return cmp.Compare(a.ProjectId, b.ProjectId) })
	}
	for _, fs := range x.childFolders {
		slices.SortFunc(fs, func(a, b *resourcemanagerpb.Folder) int { return cmp.Compare(a.Name, b.Name) })
	}

	// ancestors of each project: itself, its folders upwards, the org.
	ancestors := func(p *resourcemanagerpb.Project) ([]string, error) {
		as := []string{p.Name}
		for parent := p.Parent; ; {
			as = append(as, parent)
			if parent == f.Org {
				return as, nil
			}
			next, ok := parentOf[parent]
			if !ok || len(as) > len(f.Folders)+2 {
				return nil, fmt.Errorf("gcpfake: project %s: parent %s is not in the organization %s", p.ProjectId, parent, f.Org)
			}
			parent = next
		}
	}
	ids := slices.Sorted(maps.Keys(f.ByProject))
	clusters := map[string]kubeCluster{} // by Fleet.Kube key
	for _, id := range ids {
		p, ok := x.projects[id]
		if !ok {
			return nil, fmt.Errorf("gcpfake: clusters of unknown project %s", id)
		}
		as, err := ancestors(p)
		if err != nil {
			return nil, err
		}
		cs := slices.Clone(f.ByProject[id])
		slices.SortStableFunc(cs, func(a, b *containerpb.Cluster) int { return cmp.Compare(a.GetName(), b.GetName()) })
		for _, c := range cs {
			js, err := protojson.Marshal(c)
			if err != nil {
				return nil, fmt.Errorf("gcpfake: cluster %s/%s: %w", id, c.GetName(), err)
			}
			data := &structpb.Struct{}
			if err := protojson.Unmarshal(js, data); err != nil {
				return nil, fmt.Errorf("gcpfake: cluster %s/%s: %w", id, c.GetName(), err)
			}
			a := &assetpb.Asset{
				Name:       fmt.Sprintf("//container.googleapis.com/projects/%s/locations/%s/clusters/%s", id, c.GetLocation(), c.GetName()),
				AssetType:  clusterAssetType,
				UpdateTime: timestamppb.New(f.Now),
				Ancestors:  as,
				Resource: &assetpb.Resource{
					Version:              "v1",
					DiscoveryDocumentUri: "https://container.googleapis.com/$discovery/rest",
					DiscoveryName:        "Cluster",
					Parent:               "//cloudresourcemanager.googleapis.com/" + p.Name,
					Data:                 data,
					Location:             c.GetLocation(),
				},
			}
			if x.encoded[a], err = proto.Marshal(a); err != nil {
				return nil, fmt.Errorf("gcpfake: cluster %s/%s: %w", id, c.GetName(), err)
			}
			x.assets[id] = append(x.assets[id], a)
			for _, scope := range as[1:] {
				x.assets[scope] = append(x.assets[scope], a)
			}
			key := id + "/" + c.GetLocation() + "/" + c.GetName()
			if _, dup := clusters[key]; dup {
				return nil, fmt.Errorf("gcpfake: cluster %s appears twice", key)
			}
			clusters[key] = kubeCluster{asset: a.Name, location: c.GetLocation(), ancestors: as, scopes: append([]string{id}, as[1:]...)}
		}
	}
	if err := x.addKube(clusters); err != nil {
		return nil, err
	}

	for _, e := range f.Events {
		p, ok := projectOfLogName(e.GetLogName())
		if !ok {
			return nil, fmt.Errorf("gcpfake: event %s: log name %q is not projects/P/logs/ID", e.GetInsertId(), e.GetLogName())
		}
		x.events = append(x.events, event{project: p, entry: e})
	}
	slices.SortStableFunc(x.events, func(a, b event) int {
		return a.entry.GetTimestamp().AsTime().Compare(b.entry.GetTimestamp().AsTime())
	})
	return x, nil
}

// projectID resolves a project ID or number to the project's ID.
func (x *index) projectID(idOrNumber string) (string, bool) {
	if _, ok := x.projects[idOrNumber]; ok {
		return idOrNumber, true
	}
	id, ok := x.byNumber[idOrNumber]
	return id, ok
}

func projectOfLogName(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "projects/")
	if !ok {
		return "", false
	}
	p, _, ok := strings.Cut(rest, "/logs/")
	return p, ok && p != ""
}

// isNumber reports whether s is a resource number (organization, folder or
// project).
func isNumber(s string) bool {
	if s == "" || len(s) > 20 || s[0] == '0' {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
