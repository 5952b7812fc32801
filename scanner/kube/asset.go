package kube

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"

	asset "cloud.google.com/go/asset/apiv1"
	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/scanner/structwire"
)

// assetKinds maps the Cloud Asset Inventory types of the objects the
// checks read to their kind and apiVersion.
var assetKinds = []struct{ assetType, kind, apiVersion string }{
	{"apps.k8s.io/DaemonSet", "DaemonSet", "apps/v1"},
	{"k8s.io/Service", "Service", "v1"},
	{"networking.k8s.io/NetworkPolicy", "NetworkPolicy", "networking.k8s.io/v1"},
	{"k8s.io/Pod", "Pod", "v1"},
	{"apps.k8s.io/Deployment", "Deployment", "apps/v1"},
	{"apps.k8s.io/StatefulSet", "StatefulSet", "apps/v1"},
	{"apps.k8s.io/ReplicaSet", "ReplicaSet", "apps/v1"},
	{"batch.k8s.io/Job", "Job", "batch/v1"},
	{"batch.k8s.io/CronJob", "CronJob", "batch/v1"},
}

// k8sAssetName takes project, location and cluster from a Kubernetes
// object's asset name:
// //container.googleapis.com/projects/P/(locations|zones)/L/clusters/C/k8s/…
var k8sAssetName = regexp.MustCompile(`^//container\.googleapis\.com/projects/([^/]+)/(?:locations|zones)/([^/]+)/clusters/([^/]+)/k8s/`)

// AssetInventory reads the Kubernetes objects of every cluster of a scope
// from Cloud Asset Inventory: no access to any control plane, private
// clusters included. Load lists them once, type by type, 1,000 a page
// (the calls are about the objects / 1,000); only the objects that can
// change a check's verdict are kept, so memory grows with what the checks
// find, not with the fleet, and only those that hold what a check looks
// for are decoded (needles).
type AssetInventory struct {
	Client   *asset.Client
	Scope    scanner.Scope
	Catalog  *catalog.Catalog // its kubernetes_api checks decide what is kept
	Policy   gcpclient.Policy
	PageSize int // default and maximum 1000
	// Progress, when set, is called after each page with the objects so far.
	Progress func(objects int)

	once    sync.Once
	loadErr error
	objects map[scanner.ClusterKey]*Objects
	seen    map[scanner.ClusterKey]int // objects listed per cluster, kept or not
	broken  map[scanner.ClusterKey][]string
	// Calls counts the ListAssets calls by asset type.
	Calls map[string]int
}

// Load lists the scope's Kubernetes objects. An error on the scope or an
// outage fails the scan, as discovery's would.
func (a *AssetInventory) Load(ctx context.Context) error {
	a.once.Do(func() { a.loadErr = a.load(ctx) })
	return a.loadErr
}

func (a *AssetInventory) load(ctx context.Context) error {
	a.objects = map[scanner.ClusterKey]*Objects{}
	a.seen = map[scanner.ClusterKey]int{}
	a.broken = map[scanner.ClusterKey][]string{}
	a.Calls = map[string]int{}
	var checks []*catalog.KubernetesCheck
	if a.Catalog != nil {
		checks = a.Catalog.KubernetesChecks()
	}
	size := a.PageSize
	if size <= 0 || size > 1000 {
		size = 1000
	}
	total := 0
	wanted := needlesOf(checks)
	for _, k := range assetKinds {
		codec := objectCodec(k.kind, k.apiVersion, wanted)
		req := &assetpb.ListAssetsRequest{Parent: a.Scope.String(), AssetTypes: []string{k.assetType},
			ContentType: assetpb.ContentType_RESOURCE, PageSize: int32(size)}
		for token := ""; ; {
			var page []*assetpb.Asset
			pctx, cancel := a.Policy.WithTimeout(ctx)
			next, err := iterator.NewPager(a.Client.ListAssets(pctx, req, a.Policy.CallOptions(grpc.ForceCodecV2(codec))...), size, token).NextPage(&page)
			cancel()
			a.Calls[k.assetType]++
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("list %s objects in %s with Cloud Asset Inventory: %w", k.assetType, a.Scope, err)
			}
			for _, as := range page {
				w, _ := codec.Take(as)
				a.add(k.kind, k.apiVersion, as, w, checks)
			}
			total += len(page)
			if a.Progress != nil {
				a.Progress(total)
			}
			if next == "" {
				break
			}
			token = next
		}
	}
	return nil
}

// objectCodec is the codec of one kind's listing: each object's JSON is
// written from the wire (structwire), unless it holds none of its kind's
// needles; then it is only checked to be what proto reads.
func objectCodec(kind, apiVersion string, wanted needles) *structwire.Codec[wireObject] {
	return structwire.NewCodec(func(_ *assetpb.Asset, data []byte) (wireObject, bool) {
		if !wanted.mayMatter(kind, data) {
			return wireObject{skip: true}, structwire.CheckStruct(data) == nil
		}
		raw, err := appendObjectJSON(nil, kind, apiVersion, data)
		return wireObject{json: raw}, err == nil
	})
}

// wireObject is what the codec made of one object's resource.data: its
// JSON, or skip when it holds none of its kind's needles.
type wireObject struct {
	json []byte
	skip bool
}

// add decodes one object and keeps it when it can change a verdict; w is
// what the codec made of it (zero: as.Resource.Data holds it, and it is
// decoded whatever it holds).
func (a *AssetInventory) add(kind, apiVersion string, as *assetpb.Asset, w wireObject, checks []*catalog.KubernetesCheck) {
	m := k8sAssetName.FindStringSubmatch(as.GetName())
	if m == nil {
		return // not an object of a GKE cluster
	}
	key := scanner.ClusterKey{ProjectID: m[1], Location: m[2], Name: m[3]}
	a.seen[key]++
	if w.skip {
		return // it can change no verdict (needles)
	}
	raw, err := objectJSON(kind, apiVersion, as, w.json)
	var one Objects
	if err == nil {
		err = one.addKind(kind, raw) // the asset type's kind: objectJSON set it
	}
	if err != nil {
		a.broken[key] = append(a.broken[key], fmt.Sprintf("%s: %v", as.GetName(), err))
		return
	}
	if !matters(&one, checks) {
		return
	}
	o := a.objects[key]
	if o == nil {
		o = &Objects{}
		a.objects[key] = o
	}
	o.append(&one) // the object as decoded above: not again
}

// nodePortProbe stands for "the cluster has a NodePort Service" when an
// object is judged alone.
var nodePortProbe = corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort}}

// matters reports whether one object (o holds just it) can change a
// verdict: a NodePort or LoadBalancer Service, or an object that a check
// finds affected or undecided on its own (next to a NodePort Service, for
// the ip-masq-agent rule). Every other object leaves every verdict as it is.
func matters(o *Objects, checks []*catalog.KubernetesCheck) bool {
	for _, s := range o.Services {
		if s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			return true
		}
	}
	probe := *o
	probe.Services = append(slices.Clone(o.Services), nodePortProbe)
	for _, k := range checks {
		if Evaluate(k, &probe).Outcome != catalog.NotAffected {
			return true
		}
	}
	return false
}

// objectJSON rebuilds a kubectl-shaped object from an asset: resource.data
// is the object without apiVersion and kind, and may spell an IntOrString
// as the protobuf message ({"intVal": 8080}). raw is the JSON the codec
// wrote of it; nil: as.Resource.Data holds it.
func objectJSON(kind, apiVersion string, as *assetpb.Asset, raw []byte) ([]byte, error) {
	if raw != nil {
		return raw, nil
	}
	data := as.GetResource().GetData()
	if data == nil {
		return nil, fmt.Errorf("no resource data (content type RESOURCE needed)")
	}
	wire, err := proto.Marshal(data)
	if err != nil {
		return nil, err
	}
	if raw, err := appendObjectJSON(nil, kind, apiVersion, wire); err == nil {
		return raw, nil
	}
	return marshalObject(kind, apiVersion, wire) // a wire form no JSON text gives
}

// assetError names Cloud Asset Inventory in the scan error of a cluster
// whose objects it cannot give.
type assetError struct{ code, msg string }

func (e assetError) Error() string { return e.msg }
func (e assetError) API() string   { return "cloudasset" }
func (e assetError) Code() string  { return e.code }

// Check decides the issues for cluster c from the inventory's objects. A
// cluster with no object at all in the inventory (every real cluster has
// the default/kubernetes Service) or with objects that could not be
// decoded cannot be decided: an error, so the scan reports UNKNOWN.
func (a *AssetInventory) Check(ctx context.Context, c *scanner.Cluster, issues []*catalog.Issue) ([]scanner.CheckResult, bool, error) {
	if err := a.Load(ctx); err != nil {
		return nil, true, err
	}
	k := c.Key()
	if bad := a.broken[k]; len(bad) > 0 {
		return nil, true, assetError{"INVALID_DATA", fmt.Sprintf("%d Kubernetes object(s) in Cloud Asset Inventory could not be read, e.g. %s", len(bad), bad[0])}
	}
	if a.seen[k] == 0 {
		return nil, true, assetError{"NOT_FOUND", "Cloud Asset Inventory holds no Kubernetes objects of this cluster (every cluster has at least the default/kubernetes Service)"}
	}
	o := a.objects[k]
	if o == nil {
		o = &Objects{}
	}
	return Decide(issues, o), true, nil
}

// CallCounts is the ListAssets calls by asset type, in listing order.
func (a *AssetInventory) CallCounts() []scanner.CallCount {
	var out []scanner.CallCount
	for _, k := range assetKinds {
		if n := a.Calls[k.assetType]; n > 0 {
			out = append(out, scanner.CallCount{API: "cloudasset", Type: k.assetType, Calls: int64(n)})
		}
	}
	return out
}
