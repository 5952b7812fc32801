package scanner

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// FindingKey is stable across scans: the same issue on the same cluster or
// node pool always has the same key.
func FindingKey(projectID, location, cluster, nodePool, issueID string) string {
	return string(appendFindingKey(make([]byte, 0, 32), projectID, location, cluster, nodePool, issueID))
}

// appendFindingKey appends FindingKey's 32 hex digits to b.
func appendFindingKey(b []byte, projectID, location, cluster, nodePool, issueID string) []byte {
	var buf [256]byte // on the stack for all but very long names
	in := buf[:0]
	for _, s := range [...]string{projectID, location, cluster, nodePool, issueID} {
		in = append(append(in, s...), 0)
	}
	sum := sha256.Sum256(in)
	return hex.AppendEncode(b, sum[:16])
}

// Match decides every container_api issue of the catalog for one cluster
// and lists the kubernetes_api issues whose checks it skipped (no
// in-cluster access; when that is all of them, the list is shared by
// every cluster, so its elements must not be changed). It is pure: the same cluster and catalog always give
// the same findings. Scan fields (scan_id, scanned_at, organization_id)
// are left for the caller.
//
// Match runs for every cluster of a fleet, and for every candidate
// version of the upgrade planner, so it allocates nothing for what does
// not affect the cluster: each version is parsed once, the issues that no
// version of the cluster can be affected by are not read (the catalog's
// per-minor tables), the others are decided without writing reasons
// (catalog.Issue.Decide), and the findings are made only once all are
// known. Their text (keys, reasons, evidence summaries) is written to one
// buffer that becomes one string, and they share one evidence array, each
// finding's Evidence capped at its own element (so an append to it
// copies).
func Match(cat *catalog.Catalog, c *Cluster) (findings []Finding, skipped []string) {
	var text [2048]byte // the text of about six findings
	var pend [8]pending
	st := matchState{text: text[:0], pending: pend[:0]}
	st, skipped = st.match(cat, c)
	return st.findings(cat, c), skipped
}

// affects reports whether the catalog finds a version-decided issue on
// comp of c (a finding evaluate returns for comp), without making any
// finding: the upgrade planner asks it of every candidate version.
func affects(cat *catalog.Catalog, c *Cluster, comp component, now time.Time) bool {
	if st, _ := (matchState{probe: &comp}).match(cat, c); st.hit {
		return true
	}
	is := cat.EndOfSupport()
	if is == nil || is.DecidedBy != catalog.ContainerAPI {
		return false
	}
	version := c.MasterVersion
	if comp.kind == catalog.NodePool {
		if comp.pool == "" {
			return false // endOfSupport decides the control plane and the pools only
		}
		version = poolVersion(c, comp)
	}
	// evaluate keeps the findings that have a version (decided).
	return version != "" && supportOf(is, c, version, now).state != supported
}

// match decides the catalog's issues for c into st: Match's work, or, with
// st.probe set, only whether any version-decided one is found on that
// component (st.hit).
func (st matchState) match(cat *catalog.Catalog, c *Cluster) (matchState, []string) {
	master := parseVersion(c.MasterVersion)
	var poolVersions [8]parsedVersion
	pools := poolVersions[:0]
	for j := range c.NodePools {
		pools = append(pools, parseVersion(c.NodePools[j].Version))
	}
	facts := c.facts(cat)
	probe := st.probe
	visit := visits(cat, c, probe, &master, pools)
	var skips catalog.IssueSet // the kubernetes_api issues skipped
	for i := visit.Next(0, len(cat.Issues)); i >= 0 && !st.hit; i = visit.Next(i+1, len(cat.Issues)) {
		is := cat.Issues[i]
		if is.Support != nil {
			continue // end of support needs the scan's time: endOfSupport
		}
		switch is.DecidedBy {
		case catalog.KubernetesAPI:
			if probe != nil {
				continue // not decided from a version: an upgrade does not clear it
			}
			s := catalog.Subject{Datapath: c.Datapath, Autopilot: c.Autopilot, NoNetworkConfig: c.NoNetworkConfig}
			out := is.HoldsOutcome(s)
			if out == catalog.NotAffected {
				continue
			}
			if f, ok := poolSysctls(cat, is, c, s, out); ok {
				st.pending = append(st.pending, pending{built: true}) // decided from the Container API
				st.built = append(st.built, f)
				continue
			}
			skips.Add(i)
		case catalog.ContainerAPI:
			if is.Compares == catalog.ControlPlane {
				if probe != nil && probe.kind != catalog.ControlPlane || master.ok && !is.Covers(master.v) {
					continue // the per-minor table: nothing to read
				}
				st = st.verdict(is, c, &target{
					subject: "The control plane", component: catalog.ControlPlane, version: c.MasterVersion,
					fact: facts.For(is, -1),
				}, &master)
				continue
			}
			if len(c.NodePools) == 0 {
				st = st.nodeless(is, c, &master, facts.For(is, -1))
				continue
			}
			for j := range c.NodePools {
				p := &c.NodePools[j]
				if probe != nil && (probe.kind != catalog.NodePool || probe.pool != p.Name) || pools[j].ok && !is.Covers(pools[j].v) {
					continue
				}
				st = st.verdict(is, c, &target{
					pooled:    true,
					component: catalog.NodePool, version: p.Version, image: p.ImageType, pool: p.Name,
					fact: facts.For(is, j),
				}, &pools[j])
			}
		}
	}
	return st, cat.IDs(&skips)
}

// visits are the issues match decides for c, probe and the versions
// parsed: the catalog's per-minor tables of what each version can be
// affected by, so that the issues none of c's versions is in are not read
// at all. It may hold more than match acts on (match still reads each
// issue's Covers and the probe), never less.
func visits(cat *catalog.Catalog, c *Cluster, probe *component, master *parsedVersion, pools []parsedVersion) catalog.IssueSet {
	var s catalog.IssueSet
	if probe == nil {
		s.Union(cat.KubernetesIssues())
	}
	if probe == nil || probe.kind == catalog.ControlPlane {
		s.Union(cat.VersionIssues(catalog.ControlPlane, master.v, master.ok))
	}
	if len(c.NodePools) == 0 {
		// nodeless decides every node issue, on a version of its own.
		s.Union(cat.VersionIssues(catalog.NodePool, catalog.Version{}, false))
		return s
	}
	for j := range c.NodePools {
		if probe == nil || probe.kind == catalog.NodePool && probe.pool == c.NodePools[j].Name {
			s.Union(cat.VersionIssues(catalog.NodePool, pools[j].v, pools[j].ok))
		}
	}
	return s
}

// parsedVersion is a cluster's version parsed once for all issues.
type parsedVersion struct {
	v  catalog.Version
	ok bool // the version parsed
}

func parseVersion(s string) parsedVersion {
	v, err := catalog.ParseVersion(s)
	return parsedVersion{v, err == nil}
}

// matchState is what Match has decided for one cluster so far. It is
// passed and returned by value, so that the buffers Match starts it with
// can stay on Match's stack.
type matchState struct {
	text    []byte    // the pending findings' keys, reasons and summaries
	pending []pending // the findings, in order
	built   []Finding // the findings of the pending ones that are built, in order
	// probe, when set, asks only whether a version-decided finding is on
	// that component: verdict sets hit and writes nothing.
	probe *component
	hit   bool
}

// pending is a finding decided on a target: findings makes it.
type pending struct {
	built     bool // the next of matchState.built; nothing else is set
	is        *catalog.Issue
	component catalog.Component
	version   string
	pool      string
	fixedIn   string
	status    Status
	// Where its FindingKey (text[key:reason]), Reason (text[reason:summary])
	// and evidence Summary (text[summary:end]) are.
	key, reason, summary, end int
}

// findings makes the pending findings: nil when there are none, else one
// allocation for the findings, one for their evidence and one for their
// text.
func (st matchState) findings(cat *catalog.Catalog, c *Cluster) []Finding {
	if len(st.pending) == 0 {
		return nil
	}
	findings := make([]Finding, len(st.pending))
	evidence := make([]Evidence, len(st.pending)-len(st.built))
	text := string(st.text)
	built, e := st.built, 0
	for i := range st.pending {
		p := &st.pending[i]
		f := &findings[i]
		if p.built {
			*f, built = built[0], built[1:]
			continue
		}
		// Field by field: findings is zeroed, and copying a whole Finding
		// would cost a write barrier for each of its fields during a GC.
		f.FindingKey = text[p.key:p.reason]
		f.ProjectID, f.Location, f.Cluster, f.ClusterID = c.ProjectID, c.Location, c.Name, c.ID
		f.NodePool = p.pool
		f.IssueID, f.Title, f.Severity = p.is.ID, p.is.Title, string(p.is.Severity)
		f.Status = p.status
		f.Component = string(p.component)
		f.Version = p.version
		f.FixedIn = p.fixedIn
		f.Reason = text[p.reason:p.summary]
		f.Remediation = strings.TrimSpace(p.is.Remediation)
		f.DocsURL = p.is.DocsURL
		f.CatalogVersion = cat.Version
		f.Category = string(p.is.Category)
		evidence[e] = Evidence{
			Source:  string(catalog.ContainerAPI),
			Summary: text[p.summary:p.end],
			Count:   1,
			Nodes:   []string{}, // REPEATED columns load as [], not null
		}
		f.Evidence = evidence[e : e+1 : e+1]
		e++
	}
	return findings
}

// poolSysctls decides an ephemeral_port_range issue from the node pools'
// config.linuxNodeConfig.sysctls, without cluster access: a pool that sets
// the sysctl to a range overlapping the port range is a finding (UNKNOWN
// when the value cannot be read, or the configuration is undecided). No
// such pool decides nothing: the cluster's workloads may still set it.
//
// cond is is.HoldsOutcome(s); the reason of an Undecided one is only
// written for a finding.
func poolSysctls(cat *catalog.Catalog, is *catalog.Issue, c *Cluster, s catalog.Subject, cond catalog.Outcome) (Finding, bool) {
	k := is.Kubernetes
	if k == nil || k.Rule != catalog.RuleEphemeralPortRange {
		return Finding{}, false
	}
	lo, hi := k.Ports()
	var overlap, unreadable, fields []string
	for _, p := range c.NodePools {
		v, set := p.Sysctls[k.Sysctl]
		if !set {
			continue
		}
		a, b, ok := catalog.ParseLocalPortRange(v)
		switch {
		case !ok:
			unreadable = append(unreadable, p.Name+" ("+strconv.Quote(v)+")")
		case a <= hi && b >= lo:
			overlap = append(overlap, p.Name+" ("+v+")")
		default:
			continue
		}
		fields = append(fields, "nodePools["+p.Name+"].config.linuxNodeConfig.sysctls["+k.Sysctl+"]="+v)
	}
	if len(overlap) == 0 && len(unreadable) == 0 {
		return Finding{}, false
	}
	f := newFinding(cat, is, c, "")
	ports := strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
	switch {
	case len(overlap) > 0:
		f.Status = Affected
		f.Reason = "Node pool(s) " + strings.Join(overlap, ", ") + " set " + k.Sysctl + " to a range overlapping " + ports + " in linuxNodeConfig.sysctls."
	default:
		f.Status = Unknown
		f.Reason = "Node pool(s) " + strings.Join(unreadable, ", ") + " set " + k.Sysctl + " in linuxNodeConfig.sysctls to a value that is not two port numbers, so exposure to this issue cannot be decided."
	}
	if cond == catalog.Undecided {
		_, why := is.Holds(s)
		f.Status = Unknown
		f.Reason = strings.TrimSuffix(f.Reason, ".") + ", but the cluster " + why + "."
	}
	f.Evidence = []Evidence{{Source: string(catalog.ContainerAPI), Summary: strings.Join(fields, " "), Count: int64(len(fields)), Nodes: []string{}}}
	return f, true
}

// nodeless decides a node issue for a cluster without node pools
// (Autopilot with no nodes): one cluster-level finding on
// currentNodeVersion, or currentMasterVersion when that is absent.
// Autopilot nodes are COS containerd.
func (st matchState) nodeless(is *catalog.Issue, c *Cluster, master *parsedVersion, fact catalog.Fact) matchState {
	image := ""
	if c.Autopilot {
		image = "COS_CONTAINERD"
	}
	if c.NodeVersion != "" {
		v := parseVersion(c.NodeVersion)
		return st.verdict(is, c, &target{
			subject:   "The cluster (no node pools listed; currentNodeVersion compared)",
			component: catalog.NodePool, version: c.NodeVersion, image: image, fact: fact,
		}, &v)
	}
	return st.verdict(is, c, &target{
		subject:   "The cluster (no node pools or node version listed; currentMasterVersion compared)",
		component: catalog.ControlPlane, version: c.MasterVersion, image: image, fact: fact,
	}, master)
}

// appendSubject appends the subject that starts a finding's reason, e.g.
// "Node pool default-pool (COS_CONTAINERD)".
func appendSubject(b []byte, t *target) []byte {
	if !t.pooled {
		return append(b, t.subject...)
	}
	b = append(append(b, "Node pool "...), t.pool...)
	if t.image == "" {
		return append(b, " (image type unset)"...)
	}
	return append(append(append(b, " ("...), t.image...), ')')
}

// target is the one version of a cluster that an issue is decided on.
type target struct {
	subject   string // starts the finding's reason, unless pooled
	pooled    bool   // a node pool: the reason starts "Node pool NAME (IMAGE)"
	component catalog.Component
	version   string
	image     string       // node image type, "" when not known or not relevant
	pool      string       // node pool name, "" for a cluster-level finding
	fact      catalog.Fact // the issue's conditions.cel outcome for it
}

// verdict decides the issue for one target, v its version parsed, and
// adds a pending finding unless it is NotAffected.
func (st matchState) verdict(is *catalog.Issue, c *Cluster, t *target, v *parsedVersion) matchState {
	d := is.Decide(catalog.Subject{Version: t.version, Datapath: c.Datapath, Autopilot: c.Autopilot, ImageType: t.image,
		NoNetworkConfig: c.NoNetworkConfig, Fact: t.fact}, v.v, v.ok)
	if d.Outcome == catalog.NotAffected {
		return st
	}
	if st.probe != nil {
		// evaluate keeps the findings that have a version (decided).
		st.hit = st.hit || t.component == st.probe.kind && t.pool == st.probe.pool && t.version != ""
		return st
	}
	p := pending{is: is, component: t.component, version: t.version, pool: t.pool, fixedIn: d.FixedIn, status: Affected}
	p.key = len(st.text)
	st.text = appendFindingKey(st.text, c.ProjectID, c.Location, c.Name, t.pool, is.ID)
	p.reason = len(st.text)
	st.text = append(appendSubject(st.text, t), ' ')
	st.text = d.AppendReason(st.text)
	if d.Outcome == catalog.Undecided {
		p.status = Unknown
		st.text = append(st.text, ", so exposure to this issue cannot be decided."...)
	} else {
		st.text = append(st.text, '.')
	}
	p.summary = len(st.text)
	st.text = appendAPISummary(st.text, c, t)
	p.end = len(st.text)
	st.pending = append(st.pending, p)
	return st
}

// newFinding is a finding of the issue on the cluster (nodePool "" for a
// cluster-level one), with its key.
func newFinding(cat *catalog.Catalog, is *catalog.Issue, c *Cluster, nodePool string) Finding {
	f := findingOf(cat, is, c, nodePool)
	f.FindingKey = FindingKey(c.ProjectID, c.Location, c.Name, nodePool, is.ID)
	return f
}

// findingOf is newFinding without the key.
func findingOf(cat *catalog.Catalog, is *catalog.Issue, c *Cluster, nodePool string) Finding {
	return Finding{
		ProjectID:      c.ProjectID,
		Location:       c.Location,
		Cluster:        c.Name,
		ClusterID:      c.ID,
		NodePool:       nodePool,
		IssueID:        is.ID,
		Title:          is.Title,
		Severity:       string(is.Severity),
		Remediation:    strings.TrimSpace(is.Remediation),
		DocsURL:        is.DocsURL,
		CatalogVersion: cat.Version,
		Category:       string(is.Category),
	}
}

// appendAPISummary appends which API fields the decision read, so a reader
// can check it.
func appendAPISummary(b []byte, c *Cluster, t *target) []byte {
	switch {
	case t.pool != "":
		b = append(append(b, "nodePools["...), t.pool...)
		b = appendOrUnset(append(b, "].version="...), t.version)
		b = appendOrUnset(append(b, " config.imageType="...), t.image)
	case t.component == catalog.NodePool:
		b = appendOrUnset(append(b, "currentNodeVersion="...), t.version)
		b = append(b, " (no nodePools)"...)
	default:
		b = appendOrUnset(append(b, "currentMasterVersion="...), t.version)
	}
	b = appendOrUnset(append(b, " networkConfig.datapathProvider="...), c.Datapath)
	return strconv.AppendBool(append(b, " autopilot.enabled="...), c.Autopilot)
}

func appendOrUnset(b []byte, s string) []byte {
	if s == "" {
		return append(b, "(unset)"...)
	}
	return append(b, s...)
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}
