package scanner

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// Source discovers the clusters of a scan. It calls found once per cluster
// and failed for each part of the scope it could not read (no access to a
// project or folder), then goes on, and returns what it covered. A returned
// error means the scan as a whole cannot run: the scope itself cannot be
// read, or an API stayed unavailable.
type Source interface {
	Discover(ctx context.Context, found func(Cluster), failed func(ScanError)) (Coverage, error)
}

// Coverage is the part of the scope a source read completely. A project
// that it covers and that has no scan error has had its every cluster
// seen: findings it no longer has are resolved. Any other project's
// findings may be incomplete, and what was known of it must be kept.
type Coverage struct {
	// All: every project of the scope was read; a project not seen has no
	// clusters (or is no longer in the scope).
	All bool
	// Projects read one by one, with or without clusters, when not All.
	Projects []string
}

// EvidenceSource reads symptom observations from Cloud Logging (a file or
// the API) for the given projects over [since, until].
type EvidenceSource interface {
	Observe(ctx context.Context, q EvidenceQuery, failed func(ScanError)) ([]Observation, error)
}

// EvidenceQuery says what evidence a scan needs.
type EvidenceQuery struct {
	Projects []string // projects that have clusters, sorted
	Symptoms []*catalog.Symptom
	// Agents are kubernetes_api issues whose check reads its agent's
	// start-up lines (catalog.KubernetesCheck.Logged), asked for when a
	// cluster has a finding of the issue or skipped its check.
	Agents       []*catalog.Issue
	Since, Until time.Time
}

// Observation is a symptom seen in one cluster's logs, or (IssueID set)
// an agent's start-up lines that are evidence for a kubernetes_api issue.
type Observation struct {
	Cluster    ClusterKey
	SymptomKey string // catalog.Symptom.Key; "" when IssueID is set
	// IssueID names the kubernetes_api issue (one of EvidenceQuery.Agents)
	// whose agent the lines show started in the affecting configuration.
	IssueID  string
	Events   int // distinct events after de-duplication; for IssueID, the agent's pods
	Evidence Evidence
}

// Options of one scan.
type Options struct {
	Catalog  *catalog.Catalog
	Source   Source
	Evidence EvidenceSource // nil: no log evidence
	// InCluster, when set, decides the kubernetes_api issues from the
	// clusters' objects; nil lists them as skipped checks.
	InCluster InCluster
	// Offers, when set, gives the versions GKE offers per location, from
	// which each cluster's upgrade target is chosen; nil targets the
	// highest fixed_in, not checked against them.
	Offers   Offers
	ScanID   string
	Scope    string        // what was scanned, e.g. organizations/123 or the input files
	OrgID    string        // organization_id of every finding, when known
	Shard    int           // this scan's shard of a fanned-out scan, 0-based
	Shards   int           // how many shards the scan has; zero means 1
	Now      time.Time     // the end of the log window and scanned_at; zero means time.Now
	Lookback time.Duration // the log window; zero means DefaultLookback
}

// Duration is a time.Duration whose JSON form is its text, e.g. "168h0m0s".
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DefaultLookback is the log evidence window when none is given.
const DefaultLookback = 7 * 24 * time.Hour

// Result is a finished scan: everything its rows need.
type Result struct {
	ScanID         string          `json:"scan_id"`
	Scope          string          `json:"scope"`
	OrganizationID string          `json:"organization_id"`
	Shard          int             `json:"shard"`
	Shards         int             `json:"shards"`
	StartedAt      time.Time       `json:"started_at"`
	FinishedAt     time.Time       `json:"finished_at"`
	CatalogVersion string          `json:"catalog_version"`
	Lookback       Duration        `json:"lookback"`
	Summary        Summary         `json:"summary"`
	Clusters       []ClusterRecord `json:"clusters"`
	// Findings may share their Evidence arrays, each capped at its own
	// elements so that an append copies: an element is never written in
	// place.
	Findings []Finding   `json:"findings"`
	Errors   []ScanError `json:"errors"`
	// KubernetesCalls are the in-cluster source's calls by type.
	KubernetesCalls []CallCount `json:"kubernetes_calls"`
	// LogsChecked is false when the scan had no log evidence source: its
	// cloud_logging issues were not decided.
	LogsChecked bool `json:"logs_checked"`
	// Coverage is what discovery read completely; see Complete.
	Coverage Coverage `json:"-"`
}

// Complete reports whether the scan read the project completely: discovery
// covered it and neither discovery nor evidence recorded an error for it.
// Only then may a project's stored state be replaced by this scan's
// findings.
func (r *Result) Complete(project string) bool {
	for _, e := range r.Errors {
		if e.ProjectID == project {
			return false
		}
	}
	return r.Coverage.All || slices.Contains(r.Coverage.Projects, project)
}

// Summary counts what a scan saw.
type Summary struct {
	Clusters          int            `json:"clusters"`
	DataplaneV2       int            `json:"dataplane_v2_clusters"`
	Projects          int            `json:"projects"`
	DuplicateClusters int            `json:"duplicate_clusters"`
	Findings          int            `json:"findings"`
	ByStatus          map[Status]int `json:"findings_by_status"`
	SkippedChecks     int            `json:"skipped_checks"`
	LogEvents         int            `json:"log_events"`           // distinct symptom events in the window
	UnmatchedEvents   int            `json:"log_events_unmatched"` // of those, from clusters not in the inventory
	Errors            int            `json:"errors"`
	ProjectsFailed    int            `json:"projects_failed"` // distinct projects with an error
}

// Scan discovers clusters, matches each against the catalog, and applies
// log evidence. Findings are sorted by severity, issue, then location.
func Scan(ctx context.Context, opt Options) (*Result, error) {
	if opt.Catalog == nil || opt.Source == nil {
		return nil, errors.New("scan: catalog and source are required")
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	lookback := cmp.Or(opt.Lookback, DefaultLookback)
	if lookback < 0 {
		return nil, fmt.Errorf("scan: lookback %s is negative", lookback)
	}
	res := &Result{
		ScanID:         opt.ScanID,
		Scope:          opt.Scope,
		StartedAt:      now,
		OrganizationID: opt.OrgID,
		Shard:          opt.Shard,
		Shards:         max(opt.Shards, 1),
		CatalogVersion: opt.Catalog.Version,
		Lookback:       Duration(lookback),
		Summary:        Summary{ByStatus: map[Status]int{}},
	}
	seen := map[ClusterKey]bool{}
	projects := map[string]bool{}
	var eos []Finding // a cluster's end-of-support findings, reused
	shared := interner{strings: map[string]string{}, facts: map[string]*catalog.Facts{}}
	outcomes := catalog.NewFactsMemo()
	texts := supportTexts{}
	found := func(c Cluster) {
		if seen[c.Key()] {
			res.Summary.DuplicateClusters++
			return
		}
		seen[c.Key()] = true
		projects[c.ProjectID] = true
		// The catalog's CEL conditions are evaluated once, here; matching and
		// upgrade planning read the facts, and the object is let go.
		if c.Facts == nil {
			c.Facts = opt.Catalog.FactsWith(c.Object, outcomes)
		}
		c.Object = nil
		shared.cluster(&c)
		fs, skipped := Match(opt.Catalog, &c)
		eos = appendEndOfSupport(eos[:0], opt.Catalog, &c, now, texts)
		if skipped == nil {
			skipped = []string{} // REPEATED columns load as [], not null
		}
		res.Findings = appendDoubling(appendDoubling(res.Findings, fs...), eos...)
		if c.NodePools == nil {
			c.NodePools = []Pool{}
		}
		res.Clusters = appendDoubling(res.Clusters, ClusterRecord{Cluster: c, DataplaneV2: c.DataplaneV2(), SkippedChecks: skipped})
	}
	failed := func(e ScanError) { res.Errors = append(res.Errors, e) }
	cov, err := opt.Source.Discover(ctx, found, failed)
	if err != nil {
		return nil, err
	}
	res.Coverage = cov
	if opt.InCluster != nil {
		if err := res.checkInCluster(ctx, opt.Catalog, opt.InCluster, failed); err != nil {
			return nil, err
		}
	}

	res.LogsChecked = opt.Evidence != nil
	if opt.Evidence != nil {
		q := EvidenceQuery{
			Projects: slices.Sorted(maps.Keys(projects)),
			Symptoms: opt.Catalog.Symptoms(),
			Since:    now.Add(-lookback),
			Until:    now,
		}
		q.Agents = res.agentsToConfirm(opt.Catalog)
		if len(q.Symptoms) > 0 || len(q.Agents) > 0 {
			obs, err := opt.Evidence.Observe(ctx, q, failed)
			if err != nil {
				return nil, err
			}
			res.applyEvidence(opt.Catalog, obs, seen)
		}
	}

	res.planUpgrades(ctx, opt.Catalog, opt.Offers, now, failed)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	for i := range res.Findings {
		f := &res.Findings[i]
		f.ScanID, f.ScannedAt, f.OrganizationID = opt.ScanID, now, opt.OrgID
		if f.Evidence == nil {
			f.Evidence = []Evidence{} // REPEATED columns load as [], not null
		}
		for j := range f.Evidence {
			if f.Evidence[j].Nodes == nil {
				f.Evidence[j].Nodes = []string{}
			}
		}
		res.Summary.ByStatus[f.Status]++
	}
	for i := range res.Errors {
		res.Errors[i].ScanID, res.Errors[i].ScannedAt = opt.ScanID, now
	}
	// Empty lists are [] in JSON, never null.
	if res.KubernetesCalls == nil {
		res.KubernetesCalls = []CallCount{}
	}
	if res.Findings == nil {
		res.Findings = []Finding{}
	}
	if res.Clusters == nil {
		res.Clusters = []ClusterRecord{}
	}
	if res.Errors == nil {
		res.Errors = []ScanError{}
	}
	sortFindings(res.Findings)
	keys := make([]string, len(res.Clusters))
	for i := range res.Clusters {
		keys[i] = res.Clusters[i].Key().String()
	}
	sortLarge(res.Clusters, func(i, j int) int { return strings.Compare(keys[i], keys[j]) })
	for i := range res.Clusters {
		c := &res.Clusters[i]
		c.ScanID, c.ScannedAt, c.OrganizationID = opt.ScanID, now, opt.OrgID
		if c.UpgradeSteps == nil {
			c.UpgradeSteps = []string{} // REPEATED columns load as [], not null
		}
		if c.DataplaneV2 {
			res.Summary.DataplaneV2++
		}
		res.Summary.SkippedChecks += len(c.SkippedChecks)
	}
	res.Summary.Clusters = len(res.Clusters)
	res.Summary.Projects = len(projects)
	res.Summary.Findings = len(res.Findings)
	res.Summary.Errors = len(res.Errors)
	failedProjects := map[string]bool{}
	for _, e := range res.Errors {
		if e.ProjectID != "" {
			failedProjects[e.ProjectID] = true
		}
	}
	res.Summary.ProjectsFailed = len(failedProjects)
	res.FinishedAt = time.Now().UTC()
	if !opt.Now.IsZero() {
		res.FinishedAt = now // reproducible runs stay reproducible
	}
	return res, nil
}

// agentsToConfirm lists the issues whose check reads its agent's start-up
// lines and that some cluster has a finding of or skipped: only there can
// the lines change a result.
func (res *Result) agentsToConfirm(cat *catalog.Catalog) (issues []*catalog.Issue) {
	logged := map[string]bool{}
	for _, is := range cat.Issues {
		if is.DecidedBy == catalog.KubernetesAPI && is.Kubernetes.Logged() {
			logged[is.ID] = true
		}
	}
	wanted := map[string]bool{}
	for _, f := range res.Findings {
		wanted[f.IssueID] = wanted[f.IssueID] || logged[f.IssueID]
	}
	for _, c := range res.Clusters {
		for _, id := range c.SkippedChecks {
			wanted[id] = wanted[id] || logged[id]
		}
	}
	for _, is := range cat.Issues {
		if wanted[is.ID] {
			issues = append(issues, is)
		}
	}
	return issues
}

// applyEvidence turns observations into findings: an issue that names the
// symptom and has findings in the cluster becomes OBSERVED there; otherwise
// an issue decided by cloud_logging on that symptom gets a finding, unless
// the issue it defers to (unless_affected) has findings in the cluster.
//
// An observation of an agent's start-up lines (IssueID) is evidence for
// its kubernetes_api issue: a finding of the issue in the cluster (from
// its objects) gets it and keeps its status; a cluster that skipped the
// check (no in-cluster data) gets an UNKNOWN finding, as its Services are
// not known, and no longer lists the check as skipped; a cluster whose
// objects decided it not affected is left so, as the objects are newer
// than a start-up line. These observations are not symptom events: they
// are not counted in LogEvents, and those of clusters outside the
// inventory are dropped.
func (res *Result) applyEvidence(cat *catalog.Catalog, obs []Observation, inventory map[ClusterKey]bool) {
	// Only the observed clusters are indexed: a fleet's logs name few of
	// its clusters.
	byCluster := map[ClusterKey][]int{}
	for _, o := range obs {
		if inventory[o.Cluster] {
			byCluster[o.Cluster] = nil
		}
	}
	for i := range res.Findings {
		f := &res.Findings[i]
		k := ClusterKey{f.ProjectID, f.Location, f.Cluster}
		if idx, ok := byCluster[k]; ok {
			byCluster[k] = append(idx, i)
		}
	}
	records := map[ClusterKey]*ClusterRecord{}
	for i := range res.Clusters {
		k := res.Clusters[i].Key()
		if _, ok := byCluster[k]; ok {
			records[k] = &res.Clusters[i]
		}
	}
	for _, o := range obs {
		if o.IssueID != "" {
			if is := cat.Issue(o.IssueID); is != nil && is.DecidedBy == catalog.KubernetesAPI && inventory[o.Cluster] {
				res.applyAgentEvidence(cat, is, o, byCluster[o.Cluster], records[o.Cluster])
			}
			continue
		}
		res.Summary.LogEvents += o.Events
		if !inventory[o.Cluster] {
			res.Summary.UnmatchedEvents += o.Events
			continue
		}
		explained := map[string]bool{}
		for _, i := range byCluster[o.Cluster] {
			f := &res.Findings[i]
			is := cat.Issue(f.IssueID)
			if is == nil || is.Symptom == nil || is.Symptom.Key() != o.SymptomKey {
				continue
			}
			f.Status = Observed
			f.Evidence = append(f.Evidence, o.Evidence)
			f.Reason = strings.TrimSuffix(f.Reason, ".") + "; Cloud Logging shows the symptom: " + o.Evidence.Summary + "."
			explained[f.IssueID] = true
		}
		for _, is := range cat.Issues {
			if is.DecidedBy != catalog.CloudLogging || is.Symptom.Key() != o.SymptomKey {
				continue
			}
			if u := is.Symptom.UnlessAffected; u != "" && explained[u] {
				continue
			}
			f := newFinding(cat, is, &records[o.Cluster].Cluster, "")
			f.Status = Observed
			f.Reason = "Cloud Logging shows " + o.Evidence.Summary + between(o.Evidence)
			if u := is.Symptom.UnlessAffected; u != "" {
				f.Reason += fmt.Sprintf(", and no node pool is affected by %s", u)
			}
			f.Reason += "."
			f.Evidence = []Evidence{o.Evidence}
			res.Findings = append(res.Findings, f)
		}
	}
}

// applyAgentEvidence applies one observation of is's agent to the
// cluster of rec, whose findings are at indexes found.
func (res *Result) applyAgentEvidence(cat *catalog.Catalog, is *catalog.Issue, o Observation, found []int, rec *ClusterRecord) {
	confirmed := false
	for _, i := range found {
		f := &res.Findings[i]
		if f.IssueID != is.ID {
			continue
		}
		f.Evidence = append(f.Evidence, o.Evidence)
		f.Reason = strings.TrimSuffix(f.Reason, ".") + "; Cloud Logging confirms " + o.Evidence.Summary + "."
		confirmed = true
	}
	if confirmed || rec == nil || !slices.Contains(rec.SkippedChecks, is.ID) {
		return // confirmed, or the objects decided the cluster is not affected
	}
	f := newFinding(cat, is, &rec.Cluster, "")
	f.Status = Unknown
	f.Reason = "Cloud Logging shows " + o.Evidence.Summary + between(o.Evidence) +
		", but the cluster's Services could not be checked (no in-cluster data), so exposure to this issue cannot be decided."
	f.Evidence = []Evidence{o.Evidence}
	res.Findings = append(res.Findings, f)
	rec.SkippedChecks = slices.DeleteFunc(slices.Clone(rec.SkippedChecks), func(id string) bool { return id == is.ID })
}

func between(e Evidence) string {
	if e.FirstSeen == nil || e.LastSeen == nil {
		return ""
	}
	return " between " + e.FirstSeen.Format(time.RFC3339) + " and " + e.LastSeen.Format(time.RFC3339)
}

// sortFindings orders by severity (most severe first), issue, project,
// location, cluster and node pool, so output is stable.
func sortFindings(fs []Finding) {
	// Each severity's rank is read once, not at every comparison, and a
	// comparison reads no further than the first field that differs.
	ranks := make([]int8, len(fs))
	for i := range fs {
		ranks[i] = int8(catalog.Severity(fs[i].Severity).Rank())
	}
	sortLarge(fs, func(i, j int) int {
		if c := cmp.Compare(ranks[j], ranks[i]); c != 0 {
			return c
		}
		a, b := &fs[i], &fs[j]
		if c := strings.Compare(a.IssueID, b.IssueID); c != 0 {
			return c
		}
		if c := strings.Compare(a.ProjectID, b.ProjectID); c != 0 {
			return c
		}
		if c := strings.Compare(a.Location, b.Location); c != 0 {
			return c
		}
		if c := strings.Compare(a.Cluster, b.Cluster); c != 0 {
			return c
		}
		return strings.Compare(a.NodePool, b.NodePool)
	})
}

// interner makes the clusters of a scan share their equal values: a
// fleet's clusters repeat the same locations, versions, image types, pool
// names and condition outcomes, and the scan keeps every cluster to its
// end.
type interner struct {
	strings map[string]string
	facts   map[string]*catalog.Facts
	key     []byte
}

func (in *interner) string(s *string) {
	if v, ok := in.strings[*s]; ok {
		*s = v
		return
	}
	if len(in.strings) < maxInterned {
		in.strings[*s] = *s
	}
}

// maxInterned bounds an interner's strings: values past it are kept as
// they are.
const maxInterned = 100_000

// cluster makes c share the values of the clusters before it.
func (in *interner) cluster(c *Cluster) {
	for _, s := range []*string{&c.Location, &c.Status, &c.MasterVersion, &c.NodeVersion, &c.InitialVersion, &c.ReleaseChannel, &c.Datapath} {
		in.string(s)
	}
	for i := range c.NodePools {
		p := &c.NodePools[i]
		in.string(&p.Name)
		in.string(&p.Version)
		in.string(&p.ImageType)
	}
	if c.Facts == nil {
		return
	}
	k := appendFacts(in.key[:0], c.Facts.Cluster)
	for _, pf := range c.Facts.Pools {
		k = appendFacts(append(k, '|'), pf)
	}
	in.key = k
	if f, ok := in.facts[string(k)]; ok {
		c.Facts = f
	} else if len(in.facts) < maxInterned {
		in.facts[string(k)] = c.Facts
	}
}

// appendFacts appends an encoding of fs to b: equal encodings, equal facts.
func appendFacts(b []byte, fs []catalog.Fact) []byte {
	for _, f := range fs {
		b = append(append(strconv.AppendInt(append(b, byte(f.State)), int64(len(f.Why)), 10), ':'), f.Why...)
	}
	return b
}

// sortLarge sorts s, whose elements are large structs, by compare of two
// indexes: it sorts the indexes, then moves each element once, where the
// sort of s itself would copy elements at every comparison and swap.
// Elements that compare equal keep their order.
func sortLarge[E any](s []E, compare func(i, j int) int) {
	idx := make([]int32, len(s))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(i, j int32) int { return cmp.Or(compare(int(i), int(j)), cmp.Compare(i, j)) })
	// Position p takes the element at idx[p]: follow each cycle of the
	// permutation, marking the positions filled.
	for start := range idx {
		if idx[start] < 0 {
			continue
		}
		first := s[start]
		for p := start; ; {
			q := int(idx[p])
			idx[p] = -1
			if q == start {
				s[p] = first
				break
			}
			s[p], p = s[q], q
		}
	}
}

// appendDoubling is append that doubles a full slice's capacity: append
// grows a large slice by about a quarter, so a result of n elements built
// one cluster at a time costs about 5n in allocations, and doubling 2n.
func appendDoubling[S ~[]E, E any](s S, vs ...E) S {
	if len(s)+len(vs) > cap(s) {
		s = slices.Grow(s, max(cap(s), len(vs)))
	}
	return append(s, vs...)
}

// ParseLookback parses a log window: a Go duration ("168h", "90m") or a
// whole number of days ("7d"). It must be positive.
func ParseLookback(s string) (time.Duration, error) {
	bad := fmt.Errorf("invalid lookback %q: want a positive duration such as 168h, 7d or 90m", s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 400 {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad
		}
	}
	if d <= 0 {
		return 0, bad
	}
	return d, nil
}

// NewScanID names a scan started at t: the time to the second (so IDs sort
// by time) and six hex digits of seed's hash, or random ones when seed is
// empty. The same seed always gives the same ID, so a redelivered message
// writes the same rows.
func NewScanID(t time.Time, seed string) string {
	var b []byte
	if seed == "" {
		b = make([]byte, 3)
		rand.Read(b) // never fails
	} else {
		sum := sha256.Sum256([]byte(seed))
		b = sum[:3]
	}
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}
