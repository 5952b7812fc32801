package scanner_test

import (
	"fmt"
	"slices"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/test/testkit"
)

// TestCatalogEntriesAtTheirBoundaries derives, for every version-ranged
// entry of the real catalog, its own cases from its data, and checks the
// verdict of the whole path (Container API object → facts → Match):
//
//   - just below and at each range's fix: affected, then not;
//   - just below and at each range's first affected patch (from): not, then affected;
//   - at and just above each range's last affected patch (through): affected, then not;
//   - the first and last minor of a range without a fix: affected;
//   - the minor above the last range: not affected;
//   - a cluster for which the conditions fail, at an affected version: not
//     affected (one per short form, and examples.fails for conditions.cel).
//
// The clusters are the entry's examples.holds (or an empty cluster) with
// its short-form conditions made to hold.
func TestCatalogEntriesAtTheirBoundaries(t *testing.T) {
	cat := testkit.Catalog(t) // the whole catalog
	tested := 0
	for _, is := range cat.Issues {
		if is.DecidedBy != catalog.ContainerAPI || is.Support != nil {
			continue
		}
		tested++
		t.Run(is.ID, func(t *testing.T) {
			holds := exampleFor(t, is, true)
			type vcase struct {
				version string
				want    bool
				why     string
			}
			var cases []vcase
			var top catalog.Minor
			for i, r := range is.Affected {
				first, last, from, through, fixed := r.Span()
				if first.Major == 0 { // "<=X": the minor itself, and the one below
					first = catalog.Minor{Major: last.Major, Minor: max(last.Minor-1, 0)}
				}
				top = last
				at := fmt.Sprintf("affected[%d] (%s)", i, r.Minors)
				if !from.IsZero() {
					cases = append(cases, vcase{below(from).String(), false, at + ": just below from"},
						vcase{from.String(), true, at + ": at from"})
				}
				if !through.IsZero() {
					above := through
					above.Build++
					cases = append(cases, vcase{through.String(), true, at + ": at through"},
						vcase{above.String(), false, at + ": just above through"})
					continue
				}
				if !fixed.IsZero() {
					cases = append(cases, vcase{below(fixed).String(), true, at + ": just below fixed_in"},
						vcase{fixed.String(), false, at + ": at fixed_in"})
					continue
				}
				for _, m := range []catalog.Minor{first, last} {
					v := fmt.Sprintf("%d.%d.99-gke.99999999", m.Major, m.Minor)
					if !from.IsZero() {
						v = from.String()
					}
					cases = append(cases, vcase{v, true, at + ": no fix on " + m.String()})
				}
			}
			cases = append(cases, vcase{fmt.Sprintf("%d.%d.0-gke.100", top.Major, top.Minor+1), false, "the minor above the range"})
			for _, c := range cases {
				if got := affected(t, cat, is, holds, c.version); got != c.want {
					t.Errorf("%s: %s: affected = %t, want %t", c.version, c.why, got, c.want)
				}
			}
			// Conditions that fail, at a version that is affected when they hold.
			v := ""
			for _, c := range cases {
				if c.want {
					v = c.version
					break
				}
			}
			for name, fails := range failing(t, is) {
				if affected(t, cat, is, fails, v) {
					t.Errorf("%s, %s: affected, want not affected", v, name)
				}
			}
		})
	}
	if tested < 15 {
		t.Errorf("%d version-ranged entries tested, want every one (at least 15)", tested)
	}
}

// below is the GKE version just before v.
func below(v catalog.Version) catalog.Version {
	switch {
	case v.Build > 0:
		v.Build--
	case v.Patch > 0:
		v.Patch, v.Build = v.Patch-1, 99999999
	default:
		v.Minor, v.Patch, v.Build = v.Minor-1, 99, 99999999
	}
	return v
}

// exampleFor is is's examples.holds (or fails), or a cluster with one node
// pool, with the short-form conditions made to hold.
func exampleFor(t *testing.T, is *catalog.Issue, holds bool) *containerpb.Cluster {
	t.Helper()
	var ex map[string]any
	if is.Examples != nil {
		ex = is.Examples.Holds
		if !holds {
			ex = is.Examples.Fails
		}
	}
	ex = copyMap(ex)
	if _, ok := ex["nodePools"]; !ok {
		ex["nodePools"] = []any{map[string]any{}}
	}
	pc, err := catalog.ExampleCluster(ex)
	if err != nil {
		t.Fatal(err)
	}
	cond := is.Conditions
	if cond.DataplaneV2 != nil {
		pc.NetworkConfig.DatapathProvider = containerpb.DatapathProvider_LEGACY_DATAPATH
		if *cond.DataplaneV2 {
			pc.NetworkConfig.DatapathProvider = containerpb.DatapathProvider_ADVANCED_DATAPATH
		}
	}
	if cond.Autopilot != nil {
		pc.Autopilot = &containerpb.Autopilot{Enabled: *cond.Autopilot}
	}
	if len(cond.ImageFamilies) > 0 {
		for _, np := range pc.NodePools {
			np.Config.ImageType = imageOf(cond.ImageFamilies[0])
		}
	}
	return pc
}

// failing gives, per way, a cluster for which is's conditions fail: each
// short form turned, and examples.fails.
func failing(t *testing.T, is *catalog.Issue) map[string]*containerpb.Cluster {
	out := map[string]*containerpb.Cluster{}
	cond := is.Conditions
	if cond.DataplaneV2 != nil {
		pc := exampleFor(t, is, true)
		pc.NetworkConfig.DatapathProvider = containerpb.DatapathProvider_ADVANCED_DATAPATH
		if *cond.DataplaneV2 {
			pc.NetworkConfig.DatapathProvider = containerpb.DatapathProvider_LEGACY_DATAPATH
		}
		out["dataplane_v2 turned"] = pc
	}
	if cond.Autopilot != nil {
		pc := exampleFor(t, is, true)
		pc.Autopilot.Enabled = !*cond.Autopilot
		out["autopilot turned"] = pc
	}
	if len(cond.ImageFamilies) > 0 {
		for _, f := range []catalog.ImageFamily{catalog.LinuxContainerd, catalog.Windows} {
			if !slices.Contains(cond.ImageFamilies, f) {
				pc := exampleFor(t, is, true)
				for _, np := range pc.NodePools {
					np.Config.ImageType = imageOf(f)
				}
				out["image family "+string(f)] = pc
				break
			}
		}
	}
	if is.Examples != nil {
		out["examples.fails"] = exampleFor(t, is, false)
	}
	if len(out) == 0 && (cond.DataplaneV2 != nil || cond.Autopilot != nil || len(cond.ImageFamilies) > 0 || cond.CEL.Text != "") {
		t.Fatalf("conditions but no failing case")
	}
	return out
}

func imageOf(f catalog.ImageFamily) string {
	return map[catalog.ImageFamily]string{catalog.LinuxContainerd: "COS_CONTAINERD", catalog.LinuxDocker: "COS",
		catalog.Windows: "WINDOWS_LTSC_CONTAINERD", catalog.Custom: "CUSTOM"}[f]
}

// affected runs the scan's path on pc with the compared versions at v and
// reports whether Match finds is AFFECTED; any other finding of is fails.
func affected(t *testing.T, cat *catalog.Catalog, is *catalog.Issue, pc *containerpb.Cluster, v string) bool {
	t.Helper()
	pc = clone(pc)
	pc.CurrentMasterVersion = v
	for _, np := range pc.NodePools {
		np.Version = v
	}
	c, err := discovery.FromProto(pc, "example-project")
	if err != nil {
		t.Fatal(err)
	}
	c.Facts = cat.Facts(c.Object)
	fs, _ := scanner.Match(cat, &c)
	found := false
	for _, f := range fs {
		if f.IssueID != is.ID {
			continue
		}
		if f.Status != scanner.Affected {
			t.Errorf("%s: %s finding: %s", v, f.Status, f.Reason)
		}
		found = true
	}
	return found
}

func clone(pc *containerpb.Cluster) *containerpb.Cluster {
	return proto.Clone(pc).(*containerpb.Cluster)
}

// copyMap copies an example deeply enough to add to it.
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		if l, ok := v.([]any); ok {
			cp := make([]any, len(l))
			for i, e := range l {
				if em, ok := e.(map[string]any); ok {
					e = copyMap(em)
				}
				cp[i] = e
			}
			v = cp
		}
		out[k] = v
	}
	return out
}

// A condition that reads a section every real cluster has, on an input
// without it (a trimmed dump), gives UNKNOWN naming the section, never a
// pass; with the section there, the same cluster is decided.
func TestCELMissingSectionIsUnknown(t *testing.T) {
	cat := testkit.Catalog(t)
	is := cat.Issue("GKE-GCSFUSE-NODE-RESTART-STUCK")
	if is == nil {
		t.Fatal("no GKE-GCSFUSE-NODE-RESTART-STUCK")
	}
	pc, err := catalog.ExampleCluster(map[string]any{"nodePools": []any{map[string]any{}}})
	if err != nil {
		t.Fatal(err)
	}
	if affected(t, cat, is, pc, "1.32.1-gke.100") {
		t.Error("the Cloud Storage FUSE driver is off, yet affected")
	}
	pc.AddonsConfig = nil
	pc.CurrentMasterVersion = "1.32.1-gke.100"
	c, err := discovery.FromProto(pc, "example-project")
	if err != nil {
		t.Fatal(err)
	}
	c.Facts = cat.Facts(c.Object)
	fs, _ := scanner.Match(cat, &c)
	var got []string
	for _, f := range fs {
		if f.IssueID == is.ID {
			got = append(got, string(f.Status)+": "+f.Reason)
		}
	}
	want := "UNKNOWN: The control plane runs 1.32.1-gke.100, below 1.32.6-gke.1125000, the first fixed version on 1.32, an affected version, but has no addonsConfig in the input (a trimmed dump?), which the issue's condition reads, so exposure to this issue cannot be decided."
	if len(got) != 1 || got[0] != want {
		t.Errorf("findings = %q, want [%q]", got, want)
	}
}
