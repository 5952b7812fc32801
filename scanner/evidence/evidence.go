// Package evidence turns Cloud Logging entries into symptom observations per
// cluster, and an agent's start-up lines into evidence for a kubernetes_api
// issue (agent.go). Entries come from log files (gcloud logging read
// --format=json, or a ListLogEntries response; file.go) or from the
// Logging API (logging.go); both go through the same Aggregator.
package evidence

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// Entry is the part of a LogEntry that evidence is read from: a Kubernetes
// event (log_id "events", resource type k8s_pod) for symptoms, or a line
// of a container (resource type k8s_container) for an agent's start-up
// lines (agent.go).
type Entry struct {
	InsertID     string
	Timestamp    time.Time
	ResourceType string
	ProjectID    string // resource.labels.project_id
	Location     string // resource.labels.location
	Cluster      string // resource.labels.cluster_name
	Reason       string // jsonPayload.reason
	Message      string // jsonPayload.message
	UID          string // jsonPayload.metadata.uid
	Node         string // jsonPayload.source.host
	Count        int64  // jsonPayload.count
	// Component and ReportingComponent say who reported the event: the
	// kubelet sets both on its events (core/v1 source.component,
	// events.k8s.io/v1 reportingComponent).
	Component          string // jsonPayload.source.component
	ReportingComponent string // jsonPayload.reportingComponent

	TextPayload string // textPayload: a container's line
	// Of a k8s_container entry only (left empty for other types): its
	// resource labels container_name, namespace_name and pod_name; Node
	// is then the entry's label compute.googleapis.com/resource_name.
	ContainerName string
	Namespace     string
	PodName       string
}

// Resource types of the entries that evidence reads.
const (
	typePod       = "k8s_pod"
	typeContainer = "k8s_container"
)

// nodeLabel is the entry label that names a container's node.
const nodeLabel = "compute.googleapis.com/resource_name"

// containerFields fills e's container fields from a k8s_container entry's
// resource labels and entry labels.
func (e *Entry) containerFields(resource, labels map[string]string) {
	if e.ResourceType != typeContainer {
		return
	}
	e.ContainerName, e.Namespace, e.PodName = resource["container_name"], resource["namespace_name"], resource["pod_name"]
	if n := labels[nodeLabel]; n != "" {
		e.Node = n
	}
}

// Reporter is the component whose events are evidence. The symptoms are
// failures the kubelet reports; anyone who can create Events in a cluster
// can write an event with the same reason and message, so events that no
// kubelet reported are left out.
const Reporter = "kubelet"

// reportedByKubelet reports whether either component field names the
// kubelet.
func (e *Entry) reportedByKubelet() bool {
	return e.Component == Reporter || e.ReportingComponent == Reporter
}

// Filter is the Cloud Logging query for a symptom over [since, until], in
// the Logging query language, with every string escaped. Cluster and
// project names never enter it: projects go in resourceNames and entries
// are grouped by their resource labels. It asks only for events the
// kubelet reported (either component field), as the Aggregator counts
// only those. The timestamp bounds are explicit: without one the Go
// logadmin client narrows to the last 24h.
func Filter(s *catalog.Symptom, since, until time.Time) string {
	return fmt.Sprintf(`log_id("events") resource.type="k8s_pod" jsonPayload.reason=%s jsonPayload.message:%s (jsonPayload.source.component=%s OR jsonPayload.reportingComponent=%s) timestamp>=%s timestamp<=%s`,
		Quote(s.Reason), Quote(s.Message), Quote(Reporter), Quote(Reporter),
		Quote(since.UTC().Format(time.RFC3339)), Quote(until.UTC().Format(time.RFC3339)))
}

// Quote makes s a Logging query language string: double quotes, with
// backslash and double quote escaped (not strconv.Quote, whose escapes the
// query language does not share).
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\', '"':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// Aggregator groups the entries of a time window per cluster and symptom,
// de-duplicating events by their metadata.uid: Kubernetes writes an event
// again each time its count grows, so the entry with the highest count of
// one uid stands for it. Only events reported by the kubelet count.
type Aggregator struct {
	symptoms     []*catalog.Symptom
	since, until time.Time
	groups       map[groupKey]*group
	agents       []*catalog.Issue
	starts       map[agentKey]*agentGroup
	Read         int // entries offered
	Matched      int // entries of a symptom in the window, reported by the kubelet
	Untrusted    int // entries of a symptom in the window that no kubelet reported (left out)
	AgentLines   int // start-up lines of an agent in the window
}

type groupKey struct {
	cluster scanner.ClusterKey
	symptom string
}

type group struct {
	symptom *catalog.Symptom
	events  map[string]*event // by uid (or insertId when the event has none)
}

// event is one Kubernetes event seen in one or more entries.
type event struct {
	best        Entry // the entry with the highest count (the newest on a tie)
	first, last time.Time
}

// NewAggregator aggregates the given symptoms (one per distinct Key) over
// [since, until].
func NewAggregator(symptoms []*catalog.Symptom, since, until time.Time) *Aggregator {
	return &Aggregator{symptoms: symptoms, since: since, until: until, groups: map[groupKey]*group{}, starts: map[agentKey]*agentGroup{}}
}

// NewQueryAggregator aggregates what q asks for: its symptoms and its
// agents' start-up lines (agent.go).
func NewQueryAggregator(q scanner.EvidenceQuery) *Aggregator {
	a := NewAggregator(q.Symptoms, q.Since, q.Until)
	for _, is := range q.Agents {
		if is.Kubernetes.Logged() {
			a.agents = append(a.agents, is)
		}
	}
	return a
}

// Add offers one entry; entries of other kinds, outside the window or not
// reported by the kubelet are ignored. A k8s_container entry is offered to
// the agents' start-up lines.
func (a *Aggregator) Add(e Entry) {
	a.Read++
	if e.Timestamp.Before(a.since) || e.Timestamp.After(a.until) {
		return
	}
	if e.ResourceType == typeContainer {
		a.addAgentLine(&e)
		return
	}
	if e.ResourceType != typePod {
		return
	}
	trusted := e.reportedByKubelet()
	for _, s := range a.symptoms {
		if e.Reason != s.Reason || !strings.Contains(e.Message, s.Message) {
			continue
		}
		if !trusted {
			a.Untrusted++
			return
		}
		a.Matched++
		k := groupKey{scanner.ClusterKey{ProjectID: e.ProjectID, Location: e.Location, Name: e.Cluster}, s.Key()}
		g := a.groups[k]
		if g == nil {
			g = &group{symptom: s, events: map[string]*event{}}
			a.groups[k] = g
		}
		id := e.UID
		if id == "" {
			id = "insertId:" + e.InsertID
		}
		ev := g.events[id]
		if ev == nil {
			g.events[id] = &event{best: e, first: e.Timestamp, last: e.Timestamp}
			continue
		}
		if e.Timestamp.Before(ev.first) {
			ev.first = e.Timestamp
		}
		if e.Timestamp.After(ev.last) {
			ev.last = e.Timestamp
		}
		if e.Count > ev.best.Count || (e.Count == ev.best.Count && e.Timestamp.After(ev.best.Timestamp)) {
			ev.best = e
		}
	}
}

// Observations returns one observation per cluster and symptom, and per
// cluster and agent whose latest start had random-fully on (agent.go),
// sorted by cluster. query describes where the entries came from (the
// filter used); agents are described by AgentFilter over the window.
func (a *Aggregator) Observations(query func(*catalog.Symptom) string) []scanner.Observation {
	out := make([]scanner.Observation, 0, len(a.groups)+len(a.starts))
	for k, g := range a.groups {
		out = append(out, scanner.Observation{
			Cluster:    k.cluster,
			SymptomKey: k.symptom,
			Events:     len(g.events),
			Evidence:   g.evidence(query(g.symptom)),
		})
	}
	out = append(out, a.agentObservations()...)
	slices.SortFunc(out, func(x, y scanner.Observation) int {
		return cmp.Or(
			strings.Compare(x.Cluster.ProjectID, y.Cluster.ProjectID),
			strings.Compare(x.Cluster.Location, y.Cluster.Location),
			strings.Compare(x.Cluster.Name, y.Cluster.Name),
			strings.Compare(x.IssueID, y.IssueID),
			strings.Compare(x.SymptomKey, y.SymptomKey),
		)
	})
	return out
}

// maxNodes bounds the node list of one evidence record.
const maxNodes = 20

func (g *group) evidence(query string) scanner.Evidence {
	var (
		count       int64
		first, last time.Time
		nodes       = map[string]bool{}
		details     = map[string]bool{}
		sample      *Entry
		pods        = len(g.events)
	)
	for _, ev := range g.events {
		e := &ev.best
		// A file's counts are not bounded: the sum saturates instead of
		// wrapping negative.
		if c := max(e.Count, 1); count > math.MaxInt64-c {
			count = math.MaxInt64
		} else {
			count += c
		}
		if first.IsZero() || ev.first.Before(first) {
			first = ev.first
		}
		if ev.last.After(last) {
			last = ev.last
		}
		if e.Node != "" {
			nodes[e.Node] = true
		}
		if re := g.symptom.DetailPattern(); re != nil {
			if m := re.FindStringSubmatch(e.Message); m != nil {
				details[m[len(m)-1]] = true
			}
		}
		if sample == nil || newer(e, sample) {
			sample = e
		}
	}
	nodeList := slices.Sorted(maps.Keys(nodes))
	summary := fmt.Sprintf("%d %s event(s) reported by %s on %d node(s)", count, g.symptom.Reason, Reporter, len(nodeList))
	if pods != int(count) {
		summary = fmt.Sprintf("%d %s event(s) from %d event object(s) reported by %s on %d node(s)", count, g.symptom.Reason, pods, Reporter, len(nodeList))
	}
	if d := slices.Sorted(maps.Keys(details)); len(d) > 0 {
		summary += ", range(s) " + strings.Join(d, ", ")
	}
	if len(nodeList) > maxNodes {
		nodeList = nodeList[:maxNodes]
	}
	f, l := first.UTC(), last.UTC()
	return scanner.Evidence{
		Source:    string(catalog.CloudLogging),
		Summary:   summary,
		Count:     count,
		FirstSeen: &f,
		LastSeen:  &l,
		Nodes:     nodeList,
		Sample:    sample.Message,
		Query:     query,
	}
}

// newer orders entries by time, then by uid, insertId and message, so
// the sample never depends on map order.
func newer(a, b *Entry) bool {
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c > 0
	}
	return cmp.Or(strings.Compare(a.UID, b.UID), strings.Compare(a.InsertID, b.InsertID), strings.Compare(a.Message, b.Message)) < 0
}
