package scanner

import (
	"time"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// ClearsByProbe and ClearsByEvaluate answer the upgrade planner's
// question (does comp of c at version v have no version-decided finding?)
// the way the planner does (affects) and by making every finding
// (evaluate), for tests that hold the two equal.
func ClearsByProbe(cat *catalog.Catalog, c *Cluster, kind catalog.Component, pool, v string, now time.Time) bool {
	comp := component{kind, pool}
	cc := withVersion(c, comp, v)
	return !affects(cat, &cc, comp, now)
}

func ClearsByEvaluate(cat *catalog.Catalog, c *Cluster, kind catalog.Component, pool, v string, now time.Time) bool {
	comp := component{kind, pool}
	cc := withVersion(c, comp, v)
	for _, f := range evaluate(cat, &cc, now) {
		if componentOf(&f) == comp {
			return false
		}
	}
	return true
}

// EndOfSupportTexts is the end-of-support findings of each cluster as of
// now, their text kept across the clusters as a scan does (shared) or
// written for each (not shared).
func EndOfSupportTexts(cat *catalog.Catalog, cs []Cluster, now time.Time, shared bool) [][]Finding {
	var texts supportTexts
	if shared {
		texts = supportTexts{}
	}
	out := make([][]Finding, len(cs))
	for i := range cs {
		out[i] = appendEndOfSupport(nil, cat, &cs[i], now, texts)
	}
	return out
}
