package evidence

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/kube"
)

// An agent's start-up lines are evidence for a kubernetes_api issue whose
// check is Logged: ip-masq-agent 2.10 and later log, as klog lines on the
// container's stderr, its version ("ip-masq-agent version: v2.12.0") and
// every flag ("FLAG: --random-fully=\"true\""). Only at start: a pod that
// has not started within the window has no lines, so the evidence is
// bounded by log retention and the lookback.
//
// The lines are grouped per cluster and pod. A pod's latest start is its
// newest version line with the flag lines of the same pod nearest to it
// (within startWindow); flag lines near no version line make a start of
// unknown version. The cluster's latest start decides, through
// kube.AgentRandomFully (the rule of the DaemonSet check): random-fully
// off gives no observation; on gives one observation that counts the
// pods whose own latest start has it on.

// agentFlags are the flags whose lines the query asks for: those that
// decide random-fully.
var agentFlags = []string{kube.FlagRandomFully, kube.FlagToPorts}

// startWindow is how far from its version line a flag line of the same
// start may be; klog writes them within milliseconds of each other.
const startWindow = time.Minute

// maxFlagValue bounds a flag value taken from a line.
const maxFlagValue = 64

// AgentFilter is the Cloud Logging query for the start-up lines of k's
// agent over [since, until]: its container's lines that report the
// version or one of agentFlags, every string escaped. As Filter, it names
// no cluster or project.
func AgentFilter(k *catalog.KubernetesCheck, since, until time.Time) string {
	alts := []string{"textPayload:" + Quote(k.LogVersionText)}
	for _, f := range agentFlags {
		alts = append(alts, "textPayload:"+Quote(k.LogFlagText+f+"="))
	}
	return fmt.Sprintf(`resource.type="k8s_container" resource.labels.container_name=%s (%s) timestamp>=%s timestamp<=%s`,
		Quote(k.LogContainer), strings.Join(alts, " OR "),
		Quote(since.UTC().Format(time.RFC3339)), Quote(until.UTC().Format(time.RFC3339)))
}

type agentKey struct {
	cluster scanner.ClusterKey
	issue   string
}

// agentGroup holds the start-up lines of one issue's agent in one cluster.
type agentGroup struct {
	issue *catalog.Issue
	pods  map[string]*agentPod // by namespace/pod
}

type agentPod struct {
	name  string // namespace/pod
	node  string
	lines map[string]agentLine // by insertId (or time and text): an entry read twice counts once
}

// agentLine is one start-up line: a version line or a flag line.
type agentLine struct {
	at        time.Time
	id        string
	text      string
	isVersion bool
	version   string // of a version line: the word after log_version_text, "" when none
	flag      string // of a flag line: "--name=value"
}

// agentStart is what one start of the agent logged.
type agentStart struct {
	at      time.Time
	pod     string
	node    string
	version string
	args    []string
	sample  string // the version line, or the first flag line without one
}

// addAgentLine offers a k8s_container entry in the window to the agents.
func (a *Aggregator) addAgentLine(e *Entry) {
	for _, is := range a.agents {
		k := is.Kubernetes
		if e.ContainerName != k.LogContainer {
			continue
		}
		l, ok := parseAgentLine(k, e)
		if !ok {
			continue
		}
		a.AgentLines++
		key := agentKey{scanner.ClusterKey{ProjectID: e.ProjectID, Location: e.Location, Name: e.Cluster}, is.ID}
		g := a.starts[key]
		if g == nil {
			g = &agentGroup{issue: is, pods: map[string]*agentPod{}}
			a.starts[key] = g
		}
		name := e.Namespace + "/" + e.PodName
		p := g.pods[name]
		if p == nil {
			p = &agentPod{name: name, lines: map[string]agentLine{}}
			g.pods[name] = p
		}
		if e.Node != "" {
			p.node = e.Node
		}
		p.lines[l.id] = l
	}
}

// parseAgentLine reads a version or flag line of k's agent. Texts match
// as the query's textPayload:"…" does, ignoring case.
func parseAgentLine(k *catalog.KubernetesCheck, e *Entry) (agentLine, bool) {
	text := strings.TrimSpace(e.TextPayload)
	l := agentLine{at: e.Timestamp, id: e.InsertID, text: text}
	if l.id == "" {
		l.id = e.Timestamp.UTC().Format(time.RFC3339Nano) + "\x00" + text
	}
	if i := indexFold(text, k.LogVersionText); i >= 0 {
		l.isVersion = true
		if f := strings.Fields(text[i+len(k.LogVersionText):]); len(f) > 0 {
			l.version = f[0]
		}
		return l, true
	}
	for _, name := range agentFlags {
		marker := k.LogFlagText + name + "="
		i := indexFold(text, marker)
		if i < 0 {
			continue
		}
		value, ok := flagValue(text[i+len(marker):])
		if !ok {
			return agentLine{}, false
		}
		l.flag = "--" + name + "=" + value
		return l, true
	}
	return agentLine{}, false
}

// flagValue reads the value klog prints after "--name=": Go-quoted
// ("true"), or else one word. A value that is long or holds spaces or
// control characters is no flag value of the agent's: ok is false.
func flagValue(s string) (value string, ok bool) {
	if q, err := strconv.QuotedPrefix(s); err == nil {
		value, _ = strconv.Unquote(q)
	} else if f := strings.Fields(s); len(f) > 0 {
		value = f[0]
	}
	if value == "" || len(value) > maxFlagValue || strings.IndexFunc(value, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", false
	}
	return value, true
}

// indexFold is the byte index of the first match of sub in s ignoring
// case, or -1.
func indexFold(s, sub string) int {
	if sub == "" {
		return -1
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// latestStart is the pod's newest start; ok is false when its lines hold
// none (cannot happen: every line makes or joins one).
func (p *agentPod) latestStart() (agentStart, bool) {
	lines := slices.SortedFunc(maps.Values(p.lines), func(x, y agentLine) int {
		return cmp.Or(x.at.Compare(y.at), strings.Compare(x.id, y.id))
	})
	var versions []int // indexes of version lines, oldest first
	for i, l := range lines {
		if l.isVersion {
			versions = append(versions, i)
		}
	}
	// owner[i] is the version line that flag line i belongs to, -1 for none.
	owner := make([]int, len(lines))
	for i, l := range lines {
		owner[i] = -1
		if l.isVersion {
			continue
		}
		best := time.Duration(-1)
		for _, v := range versions {
			d := l.at.Sub(lines[v].at)
			if d < 0 {
				d = -d
			}
			if d <= startWindow && (best < 0 || d < best) { // on a tie the earlier version line keeps it
				owner[i], best = v, d
			}
		}
	}
	start := func(anchor int, member func(i int) bool) agentStart {
		s := agentStart{at: lines[anchor].at, pod: p.name, node: p.node}
		for i, l := range lines {
			switch {
			case !member(i):
			case l.isVersion:
				s.version, s.sample = l.version, l.text
			default:
				s.args = append(s.args, l.flag)
				if s.sample == "" {
					s.sample = l.text
				}
			}
		}
		return s
	}
	var latest agentStart
	found := false
	if len(versions) > 0 {
		v := versions[len(versions)-1]
		latest = start(v, func(i int) bool { return i == v || owner[i] == v })
		found = true
	}
	// The newest flag line that no version line owns, with the others of
	// its start: a start whose version line is not in the logs.
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i].isVersion || owner[i] >= 0 {
			continue
		}
		if !found || lines[i].at.After(latest.at) {
			anchor := lines[i].at
			latest = start(i, func(j int) bool {
				return !lines[j].isVersion && owner[j] < 0 && !lines[j].at.After(anchor) && anchor.Sub(lines[j].at) <= startWindow
			})
			found = true
		}
		break
	}
	return latest, found
}

// agentObservations decides each cluster's agent from its latest start.
func (a *Aggregator) agentObservations() []scanner.Observation {
	var out []scanner.Observation
	for key, g := range a.starts {
		k := g.issue.Kubernetes
		var starts []agentStart
		for _, p := range g.pods {
			if s, ok := p.latestStart(); ok {
				starts = append(starts, s)
			}
		}
		if len(starts) == 0 {
			continue
		}
		slices.SortFunc(starts, func(x, y agentStart) int { return cmp.Or(x.at.Compare(y.at), strings.Compare(x.pod, y.pod)) })
		latest := starts[len(starts)-1]
		on, why := kube.AgentRandomFully(k, latest.version, latest.args)
		if !on {
			continue
		}
		var (
			pods        int
			first, last time.Time
			nodes       = map[string]bool{}
		)
		for _, s := range starts {
			if on, _ := kube.AgentRandomFully(k, s.version, s.args); !on {
				continue
			}
			pods++
			if first.IsZero() || s.at.Before(first) {
				first = s.at
			}
			if s.at.After(last) {
				last = s.at
			}
			if s.node != "" {
				nodes[s.node] = true
			}
		}
		nodeList := slices.Sorted(maps.Keys(nodes))
		summary := fmt.Sprintf("%s, on %d pod(s)", why, pods)
		if len(nodeList) > 0 {
			summary += fmt.Sprintf(" across %d node(s)", len(nodeList))
		}
		if len(nodeList) > maxNodes {
			nodeList = nodeList[:maxNodes]
		}
		f, l := first.UTC(), last.UTC()
		out = append(out, scanner.Observation{
			Cluster: key.cluster,
			IssueID: key.issue,
			Events:  pods,
			Evidence: scanner.Evidence{
				Source:    string(catalog.CloudLogging),
				Summary:   summary,
				Count:     int64(pods),
				FirstSeen: &f,
				LastSeen:  &l,
				Nodes:     nodeList,
				Sample:    kube.Truncate(latest.sample, maxSample),
				Query:     AgentFilter(k, a.since, a.until),
			},
		})
	}
	return out
}

// maxSample bounds the sample line of an agent's evidence.
const maxSample = 500
