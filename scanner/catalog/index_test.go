package catalog

import (
	"slices"
	"testing"
)

// members lists s's indices below n, through Next.
func members(s *IssueSet, n int) []int {
	var out []int
	for i := s.Next(0, n); i >= 0; i = s.Next(i+1, n) {
		out = append(out, i)
	}
	return out
}

func TestIssueSet(t *testing.T) {
	var s IssueSet
	if got := members(&s, 300); got != nil {
		t.Errorf("empty set: members %v, want none", got)
	}
	for _, i := range []int{0, 5, 63, 64, 130, 255} {
		s.Add(i)
	}
	if got, want := members(&s, 300), []int{0, 5, 63, 64, 130, 255}; !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
	// Only indices below the catalog's number of issues.
	if got, want := members(&s, 130), []int{0, 5, 63, 64}; !slices.Equal(got, want) {
		t.Errorf("members below 130: %v, want %v", got, want)
	}
	if got := s.Next(256, 300); got != -1 {
		t.Errorf("Next(256) = %d, want -1", got)
	}
	var u IssueSet
	u.Add(7)
	u.Union(&s)
	if got, want := members(&u, 300), []int{0, 5, 7, 63, 64, 130, 255}; !slices.Equal(got, want) {
		t.Errorf("union: members %v, want %v", got, want)
	}
	// An index the words cannot hold makes the set every issue: a caller
	// visits more than it needs, never less.
	var big IssueSet
	big.Add(3)
	big.Add(256)
	if got := members(&big, 260); len(got) != 260 || got[0] != 0 || got[259] != 259 {
		t.Errorf("a set of index 256: members %d from %v, want all 260", len(got), got[:min(len(got), 3)])
	}
	u.Union(&big)
	if got := len(members(&u, 5)); got != 5 {
		t.Errorf("a union with a set of every issue has %d of 5", got)
	}
}

// TestVersionIssues holds the per-minor tables to what Match reads
// without them: for every minor, the issues of the component whose ranges
// hold it, and for a version that did not parse or is outside 1.0-1.63,
// every issue of the component.
func TestVersionIssues(t *testing.T) {
	full, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	narrow, err := full.Narrow(nil, []string{"Storage", "Security"})
	if err != nil {
		t.Fatal(err)
	}
	for name, cat := range map[string]*Catalog{"embedded": full, "narrowed": narrow} {
		n := len(cat.Issues)
		var kube []int
		for i, is := range cat.Issues {
			if is.Support == nil && is.DecidedBy == KubernetesAPI {
				kube = append(kube, i)
			}
		}
		if got := members(cat.KubernetesIssues(), n); !slices.Equal(got, kube) {
			t.Errorf("%s: KubernetesIssues %v, want %v", name, got, kube)
		}
		for _, comp := range []Component{ControlPlane, NodePool} {
			decided := func(is *Issue) bool {
				return is.Support == nil && is.DecidedBy == ContainerAPI && (is.Compares == ControlPlane) == (comp == ControlPlane)
			}
			var all []int
			for i, is := range cat.Issues {
				if decided(is) {
					all = append(all, i)
				}
			}
			if len(all) == 0 {
				t.Fatalf("%s: no %s issue to test", name, comp)
			}
			for _, v := range []Version{{1, 200, 1, 1}, {2, 1, 1, 1}, {0, 9, 1, 1}} {
				if got := members(cat.VersionIssues(comp, v, true), n); !slices.Equal(got, all) {
					t.Errorf("%s: %s issues of %v: %v, want all %v", name, comp, v, got, all)
				}
			}
			if got := members(cat.VersionIssues(comp, Version{1, 30, 1, 1}, false), n); !slices.Equal(got, all) {
				t.Errorf("%s: %s issues of a version that did not parse: %v, want all %v", name, comp, got, all)
			}
			covered := 0
			for m := range 64 {
				var want []int
				for i, is := range cat.Issues {
					if decided(is) && is.Covers(Version{1, m, 1, 1}) {
						want = append(want, i)
					}
				}
				covered += len(want)
				if got := members(cat.VersionIssues(comp, Version{1, m, 5, 100}, true), n); !slices.Equal(got, want) {
					t.Errorf("%s: %s issues of 1.%d: %v, want %v", name, comp, m, got, want)
				}
			}
			if covered == 0 {
				t.Errorf("%s: no %s issue covers any minor: the test tests nothing", name, comp)
			}
		}
	}
}

func TestIDs(t *testing.T) {
	cat, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, is := range cat.Issues {
		if is.Support == nil && is.DecidedBy == KubernetesAPI {
			want = append(want, is.ID)
		}
	}
	if len(want) < 2 {
		t.Fatalf("the catalog has %d kubernetes_api issues: the test needs two", len(want))
	}
	all := *cat.KubernetesIssues()
	a, b := cat.IDs(&all), cat.IDs(&all)
	if !slices.Equal(a, want) {
		t.Fatalf("IDs of every kubernetes_api issue = %v, want %v", a, want)
	}
	if &a[0] != &b[0] || cap(a) != len(a) {
		t.Errorf("IDs of every kubernetes_api issue: not one shared slice capped at its length (cap %d, len %d)", cap(a), len(a))
	}
	var some IssueSet
	first := cat.KubernetesIssues().Next(0, len(cat.Issues))
	some.Add(first)
	if got := cat.IDs(&some); !slices.Equal(got, want[:1]) {
		t.Errorf("IDs of %s alone = %v", want[0], got)
	}
	if got := cat.IDs(&IssueSet{}); got != nil {
		t.Errorf("IDs of no issue = %v, want nil", got)
	}
}
