// Package fleetgen generates realistic GKE fleets for tests and benchmarks:
// N clusters in M projects as Container API v1 Cluster resources, with a
// Dataplane V2 share, Autopilot clusters without node pools, versions across
// 1.21–1.31 that include both sides of every fixed version in the catalog,
// node pools lagging their control plane, and a mix of image types. The
// same seed always gives the same fleet.
package fleetgen

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/encoding/protojson"

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
}

// Fleet is a generated fleet.
type Fleet struct {
	Projects  []string               // project IDs, sorted
	Clusters  []*containerpb.Cluster // in project order
	ByProject map[string][]*containerpb.Cluster
}

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
	g := &gen{rng: rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15)), opt: opt, versions: versionPool(cat)}
	f := &Fleet{ByProject: map[string][]*containerpb.Cluster{}}
	for p := range opt.Projects {
		f.Projects = append(f.Projects, fmt.Sprintf("fleet-proj-%05d", p))
	}
	for i := range opt.Clusters {
		project := f.Projects[i*opt.Projects/opt.Clusters] // contiguous blocks, so Clusters is in project order
		c := g.cluster(project, i)
		f.Clusters = append(f.Clusters, c)
		f.ByProject[project] = append(f.ByProject[project], c)
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
	rng      *rand.Rand
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
			Name:    fmt.Sprintf("pool-%d", p),
			Version: version,
			Status:  containerpb.NodePool_RUNNING,
			Config:  &containerpb.NodeConfig{ImageType: g.imageType(c.Autopilot.Enabled), MachineType: "e2-standard-4", DiskSizeGb: 100},
		})
	}
	//lint:ignore SA1019 the API still reports it, and the scanner reads it
	c.CurrentNodeVersion = oldest.String()
	return c
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

// ListClustersJSON renders clusters as a ListClustersResponse in REST JSON,
// the form gcloud and the API produce.
func ListClustersJSON(cs []*containerpb.Cluster) ([]byte, error) {
	return protojson.Marshal(&containerpb.ListClustersResponse{Clusters: cs})
}
