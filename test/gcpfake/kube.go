package gcpfake

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// kubeType is a Kubernetes asset type of Cloud Asset Inventory: its
// objects' kind and the group and resource segments of their asset names.
type kubeType struct {
	assetType, kind string
	group           string // "" for the core group
	plural          string
}

// kubeTypes are the Kubernetes asset types the fake lists, in the order of
// the Objects that scanner/kube reads.
var kubeTypes = []kubeType{
	{"k8s.io/Service", "Service", "", "services"},
	{"k8s.io/Pod", "Pod", "", "pods"},
	{"apps.k8s.io/DaemonSet", "DaemonSet", "apps", "daemonsets"},
	{"apps.k8s.io/Deployment", "Deployment", "apps", "deployments"},
	{"apps.k8s.io/StatefulSet", "StatefulSet", "apps", "statefulsets"},
	{"apps.k8s.io/ReplicaSet", "ReplicaSet", "apps", "replicasets"},
	{"batch.k8s.io/Job", "Job", "batch", "jobs"},
	{"batch.k8s.io/CronJob", "CronJob", "batch", "cronjobs"},
	{"networking.k8s.io/NetworkPolicy", "NetworkPolicy", "networking.k8s.io", "networkpolicies"},
}

// kubeTypeIndex returns the index of assetType in kubeTypes, or -1.
func kubeTypeIndex(assetType string) int {
	return slices.IndexFunc(kubeTypes, func(t kubeType) bool { return t.assetType == assetType })
}

// kubeAssetName is the asset name of a namespaced object of type t in the
// cluster whose asset name is cluster:
// CLUSTER/k8s/namespaces/NS/[GROUP/]PLURAL/NAME.
func kubeAssetName(cluster string, t kubeType, namespace, name string) string {
	group := ""
	if t.group != "" {
		group = t.group + "/"
	}
	return cluster + "/k8s/namespaces/" + namespace + "/" + group + t.plural + "/" + name
}

// kubeScope is the Kubernetes assets of one scope, by kubeTypes index, each
// in asset name order.
type kubeScope [][]*kubeAsset

// kubeAsset is one Kubernetes object as an asset. Its resource.data is
// built from json when it is served, so that the index holds the fleet's
// bytes rather than a structpb tree per object.
type kubeAsset struct {
	name      string
	typ       int      // in kubeTypes
	parent    string   // the cluster's asset name
	location  string   // the cluster's
	ancestors []string // shared by the project's assets
	json      []byte   // the fleet's, with apiVersion and kind
}

// asset renders k as Cloud Asset Inventory serves it: resource.data is
// the object without apiVersion and kind.
func (k *kubeAsset) asset(updated *timestamppb.Timestamp) (*assetpb.Asset, error) {
	data, err := kubeData(k.json)
	if err != nil {
		return nil, fmt.Errorf("gcpfake: asset %s: %w", k.name, err)
	}
	t := kubeTypes[k.typ]
	return &assetpb.Asset{
		Name:       k.name,
		AssetType:  t.assetType,
		UpdateTime: updated,
		Ancestors:  k.ancestors,
		Resource: &assetpb.Resource{
			Version:              "v1",
			DiscoveryDocumentUri: kubeDiscoveryURI,
			DiscoveryName:        t.kind,
			Parent:               k.parent,
			Data:                 data,
			Location:             k.location,
		},
	}, nil
}

// kubeDiscoveryURI is the document Cloud Asset Inventory names for the
// Kubernetes types: the Kubernetes OpenAPI spec.
const kubeDiscoveryURI = "https://raw.githubusercontent.com/kubernetes/kubernetes/master/api/openapi-spec/swagger.json"

// kubeData is an object's JSON without apiVersion and kind, as a Struct.
func kubeData(js []byte) (*structpb.Struct, error) {
	data := &structpb.Struct{}
	if err := protojson.Unmarshal(js, data); err != nil {
		return nil, err
	}
	delete(data.Fields, "apiVersion")
	delete(data.Fields, "kind")
	return data, nil
}

// addKube indexes the Kubernetes objects of the fleet's clusters. clusters
// maps each cluster's Fleet.Kube key to its asset name, location, and the
// scopes that list it (its project ID, its folders, the organization);
// ancestors are its asset's.
func (x *index) addKube(clusters map[string]kubeCluster) error {
	f := x.fleet
	var all []*kubeAsset
	scopesOf := map[*kubeAsset][]string{}
	for _, key := range slices.Sorted(maps.Keys(f.Kube)) {
		c, ok := clusters[key]
		if !ok {
			return fmt.Errorf("gcpfake: Kubernetes objects of %s, which is not a cluster of the fleet", key)
		}
		seen := map[string]bool{}
		for _, o := range f.Kube[key] {
			i := kubeTypeIndex(o.AssetType)
			switch {
			case i < 0:
				return fmt.Errorf("gcpfake: cluster %s: %s %s/%s: asset type %q is not one of the fake's Kubernetes types", key, o.Kind, o.Namespace, o.Name, o.AssetType)
			case o.Kind != kubeTypes[i].kind:
				return fmt.Errorf("gcpfake: cluster %s: %s %s/%s: kind %s does not match asset type %s", key, o.Kind, o.Namespace, o.Name, o.Kind, o.AssetType)
			case o.Namespace == "" || o.Name == "" || strings.Contains(o.Namespace+o.Name, "/"):
				return fmt.Errorf("gcpfake: cluster %s: %s %q/%q: want a namespace and a name without '/'", key, o.Kind, o.Namespace, o.Name)
			}
			if _, err := kubeData(o.JSON); err != nil {
				return fmt.Errorf("gcpfake: cluster %s: %s %s/%s: %w", key, o.Kind, o.Namespace, o.Name, err)
			}
			a := &kubeAsset{
				name:      kubeAssetName(c.asset, kubeTypes[i], o.Namespace, o.Name),
				typ:       i,
				parent:    c.asset,
				location:  c.location,
				ancestors: c.ancestors,
				json:      o.JSON,
			}
			if seen[a.name] {
				return fmt.Errorf("gcpfake: cluster %s: %s %s/%s appears twice", key, o.Kind, o.Namespace, o.Name)
			}
			seen[a.name] = true
			all = append(all, a)
			scopesOf[a] = c.scopes
		}
	}
	slices.SortFunc(all, func(a, b *kubeAsset) int { return cmp.Or(cmp.Compare(a.typ, b.typ), strings.Compare(a.name, b.name)) })
	x.kube = map[string]kubeScope{}
	for _, a := range all {
		for _, scope := range scopesOf[a] {
			ks := x.kube[scope]
			if ks == nil {
				ks = make(kubeScope, len(kubeTypes))
				x.kube[scope] = ks
			}
			ks[a.typ] = append(ks[a.typ], a)
		}
	}
	return nil
}

// kubeCluster is what addKube needs of a cluster's asset.
type kubeCluster struct {
	asset, location string
	ancestors       []string
	scopes          []string
}

// kubeAssets are the assets of scope of the types (kubeTypes indexes), in
// that order, each type in name order.
func (x *index) kubeAssets(scope string, types []int) []*kubeAsset {
	ks := x.kube[scope]
	if ks == nil {
		return nil
	}
	if len(types) == 1 {
		return ks[types[0]]
	}
	n := 0
	for _, t := range types {
		n += len(ks[t])
	}
	out := make([]*kubeAsset, 0, n)
	for _, t := range types {
		out = append(out, ks[t]...)
	}
	return out
}

// kubeTypeList is the fake's Kubernetes asset types, for messages.
func kubeTypeList() []string {
	out := make([]string, len(kubeTypes))
	for i, t := range kubeTypes {
		out[i] = t.assetType
	}
	return out
}
