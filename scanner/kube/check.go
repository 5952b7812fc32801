package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// Decide evaluates every issue's check on one cluster's objects: the
// results a source of objects (Dumps, AssetInventory) hands to the scan.
func Decide(issues []*catalog.Issue, o *Objects) []scanner.CheckResult {
	var out []scanner.CheckResult
	for _, is := range issues {
		if is.Kubernetes == nil {
			continue
		}
		v := Evaluate(is.Kubernetes, o)
		var status scanner.Status
		switch v.Outcome {
		case catalog.Affected:
			status = scanner.Affected
		case catalog.Undecided:
			status = scanner.Unknown
		default:
			continue
		}
		out = append(out, scanner.CheckResult{
			IssueID: is.ID,
			Status:  status,
			Reason:  "The cluster " + strings.TrimSuffix(v.Reason, ".") + ".",
			Evidence: scanner.Evidence{
				Source:  string(catalog.KubernetesAPI),
				Summary: withObjects(v),
				Count:   int64(v.Count),
				Sample:  v.Sample,
			},
		})
	}
	return out
}

// withObjects is the verdict's summary followed by the objects that
// decide it, so the owner knows what to change.
func withObjects(v Verdict) string {
	if len(v.Objects) == 0 {
		return v.Summary
	}
	s := v.Summary + ": " + strings.Join(v.Objects, ", ")
	if more := v.Count - len(v.Objects); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// Check decides the issues for cluster c from its dump; a cluster without
// a dump is not covered (its checks stay skipped).
func (d *Dumps) Check(_ context.Context, c *scanner.Cluster, issues []*catalog.Issue) ([]scanner.CheckResult, bool, error) {
	o, ok := d.objects[c.Key()]
	if !ok {
		return nil, false, nil
	}
	return Decide(issues, o), true, nil
}

// Unmatched reports the dumps of clusters that are not in the inventory,
// as scan errors: a dump no cluster uses is a mistake to see, not to skip.
func (d *Dumps) Unmatched(inventory []scanner.ClusterRecord) []scanner.ScanError {
	seen := map[scanner.ClusterKey]bool{}
	for _, c := range inventory {
		seen[c.Key()] = true
	}
	var out []scanner.ScanError
	for k, path := range d.paths {
		if !seen[k] {
			out = append(out, scanner.ScanError{ProjectID: k.ProjectID, Resource: path, API: "kubectl", Code: "NOT_IN_INVENTORY",
				Message: "kube objects of cluster " + k.String() + ", which no cluster input has; they were not used"})
		}
	}
	slices.SortFunc(out, func(a, b scanner.ScanError) int { return strings.Compare(a.Resource, b.Resource) })
	return out
}
