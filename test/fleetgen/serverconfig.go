package fleetgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// NewestMinor is the newest minor that a generated server config offers
// (or the fleet's newest, if newer).
var NewestMinor = catalog.Minor{Major: 1, Minor: 36}

// offeredPerMinor is how many patch versions a server config offers on each
// minor.
const offeredPerMinor = 3

// Locations returns the distinct locations of the fleet's clusters (regions
// and zones), sorted.
func (f *Fleet) Locations() []string {
	var ls []string
	for _, c := range f.Clusters {
		ls = append(ls, c.GetLocation())
	}
	slices.Sort(ls)
	return slices.Compact(ls)
}

// ServerConfig is what GetServerConfig(projects/P/locations/location)
// answers for the fleet, in any of its projects. It is derived from the
// versions of the clusters in location (an exact match, as
// Cluster.location: a region or a zone) or, for a location without
// clusters, from every cluster of the fleet (the fleet's default config),
// without random draws: the same fleet always gives the same configs, and
// the rest of the fleet does not depend on them.
//
// The minors offered run from the oldest minor of those clusters'
// versions (control planes and node pools; aliases ignored) to
// [NewestMinor], gaps included. On a minor where a version was seen, the
// newest one seen and the next patches above it are offered (so that the
// cluster's upgrade is there); on another, its first few patches. Versions
// look like GKE's (1.31.5-gke.1233000) and are listed newest first:
//
//   - validMasterVersions: every offered version;
//   - validNodeVersions: the same, plus the minor below the oldest;
//   - channels: RAPID every minor; REGULAR every minor but the newest;
//     STABLE every minor but the two newest; EXTENDED, like REGULAR,
//     every minor but the newest, the oldest (in extended support)
//     included. Each channel keeps at least the oldest minor. A channel's
//     defaultVersion and upgradeTargetVersion are the oldest offered
//     version of its newest minor;
//   - defaultClusterVersion: REGULAR's defaultVersion;
//   - defaultImageType COS_CONTAINERD and the image types GKE lists.
func (f *Fleet) ServerConfig(location string) *containerpb.ServerConfig {
	var in []*containerpb.Cluster
	for _, c := range f.Clusters {
		if c.GetLocation() == location {
			in = append(in, c)
		}
	}
	if len(in) == 0 {
		in = f.Clusters
	}
	return serverConfig(in)
}

// WriteServerConfigs writes the server config of every location of the
// fleet as the offline CLI reads them (--server-config DIR): DIR/L.json
// for each location L, as `gcloud container get-server-config --location
// L --format=json` prints it (camelCase, indented by two spaces). It
// creates dir if needed.
func (f *Fleet) WriteServerConfigs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, l := range f.Locations() {
		b, err := ServerConfigJSON(f.ServerConfig(l))
		if err != nil {
			return fmt.Errorf("fleetgen: server config of %s: %w", l, err)
		}
		if err := os.WriteFile(filepath.Join(dir, l+".json"), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ServerConfigJSON renders a server config as gcloud prints it: REST JSON
// with camelCase names in field order, indented by two spaces, with a
// final newline. The output is stable (protojson's is not, on purpose).
func ServerConfigJSON(sc *containerpb.ServerConfig) ([]byte, error) {
	raw, err := protojson.Marshal(sc)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// imageTypes are the image types GKE lists (europe-west10, 2024).
var imageTypes = []string{"COS_CONTAINERD", "COS", "UBUNTU", "UBUNTU_CONTAINERD", "WINDOWS_LTSC", "WINDOWS_LTSC_CONTAINERD", "WINDOWS_SAC", "WINDOWS_SAC_CONTAINERD"}

func serverConfig(clusters []*containerpb.Cluster) *containerpb.ServerConfig {
	newest := map[int]catalog.Version{} // minor of 1.x → the newest version seen
	see := func(s string) {
		v, err := catalog.ParseVersion(s)
		if err != nil || v.Major != NewestMinor.Major {
			return // an alias, or no version
		}
		if w, ok := newest[v.Minor]; !ok || w.Less(v) {
			newest[v.Minor] = v
		}
	}
	for _, c := range clusters {
		see(c.GetCurrentMasterVersion())
		//lint:ignore SA1019 the API still reports it, and the scanner reads it
		see(c.GetCurrentNodeVersion())
		for _, p := range c.GetNodePools() {
			see(p.GetVersion())
		}
	}
	top, oldest := NewestMinor.Minor, NewestMinor.Minor-3 // the latter when no version was seen
	if len(newest) > 0 {
		oldest = slices.Min(slices.Collect(maps.Keys(newest)))
		top = max(top, slices.Max(slices.Collect(maps.Keys(newest))))
	}
	byMinor := map[int][]string{} // newest first
	for m := oldest - 1; m <= top; m++ {
		byMinor[m] = offeredOn(m, newest)
	}
	span := func(from, to int) []string { // minors from..to, newest first
		var vs []string
		for m := to; m >= from; m-- {
			vs = append(vs, byMinor[m]...)
		}
		return vs
	}
	channel := func(ch containerpb.ReleaseChannel_Channel, drop int) *containerpb.ServerConfig_ReleaseChannelConfig {
		newestMinor := max(oldest, top-drop)
		vs := byMinor[newestMinor]
		return &containerpb.ServerConfig_ReleaseChannelConfig{
			Channel:              ch,
			DefaultVersion:       vs[len(vs)-1],
			ValidVersions:        span(oldest, newestMinor),
			UpgradeTargetVersion: vs[len(vs)-1],
		}
	}
	regular := channel(containerpb.ReleaseChannel_REGULAR, 1)
	return &containerpb.ServerConfig{
		DefaultClusterVersion: regular.GetDefaultVersion(),
		ValidNodeVersions:     span(oldest-1, top),
		DefaultImageType:      "COS_CONTAINERD",
		ValidImageTypes:       slices.Clone(imageTypes),
		ValidMasterVersions:   span(oldest, top),
		Channels: []*containerpb.ServerConfig_ReleaseChannelConfig{
			channel(containerpb.ReleaseChannel_RAPID, 0),
			regular,
			channel(containerpb.ReleaseChannel_STABLE, 2),
			channel(containerpb.ReleaseChannel_EXTENDED, 1),
		},
	}
}

// offeredOn returns the versions offered on minor 1.m, newest first: the
// newest seen and the patches above it, or the first patches of a minor
// without any.
func offeredOn(m int, newest map[int]catalog.Version) []string {
	first := catalog.Version{Major: NewestMinor.Major, Minor: m, Patch: 1, Build: build(m, 1)}
	from := 0 // the offset of the first version above first
	if v, ok := newest[m]; ok {
		first, from = v, 1
	}
	vs := make([]string, 0, offeredPerMinor)
	for i := offeredPerMinor - 1; i >= from; i-- {
		p := first.Patch + i
		vs = append(vs, catalog.Version{Major: first.Major, Minor: m, Patch: p, Build: build(m, p)}.String())
	}
	if from == 1 {
		vs = append(vs, first.String())
	}
	return vs
}

// build is a GKE-looking build number (1xxx000) for patch p of minor 1.m.
func build(m, p int) int {
	return 1_000_000 + (m*7919+p*104729)%900*1000
}
