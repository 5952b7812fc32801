package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// writeTable prints what a person reads first: findings grouped by issue,
// most severe first, each with version → fix, then a summary.
func writeTable(w io.Writer, res *scanner.Result, cat *catalog.Catalog) error {
	ew := &errWriter{w: w}
	until := res.StartedAt
	since := until.Add(-time.Duration(res.Lookback))
	ew.printf("fleetscan scan %s · catalog %s · log window %s to %s\n",
		res.ScanID, res.CatalogVersion, since.Format(time.RFC3339), until.Format(time.RFC3339))

	// res.Findings is sorted by severity then issue: group consecutive runs.
	for start := 0; start < len(res.Findings); {
		end := start
		for end < len(res.Findings) && res.Findings[end].IssueID == res.Findings[start].IssueID {
			end++
		}
		writeIssue(ew, cat.Issue(res.Findings[start].IssueID), res.Findings[start:end])
		start = end
	}
	if len(res.Findings) == 0 {
		ew.printf("\nNo findings: no scanned cluster or node pool is exposed to a known issue the catalog can decide.\n")
	}
	writePlan(ew, res)
	writeSummary(ew, res)
	return ew.err
}

// maxPlans bounds the clusters the table's upgrade plan lists.
const maxPlans = 20

// writePlan lists each cluster's one upgrade, the clusters that clear the
// most severe findings first.
func writePlan(ew *errWriter, res *scanner.Result) {
	type entry struct {
		rec  *scanner.ClusterRecord
		rank int // the most severe finding it clears
	}
	rank := map[scanner.ClusterKey]int{}
	for _, f := range res.Findings {
		if f.UpgradeTo != "" {
			k := scanner.ClusterKey{ProjectID: f.ProjectID, Location: f.Location, Name: f.Cluster}
			rank[k] = max(rank[k], catalog.Severity(f.Severity).Rank()+1)
		}
	}
	var plans []entry
	for i := range res.Clusters {
		c := &res.Clusters[i]
		if c.UpgradeClears > 0 || c.UpgradeReason != "" {
			plans = append(plans, entry{c, rank[c.Key()]})
		}
	}
	if len(plans) == 0 {
		return
	}
	slices.SortStableFunc(plans, func(a, b entry) int {
		if a.rank != b.rank {
			return b.rank - a.rank
		}
		return int(b.rec.UpgradeClears - a.rec.UpgradeClears)
	})
	ew.printf("\nUpgrade plan: %d cluster(s)\n", len(plans))
	shared := plans[0].rec.UpgradeReason
	for _, p := range plans {
		if p.rec.UpgradeReason != shared {
			shared = ""
		}
	}
	if shared != "" {
		ew.printf("  (%s)\n", strings.TrimSuffix(shared, "."))
	}
	for i, p := range plans {
		if i == maxPlans {
			ew.printf("  … and %d more: see --format json (clusters[].upgrade_*) or the upgrade_plan view\n", len(plans)-maxPlans)
			break
		}
		c := p.rec
		var parts []string
		if c.UpgradeControlPlaneTo != "" {
			parts = append(parts, "control plane → "+c.UpgradeControlPlaneTo)
		}
		byTarget := map[string][]string{}
		var targets []string
		for _, np := range c.NodePools {
			if np.UpgradeTo != "" {
				if byTarget[np.UpgradeTo] == nil {
					targets = append(targets, np.UpgradeTo)
				}
				byTarget[np.UpgradeTo] = append(byTarget[np.UpgradeTo], np.Name)
			}
		}
		for _, t := range targets {
			parts = append(parts, "pool(s) "+strings.Join(byTarget[t], ", ")+" → "+t)
		}
		line := fmt.Sprintf("  %s/%s/%s: ", c.ProjectID, c.Location, c.Name)
		if len(parts) > 0 {
			line += strings.Join(parts, "; ") + fmt.Sprintf(" clears %d", c.UpgradeClears)
		} else {
			line += "no target known"
		}
		ew.printf("%s\n", line)
		if len(c.UpgradeSteps) > 1 {
			ew.printf("    steps: %s\n", strings.Join(c.UpgradeSteps, " → "))
		}
		if c.UpgradeReason != "" && shared == "" {
			ew.printf("    ↳ %s\n", c.UpgradeReason)
		}
	}
}

func writeIssue(ew *errWriter, is *catalog.Issue, fs []scanner.Finding) {
	f0 := fs[0]
	fs = slices.Clone(fs)
	slices.SortStableFunc(fs, func(a, b scanner.Finding) int {
		return slices.Index(scanner.Statuses, a.Status) - slices.Index(scanner.Statuses, b.Status)
	})
	ew.printf("\n%s  %s  %s (%s)\n", f0.Severity, f0.IssueID, f0.Title, countStatuses(fs))
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  STATUS\tPROJECT\tLOCATION\tCLUSTER\tNODE POOL\tVERSION → FIX\tUPGRADE TO")
	var notes []string
	for _, f := range fs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Status, f.ProjectID, f.Location, f.Cluster, dash(f.NodePool), versionToFix(is, f), dash(f.UpgradeTo))
		switch f.Status {
		case scanner.Unknown:
			notes = append(notes, fmt.Sprintf("%s/%s: %s", f.Cluster, orCluster(f.NodePool), f.Reason))
		case scanner.Observed:
			for _, e := range f.Evidence {
				if e.Source == string(catalog.CloudLogging) {
					notes = append(notes, fmt.Sprintf("%s/%s: logs: %s", f.Cluster, orCluster(f.NodePool), e.Summary))
				}
			}
		case scanner.Affected:
			if f.Version == "" { // no version decided it: say what did
				notes = append(notes, fmt.Sprintf("%s/%s: %s", f.Cluster, orCluster(f.NodePool), f.Reason))
			}
		}
	}
	tw.Flush()
	for _, n := range notes {
		ew.printf("    ↳ %s\n", n)
	}
	ew.printf("  Fix: %s\n  Docs: %s\n", firstSentence(f0.Remediation), f0.DocsURL)
}

// versionToFix is "1.24.9-gke.3199 → 1.24.9-gke.3200", naming the next
// minor's fix when the version's minor has none.
func versionToFix(is *catalog.Issue, f scanner.Finding) string {
	if f.Version == "" {
		return "-"
	}
	if f.FixedIn != "" {
		return f.Version + " → " + f.FixedIn
	}
	if is != nil && is.Support != nil {
		return f.Version + " → a supported minor"
	}
	v, err := catalog.ParseVersion(f.Version)
	if err != nil || is == nil {
		return f.Version + " → ?"
	}
	_, _, upgrade := is.FixFor(v)
	if upgrade == "" {
		return f.Version + " → no fix documented"
	}
	return fmt.Sprintf("%s → %s (none on %s)", f.Version, upgrade, v.MinorLine())
}

func writeSummary(ew *errWriter, res *scanner.Result) {
	s := res.Summary
	ew.printf("\nSummary\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  Clusters scanned\t%d in %d project(s), %d on Dataplane V2", s.Clusters, s.Projects, s.DataplaneV2)
	if s.DuplicateClusters > 0 {
		fmt.Fprintf(tw, " (%d duplicate(s) ignored)", s.DuplicateClusters)
	}
	fmt.Fprintf(tw, "\n  Findings\t%d", s.Findings)
	if s.Findings > 0 {
		fmt.Fprintf(tw, ": %s", countStatuses(res.Findings))
	}
	fmt.Fprintln(tw)
	if s.SkippedChecks > 0 {
		fmt.Fprintf(tw, "  Not checked\t%d Kubernetes API check(s) need in-cluster access: %s\n", s.SkippedChecks, skippedIDs(res.Clusters))
	}
	fmt.Fprintf(tw, "  Log evidence\t%d symptom event(s) in the window", s.LogEvents)
	if s.UnmatchedEvents > 0 {
		fmt.Fprintf(tw, ", %d from clusters not in the inventory", s.UnmatchedEvents)
	}
	fmt.Fprintf(tw, "\n  Errors\t%d", s.Errors)
	if s.ProjectsFailed > 0 {
		fmt.Fprintf(tw, " (%d project(s) not fully read)", s.ProjectsFailed)
	}
	fmt.Fprintln(tw)
	tw.Flush()
	for _, e := range res.Errors {
		ew.printf("    ↳ %s %s %s: %s\n", e.Resource, e.API, e.Code, e.Message)
	}
}

// summaryLine is the one-line summary printed to stderr for machine formats.
func summaryLine(res *scanner.Result) string {
	s := res.Summary
	line := fmt.Sprintf("scan %s: %d cluster(s) (%d Dataplane V2), %d finding(s)", res.ScanID, s.Clusters, s.DataplaneV2, s.Findings)
	if s.Findings > 0 {
		line += ": " + countStatuses(res.Findings)
	}
	line += fmt.Sprintf(", %d error(s)", s.Errors)
	if s.ProjectsFailed > 0 {
		line += fmt.Sprintf(" in %d project(s)", s.ProjectsFailed)
	}
	return line
}

func countStatuses(fs []scanner.Finding) string {
	n := map[scanner.Status]int{}
	for _, f := range fs {
		n[f.Status]++
	}
	var parts []string
	for _, s := range scanner.Statuses {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

func skippedIDs(cs []scanner.ClusterRecord) string {
	n := map[string]int{}
	for _, c := range cs {
		for _, id := range c.SkippedChecks {
			n[id]++
		}
	}
	ids := make([]string, 0, len(n))
	for id := range n {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		ids[i] = fmt.Sprintf("%s on %d cluster(s)", id, n[id])
	}
	return strings.Join(ids, ", ")
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orCluster(pool string) string {
	if pool == "" {
		return "(cluster)"
	}
	return pool
}

// errWriter keeps the first write error so printing code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, a ...any) { fmt.Fprintf(e, format, a...) }
