package scanner_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/testkit"
)

// offers answers every location with one ServerConfig, or fails.
type offers struct {
	o     scanner.Offered
	err   error
	calls *int
}

func (f offers) Offered(_ context.Context, _, _ string) (scanner.Offered, error) {
	if f.calls != nil {
		*f.calls++
	}
	return f.o, f.err
}

// early is a scan time more than 90 days before any end of support of the
// versions below (1.24 ends 2023-10-31), so only the Dataplane V2 issues
// decide.
var early = time.Date(2023, 6, 1, 12, 0, 0, 0, time.UTC)

func dpv2Cluster(name, master string, pools ...scanner.Pool) scanner.Cluster {
	return scanner.Cluster{ProjectID: "p", Location: "europe-west1", Name: name, Datapath: "ADVANCED_DATAPATH",
		MasterVersion: master, NodeVersion: master, NodePools: pools}
}

func pool(name, version string) scanner.Pool {
	return scanner.Pool{Name: name, Version: version, ImageType: "COS_CONTAINERD"}
}

type planned struct {
	CP      string
	Pools   map[string]string
	Steps   []string
	Clears  int64
	Reason  string
	Targets map[string]string // issue/pool → the finding's upgrade_to
}

func scanPlan(t *testing.T, c scanner.Cluster, o scanner.Offers, now time.Time) (planned, []scanner.ScanError) {
	t.Helper()
	res, err := scanner.Scan(t.Context(), scanner.Options{Catalog: mustCatalog(t), Source: fleet{c}, Offers: o, ScanID: "s", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	rec := res.Clusters[0]
	p := planned{CP: rec.UpgradeControlPlaneTo, Pools: map[string]string{}, Steps: rec.UpgradeSteps, Clears: rec.UpgradeClears,
		Reason: rec.UpgradeReason, Targets: map[string]string{}}
	for _, np := range rec.NodePools {
		if np.UpgradeTo != "" {
			p.Pools[np.Name] = np.UpgradeTo
		}
	}
	for _, f := range res.Findings {
		p.Targets[f.IssueID+"/"+f.NodePool] = f.UpgradeTo
	}
	return p, res.Errors
}

// The target is the lowest offered version at or above the current one
// under which the catalog's evaluation clears every version-decided
// finding of the component: pools never above the control plane's target
// (which a pool's need raises), the release channel's versions when
// enrolled, and an empty target with a reason when nothing offered clears.
func TestUpgradeTargets(t *testing.T) {
	masters := []string{"1.29.1-gke.100", "1.28.5-gke.200", "1.28.3-gke.1090000", "1.28.3-gke.1089999", "1.27.11-gke.1097000", "1.27.5-gke.100"}
	tests := []struct {
		name    string
		cluster scanner.Cluster
		offered scanner.Offered
		now     time.Time // zero: early
		want    planned
	}{
		{
			name:    "control plane: the lowest offered version that clears both of its issues",
			cluster: dpv2Cluster("c", "1.27.5-gke.100", pool("a", "1.27.5-gke.100")),
			offered: scanner.Offered{MasterVersions: masters, NodeVersions: masters},
			want: planned{CP: "1.28.3-gke.1090000", Pools: map[string]string{}, Clears: 2,
				Steps:   []string{"control plane to 1.28.3-gke.1090000"},
				Targets: map[string]string{"DPV2-NETPOL-CONNTRACK-SELF/": "1.28.3-gke.1090000", "DPV2-HAIRPIN-CONNTRACK-LEAK/": "1.28.3-gke.1090000"}},
		},
		{
			name: "release channel: only its valid versions",
			cluster: func() scanner.Cluster {
				c := dpv2Cluster("c", "1.27.5-gke.100", pool("a", "1.27.5-gke.100"))
				c.ReleaseChannel = "STABLE"
				return c
			}(),
			offered: scanner.Offered{MasterVersions: masters, NodeVersions: masters,
				Channels: map[string][]string{"STABLE": {"1.28.5-gke.200", "1.27.11-gke.1097000"}, "RAPID": {"1.28.3-gke.1090000"}}},
			want: planned{CP: "1.28.5-gke.200", Pools: map[string]string{}, Clears: 2,
				Steps:   []string{"control plane to 1.28.5-gke.200"},
				Targets: map[string]string{"DPV2-NETPOL-CONNTRACK-SELF/": "1.28.5-gke.200", "DPV2-HAIRPIN-CONNTRACK-LEAK/": "1.28.5-gke.200"}},
		},
		{
			name:    "a pool's fix on its own minor, under the control plane",
			cluster: dpv2Cluster("c", "1.28.3-gke.1090000", pool("a", "1.25.5-gke.100"), pool("b", "1.28.3-gke.1090000")),
			offered: scanner.Offered{MasterVersions: []string{"1.28.3-gke.1090000"}, NodeVersions: []string{"1.28.3-gke.1090000", "1.25.6-gke.200", "1.25.5-gke.100"}},
			want: planned{Pools: map[string]string{"a": "1.25.6-gke.200"}, Clears: 1,
				Steps:   []string{"node pool a to 1.25.6-gke.200"},
				Targets: map[string]string{"DPV2-IPAM-LEAK/a": "1.25.6-gke.200"}},
		},
		{
			name:    "a pool that only a version above the control plane clears raises the control plane",
			cluster: dpv2Cluster("c", "1.28.3-gke.1090000", pool("a", "1.25.5-gke.100")),
			offered: scanner.Offered{MasterVersions: []string{"1.29.1-gke.100", "1.28.3-gke.1090000"}, NodeVersions: []string{"1.29.1-gke.100"}},
			want: planned{CP: "1.29.1-gke.100", Pools: map[string]string{"a": "1.29.1-gke.100"}, Clears: 1,
				// 1.29 leaves 1.25 nodes beyond the skew of three minors: the pool
				// goes to the control plane's version first.
				Steps: []string{"node pools a to 1.28.3-gke.1090000 (version skew)", "control plane to 1.29.1-gke.100",
					"node pool a to 1.29.1-gke.100"},
				Targets: map[string]string{"DPV2-IPAM-LEAK/a": "1.29.1-gke.100"}},
		},
		{
			name:    "a minor near its end of support: the target moves past it",
			cluster: dpv2Cluster("c", "1.28.3-gke.1090000", pool("a", "1.28.3-gke.1090000")),
			offered: scanner.Offered{MasterVersions: []string{"1.30.2-gke.100", "1.29.1-gke.100", "1.28.5-gke.200"},
				NodeVersions: []string{"1.30.2-gke.100", "1.29.1-gke.100", "1.28.5-gke.200"}},
			now: time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC), // 1.28 ends 2025-02-04, 1.29 2025-04-12 (within 90 days), 1.30 2025-09-30
			want: planned{CP: "1.30.2-gke.100", Pools: map[string]string{"a": "1.30.2-gke.100"}, Clears: 2,
				Steps:   []string{"control plane via 1.29 to 1.30.2-gke.100", "node pool a to 1.30.2-gke.100"},
				Targets: map[string]string{"GKE-END-OF-SUPPORT/": "1.30.2-gke.100", "GKE-END-OF-SUPPORT/a": "1.30.2-gke.100"}},
		},
		{
			name:    "never above the control plane: no offered master version reaches the pool's",
			cluster: dpv2Cluster("c", "1.28.3-gke.1090000", pool("a", "1.25.5-gke.100")),
			offered: scanner.Offered{MasterVersions: []string{"1.28.3-gke.1090000"}, NodeVersions: []string{"1.29.1-gke.100"}},
			want: planned{Pools: map[string]string{}, Steps: []string{},
				Reason:  "No version offered in europe-west1 clears node pool a (only versions above every control-plane version offered clear it).",
				Targets: map[string]string{"DPV2-IPAM-LEAK/a": ""}},
		},
		{
			name:    "nothing offered clears the control plane",
			cluster: dpv2Cluster("c", "1.27.5-gke.100", pool("a", "1.27.5-gke.100")),
			offered: scanner.Offered{MasterVersions: []string{"1.28.3-gke.1089999", "1.27.11-gke.1097000"}, NodeVersions: masters},
			want: planned{Pools: map[string]string{}, Steps: []string{},
				Reason:  "No version offered in europe-west1 clears DPV2-HAIRPIN-CONNTRACK-LEAK, DPV2-NETPOL-CONNTRACK-SELF on the control plane.",
				Targets: map[string]string{"DPV2-NETPOL-CONNTRACK-SELF/": "", "DPV2-HAIRPIN-CONNTRACK-LEAK/": ""}},
		},
		{
			name:    "already fixed: no plan",
			cluster: dpv2Cluster("c", "1.28.3-gke.1090000", pool("a", "1.28.3-gke.1090000")),
			offered: scanner.Offered{MasterVersions: masters, NodeVersions: masters},
			want:    planned{Pools: map[string]string{}, Steps: []string{}, Targets: map[string]string{}},
		},
		{
			name:    "several minors: one at a time, lagging pools first within the skew",
			cluster: dpv2Cluster("c", "1.25.5-gke.100", pool("a", "1.25.5-gke.100")),
			offered: scanner.Offered{MasterVersions: []string{"1.28.3-gke.1090000", "1.27.11-gke.1097000", "1.26.2-gke.100"},
				NodeVersions: []string{"1.28.3-gke.1090000", "1.27.11-gke.1097000", "1.26.2-gke.100", "1.25.6-gke.200"}},
			want: planned{CP: "1.28.3-gke.1090000", Pools: map[string]string{"a": "1.25.6-gke.200"}, Clears: 3,
				Steps: []string{"control plane via 1.26, 1.27 to 1.28.3-gke.1090000", "node pool a to 1.25.6-gke.200"},
				Targets: map[string]string{"DPV2-NETPOL-CONNTRACK-SELF/": "1.28.3-gke.1090000", "DPV2-HAIRPIN-CONNTRACK-LEAK/": "1.28.3-gke.1090000",
					"DPV2-IPAM-LEAK/a": "1.25.6-gke.200"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = early
			}
			got, errs := scanPlan(t, tc.cluster, offers{o: tc.offered}, now)
			if len(errs) != 0 {
				t.Errorf("errors %v", errs)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

// Without offered versions, each component's target is its highest
// fixed_in, and the reason says it was not checked; offered versions that
// cannot be read are a scan error and the same fallback, and each location
// is asked once.
func TestUpgradeWithoutOffers(t *testing.T) {
	c := dpv2Cluster("c", "1.27.5-gke.100", pool("a", "1.24.1-gke.1"))
	got, _ := scanPlan(t, c, nil, early)
	want := planned{CP: "1.28.3-gke.1090000", Pools: map[string]string{"a": "1.24.9-gke.3200"}, Clears: 3, Steps: []string{},
		Reason: "Not checked against the versions GKE offers (no server config): the highest fixed_in of each component.",
		Targets: map[string]string{"DPV2-NETPOL-CONNTRACK-SELF/": "1.28.3-gke.1090000", "DPV2-HAIRPIN-CONNTRACK-LEAK/": "1.28.3-gke.1090000",
			"DPV2-IPAM-LEAK/a": "1.24.9-gke.3200"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("offline plan (-want +got):\n%s", diff)
	}

	calls := 0
	d := dpv2Cluster("d", "1.27.5-gke.100")
	res, err := scanner.Scan(t.Context(), scanner.Options{Catalog: mustCatalog(t), Source: fleet{c, d},
		Offers: offers{err: errors.New("rpc error: code = PermissionDenied"), calls: &calls}, ScanID: "s", Now: early})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("offered versions asked %d times for one location, want 1", calls)
	}
	if len(res.Errors) != 1 || res.Errors[0].API != "container" || res.Errors[0].Resource != "projects/p/locations/europe-west1" || res.Errors[0].ProjectID != "" {
		t.Errorf("errors = %+v, want one container error on projects/p/locations/europe-west1 with no project (the findings are complete)", res.Errors)
	}
	for _, rec := range res.Clusters {
		if !strings.HasPrefix(rec.UpgradeReason, "The versions offered in europe-west1 could not be read (") || rec.UpgradeControlPlaneTo != "1.28.3-gke.1090000" {
			t.Errorf("%s: target %q, reason %q", rec.Name, rec.UpgradeControlPlaneTo, rec.UpgradeReason)
		}
	}
}

// End of support: past on the day itself (HIGH), within the warning days
// before it (MEDIUM, the date in the reason), nothing earlier; the EXTENDED
// channel's end of extended support; a minor older than the schedule is
// past, a newer one not reported.
func TestEndOfSupport(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name, version, channel string
		now                    time.Time
		want                   string // severity and status, "" for no finding
	}{
		{"1.30 the day before the 90 days", "1.30.5-gke.100", "", day("2025-09-30").Add(-91 * 24 * time.Hour), ""},
		{"1.30 within 90 days", "1.30.5-gke.100", "", day("2025-09-29"), "MEDIUM AFFECTED"},
		{"1.30 the day before", "1.30.5-gke.100", "", day("2025-09-30").Add(-time.Nanosecond), "MEDIUM AFFECTED"},
		{"1.30 on the day", "1.30.5-gke.100", "", day("2025-09-30"), "HIGH AFFECTED"},
		{"1.30 the day after", "1.30.5-gke.100", "", day("2025-10-01"), "HIGH AFFECTED"},
		{"1.30 extended channel, in extended support", "1.30.5-gke.100", "EXTENDED", day("2025-10-01"), ""},
		{"1.30 extended channel, past extended", "1.30.5-gke.100", "EXTENDED", day("2026-07-30"), "HIGH AFFECTED"},
		{"1.23 older than the schedule", "1.23.17-gke.100", "", day("2020-01-01"), "HIGH AFFECTED"},
		{"1.40 newer than the schedule", "1.40.1-gke.100", "", day("2030-01-01"), ""},
		{"an alias cannot be decided", "latest", "", day("2025-01-01"), "HIGH UNKNOWN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := scanner.Cluster{ProjectID: "p", Location: "l", Name: "c", MasterVersion: tc.version, ReleaseChannel: tc.channel}
			res, err := scanner.Scan(t.Context(), scanner.Options{Catalog: mustCatalog(t), Source: fleet{c}, ScanID: "s", Now: tc.now})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, f := range res.Findings {
				if f.IssueID == "GKE-END-OF-SUPPORT" {
					got = f.Severity + " " + string(f.Status)
					if f.Component != "control_plane" || f.Version != tc.version || !strings.Contains(f.Reason, tc.version) {
						t.Errorf("finding %+v", f)
					}
				}
			}
			if got != tc.want {
				t.Errorf("GKE-END-OF-SUPPORT = %q, want %q", got, tc.want)
			}
		})
	}
}

type deniedErr struct{}

func (deniedErr) Error() string { return "rpc error: code = PermissionDenied" }
func (deniedErr) Code() string  { return "PERMISSION_DENIED" }

// byProject answers for some projects and denies the others.
type byProject struct {
	o     scanner.Offered
	allow map[string]bool
	asked *[]string
}

func (b byProject) Offered(_ context.Context, project, location string) (scanner.Offered, error) {
	*b.asked = append(*b.asked, project+"/"+location)
	if !b.allow[project] {
		return scanner.Offered{}, deniedErr{}
	}
	return b.o, nil
}

// A location whose only project with clusters there is denied is asked
// through another project of the scan: what GKE offers does not depend on
// the project. No scan error, the plan chosen among the offered versions.
func TestUpgradeOffersFromAnotherProject(t *testing.T) {
	c := dpv2Cluster("c", "1.27.5-gke.100", pool("a", "1.27.5-gke.100"))
	other := dpv2Cluster("o", "1.28.3-gke.1090000")
	other.ProjectID, other.Location = "q", "us-east1"
	var asked []string
	o := byProject{o: scanner.Offered{MasterVersions: []string{"1.28.3-gke.1090000"}, NodeVersions: []string{"1.28.3-gke.1090000"}},
		allow: map[string]bool{"q": true}, asked: &asked}
	res, err := scanner.Scan(t.Context(), scanner.Options{Catalog: mustCatalog(t), Source: fleet{c, other}, Offers: o, ScanID: "s", Now: early})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 0 {
		t.Errorf("errors = %+v", res.Errors)
	}
	if diff := cmp.Diff([]string{"p/europe-west1", "q/europe-west1"}, asked); diff != "" {
		t.Errorf("asked (-want +got):\n%s", diff)
	}
	for _, rec := range res.Clusters {
		if rec.Name == "c" && (rec.UpgradeControlPlaneTo != "1.28.3-gke.1090000" || rec.UpgradeReason != "") {
			t.Errorf("c: target %q, reason %q", rec.UpgradeControlPlaneTo, rec.UpgradeReason)
		}
	}
}

// TestAffectsAgreesWithEvaluate holds the planner's finding-free question
// (affects) to making every finding (evaluate) over a generated fleet: every
// component of every cluster at every version its location offers, now and
// a year on (more minors past their end of support), with the whole catalog
// and with the contract's (with which nodeless Autopilot clusters clear).
func TestAffectsAgreesWithEvaluate(t *testing.T) {
	n := 100
	if testing.Short() {
		n = 50
	}
	fleet, err := fleetgen.Generate(fleetgen.Options{Clusters: n, Projects: n / 5, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	type comp struct {
		kind catalog.Component
		pool string
	}
	offered := map[string][]string{}
	asked, cleared := map[string]int{}, map[string]int{}
	for name, cat := range map[string]*catalog.Catalog{"embedded": testkit.Catalog(t), "contract": testkit.ContractCatalog(t)} {
		for _, pc := range fleet.Clusters {
			c, err := discovery.FromProto(pc, "")
			if err != nil {
				t.Fatal(err)
			}
			c.Facts = cat.Facts(c.Object)
			vs, ok := offered[c.Location]
			if !ok {
				sc := fleet.ServerConfig(c.Location)
				vs = append(slices.Clone(sc.GetValidMasterVersions()), sc.GetValidNodeVersions()...)
				vs = append(vs, "not-a-version")
				offered[c.Location] = vs
			}
			comps := []comp{{catalog.ControlPlane, ""}}
			for _, p := range c.NodePools {
				comps = append(comps, comp{catalog.NodePool, p.Name})
			}
			if len(c.NodePools) == 0 {
				comps = append(comps, comp{catalog.NodePool, ""})
			}
			for _, now := range []time.Time{fleet.Now, fleet.Now.AddDate(1, 0, 0)} {
				for _, cp := range comps {
					kind := string(cp.kind)
					if len(c.NodePools) == 0 {
						kind = "nodeless " + kind
					}
					for _, v := range vs {
						want := scanner.ClearsByEvaluate(cat, &c, cp.kind, cp.pool, v, now)
						if got := scanner.ClearsByProbe(cat, &c, cp.kind, cp.pool, v, now); got != want {
							t.Fatalf("%s catalog: %s %s %q at %s, %s: affects says clears=%v, evaluate %v", name, c.Key(), cp.kind, cp.pool, v, now.Format(time.DateOnly), got, want)
						}
						asked[kind]++
						if want {
							cleared[kind]++
						}
					}
				}
			}
		}
	}
	// Both answers must be common for every kind of component, or the
	// comparison proves little.
	for kind, n := range asked {
		if cleared[kind] < 10 || n-cleared[kind] < 10 {
			t.Errorf("%s: %d of %d asked clear: the fleet does not exercise both answers", kind, cleared[kind], n)
		}
	}
	if len(asked) != 4 {
		t.Errorf("components asked: %v, want control planes and node pools, with and without pools", asked)
	}
	t.Logf("asked %v, clear %v", asked, cleared)
}

// TestEndOfSupportSharedTexts: the end-of-support findings a scan makes
// with texts shared across its clusters are those made one by one, on a
// generated fleet at dates that give every kind of reason.
func TestEndOfSupportSharedTexts(t *testing.T) {
	fleet, err := fleetgen.Generate(fleetgen.Options{Clusters: 400, Projects: 80, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var cs []scanner.Cluster
	for _, pc := range fleet.Clusters {
		c, err := discovery.FromProto(pc, "")
		if err != nil {
			t.Fatal(err)
		}
		c.Object = nil
		cs = append(cs, c)
	}
	cs[0].NodePools[0].Version = "not-a-version"
	// The same pools and versions on the EXTENDED channel: other texts.
	cs[1].ReleaseChannel = "REGULAR"
	ext := cs[1]
	ext.Name += "-extended"
	ext.ReleaseChannel = "EXTENDED"
	cs = append(cs, ext)
	cat := testkit.Catalog(t)
	severities := map[string]int{}
	for _, months := range []int{-12, -6, 0, 3, 6, 12} {
		now := fleet.Now.AddDate(0, months, 0)
		want := scanner.EndOfSupportTexts(cat, cs, now, false)
		got := scanner.EndOfSupportTexts(cat, cs, now, true)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("as of %s, shared texts differ (-each +shared):\n%s", now.Format(time.DateOnly), diff)
		}
		// Equal texts share one evidence array, which an append copies.
		arrays, findings := map[*scanner.Evidence]bool{}, 0
		for _, fs := range got {
			for _, f := range fs {
				severities[f.Severity+" "+string(f.Status)]++
				if len(f.Evidence) != 1 || cap(f.Evidence) != 1 {
					t.Fatalf("%s %s: evidence len %d cap %d, want 1 and 1", f.Cluster, f.NodePool, len(f.Evidence), cap(f.Evidence))
				}
				arrays[&f.Evidence[0]] = true
				findings++
			}
		}
		if findings > 0 && len(arrays) >= findings {
			t.Fatalf("as of %s, %d findings have %d evidence arrays: want them shared", now.Format(time.DateOnly), findings, len(arrays))
		}
	}
	if len(severities) < 3 {
		t.Fatalf("findings by severity and status %v: want HIGH and MEDIUM AFFECTED and UNKNOWN", severities)
	}
	t.Log(severities)
}

// generatedFleet is a generated fleet as scanner clusters, and the versions
// its locations offer.
func generatedFleet(t testing.TB, opt fleetgen.Options) (*fleetgen.Fleet, fleet, discovery.OfferedByLocation) {
	t.Helper()
	gen, err := fleetgen.Generate(opt)
	if err != nil {
		t.Fatal(err)
	}
	var clusters fleet
	offered := map[string]scanner.Offered{}
	for _, pc := range gen.Clusters {
		c, err := discovery.FromProto(pc, "")
		if err != nil {
			t.Fatal(err)
		}
		clusters = append(clusters, c)
		if _, ok := offered[c.Location]; !ok {
			offered[c.Location] = discovery.OfferedFromProto(gen.ServerConfig(c.Location))
		}
	}
	return gen, clusters, discovery.OfferedByLocation{ByLocation: offered}
}

// TestUpgradePlansShared: a fleet planned together, where the planner's
// memo shares answers across clusters, gives every cluster the plan it
// gets when scanned alone. A memo key that missed something a decision
// reads would give one cluster another's answer.
func TestUpgradePlansShared(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 100
	}
	gen, all, offered := generatedFleet(t, fleetgen.Options{Clusters: n, Projects: n / 5, Seed: 11})
	cat := testkit.Catalog(t)
	scan := func(src fleet) *scanner.Result {
		res, err := scanner.Scan(t.Context(), scanner.Options{Catalog: cat, Source: src, ScanID: "shared", Now: gen.Now,
			Offers: offered})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	together := scan(all)
	if len(together.Clusters) != n {
		t.Fatalf("scanned %d clusters, want %d", len(together.Clusters), n)
	}
	byKey := map[string][]scanner.Finding{}
	for _, f := range together.Findings {
		k := f.ProjectID + "/" + f.Location + "/" + f.Cluster
		byKey[k] = append(byKey[k], f)
	}
	planned := 0
	for i, c := range all {
		alone := scan(fleet{c})
		want, got := alone.Clusters[0], together.Clusters[slices.IndexFunc(together.Clusters, func(r scanner.ClusterRecord) bool { return r.Key() == c.Key() })]
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("cluster %d %s: record planned with the fleet differs (-alone +together):\n%s", i, c.Key(), diff)
		}
		if diff := cmp.Diff(alone.Findings, byKey[c.ProjectID+"/"+c.Location+"/"+c.Name], cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("cluster %d %s: findings planned with the fleet differ (-alone +together):\n%s", i, c.Key(), diff)
		}
		if want.UpgradeControlPlaneTo != "" {
			planned++
		}
	}
	if planned < n/10 {
		t.Fatalf("%d of %d clusters have a control-plane target: the fleet does not exercise the planner", planned, n)
	}
	t.Logf("%d of %d clusters planned a control-plane upgrade", planned, n)
}
