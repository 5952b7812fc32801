package scanner

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// FindingKey is stable across scans: the same issue on the same cluster or
// node pool always has the same key.
func FindingKey(projectID, location, cluster, nodePool, issueID string) string {
	b := make([]byte, 0, len(projectID)+len(location)+len(cluster)+len(nodePool)+len(issueID)+5)
	for _, s := range [...]string{projectID, location, cluster, nodePool, issueID} {
		b = append(append(b, s...), 0)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Match decides every container_api issue of the catalog for one cluster
// and lists the kubernetes_api issues whose checks it skipped (no
// in-cluster access). It is pure: the same cluster and catalog always give
// the same findings. Scan fields (scan_id, scanned_at, organization_id)
// are left for the caller.
func Match(cat *catalog.Catalog, c *Cluster) (findings []Finding, skipped []string) {
	for _, is := range cat.Issues {
		if is.Support != nil {
			continue // end of support needs the scan's time: endOfSupport
		}
		switch is.DecidedBy {
		case catalog.KubernetesAPI:
			s := catalog.Subject{Datapath: c.Datapath, Autopilot: c.Autopilot, NoNetworkConfig: c.NoNetworkConfig}
			out, why := is.Holds(s)
			if out == catalog.NotAffected {
				continue
			}
			if f, ok := poolSysctls(cat, is, c, out, why); ok {
				findings = append(findings, f) // decided from the Container API
				continue
			}
			skipped = append(skipped, is.ID)
		case catalog.ContainerAPI:
			if is.Compares == catalog.ControlPlane {
				findings = appendVerdict(findings, cat, is, c, target{
					subject: "The control plane", component: catalog.ControlPlane, version: c.MasterVersion,
				})
				continue
			}
			if len(c.NodePools) == 0 {
				findings = appendNodeless(findings, cat, is, c)
				continue
			}
			for _, p := range c.NodePools {
				findings = appendVerdict(findings, cat, is, c, target{
					subject:   poolSubject(p),
					component: catalog.NodePool, version: p.Version, image: p.ImageType, pool: p.Name,
				})
			}
		}
	}
	return findings, skipped
}

// poolSysctls decides an ephemeral_port_range issue from the node pools'
// config.linuxNodeConfig.sysctls, without cluster access: a pool that sets
// the sysctl to a range overlapping the port range is a finding (UNKNOWN
// when the value cannot be read, or the configuration is undecided). No
// such pool decides nothing: the cluster's workloads may still set it.
func poolSysctls(cat *catalog.Catalog, is *catalog.Issue, c *Cluster, cond catalog.Outcome, why string) (Finding, bool) {
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
		f.Status = Unknown
		f.Reason = strings.TrimSuffix(f.Reason, ".") + ", but the cluster " + why + "."
	}
	f.Evidence = []Evidence{{Source: string(catalog.ContainerAPI), Summary: strings.Join(fields, " "), Count: int64(len(fields)), Nodes: []string{}}}
	return f, true
}

// appendNodeless decides a node issue for a cluster without node pools
// (Autopilot with no nodes): one cluster-level finding on
// currentNodeVersion, or currentMasterVersion when that is absent.
// Autopilot nodes are COS containerd.
func appendNodeless(findings []Finding, cat *catalog.Catalog, is *catalog.Issue, c *Cluster) []Finding {
	image := ""
	if c.Autopilot {
		image = "COS_CONTAINERD"
	}
	if c.NodeVersion != "" {
		return appendVerdict(findings, cat, is, c, target{
			subject:   "The cluster (no node pools listed; currentNodeVersion compared)",
			component: catalog.NodePool, version: c.NodeVersion, image: image,
		})
	}
	return appendVerdict(findings, cat, is, c, target{
		subject:   "The cluster (no node pools or node version listed; currentMasterVersion compared)",
		component: catalog.ControlPlane, version: c.MasterVersion, image: image,
	})
}

func poolSubject(p Pool) string {
	if p.ImageType == "" {
		return "Node pool " + p.Name + " (image type unset)"
	}
	return "Node pool " + p.Name + " (" + p.ImageType + ")"
}

// target is the one version of a cluster that an issue is decided on.
type target struct {
	subject   string // starts the finding's reason, e.g. "Node pool default-pool (COS_CONTAINERD)"
	component catalog.Component
	version   string
	image     string // node image type, "" when not known or not relevant
	pool      string // node pool name, "" for a cluster-level finding
}

func appendVerdict(findings []Finding, cat *catalog.Catalog, is *catalog.Issue, c *Cluster, t target) []Finding {
	v := is.Evaluate(catalog.Subject{Version: t.version, Datapath: c.Datapath, Autopilot: c.Autopilot, ImageType: t.image,
		NoNetworkConfig: c.NoNetworkConfig})
	if v.Outcome == catalog.NotAffected {
		return findings
	}
	f := newFinding(cat, is, c, t.pool)
	f.Component = string(t.component)
	f.Version = t.version
	f.FixedIn = v.FixedIn
	f.Status = Affected
	f.Reason = t.subject + " " + v.Reason + "."
	if v.Outcome == catalog.Undecided {
		f.Status = Unknown
		f.Reason = t.subject + " " + v.Reason + ", so exposure to this issue cannot be decided."
	}
	f.Evidence = []Evidence{{
		Source:  string(catalog.ContainerAPI),
		Summary: apiSummary(c, t),
		Count:   1,
		Nodes:   []string{}, // REPEATED columns load as [], not null
	}}
	return append(findings, f)
}

func newFinding(cat *catalog.Catalog, is *catalog.Issue, c *Cluster, nodePool string) Finding {
	return Finding{
		FindingKey:     FindingKey(c.ProjectID, c.Location, c.Name, nodePool, is.ID),
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
	}
}

// apiSummary says which API fields the decision read, so a reader can check it.
func apiSummary(c *Cluster, t target) string {
	var s string
	switch {
	case t.pool != "":
		s = "nodePools[" + t.pool + "].version=" + orUnset(t.version) + " config.imageType=" + orUnset(t.image)
	case t.component == catalog.NodePool:
		s = "currentNodeVersion=" + orUnset(t.version) + " (no nodePools)"
	default:
		s = "currentMasterVersion=" + orUnset(t.version)
	}
	return s + " networkConfig.datapathProvider=" + orUnset(c.Datapath) + " autopilot.enabled=" + strconv.FormatBool(c.Autopilot)
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}
