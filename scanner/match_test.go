package scanner

import (
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/test/testkit"
)

var embedded = testkit.ContractCatalog

// brief is the part of a finding a matcher test decides.
type brief struct {
	Issue, Pool, Status, Component, Version, FixedIn, Reason string
}

func briefs(fs []Finding) []brief {
	var out []brief
	for _, f := range fs {
		out = append(out, brief{f.IssueID, f.NodePool, string(f.Status), f.Component, f.Version, f.FixedIn, f.Reason})
	}
	return out
}

const (
	ipam    = "DPV2-IPAM-LEAK"
	self    = "DPV2-NETPOL-CONNTRACK-SELF"
	hairpin = "DPV2-HAIRPIN-CONNTRACK-LEAK"
)

func TestMatch(t *testing.T) {
	cat := embedded(t)
	dpv2 := "ADVANCED_DATAPATH"
	tests := []struct {
		name        string
		c           Cluster
		want        []brief
		wantSkipped []string
	}{
		{
			name: "legacy dataplane on affected versions: nothing",
			c:    Cluster{MasterVersion: "1.24.5-gke.600", NodePools: []Pool{{Name: "default-pool", Version: "1.24.5-gke.600", ImageType: "COS_CONTAINERD"}}},
		},
		{
			name: "LEGACY_DATAPATH spelled out: nothing",
			c:    Cluster{Datapath: "LEGACY_DATAPATH", MasterVersion: "1.24.5-gke.600", NodePools: []Pool{{Name: "p", Version: "1.24.5-gke.600", ImageType: "COS_CONTAINERD"}}},
		},
		{
			name: "fixed everywhere: only skipped checks",
			c: Cluster{Datapath: dpv2, MasterVersion: "1.28.3-gke.1090000",
				NodePools: []Pool{{Name: "default-pool", Version: "1.25.6-gke.200", ImageType: "COS_CONTAINERD"}}},
			wantSkipped: []string{"DPV2-NETPOL-ENDPORT", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NODEPORT-RANDOMFULLY"},
		},
		{
			name: "one finding per affected pool; Windows and Docker pools pass",
			c: Cluster{Datapath: dpv2, MasterVersion: "1.28.10-gke.1000", NodePools: []Pool{
				{Name: "linux", Version: "1.23.16-gke.199", ImageType: "COS_CONTAINERD"},
				{Name: "ubuntu", Version: "1.23.16-gke.100", ImageType: "UBUNTU_CONTAINERD"},
				{Name: "win", Version: "1.23.16-gke.199", ImageType: "WINDOWS_LTSC_CONTAINERD"},
				{Name: "docker", Version: "1.23.16-gke.199", ImageType: "COS"},
				{Name: "fixed", Version: "1.23.16-gke.200", ImageType: "COS_CONTAINERD"},
			}},
			want: []brief{
				{ipam, "linux", "AFFECTED", "node_pool", "1.23.16-gke.199", "1.23.16-gke.200",
					"Node pool linux (COS_CONTAINERD) runs 1.23.16-gke.199, below 1.23.16-gke.200, the first fixed version on 1.23."},
				{ipam, "ubuntu", "AFFECTED", "node_pool", "1.23.16-gke.100", "1.23.16-gke.200",
					"Node pool ubuntu (UBUNTU_CONTAINERD) runs 1.23.16-gke.100, below 1.23.16-gke.200, the first fixed version on 1.23."},
			},
			wantSkipped: []string{"DPV2-NETPOL-ENDPORT", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NODEPORT-RANDOMFULLY"},
		},
		{
			name: "control plane issues on currentMasterVersion, pools lagging",
			c:    Cluster{Datapath: dpv2, MasterVersion: "1.27.11-gke.1096999", NodePools: []Pool{{Name: "p", Version: "1.26.5-gke.100", ImageType: "COS_CONTAINERD"}}},
			want: []brief{
				{hairpin, "", "AFFECTED", "control_plane", "1.27.11-gke.1096999", "1.27.11-gke.1097000",
					"The control plane runs 1.27.11-gke.1096999, below 1.27.11-gke.1097000, the first fixed version on 1.27."},
				{self, "", "AFFECTED", "control_plane", "1.27.11-gke.1096999", "",
					"The control plane runs 1.27.11-gke.1096999; no fix is documented on 1.27, the first fixed version is 1.28.3-gke.1090000."},
			},
			wantSkipped: []string{"DPV2-NETPOL-ENDPORT", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NODEPORT-RANDOMFULLY"},
		},
		{
			name: "Autopilot without nodePools: one cluster-level finding on currentNodeVersion",
			c:    Cluster{Datapath: dpv2, Autopilot: true, MasterVersion: "1.28.3-gke.1090000", NodeVersion: "1.24.9-gke.3199"},
			want: []brief{
				{ipam, "", "AFFECTED", "node_pool", "1.24.9-gke.3199", "1.24.9-gke.3200",
					"The cluster (no node pools listed; currentNodeVersion compared) runs 1.24.9-gke.3199, below 1.24.9-gke.3200, the first fixed version on 1.24."},
			},
			wantSkipped: []string{"DPV2-NETPOL-ENDPORT", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NODEPORT-RANDOMFULLY"},
		},
		{
			name: "no nodePools and no currentNodeVersion: currentMasterVersion",
			c:    Cluster{Datapath: dpv2, Autopilot: true, MasterVersion: "1.25.6-gke.199"},
			want: []brief{
				{hairpin, "", "AFFECTED", "control_plane", "1.25.6-gke.199", "",
					"The control plane runs 1.25.6-gke.199; no fix is documented on 1.25, the first fixed version is 1.27.11-gke.1097000."},
				{ipam, "", "AFFECTED", "control_plane", "1.25.6-gke.199", "1.25.6-gke.200",
					"The cluster (no node pools or node version listed; currentMasterVersion compared) runs 1.25.6-gke.199, below 1.25.6-gke.200, the first fixed version on 1.25."},
				{self, "", "AFFECTED", "control_plane", "1.25.6-gke.199", "",
					"The control plane runs 1.25.6-gke.199; no fix is documented on 1.25, the first fixed version is 1.28.3-gke.1090000."},
			},
			wantSkipped: []string{"DPV2-NETPOL-ENDPORT", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NODEPORT-RANDOMFULLY"},
		},
		{
			name: "Standard cluster without pools: image type unknown, so UNKNOWN",
			c:    Cluster{Datapath: dpv2, MasterVersion: "1.29.1-gke.1", NodeVersion: "1.24.1-gke.1"},
			want: []brief{
				{ipam, "", "UNKNOWN", "node_pool", "1.24.1-gke.1", "1.24.9-gke.3200",
					"The cluster (no node pools listed; currentNodeVersion compared) runs 1.24.1-gke.1, below 1.24.9-gke.3200, the first fixed version on 1.24, an affected version, but does not report its node image type, so exposure to this issue cannot be decided."},
			},
			wantSkipped: []string{"DPV2-NETPOL-ENDPORT", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NODEPORT-RANDOMFULLY"},
		},
		{
			name: "unparseable versions are UNKNOWN, never a pass",
			c: Cluster{Datapath: dpv2, MasterVersion: "latest", NodePools: []Pool{
				{Name: "alias", Version: "1.24", ImageType: "COS_CONTAINERD"},
				{Name: "empty", Version: "", ImageType: "COS_CONTAINERD"},
				{Name: "win-alias", Version: "1.24", ImageType: "WINDOWS_SAC"},
			}},
			want: []brief{
				{hairpin, "", "UNKNOWN", "control_plane", "latest", "",
					`The control plane reports version "latest", which is not a GKE version, so exposure to this issue cannot be decided.`},
				{ipam, "alias", "UNKNOWN", "node_pool", "1.24", "",
					`Node pool alias (COS_CONTAINERD) reports version "1.24", which is not a GKE version, so exposure to this issue cannot be decided.`},
				{ipam, "empty", "UNKNOWN", "node_pool", "", "",
					"Node pool empty (COS_CONTAINERD) does not report its version, so exposure to this issue cannot be decided."},
				{self, "", "UNKNOWN", "control_plane", "latest", "",
					`The control plane reports version "latest", which is not a GKE version, so exposure to this issue cannot be decided.`},
			},
			wantSkipped: []string{"DPV2-NETPOL-ENDPORT", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NODEPORT-RANDOMFULLY"},
		},
		{
			name: "pool without image type on an affected version",
			c:    Cluster{Datapath: dpv2, MasterVersion: "1.30.1-gke.1", NodePools: []Pool{{Name: "old", Version: "1.22.17-gke.3000", ImageType: ""}}},
			want: []brief{
				{ipam, "old", "UNKNOWN", "node_pool", "1.22.17-gke.3000", "1.22.17-gke.3100",
					"Node pool old (image type unset) runs 1.22.17-gke.3000, below 1.22.17-gke.3100, the first fixed version on 1.22, an affected version, but does not report its node image type, so exposure to this issue cannot be decided."},
			},
			wantSkipped: []string{"DPV2-NETPOL-ENDPORT", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NODEPORT-RANDOMFULLY"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.ProjectID, tc.c.Location, tc.c.Name = "p1", "us-central1", "c1"
			got, skipped := Match(cat, &tc.c)
			if diff := cmp.Diff(tc.want, briefs(got)); diff != "" {
				t.Errorf("Match findings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantSkipped, skipped); diff != "" {
				t.Errorf("Match skipped (-want +got):\n%s", diff)
			}
			for _, f := range got {
				if f.FindingKey != FindingKey("p1", "us-central1", "c1", f.NodePool, f.IssueID) {
					t.Errorf("%s/%s: finding_key %s is not the key of its cluster, pool and issue", f.IssueID, f.NodePool, f.FindingKey)
				}
				if f.CatalogVersion != cat.Version || f.Remediation == "" || f.DocsURL == "" || f.Title == "" {
					t.Errorf("%s: catalog fields missing: %+v", f.IssueID, f)
				}
				if len(f.Evidence) != 1 || f.Evidence[0].Source != "container_api" {
					t.Errorf("%s: evidence = %+v, want one container_api record", f.IssueID, f.Evidence)
				}
			}
		})
	}
}

func TestFindingKey(t *testing.T) {
	// The key is a contract: a change here re-keys every finding in BigQuery
	// and floods subscribers with NEW/RESOLVED alerts.
	// It is the first 16 bytes of SHA-256 over the NUL-terminated fields.
	if got, want := FindingKey("proj", "us-central1", "c1", "default-pool", "DPV2-IPAM-LEAK"), "ca306d1bf5cfdd09dfe547563850977b"; got != want {
		t.Errorf("FindingKey = %s, want %s", got, want)
	}
	base := FindingKey("p", "l", "c", "np", "I")
	for _, other := range []string{
		FindingKey("p2", "l", "c", "np", "I"), FindingKey("p", "l2", "c", "np", "I"), FindingKey("p", "l", "c2", "np", "I"),
		FindingKey("p", "l", "c", "np2", "I"), FindingKey("p", "l", "c", "np", "I2"),
		FindingKey("p", "l", "cnp", "", "I"), // fields do not run together
	} {
		if other == base {
			t.Errorf("FindingKey collision: %s", other)
		}
	}
	if FindingKey("p", "l", "c", "np", "I") != base {
		t.Errorf("FindingKey is not deterministic")
	}
}

// A node pool's linuxNodeConfig.sysctls decide DPV2-NODEPORT-EPHEMERAL
// from the Container API alone; pools that do not set an overlapping range
// leave it to the in-cluster check.
func TestMatchPoolSysctls(t *testing.T) {
	cat := embedded(t)
	pool := func(name, value string) Pool {
		p := Pool{Name: name, Version: "1.31.5-gke.1000", ImageType: "COS_CONTAINERD"}
		if value != "" {
			p.Sysctls = map[string]string{"net.ipv4.ip_local_port_range": value, "net.core.somaxconn": "4096"}
		}
		return p
	}
	cluster := func(pools ...Pool) *Cluster {
		return &Cluster{ProjectID: "shop-prod", Location: "europe-west1", Name: "web", Datapath: "ADVANCED_DATAPATH",
			MasterVersion: "1.31.5-gke.1000", NodePools: pools}
	}
	for _, tc := range []struct {
		name    string
		c       *Cluster
		status  Status // "" when undecided here (still a skipped check)
		reason  string
		summary string
	}{
		{"no sysctls", cluster(pool("a", "")), "", "", ""},
		{"outside the range", cluster(pool("a", "32768 60999")), "", "", ""},
		{"overlapping", cluster(pool("a", "32768 60999"), pool("b", "30000\t60999")), Affected,
			"Node pool(s) b (30000\t60999) set net.ipv4.ip_local_port_range to a range overlapping 30000-32767 in linuxNodeConfig.sysctls.",
			"nodePools[b].config.linuxNodeConfig.sysctls[net.ipv4.ip_local_port_range]=30000\t60999"},
		{"edge", cluster(pool("a", "1024 30000")), Affected,
			"Node pool(s) a (1024 30000) set net.ipv4.ip_local_port_range to a range overlapping 30000-32767 in linuxNodeConfig.sysctls.", ""},
		{"unreadable", cluster(pool("a", "30000-60999")), Unknown,
			`Node pool(s) a ("30000-60999") set net.ipv4.ip_local_port_range in linuxNodeConfig.sysctls to a value that is not two port numbers, so exposure to this issue cannot be decided.`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, skipped := Match(cat, tc.c)
			var got *Finding
			for i := range fs {
				if fs[i].IssueID == "DPV2-NODEPORT-EPHEMERAL" {
					got = &fs[i]
				}
			}
			switch {
			case tc.status == "" && (got != nil || !slices.Contains(skipped, "DPV2-NODEPORT-EPHEMERAL")):
				t.Errorf("finding %+v, skipped %v; want the check skipped, no finding", got, skipped)
			case tc.status != "" && (got == nil || slices.Contains(skipped, "DPV2-NODEPORT-EPHEMERAL")):
				t.Errorf("finding %+v, skipped %v; want a %s finding", got, skipped, tc.status)
			case tc.status != "":
				if got.Status != tc.status || got.Reason != tc.reason || got.NodePool != "" || got.Evidence[0].Source != "container_api" {
					t.Errorf("finding = %+v\nwant %s: %s", got, tc.status, tc.reason)
				}
				if tc.summary != "" && got.Evidence[0].Summary != tc.summary {
					t.Errorf("evidence summary = %q, want %q", got.Evidence[0].Summary, tc.summary)
				}
			}
		})
	}
}

// Match allocates nothing for a cluster that no issue affects, and a fixed
// few allocations per cluster with findings (the findings, their evidence
// and their text), however many findings.
func TestMatchAllocations(t *testing.T) {
	if testing.CoverMode() != "" || raceDetector() {
		t.Skip("allocation counts differ under coverage or the race detector")
	}
	cat := embedded(t)
	legacy := Cluster{MasterVersion: "1.24.5-gke.600", NodePools: []Pool{{Name: "default-pool", Version: "1.24.5-gke.600", ImageType: "COS_CONTAINERD"}}}
	if n := testing.AllocsPerRun(100, func() { Match(cat, &legacy) }); n != 0 {
		t.Errorf("Match of an unaffected cluster: %v allocations, want 0", n)
	}
	var pools []Pool
	for _, name := range []string{"a", "b", "c", "d"} {
		pools = append(pools, Pool{Name: name, Version: "1.24.5-gke.600", ImageType: "COS_CONTAINERD"})
	}
	affected := Cluster{ProjectID: "p", Location: "l", Name: "c", Datapath: "ADVANCED_DATAPATH", MasterVersion: "1.24.5-gke.600", NodePools: pools}
	fs, skipped := Match(cat, &affected)
	if len(fs) < 4 || len(skipped) == 0 {
		t.Fatalf("Match: %d findings, %d skipped; want findings on every pool and skipped checks", len(fs), len(skipped))
	}
	// findings, evidence, text, skipped
	if n := testing.AllocsPerRun(100, func() { Match(cat, &affected) }); n > 4 {
		t.Errorf("Match of a cluster with %d findings: %v allocations, want at most 4", len(fs), n)
	}
}

// The findings share their text and evidence arrays, but each is its own:
// its key is FindingKey's, and appending to its evidence leaves the
// others' alone.
func TestMatchSharedBuffers(t *testing.T) {
	cat := embedded(t)
	long := strings.Repeat("x", 300) // past Match's and FindingKey's stack buffers
	c := Cluster{ProjectID: "p", Location: "l", Name: long, Datapath: "ADVANCED_DATAPATH", MasterVersion: "1.24.5-gke.600", NodePools: []Pool{
		{Name: "a" + long, Version: "1.24.5-gke.600", ImageType: "COS_CONTAINERD"},
		{Name: "b", Version: "1.22.1-gke.1"}, // image type unset: UNKNOWN
		{Name: "c", Version: "latest", ImageType: "COS_CONTAINERD"},
	}}
	fs, _ := Match(cat, &c)
	if len(fs) < 3 {
		t.Fatalf("Match: %d findings, want at least 3", len(fs))
	}
	for i := range fs {
		f := &fs[i]
		if want := FindingKey(c.ProjectID, c.Location, c.Name, f.NodePool, f.IssueID); f.FindingKey != want {
			t.Errorf("finding %d (%s on %q): key %s, want %s", i, f.IssueID, f.NodePool, f.FindingKey, want)
		}
		if len(f.Evidence) != 1 || !strings.Contains(f.Evidence[0].Summary, "autopilot.enabled=false") || !strings.HasSuffix(f.Reason, ".") {
			t.Errorf("finding %d: reason %q, evidence %+v", i, f.Reason, f.Evidence)
		}
	}
	first := fs[1].Evidence[0].Summary
	fs[0].Evidence = append(fs[0].Evidence, Evidence{Source: "cloud_logging", Summary: "appended"})
	if got := fs[1].Evidence[0].Summary; got != first {
		t.Errorf("appending to one finding's evidence changed the next one's: %q", got)
	}
}

// raceDetector reports whether the test binary was built with -race.
func raceDetector() bool {
	info, ok := debug.ReadBuildInfo()
	return ok && slices.ContainsFunc(info.Settings, func(s debug.BuildSetting) bool { return s.Key == "-race" && s.Value == "true" })
}

// TestSortLarge holds sortLarge to a stable sort, on slices with many
// equal keys and of every length up to 300.
func TestSortLarge(t *testing.T) {
	type rec struct{ key, order int }
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		s := make([]rec, n)
		for i := range s {
			s[i] = rec{key: rng.IntN(n/4 + 1), order: i}
		}
		want := slices.Clone(s)
		slices.SortStableFunc(want, func(a, b rec) int { return a.key - b.key })
		sortLarge(s, func(i, j int) int { return s[i].key - s[j].key })
		if !slices.Equal(s, want) {
			t.Fatalf("n=%d: sortLarge gave %v, want %v", n, s, want)
		}
	}
}

// TestInterner: clusters with equal condition outcomes share one Facts,
// and only those; equal strings are shared.
func TestInterner(t *testing.T) {
	in := interner{strings: map[string]string{}, facts: map[string]*catalog.Facts{}}
	facts := func(why string, pools ...catalog.FactState) *catalog.Facts {
		f := &catalog.Facts{Cluster: []catalog.Fact{{State: catalog.FactTrue}, {State: catalog.FactUndecided, Why: why}}}
		for _, p := range pools {
			f.Pools = append(f.Pools, []catalog.Fact{{State: p}})
		}
		return f
	}
	cs := []Cluster{
		{Location: "us-central1", MasterVersion: strings.Clone("1.31.1-gke.1"), Facts: facts("lacks x", catalog.FactTrue)},
		{Location: "us-central1", MasterVersion: strings.Clone("1.31.1-gke.1"), Facts: facts("lacks x", catalog.FactTrue)},
		{Facts: facts("lacks x", catalog.FactFalse)},         // a pool differs
		{Facts: facts("lacks y", catalog.FactTrue)},          // a reason differs
		{Facts: facts("lacks x", catalog.FactTrue, 0)},       // one pool more
		{Facts: facts("lacks", catalog.FactTrue)},            // a prefix of another's reason
		{Facts: facts("lacks x", catalog.FactTrue), ID: "a"}, // the first's again
	}
	for i := range cs {
		in.cluster(&cs[i])
	}
	if cs[1].Facts != cs[0].Facts || cs[6].Facts != cs[0].Facts {
		t.Error("equal facts are not shared")
	}
	for i := 2; i < 6; i++ {
		for j := range i {
			if cs[i].Facts == cs[j].Facts {
				t.Errorf("clusters %d and %d share facts that differ", i, j)
			}
		}
	}
	if unsafe.StringData(cs[0].MasterVersion) != unsafe.StringData(cs[1].MasterVersion) {
		t.Error("equal versions are not shared")
	}
}
