package catalog

import "math/bits"

// IssueSet is a set of a catalog's issues, by their index in Issues. The
// zero value is empty.
type IssueSet struct {
	words [setWords]uint64
	all   bool // every index: a catalog with more issues than words holds
}

// setWords bounds the issues a set holds one by one (256); a set of a
// larger catalog holds all of them, which only costs a caller visiting
// more issues than it needs.
const setWords = 4

// Add puts issue i in s.
func (s *IssueSet) Add(i int) {
	if i >= setWords*64 {
		s.all = true
		return
	}
	s.words[i/64] |= 1 << (i % 64)
}

// Union puts every issue of t in s.
func (s *IssueSet) Union(t *IssueSet) {
	for i := range s.words {
		s.words[i] |= t.words[i]
	}
	s.all = s.all || t.all
}

// Next returns the smallest index of s that is at least i, or -1 when
// there is none below n (the catalog's number of issues).
func (s *IssueSet) Next(i, n int) int {
	if s.all {
		if i < n {
			return i
		}
		return -1
	}
	for w := i / 64; w < setWords && w*64 < n; w++ {
		word := s.words[w]
		if w == i/64 {
			word &^= 1<<(i%64) - 1
		}
		if word != 0 {
			if j := w*64 + bits.TrailingZeros64(word); j < n {
				return j
			}
			return -1
		}
	}
	return -1
}

// versionIndex is, for each component, the catalog's issues decided by
// container_api from that component's version (no support schedule): per
// minor 1.m of 1.0-1.63, those whose affected ranges hold it (Covers), and
// for any other version, or one that does not parse, all of them.
type versionIndex struct {
	kubernetes    IssueSet // decided by kubernetes_api, no support schedule
	kubernetesIDs []string // their IDs, in catalog order
	perMinor      [2][64]IssueSet
	any           [2]IssueSet
}

// componentIndex is versionIndex's index of a component: 0 the control
// plane, 1 the node pools (issues that compare the node pools' versions).
func componentIndex(c Component) int {
	if c == ControlPlane {
		return 0
	}
	return 1
}

// indexVersions fills c.versions from c.Issues.
func (c *Catalog) indexVersions() {
	x := new(versionIndex)
	for i, is := range c.Issues {
		if is.Support != nil {
			continue
		}
		switch is.DecidedBy {
		case KubernetesAPI:
			x.kubernetes.Add(i)
			x.kubernetesIDs = append(x.kubernetesIDs, is.ID)
		case ContainerAPI:
			k := componentIndex(is.Compares)
			x.any[k].Add(i)
			for m := range x.perMinor[k] {
				if is.CoversMinor(Minor{1, m}) {
					x.perMinor[k][m].Add(i)
				}
			}
		}
	}
	c.versions = x
}

// KubernetesIssues are the issues decided by kubernetes_api (those without
// a support schedule).
func (c *Catalog) KubernetesIssues() *IssueSet { return &c.versions.kubernetes }

// VersionIssues are the issues decided by container_api, without a
// support schedule, that compare component comp's version and can find v
// affected: those whose affected ranges hold v's minor (Covers), or every
// one when v did not parse (parsed false).
func (c *Catalog) VersionIssues(comp Component, v Version, parsed bool) *IssueSet {
	k := componentIndex(comp)
	if parsed && v.Major == 1 && v.Minor >= 0 && v.Minor < 64 {
		return &c.versions.perMinor[k][v.Minor]
	}
	return &c.versions.any[k]
}

// IDs returns the IDs of the issues of s, in catalog order, nil for none.
// For every issue of KubernetesIssues (what a cluster without in-cluster
// access skips), it is one slice, shared by every caller: its elements
// must not be changed (an append copies it).
func (c *Catalog) IDs(s *IssueSet) []string {
	if *s == c.versions.kubernetes && len(c.versions.kubernetesIDs) > 0 {
		ids := c.versions.kubernetesIDs
		return ids[:len(ids):len(ids)]
	}
	n := 0
	for i := s.Next(0, len(c.Issues)); i >= 0; i = s.Next(i+1, len(c.Issues)) {
		n++
	}
	if n == 0 {
		return nil
	}
	ids := make([]string, 0, n)
	for i := s.Next(0, len(c.Issues)); i >= 0; i = s.Next(i+1, len(c.Issues)) {
		ids = append(ids, c.Issues[i].ID)
	}
	return ids
}
