package fleetgen_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
)

func generate(t *testing.T, o fleetgen.Options) *fleetgen.Fleet {
	t.Helper()
	f, err := fleetgen.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The exact config of a small hand-made fleet.
func TestServerConfigExact(t *testing.T) {
	f := &fleetgen.Fleet{Clusters: []*containerpb.Cluster{
		{Location: "us-central1", CurrentMasterVersion: "1.31.5-gke.1233000", NodePools: []*containerpb.NodePool{
			{Version: "1.30.2-gke.1000"}, {Version: "1.31"}, // an alias is ignored
		}},
		{Location: "us-central1-a", CurrentMasterVersion: "1.32.1-gke.1000"},
	}}
	on := map[string][]string{ // the versions offered on each minor, newest first
		"1.36": {"1.36.3-gke.1771000", "1.36.2-gke.1442000", "1.36.1-gke.1113000"},
		"1.35": {"1.35.3-gke.1052000", "1.35.2-gke.1623000", "1.35.1-gke.1294000"},
		"1.34": {"1.34.3-gke.1233000", "1.34.2-gke.1804000", "1.34.1-gke.1475000"},
		"1.33": {"1.33.3-gke.1414000", "1.33.2-gke.1085000", "1.33.1-gke.1656000"},
		"1.32": {"1.32.3-gke.1595000", "1.32.2-gke.1266000", "1.32.1-gke.1837000"},
		"1.31": {"1.31.7-gke.1292000", "1.31.6-gke.1863000", "1.31.5-gke.1233000"},
		"1.30": {"1.30.4-gke.1386000", "1.30.3-gke.1057000", "1.30.2-gke.1000"},
		"1.29": {"1.29.3-gke.1238000", "1.29.2-gke.1809000", "1.29.1-gke.1480000"},
	}
	minors := func(ms ...string) []string {
		var vs []string
		for _, m := range ms {
			vs = append(vs, on[m]...)
		}
		return vs
	}
	channel := func(ch containerpb.ReleaseChannel_Channel, def string, ms ...string) *containerpb.ServerConfig_ReleaseChannelConfig {
		return &containerpb.ServerConfig_ReleaseChannelConfig{Channel: ch, DefaultVersion: def, ValidVersions: minors(ms...), UpgradeTargetVersion: def}
	}
	imageTypes := []string{"COS_CONTAINERD", "COS", "UBUNTU", "UBUNTU_CONTAINERD", "WINDOWS_LTSC", "WINDOWS_LTSC_CONTAINERD", "WINDOWS_SAC", "WINDOWS_SAC_CONTAINERD"}
	want := &containerpb.ServerConfig{
		DefaultClusterVersion: "1.35.1-gke.1294000",
		ValidNodeVersions:     minors("1.36", "1.35", "1.34", "1.33", "1.32", "1.31", "1.30", "1.29"),
		DefaultImageType:      "COS_CONTAINERD",
		ValidImageTypes:       imageTypes,
		ValidMasterVersions:   minors("1.36", "1.35", "1.34", "1.33", "1.32", "1.31", "1.30"),
		Channels: []*containerpb.ServerConfig_ReleaseChannelConfig{
			channel(containerpb.ReleaseChannel_RAPID, "1.36.1-gke.1113000", "1.36", "1.35", "1.34", "1.33", "1.32", "1.31", "1.30"),
			channel(containerpb.ReleaseChannel_REGULAR, "1.35.1-gke.1294000", "1.35", "1.34", "1.33", "1.32", "1.31", "1.30"),
			channel(containerpb.ReleaseChannel_STABLE, "1.34.1-gke.1475000", "1.34", "1.33", "1.32", "1.31", "1.30"),
			channel(containerpb.ReleaseChannel_EXTENDED, "1.35.1-gke.1294000", "1.35", "1.34", "1.33", "1.32", "1.31", "1.30"),
		},
	}
	if got := f.ServerConfig("us-central1"); !proto.Equal(got, want) {
		t.Errorf("ServerConfig(us-central1) =\n%v\nwant\n%v", got, want)
	}
	// The zone has its own clusters: 1.32 from its version up.
	on["1.32"] = []string{"1.32.3-gke.1595000", "1.32.2-gke.1266000", "1.32.1-gke.1000"}
	on["1.31"] = []string{"1.31.3-gke.1776000", "1.31.2-gke.1447000", "1.31.1-gke.1118000"}
	zone := &containerpb.ServerConfig{
		DefaultClusterVersion: "1.35.1-gke.1294000",
		ValidNodeVersions:     minors("1.36", "1.35", "1.34", "1.33", "1.32", "1.31"),
		DefaultImageType:      "COS_CONTAINERD",
		ValidImageTypes:       imageTypes,
		ValidMasterVersions:   minors("1.36", "1.35", "1.34", "1.33", "1.32"),
		Channels: []*containerpb.ServerConfig_ReleaseChannelConfig{
			channel(containerpb.ReleaseChannel_RAPID, "1.36.1-gke.1113000", "1.36", "1.35", "1.34", "1.33", "1.32"),
			channel(containerpb.ReleaseChannel_REGULAR, "1.35.1-gke.1294000", "1.35", "1.34", "1.33", "1.32"),
			channel(containerpb.ReleaseChannel_STABLE, "1.34.1-gke.1475000", "1.34", "1.33", "1.32"),
			channel(containerpb.ReleaseChannel_EXTENDED, "1.35.1-gke.1294000", "1.35", "1.34", "1.33", "1.32"),
		},
	}
	if got := f.ServerConfig("us-central1-a"); !proto.Equal(got, zone) {
		t.Errorf("ServerConfig(us-central1-a) =\n%v\nwant\n%v", got, zone)
	}
	if got := f.Locations(); !slices.Equal(got, []string{"us-central1", "us-central1-a"}) {
		t.Errorf("Locations() = %v", got)
	}
}

// On a generated fleet, every location's config offers each of its
// clusters' versions or newer on the same minor, and every minor above up
// to NewestMinor, newest first, and channels as documented.
func TestServerConfigOffersUpgrades(t *testing.T) {
	opt := fleetgen.Options{Clusters: 400, Projects: 40, Seed: 9}
	f := generate(t, opt)
	again := generate(t, opt)
	before := proto.Clone(&containerpb.ListClustersResponse{Clusters: f.Clusters})
	parse := func(vs []string) []catalog.Version {
		t.Helper()
		out := make([]catalog.Version, len(vs))
		for i, s := range vs {
			v, err := catalog.ParseVersion(s)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = v
		}
		return out
	}
	minorsOf := func(vs []catalog.Version) []catalog.Minor {
		var ms []catalog.Minor
		for _, v := range vs {
			if len(ms) == 0 || ms[len(ms)-1] != v.MinorLine() {
				ms = append(ms, v.MinorLine())
			}
		}
		return ms
	}
	for _, l := range append(f.Locations(), "nowhere1") {
		sc := f.ServerConfig(l)
		if !proto.Equal(sc, again.ServerConfig(l)) {
			t.Fatalf("%s: two fleets of the same seed give different configs", l)
		}
		masters := parse(sc.GetValidMasterVersions())
		nodes := parse(sc.GetValidNodeVersions())
		for _, vs := range [][]catalog.Version{masters, nodes} {
			if !slices.IsSortedFunc(vs, func(a, b catalog.Version) int { return b.Compare(a) }) || len(slices.CompactFunc(slices.Clone(vs), func(a, b catalog.Version) bool { return a == b })) != len(vs) {
				t.Errorf("%s: versions not strictly newest first: %v", l, vs)
			}
		}
		mm, nm := minorsOf(masters), minorsOf(nodes)
		if mm[0] != fleetgen.NewestMinor || len(nm) != len(mm)+1 || !slices.Equal(nm[:len(mm)], mm) || !slices.Equal(sc.GetValidNodeVersions()[:len(masters)], sc.GetValidMasterVersions()) {
			t.Errorf("%s: master minors %v, node minors %v", l, mm, nm)
		}
		for i := 1; i < len(mm); i++ {
			if mm[i].Minor != mm[i-1].Minor-1 {
				t.Errorf("%s: master minors %v have a gap", l, mm)
			}
		}
		for i, ch := range sc.GetChannels() {
			wantName := []string{"RAPID", "REGULAR", "STABLE", "EXTENDED"}[i]
			drop := []int{0, 1, 2, 1}[i]
			vs := parse(ch.GetValidVersions())
			if ch.GetChannel().String() != wantName || !slices.Equal(minorsOf(vs), mm[drop:]) || !slices.Contains(ch.GetValidVersions(), ch.GetDefaultVersion()) || ch.GetUpgradeTargetVersion() != ch.GetDefaultVersion() {
				t.Errorf("%s: channel %d %v: minors %v, default %s; want %s with minors %v", l, i, ch.GetChannel(), minorsOf(vs), ch.GetDefaultVersion(), wantName, mm[drop:])
			}
		}
		if sc.GetDefaultClusterVersion() != sc.GetChannels()[1].GetDefaultVersion() {
			t.Errorf("%s: defaultClusterVersion %s is not REGULAR's default", l, sc.GetDefaultClusterVersion())
		}
		// Each cluster of the location (every cluster for the default) finds
		// its version or a newer one on its minor.
		for _, c := range f.Clusters {
			if c.GetLocation() != l && l != "nowhere1" {
				continue
			}
			vs := []string{c.GetCurrentMasterVersion()}
			for _, p := range c.GetNodePools() {
				vs = append(vs, p.GetVersion())
			}
			for _, s := range vs {
				v, err := catalog.ParseVersion(s)
				if err != nil {
					continue // an alias
				}
				if !slices.ContainsFunc(masters, func(w catalog.Version) bool { return w.MinorLine() == v.MinorLine() && !w.Less(v) }) {
					t.Errorf("%s: cluster %s runs %s; no master version offered at or above it on %s", l, c.GetName(), v, v.MinorLine())
				}
				if !slices.ContainsFunc(masters, func(w catalog.Version) bool { return w.MinorLine() == v.MinorLine() && v.Less(w) }) {
					t.Errorf("%s: cluster %s runs %s; no newer patch offered", l, c.GetName(), v)
				}
			}
		}
	}
	if !proto.Equal(before, &containerpb.ListClustersResponse{Clusters: f.Clusters}) {
		t.Error("ServerConfig changed the fleet's clusters")
	}
	// The default is the whole fleet's: it spans the fleet's oldest minor (1.21).
	if got := f.ServerConfig("nowhere1").GetValidMasterVersions(); !strings.HasPrefix(got[len(got)-1], "1.21.") {
		t.Errorf("default config's oldest master version %s, want one of 1.21", got[len(got)-1])
	}
}

// The files written load with ServerConfigDir and equal what gcpfake serves
// to the real Container client.
func TestWriteServerConfigs(t *testing.T) {
	f := generate(t, fleetgen.Options{Clusters: 120, Projects: 12, Seed: 4})
	dir := filepath.Join(t.TempDir(), "server-config")
	if err := f.WriteServerConfigs(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := discovery.ServerConfigDir{Dir: dir}.Load()
	if err != nil {
		t.Fatal(err)
	}
	locations := f.Locations()
	if len(loaded) != len(locations) {
		t.Fatalf("loaded %d locations, want %d (%v)", len(loaded), len(locations), locations)
	}
	b, err := os.ReadFile(filepath.Join(dir, locations[0]+".json"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := fleetgen.ServerConfigJSON(f.ServerConfig(locations[0]))
	if !bytes.Equal(b, want) || !bytes.HasPrefix(b, []byte("{\n  \"defaultClusterVersion\": \"1.")) || !bytes.Contains(b, []byte("\n  \"validMasterVersions\": [\n    \"1.36.3-gke.1771000\",\n")) ||
		!bytes.Contains(b, []byte(`"channel": "EXTENDED",`)) || !bytes.HasSuffix(b, []byte("\n}\n")) {
		t.Errorf("%s.json is not as gcloud prints it:\n%s", locations[0], b)
	}

	srv, err := gcpfake.Start(f, gcpfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	c, err := container.NewClusterManagerClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, l := range locations {
		p := f.Projects[i%len(f.Projects)].ID
		sc, err := c.GetServerConfig(ctx, &containerpb.GetServerConfigRequest{Name: "projects/" + p + "/locations/" + l})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(discovery.OfferedFromProto(sc), loaded[l]); d != "" {
			t.Errorf("%s: file vs gcpfake (-served +file):\n%s", l, d)
		}
		if len(loaded[l].Channels) != 4 {
			t.Errorf("%s: channels %v", l, loaded[l].Channels)
		}
	}
}
