package scanner

import (
	"context"
	"slices"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// InCluster decides the kubernetes_api issues of a cluster from its
// Kubernetes objects (scanner/kube: kubectl dumps or Cloud Asset
// Inventory).
type InCluster interface {
	// Check decides issues for cluster c. covered is false when there is no
	// in-cluster data for c at all (the checks stay skipped, as without
	// in-cluster access); err means c's objects could not be read.
	Check(ctx context.Context, c *Cluster, issues []*catalog.Issue) (results []CheckResult, covered bool, err error)
}

// CheckResult is an in-cluster check's decision for one issue: a finding
// when Status is Affected or Unknown; none for a cluster not affected.
type CheckResult struct {
	IssueID  string
	Status   Status // Affected or Unknown
	Reason   string // a full sentence
	Evidence Evidence
}

// inClusterError is an error of a cluster whose objects could not be
// read that names its API and code for the scan error.
type inClusterError interface {
	error
	API() string  // e.g. "kubernetes"
	Code() string // e.g. PERMISSION_DENIED
}

// checkInCluster runs the in-cluster checks on every cluster that skipped
// them. A cluster whose objects cannot be read gets an UNKNOWN finding per
// issue, saying why, and a scan error: never a silent pass.
func (res *Result) checkInCluster(ctx context.Context, cat *catalog.Catalog, ic InCluster, failed func(ScanError)) error {
	if !slices.ContainsFunc(res.Clusters, func(c ClusterRecord) bool { return len(c.SkippedChecks) > 0 }) {
		return nil // no cluster needs its objects
	}
	// A source that lists the whole scope first (Cloud Asset Inventory)
	// fails the scan when it cannot, as discovery does.
	if l, ok := ic.(interface{ Load(context.Context) error }); ok {
		if err := l.Load(ctx); err != nil {
			return err
		}
	}
	for i := range res.Clusters {
		rec := &res.Clusters[i]
		if len(rec.SkippedChecks) == 0 {
			continue
		}
		var issues []*catalog.Issue
		for _, id := range rec.SkippedChecks {
			if is := cat.Issue(id); is != nil {
				issues = append(issues, is)
			}
		}
		results, covered, err := ic.Check(ctx, &rec.Cluster, issues)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if !covered && err == nil {
			continue
		}
		rec.SkippedChecks = []string{}
		if err != nil {
			api, code := "kubernetes", "UNAVAILABLE"
			if e, ok := err.(inClusterError); ok {
				api, code = e.API(), e.Code()
			}
			failed(ScanError{ProjectID: rec.ProjectID, Resource: clusterResource(&rec.Cluster), API: api, Code: code, Message: err.Error()})
			for _, is := range issues {
				f := newFinding(cat, is, &rec.Cluster, "")
				f.Status = Unknown
				f.Reason = "The cluster's Kubernetes objects could not be read (" + err.Error() + "), so exposure to this issue cannot be decided."
				f.Evidence = []Evidence{{Source: string(catalog.KubernetesAPI), Summary: "objects not read: " + err.Error()}}
				res.Findings = append(res.Findings, f)
			}
			continue
		}
		for _, r := range results {
			is := cat.Issue(r.IssueID)
			if is == nil || !slices.Contains(issues, is) || (r.Status != Affected && r.Status != Unknown) {
				continue
			}
			f := newFinding(cat, is, &rec.Cluster, "")
			f.Status, f.Reason = r.Status, r.Reason
			f.Evidence = []Evidence{r.Evidence} // Scan makes nil nodes []
			res.Findings = append(res.Findings, f)
		}
	}
	if u, ok := ic.(interface {
		Unmatched(inventory []ClusterRecord) []ScanError
	}); ok {
		for _, e := range u.Unmatched(res.Clusters) {
			failed(e)
		}
	}
	return nil
}

// clusterResource names a cluster as the Container API does.
func clusterResource(c *Cluster) string {
	return "projects/" + c.ProjectID + "/locations/" + c.Location + "/clusters/" + c.Name
}
