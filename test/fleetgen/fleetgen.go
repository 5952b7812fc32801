// Package fleetgen generates realistic GKE fleets for tests and benchmarks:
// N clusters in M projects as Container API v1 Cluster resources, with a
// Dataplane V2 share, Autopilot clusters without node pools, versions across
// 1.21–1.31 that include both sides of every fixed version in the catalog,
// node pools lagging their control plane, and a mix of image types; with
// Options.Kube, each cluster's Kubernetes objects too, as kubectl prints
// them ([Fleet.Kube], [Fleet.WriteKubeDumps]). The same seed always gives
// the same fleet.
package fleetgen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// Options of a generated fleet.
type Options struct {
	Clusters int
	Projects int
	Seed     uint64
	// DataplaneV2Share of clusters on ADVANCED_DATAPATH (default 0.6).
	DataplaneV2Share float64
	// AutopilotShare of clusters that are Autopilot (default 0.15); a third
	// of those have no nodePools.
	AutopilotShare float64
	// BadVersionShare of node pools whose version is an alias (default 0.005).
	BadVersionShare float64
	// Now ends the generated events' window (default DefaultNow); tests that
	// scan at the real time pass time.Now().
	Now time.Time
	// Kube also gives every cluster Kubernetes objects (Fleet.Kube). They
	// are drawn after everything else, so the rest of the fleet is the same
	// with or without them.
	Kube bool
	// KubeShape, with Kube, pads every cluster's objects up to these
	// counts with objects that change no in-cluster verdict (nil: no
	// padding; see [KubeShape] and [TypicalCluster]). The padding is drawn
	// after every cluster's regular objects, which stay the same.
	KubeShape *KubeShape
	// RealSize gives every cluster and node pool the fields a real one
	// carries that decide no finding (endpoint, CA certificate, logging,
	// CIDRs, instance groups, node configuration...): about 8 KB of JSON a
	// cluster, the gcpdiag dumps' 4–6 KB and the 2 KB CA certificate they
	// leave out, where the generator's own are about 1 KB. The findings, and the rest of the fleet, stay the same.
	RealSize bool
}

// Fleet is a generated fleet in an organization: folders (some nested),
// projects in the organization or a folder, clusters, and the IPAM events
// that Cloud Logging holds for some of them.
type Fleet struct {
	Org       string    // organizations/N
	Now       time.Time // the end of the generated events' window
	Folders   []Folder
	Projects  []Project              // sorted by ID
	Clusters  []*containerpb.Cluster // in project order
	ByProject map[string][]*containerpb.Cluster
	// Events are FailedCreatePodSandBox events reported by the kubelet
	// (source.component and reportingComponent), newest last: for some
	// Dataplane V2 and legacy clusters, a few for clusters that are not in
	// the fleet, and a few older than a week.
	Events []*loggingpb.LogEntry
	// Kube holds, with Options.Kube, each cluster's Kubernetes objects by
	// "PROJECT/LOCATION/CLUSTER" (scanner.ClusterKey.String(), [KubeKey]),
	// sorted by asset type then namespace/name: the default/kubernetes
	// Service, kube-dns (Service, Deployment, ReplicaSet, two Pods) and, by
	// chance, a custom ip-masq-agent DaemonSet, workloads (Deployments with
	// their ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs) of which
	// some set net.ipv4.ip_local_port_range, ClusterIP, NodePort and
	// LoadBalancer Services, and NetworkPolicies of which some use endPort
	// (some only in their last-applied-configuration). About a third of the
	// clusters are affected by each of the three in-cluster checks, a few
	// undecided. With Options.KubeShape, each cluster also has padding
	// objects up to the shape's counts, which change no verdict. Nil
	// without Options.Kube.
	Kube map[string][]KubeObject
}

// Folder is a Resource Manager folder.
type Folder struct {
	Name   string // folders/N
	Parent string // organizations/N or folders/N
}

// Project is a Resource Manager project.
type Project struct {
	ID     string
	Number int64
	Parent string // organizations/N or folders/N
}

// ProjectIDs returns the fleet's project IDs, sorted.
func (f *Fleet) ProjectIDs() []string {
	ids := make([]string, len(f.Projects))
	for i, p := range f.Projects {
		ids[i] = p.ID
	}
	return ids
}

// DefaultNow is the end of the event window of every generated fleet.
var DefaultNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

var regions = []string{"us-central1", "us-east1", "europe-west1", "europe-west4", "asia-southeast1", "us-west1"}

// Generate builds a fleet.
func Generate(opt Options) (*Fleet, error) {
	if opt.Clusters <= 0 || opt.Projects <= 0 {
		return nil, fmt.Errorf("fleetgen: need clusters > 0 and projects > 0, got %d and %d", opt.Clusters, opt.Projects)
	}
	if opt.DataplaneV2Share == 0 {
		opt.DataplaneV2Share = 0.6
	}
	if opt.AutopilotShare == 0 {
		opt.AutopilotShare = 0.15
	}
	if opt.BadVersionShare == 0 {
		opt.BadVersionShare = 0.005
	}
	cat, err := catalog.Embedded()
	if err != nil {
		return nil, err
	}
	g := &gen{rng: rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15)), cfg: rand.New(rand.NewPCG(opt.Seed+1, opt.Seed^0x51afd7ed558ccd)),
		opt: opt, versions: versionPool(cat)}
	f := &Fleet{Org: "organizations/1000000001", Now: DefaultNow, ByProject: map[string][]*containerpb.Cluster{}}
	if !opt.Now.IsZero() {
		f.Now = opt.Now.UTC()
	}
	// Folders: a tenth of the projects' count, a third of them nested.
	parents := []string{f.Org}
	for i := range max(1, opt.Projects/10) {
		parent := f.Org
		if i > 0 && g.chance(1.0/3) {
			parent = f.Folders[g.rng.IntN(len(f.Folders))].Name
		}
		fo := Folder{Name: fmt.Sprintf("folders/%d", 2000000000+i), Parent: parent}
		f.Folders = append(f.Folders, fo)
		parents = append(parents, fo.Name)
	}
	for p := range opt.Projects {
		f.Projects = append(f.Projects, Project{
			ID:     fmt.Sprintf("fleet-proj-%05d", p),
			Number: 300000000000 + int64(p),
			Parent: parents[g.rng.IntN(len(parents))],
		})
	}
	for i := range opt.Clusters {
		project := f.Projects[i*opt.Projects/opt.Clusters].ID // contiguous blocks, so Clusters is in project order
		c := g.cluster(project, i)
		if opt.RealSize {
			realSize(c, project)
		}
		f.Clusters = append(f.Clusters, c)
		f.ByProject[project] = append(f.ByProject[project], c)
	}
	f.Events = g.events(f)
	if opt.Kube {
		if f.Kube, err = g.kube(f); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// versionPool is every catalog fix, one build below it and one above, plus
// ordinary versions on each minor 1.21–1.31.
func versionPool(cat *catalog.Catalog) []catalog.Version {
	var vs []catalog.Version
	for _, is := range cat.Issues {
		for _, r := range is.Affected {
			if r.FixedIn == "" {
				continue
			}
			v := catalog.MustParseVersion(r.FixedIn)
			below, above := v, v
			below.Build--
			above.Build++
			vs = append(vs, below, v, above)
		}
	}
	for minor := 21; minor <= 31; minor++ {
		for _, patch := range []int{3, 10} {
			vs = append(vs, catalog.Version{Major: 1, Minor: minor, Patch: patch, Build: 1000 + minor*100 + patch})
		}
	}
	slices.SortFunc(vs, catalog.Version.Compare)
	return slices.Compact(vs)
}

type gen struct {
	rng *rand.Rand
	// cfg draws the configuration that only the catalog's CEL conditions
	// read (add-ons, machine types, workload metadata): a stream of its
	// own, so the fleets that tests pin stay what they were.
	cfg      *rand.Rand
	opt      Options
	versions []catalog.Version
}

func (g *gen) chance(p float64) bool { return g.rng.Float64() < p }

func (g *gen) cluster(project string, i int) *containerpb.Cluster {
	region := regions[g.rng.IntN(len(regions))]
	location, kind := region, "locations"
	if g.chance(0.3) {
		location, kind = region+"-"+string(rune('a'+g.rng.IntN(3))), "zones"
	}
	name := fmt.Sprintf("cluster-%05d", i)
	master := g.versions[g.rng.IntN(len(g.versions))]
	c := &containerpb.Cluster{
		Name:                  name,
		Location:              location,
		Id:                    fmt.Sprintf("%064x", g.rng.Uint64()),
		SelfLink:              fmt.Sprintf("https://container.googleapis.com/v1/projects/%s/%s/%s/clusters/%s", project, kind, location, name),
		Status:                containerpb.Cluster_RUNNING,
		CurrentMasterVersion:  master.String(),
		InitialClusterVersion: g.older(master).String(),
		ReleaseChannel:        &containerpb.ReleaseChannel{Channel: containerpb.ReleaseChannel_Channel(1 + g.rng.IntN(3))},
		IpAllocationPolicy:    &containerpb.IPAllocationPolicy{UseIpAliases: true},
		NetworkConfig:         &containerpb.NetworkConfig{Network: "projects/" + project + "/global/networks/default"},
		Autopilot:             &containerpb.Autopilot{},
		// What every real cluster has: add-ons (the Persistent Disk CSI
		// driver on, Cloud Storage FUSE on one cluster in five) and masterAuth.
		AddonsConfig: &containerpb.AddonsConfig{
			GcePersistentDiskCsiDriverConfig: &containerpb.GcePersistentDiskCsiDriverConfig{Enabled: true},
			GcsFuseCsiDriverConfig:           &containerpb.GcsFuseCsiDriverConfig{Enabled: g.cfg.Float64() < 0.2},
		},
		MasterAuth: &containerpb.MasterAuth{},
	}
	if g.cfg.Float64() < 0.5 {
		c.WorkloadIdentityConfig = &containerpb.WorkloadIdentityConfig{WorkloadPool: project + ".svc.id.goog"}
	}
	dpv2 := g.chance(g.opt.DataplaneV2Share)
	switch {
	case dpv2:
		c.NetworkConfig.DatapathProvider = containerpb.DatapathProvider_ADVANCED_DATAPATH
	case g.chance(0.5):
		c.NetworkConfig.DatapathProvider = containerpb.DatapathProvider_LEGACY_DATAPATH
	}
	if dpv2 && g.chance(g.opt.AutopilotShare) {
		c.Autopilot.Enabled = true
		if g.chance(1.0 / 3) {
			// Autopilot with no running nodes: no nodePools key, an older node version.
			//lint:ignore SA1019 the API still reports it, and the scanner reads it
			c.CurrentNodeVersion = g.older(master).String()
			return c
		}
	}
	pools := 1 + g.rng.IntN(4)
	oldest := master
	for p := range pools {
		v := master
		if g.chance(0.4) {
			v = g.older(master) // pools lag the control plane
		}
		if v.Less(oldest) {
			oldest = v
		}
		version := v.String()
		if g.chance(g.opt.BadVersionShare) {
			version = v.MinorLine().String() // an alias, as a request would say it
		}
		c.NodePools = append(c.NodePools, &containerpb.NodePool{
			Name:       fmt.Sprintf("pool-%d", p),
			Version:    version,
			Status:     containerpb.NodePool_RUNNING,
			Config:     &containerpb.NodeConfig{ImageType: g.imageType(c.Autopilot.Enabled), MachineType: g.machineType(), DiskSizeGb: 100},
			Management: &containerpb.NodeManagement{AutoUpgrade: true, AutoRepair: true},
		})
		if c.WorkloadIdentityConfig != nil {
			c.NodePools[p].Config.WorkloadMetadataConfig = &containerpb.WorkloadMetadataConfig{Mode: containerpb.WorkloadMetadataConfig_GKE_METADATA}
		}
	}
	//lint:ignore SA1019 the API still reports it, and the scanner reads it
	c.CurrentNodeVersion = oldest.String()
	return c
}

// machineType is mostly e2-standard-4, sometimes a custom, GPU or local
// SSD machine type.
func (g *gen) machineType() string {
	switch x := g.cfg.Float64(); {
	case x < 0.04:
		return "n2-custom-8-32768"
	case x < 0.06:
		return "g2-standard-8"
	case x < 0.07:
		return "a3-highgpu-8g"
	}
	return "e2-standard-4"
}

// older returns a version on the same or up to two minors below v.
func (g *gen) older(v catalog.Version) catalog.Version {
	floor := catalog.Minor{Major: v.Major, Minor: max(21, v.Minor-2)}
	var cands []catalog.Version
	for _, w := range g.versions {
		if !v.Less(w) && w.MinorLine().Compare(floor) >= 0 {
			cands = append(cands, w)
		}
	}
	return cands[g.rng.IntN(len(cands))]
}

func (g *gen) imageType(autopilot bool) string {
	if autopilot {
		return "COS_CONTAINERD"
	}
	switch x := g.rng.Float64(); {
	case x < 0.70:
		return "COS_CONTAINERD"
	case x < 0.85:
		return "UBUNTU_CONTAINERD"
	case x < 0.90:
		return "WINDOWS_LTSC_CONTAINERD"
	case x < 0.95:
		return "COS"
	case x < 0.99:
		return "UBUNTU"
	default:
		return "" // not reported
	}
}

// events generates IPAM events for about 4% of the clusters (any
// dataplane: the scan decides what they mean), some re-written with a
// growing count, plus events of clusters outside the fleet and old ones.
func (g *gen) events(f *Fleet) []*loggingpb.LogEntry {
	var out []*loggingpb.LogEntry
	add := func(project, location, cluster string, age time.Duration, uid string, count int) {
		ts := f.Now.Add(-age)
		node := fmt.Sprintf("gke-%s-pool-0-%08x-%04x", cluster, g.rng.Uint32(), g.rng.IntN(1<<16))
		third := g.rng.IntN(250)
		msg := fmt.Sprintf(`Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "%016x%016x": failed to allocate for range 0: no IP addresses available in range set: 10.%d.%d.1-10.%d.%d.62`,
			g.rng.Uint64(), g.rng.Uint64(), 40+third%50, third, 40+third%50, third)
		payload, _ := structpb.NewStruct(map[string]any{
			"apiVersion": "v1", "kind": "Event", "type": "Warning",
			"reason": "FailedCreatePodSandBox", "message": msg, "count": count,
			"metadata":       map[string]any{"uid": uid, "namespace": "default", "name": "web-" + uid[:8]},
			"involvedObject": map[string]any{"kind": "Pod", "namespace": "default", "name": "web-" + uid[:8]},
			"source":         map[string]any{"component": "kubelet", "host": node},
			// The kubelet reports its events under both names, and the
			// scanner counts only events it reported.
			"reportingComponent": "kubelet",
		})
		out = append(out, &loggingpb.LogEntry{
			LogName:   "projects/" + project + "/logs/events",
			Resource:  &monitoredres.MonitoredResource{Type: "k8s_pod", Labels: map[string]string{"project_id": project, "location": location, "cluster_name": cluster, "namespace_name": "default", "pod_name": "web-" + uid[:8]}},
			Timestamp: timestamppb.New(ts),
			Severity:  ltype.LogSeverity_WARNING,
			InsertId:  fmt.Sprintf("%016x", g.rng.Uint64()),
			Payload:   &loggingpb.LogEntry_JsonPayload{JsonPayload: payload},
		})
	}
	uid := func() string {
		return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", g.rng.Uint32(), g.rng.IntN(1<<16), g.rng.IntN(1<<16), g.rng.IntN(1<<16), g.rng.Uint64()&(1<<48-1))
	}
	for _, c := range f.Clusters {
		if !g.chance(0.04) {
			continue
		}
		project := projectOfSelfLink(c.GetSelfLink())
		for range 1 + g.rng.IntN(4) {
			id := uid()
			age := time.Duration(1+g.rng.IntN(6*24*60)) * time.Minute
			add(project, c.GetLocation(), c.GetName(), age, id, 1)
			if g.chance(0.3) { // the same event again, later, with a higher count
				add(project, c.GetLocation(), c.GetName(), age-time.Minute/2, id, 2+g.rng.IntN(5))
			}
		}
		if g.chance(0.2) {
			add(project, c.GetLocation(), c.GetName(), 10*24*time.Hour, uid(), 1) // outside a 7-day window
		}
	}
	for i := range max(1, len(f.Clusters)/500) { // clusters deleted since, or never inventoried
		p := f.Projects[g.rng.IntN(len(f.Projects))].ID
		add(p, regions[i%len(regions)], fmt.Sprintf("gone-%03d", i), time.Hour, uid(), 1)
	}
	slices.SortStableFunc(out, func(a, b *loggingpb.LogEntry) int {
		return a.GetTimestamp().AsTime().Compare(b.GetTimestamp().AsTime())
	})
	return out
}

func projectOfSelfLink(selfLink string) string {
	_, rest, _ := strings.Cut(selfLink, "/projects/")
	p, _, _ := strings.Cut(rest, "/")
	return p
}

// WriteFiles writes the fleet as the offline CLI reads it: clusters.json (a
// ListClustersResponse) and logs.json (a JSON array of LogEntry, as gcloud
// logging read --format=json prints it). It returns the two paths.
func (f *Fleet) WriteFiles(dir string) (clusters, logs string, err error) {
	cj, err := ListClustersJSON(f.Clusters)
	if err != nil {
		return "", "", err
	}
	var lj bytes.Buffer
	lj.WriteByte('[')
	for i, e := range f.Events {
		if i > 0 {
			lj.WriteString(",\n")
		}
		b, err := protojson.Marshal(e)
		if err != nil {
			return "", "", err
		}
		lj.Write(b)
	}
	lj.WriteString("]\n")
	clusters, logs = filepath.Join(dir, "clusters.json"), filepath.Join(dir, "logs.json")
	if err := os.WriteFile(clusters, cj, 0o644); err != nil {
		return "", "", err
	}
	return clusters, logs, os.WriteFile(logs, lj.Bytes(), 0o644)
}

// ListClustersJSON renders clusters as a ListClustersResponse in REST JSON,
// the form gcloud and the API produce.
func ListClustersJSON(cs []*containerpb.Cluster) ([]byte, error) {
	return protojson.Marshal(&containerpb.ListClustersResponse{Clusters: cs})
}
