package scanner

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// InCluster decides the kubernetes_api issues of a cluster from its
// Kubernetes objects (scanner/kube: kubectl dumps, Cloud Asset Inventory
// or each cluster's API). A source may also have Load(ctx) error (run
// once before the checks; its error fails the scan), Parallel() int (how
// many clusters Check may take at once; else one at a time), CallCounts
// (its calls, for the scan record) and Unmatched (objects of clusters not in the inventory).
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

// CallCount is how many calls an in-cluster source made of one type: the
// scan record's kubernetes_calls.
type CallCount struct {
	API   string `json:"api" bigquery:"api"`   // cloudasset or kubernetes
	Type  string `json:"type" bigquery:"type"` // the asset type or resource listed
	Calls int64  `json:"calls" bigquery:"calls"`
}

// CallsLine is "TYPE=N" for each count, for logs.
func CallsLine(cs []CallCount) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Type + "=" + strconv.FormatInt(c.Calls, 10)
	}
	return strings.Join(parts, " ")
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
	type check struct {
		rec     *ClusterRecord
		issues  []*catalog.Issue
		results []CheckResult
		covered bool
		err     error
	}
	var checks []*check
	for i := range res.Clusters {
		rec := &res.Clusters[i]
		if len(rec.SkippedChecks) == 0 {
			continue
		}
		ch := &check{rec: rec}
		for _, id := range rec.SkippedChecks {
			if is := cat.Issue(id); is != nil {
				ch.issues = append(ch.issues, is)
			}
		}
		checks = append(checks, ch)
	}
	// A source that reads each cluster's own API checks several at once.
	par := 1
	if p, ok := ic.(interface{ Parallel() int }); ok {
		par = max(p.Parallel(), 1)
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for _, ch := range checks {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ch.results, ch.covered, ch.err = ic.Check(ctx, &ch.rec.Cluster, ch.issues)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, ch := range checks {
		rec, issues, err := ch.rec, ch.issues, ch.err
		if !ch.covered && err == nil {
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
		for _, r := range ch.results {
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
	if c, ok := ic.(interface{ CallCounts() []CallCount }); ok {
		res.KubernetesCalls = c.CallCounts()
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
