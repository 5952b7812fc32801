package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// writeTable prints what a person reads first: findings grouped by issue,
// most severe first, each with version → fix, then a summary.
func writeTable(w io.Writer, res *scanner.Result, cat *catalog.Catalog) error {
	return writeTableColor(w, res, cat, colorFor(w))
}

// writeTableColor is writeTable, severities coloured when color is set.
func writeTableColor(w io.Writer, res *scanner.Result, cat *catalog.Catalog, color bool) error {
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
		writeIssue(ew, cat.Issue(res.Findings[start].IssueID), res.Findings[start:end], color)
		start = end
	}
	if len(res.Findings) == 0 {
		ew.printf("\nNo findings: no scanned cluster or node pool is exposed to a known issue the catalog can decide.\n")
	}
	writePlan(ew, res)
	writeSummary(ew, res, cat)
	if strings.HasPrefix(res.Scope, "files:") && strings.Contains(res.Scope, "testdata/demo/") {
		ew.printf("\nNext: scan your own clusters, live with Application Default Credentials:\n" +
			"  fleetscan scan --project MY-PROJECT\n" +
			"or from a dump:\n" +
			"  gcloud container clusters list --project MY-PROJECT --format=json > clusters.json\n" +
			"  fleetscan scan --input clusters.json\n")
	}
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
		ew.printf("%s\n", strings.Join(wrap("  ("+strings.TrimSuffix(shared, ".")+")", width, "   "), "\n"))
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
		ew.printf("%s\n", strings.Join(wrap(line, width, "      "), "\n"))
		if len(c.UpgradeSteps) > 1 {
			ew.printf("%s\n", strings.Join(wrap("    steps: "+strings.Join(c.UpgradeSteps, " → "), width, "      "), "\n"))
		}
		if c.UpgradeReason != "" && shared == "" {
			ew.printf("%s\n", strings.Join(wrap("    ↳ "+c.UpgradeReason, width, "      "), "\n"))
		}
	}
}

// width is what the table's lines fit in.
const width = 120

func writeIssue(ew *errWriter, is *catalog.Issue, fs []scanner.Finding, color bool) {
	f0 := fs[0]
	fs = slices.Clone(fs)
	slices.SortStableFunc(fs, func(a, b scanner.Finding) int {
		return slices.Index(scanner.Statuses, a.Status) - slices.Index(scanner.Statuses, b.Status)
	})
	prefix := f0.Severity + "  " + f0.IssueID + "  "
	// wrap joins words with one space; the first line gets its two double
	// spaces back below, so it is wrapped two columns short.
	head := wrap(prefix+f0.Title+" ("+countStatuses(fs)+")", width-2, "    ")
	head[0] = paint(color, f0.Severity, f0.Severity) + "  " + f0.IssueID + "  " + strings.TrimPrefix(head[0], f0.Severity+" "+f0.IssueID+" ")
	ew.printf("\n%s\n", strings.Join(head, "\n"))
	// Rows by project (a header line each), then status, each row's notes
	// under it.
	slices.SortStableFunc(fs, func(a, b scanner.Finding) int { return strings.Compare(a.ProjectID, b.ProjectID) })
	rows := [][]string{{"STATUS", "LOCATION", "CLUSTER", "NODE POOL", "VERSION → FIX", "UPGRADE TO"}}
	notes := map[int][]string{}
	projects := map[int]string{} // row → the project that starts there
	for _, f := range fs {
		if len(rows) == 1 || fs[len(rows)-2].ProjectID != f.ProjectID {
			projects[len(rows)] = f.ProjectID
		}
		rows = append(rows, []string{string(f.Status), f.Location, f.Cluster, dash(f.NodePool), versionToFix(is, f), upgradeCell(f)})
		var n []string
		switch f.Status {
		case scanner.Unknown:
			n = append(n, f.Reason)
		case scanner.Observed:
			for _, e := range f.Evidence {
				if e.Source == string(catalog.CloudLogging) {
					n = append(n, "logs: "+e.Summary)
				}
			}
		case scanner.Affected:
			if f.Version == "" { // no version decided it: say what did
				n = append(n, f.Reason)
			}
		}
		notes[len(rows)-1] = n
	}
	widths := fit(rows, width-2)
	for i, r := range rows {
		if p, ok := projects[i]; ok {
			ew.printf("  project %s\n", p)
		}
		var b strings.Builder
		b.WriteString("  ")
		for j, cell := range r {
			cell = truncate(cell, widths[j])
			pad := widths[j] - runeLen(cell)
			if j == 0 && i > 0 {
				cell = paint(color, cell, cell)
			}
			b.WriteString(cell)
			if j < len(r)-1 {
				b.WriteString(strings.Repeat(" ", pad+2))
			}
		}
		ew.printf("%s\n", b.String())
		for _, n := range notes[i] {
			ew.printf("%s\n", strings.Join(wrap("    ↳ "+n, width, "      "), "\n"))
		}
	}
	ew.printf("%s\n", strings.Join(wrap("  Fix: "+firstSentence(f0.Remediation), width, "       "), "\n"))
	ew.printf("  Docs: %s\n", f0.DocsURL)
}

// upgradeCell is the finding's upgrade target, "= fix" when it is the fix
// itself.
func upgradeCell(f scanner.Finding) string {
	switch {
	case f.UpgradeTo == "":
		return "-"
	case f.UpgradeTo == f.FixedIn:
		return "= fix"
	}
	return f.UpgradeTo
}

// fit gives each column its widest cell's width, then narrows the widest
// of the name columns (location, cluster, node pool; none below 12), then
// the version column (not below 24), until the row fits total.
func fit(rows [][]string, total int) []int {
	w := make([]int, len(rows[0]))
	for _, r := range rows {
		for j, c := range r {
			w[j] = max(w[j], runeLen(c))
		}
	}
	sum := func() int {
		n := 2 * (len(w) - 1)
		for _, x := range w {
			n += x
		}
		return n
	}
	// The name columns first, down to 12, then the version column, to 24.
	for _, pass := range []struct {
		cols  []int
		floor int
	}{{[]int{1, 2, 3}, 12}, {[]int{4}, 24}} {
		for sum() > total {
			widest := -1
			for _, j := range pass.cols {
				if w[j] > pass.floor && (widest < 0 || w[j] > w[widest]) {
					widest = j
				}
			}
			if widest < 0 {
				break
			}
			w[widest]--
		}
	}
	return w
}

func runeLen(s string) int { return len([]rune(s)) }

// truncate shortens s to n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// wrap breaks s at spaces into lines of at most n runes, later lines
// starting with indent; a word longer than a line stays whole.
func wrap(s string, n int, indent string) []string {
	lead := s[:len(s)-len(strings.TrimLeft(s, " "))]
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = lead + word
		case runeLen(line)+1+runeLen(word) <= n:
			line += " " + word
		default:
			lines = append(lines, line)
			line = indent + word
		}
	}
	return append(lines, line)
}

// paint colours a severity or status word on a terminal.
func paint(color bool, word, s string) string {
	if !color {
		return s
	}
	code := ""
	switch word {
	case "CRITICAL", "HIGH", string(scanner.Observed):
		code = "31" // red
	case "MEDIUM", string(scanner.Affected):
		code = "33" // yellow
	case "LOW", string(scanner.Unknown):
		code = "36" // cyan
	}
	if code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// colorFor reports whether output to w is coloured: a terminal, NO_COLOR
// unset, TERM not dumb.
func colorFor(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && colorTerminal(term.IsTerminal(int(f.Fd())), os.Getenv)
}

// colorTerminal is colorFor's rule for an output that is (or is not) a
// terminal, with the environment getenv gives.
func colorTerminal(terminal bool, getenv func(string) string) bool {
	return terminal && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
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

// actOn counts the clusters with findings by their worst status, out of
// those scanned: what a person acts on.
func actOn(res *scanner.Result) string {
	worst := map[scanner.ClusterKey]int{}
	for _, f := range res.Findings {
		k := scanner.ClusterKey{ProjectID: f.ProjectID, Location: f.Location, Name: f.Cluster}
		r := len(scanner.Statuses) - slices.Index(scanner.Statuses, f.Status)
		worst[k] = max(worst[k], r)
	}
	if len(worst) == 0 {
		return ""
	}
	n := map[scanner.Status]int{}
	for _, r := range worst {
		n[scanner.Statuses[len(scanner.Statuses)-r]]++
	}
	var parts []string
	for _, st := range scanner.Statuses {
		if n[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[st], st))
		}
	}
	return fmt.Sprintf("%d of %d, by their worst finding: %s", len(worst), res.Summary.Clusters, strings.Join(parts, ", "))
}

// loggingIssues are the issues only logs decide.
func loggingIssues(cat *catalog.Catalog) []string {
	var ids []string
	for _, is := range cat.Issues {
		if is.DecidedBy == catalog.CloudLogging {
			ids = append(ids, is.ID)
		}
	}
	return ids
}

func writeSummary(ew *errWriter, res *scanner.Result, cat *catalog.Catalog) {
	s := res.Summary
	ew.printf("\nSummary\n")
	row := func(label, value string) { // the value wrapped under itself
		const col = 22
		lines := wrap(value, width-col, strings.Repeat(" ", col))
		ew.printf("  %-*s%s\n", col-2, label, strings.Join(lines, "\n"))
	}
	scanned := fmt.Sprintf("%d in %d project(s), %d on Dataplane V2", s.Clusters, s.Projects, s.DataplaneV2)
	if s.DuplicateClusters > 0 {
		scanned += fmt.Sprintf(" (%d duplicate(s) ignored)", s.DuplicateClusters)
	}
	row("Clusters scanned", scanned)
	findings := fmt.Sprint(s.Findings)
	if s.Findings > 0 {
		findings += ": " + countStatuses(res.Findings)
	}
	row("Findings", findings)
	if act := actOn(res); act != "" {
		row("Clusters to act on", act)
	}
	if s.SkippedChecks > 0 {
		row("Not checked", fmt.Sprintf("%d Kubernetes API check(s) need in-cluster access: %s", s.SkippedChecks, skippedIDs(res.Clusters)))
	}
	logs := fmt.Sprintf("%d symptom event(s) in the window", s.LogEvents)
	if !res.LogsChecked {
		if ids := loggingIssues(cat); len(ids) > 0 {
			row("Not checked", "logs (no --logs given): "+strings.Join(ids, ", "))
		}
		logs = "not checked"
	}
	if s.UnmatchedEvents > 0 {
		logs += fmt.Sprintf(", %d from clusters not in the inventory", s.UnmatchedEvents)
	}
	row("Log evidence", logs)
	errs := fmt.Sprint(s.Errors)
	if s.ProjectsFailed > 0 {
		errs += fmt.Sprintf(" (%d project(s) not fully read)", s.ProjectsFailed)
	}
	row("Errors", errs)
	for _, e := range res.Errors {
		ew.printf("%s\n", strings.Join(wrap(fmt.Sprintf("    ↳ %s %s %s: %s", e.Resource, e.API, e.Code, e.Message), width, "      "), "\n"))
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
