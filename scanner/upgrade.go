package scanner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// appendEndOfSupport appends to out the findings of GKE-END-OF-SUPPORT for
// c's control plane and each node pool as of now: the minor's end of standard support (of extended
// support on the EXTENDED channel) past is HIGH, within the schedule's
// warning days MEDIUM. A minor older than the schedule's oldest is past; a
// newer one is not reported.
//
// texts, when not nil, keeps the findings' text across the clusters of a
// scan (supportTexts).
func appendEndOfSupport(out []Finding, cat *catalog.Catalog, c *Cluster, now time.Time, texts supportTexts) []Finding {
	is := cat.EndOfSupport()
	if is == nil {
		return out
	}
	add := func(component catalog.Component, pool, version string) {
		sv := supportOf(is, c, version, now)
		if sv.state == supported {
			return
		}
		k := supportTextKey{component, pool, version, c.ReleaseChannel == "EXTENDED"}
		t, ok := texts[k]
		if !ok {
			t = supportTextOf(component, pool, version, sv, now)
			if texts != nil && len(texts) < maxSupportTexts {
				texts[k] = t
			}
		}
		f := newFinding(cat, is, c, pool)
		f.Component, f.Version, f.Status, f.Reason = string(component), version, t.status, t.reason
		if t.medium {
			f.Severity = string(catalog.Medium)
		}
		f.Evidence = t.evidence
		out = append(out, f)
	}
	add(catalog.ControlPlane, "", c.MasterVersion)
	for _, p := range c.NodePools {
		add(catalog.NodePool, p.Name, p.Version)
	}
	return out
}

// supportTexts keeps end-of-support reasons and evidence summaries by what
// decides them: a fleet's clusters share their pool names, versions and
// channels, so a scan writes each text once and its findings share it.
type supportTexts map[supportTextKey]supportText

// maxSupportTexts bounds a scan's supportTexts: a fleet of unique pool
// names would make each text once anyway.
const maxSupportTexts = 50_000

type supportTextKey struct {
	component catalog.Component
	pool      string
	version   string
	extended  bool // on the EXTENDED channel
}

// supportText is one end-of-support finding's text, evidence and status.
type supportText struct {
	reason   string
	evidence []Evidence // one, read from the Container API; cap 1, so an append copies
	status   Status
	medium   bool // within the warning days: MEDIUM, not the issue's severity
}

func supportTextOf(component catalog.Component, pool, version string, sv supportVerdict, now time.Time) supportText {
	subject, field := "The control plane", "currentMasterVersion="+orUnset(version)
	if component == catalog.NodePool {
		subject, field = "Node pool "+pool, "nodePools["+pool+"].version="+orUnset(version)
	}
	t := supportText{status: Affected}
	m, end := sv.minor.String(), sv.end
	switch sv.state {
	case notAVersion:
		t.status = Unknown
		t.reason = subject + " runs version " + strconv.Quote(version) + ", which is not a GKE version, so its end of support cannot be decided."
		t.evidence = apiEvidence(field)
		return t
	case olderThanListed:
		t.reason = fmt.Sprintf("%s runs %s: GKE %s is older than every minor of the release schedule, so its support has ended.", subject, version, m)
	case extendedUnknown:
		t.status = Unknown
		t.reason = fmt.Sprintf("%s runs %s on the EXTENDED channel: the end of standard support of GKE %s was %s and the catalog's release schedule gives no end of extended support for it, so whether it is still supported cannot be decided.",
			subject, version, m, end.Format(time.DateOnly))
	case supportEnded:
		t.reason = fmt.Sprintf("%s runs %s: the end of %s support of GKE %s was %s.", subject, version, sv.kind, m, end.Format(time.DateOnly))
	case supportEnding:
		t.medium = true
		days := int(end.Sub(now).Hours()/24) + 1
		t.reason = fmt.Sprintf("%s runs %s: the end of %s support of GKE %s is %s, in %d day(s).", subject, version, sv.kind, m, end.Format(time.DateOnly), days)
	}
	t.evidence = apiEvidence(field + fmt.Sprintf(" (release schedule: GKE %s end of %s support %s)", m, sv.kind, dateOr(end)))
	return t
}

// apiEvidence is a finding's one evidence of the Container API fields read.
func apiEvidence(summary string) []Evidence {
	return []Evidence{{Source: string(catalog.ContainerAPI), Summary: summary, Count: 1, Nodes: []string{}}}
}

// supportState is what the release schedule says of a version as of now.
type supportState uint8

const (
	supported       supportState = iota // no finding: supported past the warning days, newer than listed, or its extended end unknown while in standard support
	notAVersion                         // UNKNOWN: not a GKE version
	olderThanListed                     // older than every minor of the schedule: ended
	extendedUnknown                     // UNKNOWN: EXTENDED channel, standard support over, no extended date listed
	supportEnded                        // the end of (standard or extended) support is past
	supportEnding                       // the end is within the schedule's warning days: MEDIUM
)

// supportVerdict is the end-of-support decision for one version: what
// supportTextOf writes, and all the upgrade planner needs to know.
type supportVerdict struct {
	state supportState
	minor catalog.Minor // the version's minor line
	kind  string        // "standard", or "extended" on the EXTENDED channel
	end   time.Time     // that support's end
}

func supportOf(is *catalog.Issue, c *Cluster, version string, now time.Time) supportVerdict {
	v, err := catalog.ParseVersion(version)
	if err != nil {
		return supportVerdict{state: notAVersion}
	}
	extended := c.ReleaseChannel == "EXTENDED"
	sv := supportVerdict{kind: "standard"}
	if extended {
		sv.kind = "extended"
	}
	s := is.Support
	end, listing := s.EndOf(v.MinorLine(), extended)
	sv.end, sv.minor = end, v.MinorLine()
	// Extended support exists from 1.27; a minor the schedule gives no
	// extended date for cannot be judged past on the EXTENDED channel.
	noExtended := extended && listing == catalog.Listed && s.Lookup(v.MinorLine()).Extended().IsZero() &&
		v.MinorLine().Compare(catalog.Minor{Major: 1, Minor: 27}) >= 0
	switch {
	case listing == catalog.NewerThanListed:
		sv.state = supported
	case listing == catalog.OlderThanListed:
		sv.state = olderThanListed
	case noExtended && !now.Before(end):
		sv.state = extendedUnknown
	case noExtended:
		sv.state = supported // in standard support; its extended end is not known
	case !now.Before(end):
		sv.state = supportEnded
	case end.Sub(now) <= s.Warn():
		sv.state = supportEnding
	default:
		sv.state = supported
	}
	return sv
}

func dateOr(t time.Time) string {
	if t.IsZero() {
		return "before the oldest listed"
	}
	return t.Format(time.DateOnly)
}

// decided reports whether f was decided from a version: the findings an
// upgrade clears.
func decided(cat *catalog.Catalog, f *Finding) bool {
	is := cat.Issue(f.IssueID)
	return is != nil && is.DecidedBy == catalog.ContainerAPI && f.Component != "" && f.Version != ""
}

// component is one upgradable part of a cluster: its control plane, a
// node pool, or the nodes of a cluster without pools (pool "",
// node_pool component).
type component struct {
	kind catalog.Component
	pool string
}

func componentOf(f *Finding) component {
	return component{catalog.Component(f.Component), f.NodePool}
}

// evaluate is what the catalog decides for c as of now, version-decided
// findings only.
func evaluate(cat *catalog.Catalog, c *Cluster, now time.Time) []Finding {
	fs, _ := Match(cat, c)
	fs = appendEndOfSupport(fs, cat, c, now, nil)
	return slices.DeleteFunc(fs, func(f Finding) bool { return !decided(cat, &f) })
}

// clears reports whether c, with ck's component at version v, has no
// version-decided finding on it.
func (m memo) clears(cat *catalog.Catalog, c *Cluster, ck compKey, v catalog.Version, now time.Time) bool {
	k := m.keyAt(cat, ck, v)
	if r, ok := m.clear[k]; ok {
		return r
	}
	cc := withVersion(c, ck.comp, v.String())
	r := !affects(cat, &cc, ck.comp, now)
	m.clear[k] = r
	return r
}

// memo holds a scan's answers of clears and blocking: a fleet's clusters
// share their versions and configurations, so each answer is computed once.
type memo struct {
	clear map[memoKey]bool
	block map[memoKey]string
	ids   map[string]uint32 // the keys' strings, numbered from 1 ("" is 0)
	// factIDs are the numbers of the facts keys already made, by what
	// decides them.
	factIDs map[factsAt]uint32
}

func newMemo() memo {
	return memo{clear: map[memoKey]bool{}, block: map[memoKey]string{}, ids: map[string]uint32{}, factIDs: map[factsAt]uint32{}}
}

// factsAt is what a key's facts are made of (Catalog.AppendFactsKey): the
// conditions' outcomes, a pool of them, at a minor.
type factsAt struct {
	facts *catalog.Facts
	pool  int
	minor catalog.Minor
}

// memoKey is what decides whether comp at version v has findings: the
// version, and what the catalog's conditions read of the cluster and pool
// (Dataplane V2, Autopilot, the release channel for end of support, the
// pool's image type, and whether node issues fall back to the control
// plane's version). It must grow with the conditions the catalog can state.
// Its strings are the memo's numbers for them (memo.id), so that a key is
// 56 bytes to hash and keep, not 120.
type memoKey struct {
	version                    catalog.Version
	kind, datapath, channel    uint32
	image                      uint32 // the pool's image type, for subjectPool
	facts                      uint32 // the conditions.cel outcomes that matter at version (Catalog.AppendFactsKey)
	subject                    subjectKind
	autopilot, noNetworkConfig bool
}

// id is the memo's number for s.
func (m memo) id(s string) uint32 {
	if s == "" {
		return 0
	}
	n, ok := m.ids[s]
	if !ok {
		n = uint32(len(m.ids) + 1)
		m.ids[s] = n
	}
	return n
}

// subjectKind is what a component's node issues are decided on.
type subjectKind uint8

const (
	subjectControlPlane  subjectKind = iota
	subjectNodesOnMaster             // no pools, no node version: node issues on the control plane's version
	subjectNodes                     // no pools: currentNodeVersion
	subjectPool                      // a node pool, with its image type
)

// compKey is the part of a component's memo keys that no version
// changes, read once per component, not once per candidate version.
type compKey struct {
	comp  component
	base  memoKey // its version and facts unset
	pool  int     // the pool's index in the cluster's NodePools, -1 for none
	facts *catalog.Facts
	own   uint32 // facts not evaluated yet: the number of this cluster's own, else 0
}

func (m memo) keyFor(c *Cluster, comp component) compKey {
	ck := compKey{comp: comp, pool: -1, facts: c.Facts,
		base: memoKey{kind: m.id(string(comp.kind)), datapath: m.id(c.Datapath), channel: m.id(c.ReleaseChannel), autopilot: c.Autopilot, noNetworkConfig: c.NoNetworkConfig}}
	switch {
	case comp.kind == catalog.ControlPlane:
		if len(c.NodePools) == 0 && c.NodeVersion == "" {
			ck.base.subject = subjectNodesOnMaster
		}
	case comp.pool == "":
		ck.base.subject = subjectNodes
	default:
		for j, p := range c.NodePools {
			if p.Name == comp.pool {
				ck.base.subject, ck.base.image = subjectPool, m.id(p.ImageType)
				ck.pool = j
			}
		}
	}
	if c.Facts == nil && c.Object != nil {
		ck.own = m.id("object:" + c.Key().String()) // facts not evaluated yet: this cluster's own
	}
	return ck
}

// keyAt is ck's key at version v.
func (m memo) keyAt(cat *catalog.Catalog, ck compKey, v catalog.Version) memoKey {
	k := ck.base
	k.version = v
	if ck.own != 0 {
		k.facts = ck.own
		return k
	}
	// Only the conditions of issues whose ranges hold v's minor can change
	// the answer at v: the key holds their facts alone, so clusters that
	// differ elsewhere share it.
	at := factsAt{ck.facts, ck.pool, v.MinorLine()}
	id, ok := m.factIDs[at]
	if !ok {
		var b [48]byte
		fk := cat.AppendFactsKey(b[:0], ck.facts, ck.pool, at.minor)
		if id, ok = m.ids[string(fk)]; !ok { // no string made to look it up
			id = m.id(string(fk))
		}
		m.factIDs[at] = id
	}
	k.facts = id
	return k
}

// withVersion is a copy of c with comp at version v.
func withVersion(c *Cluster, comp component, v string) Cluster {
	cc := *c
	switch {
	case comp.kind == catalog.ControlPlane:
		cc.MasterVersion = v
	case comp.pool == "":
		cc.NodeVersion = v
	default:
		cc.NodePools = slices.Clone(c.NodePools)
		for i := range cc.NodePools {
			if cc.NodePools[i].Name == comp.pool {
				cc.NodePools[i].Version = v
			}
		}
	}
	return cc
}

// offered is a location's Offered with its versions parsed, sorted lowest
// first and without duplicates, once per scan.
type offered struct {
	master, node []catalog.Version
	channels     map[string][]catalog.Version
}

func parseOffered(o Offered) *offered {
	parse := func(list []string) []catalog.Version {
		var out []catalog.Version
		for _, s := range list {
			if v, err := catalog.ParseVersion(s); err == nil {
				out = append(out, v)
			}
		}
		slices.SortFunc(out, catalog.Version.Compare)
		return slices.Compact(out)
	}
	p := &offered{master: parse(o.MasterVersions), node: parse(o.NodeVersions), channels: map[string][]catalog.Version{}}
	for ch, vs := range o.Channels {
		p.channels[ch] = parse(vs)
	}
	return p
}

// candidates are the versions offered to c for kind, at or above from and
// (when limit is set) at most limit, lowest first: its release channel's
// valid versions when it is enrolled and the channel is offered, else the
// valid master or node versions. The slice is shared: do not change it.
func candidates(o *offered, c *Cluster, kind catalog.Component, from catalog.Version, limit *catalog.Version) []catalog.Version {
	list := o.node
	if kind == catalog.ControlPlane {
		list = o.master
	}
	if vs, ok := o.channels[c.ReleaseChannel]; ok && c.ReleaseChannel != "" {
		list = vs
	}
	lo, _ := slices.BinarySearchFunc(list, from, catalog.Version.Compare)
	hi := len(list)
	if limit != nil {
		hi, _ = slices.BinarySearchFunc(list, *limit, func(v, t catalog.Version) int {
			if v.Compare(t) <= 0 {
				return -1
			}
			return 1
		})
	}
	if lo >= hi {
		return nil
	}
	return list[lo:hi]
}

// plan is one cluster's upgrade.
type plan struct {
	checked bool    // chosen among offered versions: the targets clear what they say
	targets targets // "" when no offered version clears it
	reason  string
	steps   []string
}

// planUpgrades gives every cluster with version-decided findings the one
// upgrade that clears them all: per component, the lowest version offered
// to it under which the catalog's own evaluation finds nothing, pools never
// above the control plane's target. offers nil (offline, no server
// configs): the highest fixed_in of each component, not checked against
// what GKE offers.
func (res *Result) planUpgrades(ctx context.Context, cat *catalog.Catalog, offers Offers, now time.Time, failed func(ScanError)) {
	byCluster := map[ClusterKey][]int{}
	for i := range res.Findings {
		if f := &res.Findings[i]; decided(cat, f) {
			k := ClusterKey{f.ProjectID, f.Location, f.Cluster}
			byCluster[k] = append(byCluster[k], i)
		}
	}
	byLocation, reasons := res.readOffers(ctx, offers, byCluster, failed)
	// Plans are computed on every core (each worker with its own memo),
	// reading the findings and records only, then applied in order.
	plans := make([]plan, len(res.Clusters))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := newMemo()
			for {
				start := int(next.Add(planBlock)) - planBlock
				if start >= len(res.Clusters) {
					return
				}
				for i := start; i < min(start+planBlock, len(res.Clusters)); i++ {
					rec := &res.Clusters[i]
					idx := byCluster[rec.Key()]
					if len(idx) == 0 {
						continue
					}
					switch o := byLocation[rec.Location]; {
					case offers == nil:
						plans[i] = fixedInPlan(cat, res.Findings, idx)
						plans[i].reason = "Not checked against the versions GKE offers (no server config): the highest fixed_in of each component."
					case o == nil:
						plans[i] = fixedInPlan(cat, res.Findings, idx)
						plans[i].reason = reasons[rec.Location]
					default:
						plans[i] = offeredPlan(cat, &rec.Cluster, o, res.Findings, idx, now, m)
					}
				}
			}
		}()
	}
	wg.Wait()
	for i := range res.Clusters {
		rec := &res.Clusters[i]
		if idx := byCluster[rec.Key()]; len(idx) > 0 {
			res.applyPlan(rec, plans[i], idx)
		}
	}
}

// planBlock is how many clusters a planning worker takes at a time.
const planBlock = 64

// offerConcurrency is how many locations' offered versions are read at once.
const offerConcurrency = 8

// readOffers reads the versions offered in each location of a cluster to
// plan, offerConcurrency locations at once. A location that could not be
// read is absent from the map, recorded as a scan error (in the order the
// clusters need the locations), and given the reason its plans state.
func (res *Result) readOffers(ctx context.Context, offers Offers, byCluster map[ClusterKey][]int, failed func(ScanError)) (map[string]*offered, map[string]string) {
	if offers == nil {
		return nil, nil
	}
	var locations []string
	for i := range res.Clusters {
		rec := &res.Clusters[i]
		if len(byCluster[rec.Key()]) > 0 && !slices.Contains(locations, rec.Location) {
			locations = append(locations, rec.Location)
		}
	}
	type read struct {
		o       *offered
		project string
		err     error
	}
	reads := make([]read, len(locations))
	ask := res.askFrom()
	sem := make(chan struct{}, offerConcurrency)
	var wg sync.WaitGroup
	for i, loc := range locations {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := &reads[i]
			var got Offered
			// A project denied to the scan is not the location's only way in:
			// what GKE offers in a location is the same for every project.
			for _, r.project = range ask(loc) {
				if got, r.err = offers.Offered(ctx, r.project, loc); r.err == nil || !denied(r.err) {
					break
				}
			}
			if r.err == nil {
				r.o = parseOffered(got)
			}
		}()
	}
	wg.Wait()
	byLocation := map[string]*offered{}
	reasons := map[string]string{}
	for i, loc := range locations {
		r := reads[i]
		if r.err != nil {
			failed(ScanError{Resource: "projects/" + r.project + "/locations/" + loc, API: "container", Code: codeOf(r.err),
				Message: "offered versions not read: " + r.err.Error()})
			reasons[loc] = "The versions offered in " + loc + " could not be read (" + r.err.Error() + "): the highest fixed_in of each component, not checked against them."
			continue
		}
		byLocation[loc] = r.o
	}
	return byLocation, reasons
}

// askFrom gives, per location, the projects to ask its offered versions
// of, at most three: those with a cluster there, then the scan's other
// projects, each group with the projects that had no scan error first.
func (res *Result) askFrom() func(location string) []string {
	failed := map[string]bool{}
	for _, e := range res.Errors {
		failed[e.ProjectID] = true
	}
	byLocation := map[string][]string{}
	var all []string
	for _, c := range res.Clusters {
		if ps := byLocation[c.Location]; len(ps) == 0 || ps[len(ps)-1] != c.ProjectID { // records are sorted by project
			byLocation[c.Location] = append(ps, c.ProjectID)
		}
		if len(all) == 0 || all[len(all)-1] != c.ProjectID {
			all = append(all, c.ProjectID)
		}
	}
	byErrors := func(a, b string) int {
		switch {
		case failed[a] == failed[b]:
			return strings.Compare(a, b)
		case failed[a]:
			return 1
		}
		return -1
	}
	slices.SortFunc(all, byErrors)
	return func(location string) []string {
		here := slices.Clone(byLocation[location])
		slices.SortFunc(here, byErrors)
		out := here[:min(len(here), 3)]
		for _, p := range all {
			if len(out) == 3 {
				break
			}
			if !slices.Contains(here, p) {
				out = append(out, p)
			}
		}
		return out
	}
}

// denied reports whether an Offers error is about the project asked
// (PERMISSION_DENIED, NOT_FOUND), so another project may answer.
func denied(err error) bool {
	c := codeOf(err)
	return c == "PERMISSION_DENIED" || c == "NOT_FOUND"
}

// codeOf is the code an Offers error names (its Code method, as
// discovery's errors have), else UNAVAILABLE.
func codeOf(err error) string {
	var c interface{ Code() string }
	if errors.As(err, &c) {
		return c.Code()
	}
	return "UNAVAILABLE"
}

// targets are a plan's version per component: a cluster has a few
// components, and a scan keeps every cluster's plan until all are made.
type targets []componentTarget

type componentTarget struct {
	component
	version string
}

func (ts targets) get(c component) (string, bool) {
	for _, t := range ts {
		if t.component == c {
			return t.version, true
		}
	}
	return "", false
}

func (ts *targets) set(c component, v string) {
	for i := range *ts {
		if (*ts)[i].component == c {
			(*ts)[i].version = v
			return
		}
	}
	*ts = append(*ts, componentTarget{c, v})
}

// fixedInPlan targets, per component, the highest version its findings'
// issues document as their fix: fixed_in, or the first fix on a later
// minor when the finding's minor has none.
func fixedInPlan(cat *catalog.Catalog, fs []Finding, idx []int) plan {
	var p plan
	for _, i := range idx {
		f := &fs[i]
		fix := f.FixedIn
		if v, err := catalog.ParseVersion(f.Version); err == nil && fix == "" {
			if is := cat.Issue(f.IssueID); is != nil && is.Support == nil {
				_, _, fix = is.FixFor(v)
			}
		}
		comp := componentOf(f)
		if cur, ok := p.targets.get(comp); !ok || higher(fix, cur) {
			p.targets.set(comp, fix)
		}
	}
	return p
}

// higher reports whether version a is above b ("" below everything).
func higher(a, b string) bool {
	va, errA := catalog.ParseVersion(a)
	vb, errB := catalog.ParseVersion(b)
	switch {
	case errA != nil:
		return false
	case errB != nil:
		return true
	}
	return vb.Less(va)
}

// offeredPlan chooses the targets among the offered versions.
func offeredPlan(cat *catalog.Catalog, c *Cluster, o *offered, fs []Finding, idx []int, now time.Time, m memo) plan {
	p := plan{checked: true}
	comps := map[component]bool{}
	for _, i := range idx {
		comps[componentOf(&fs[i])] = true
	}
	master, errM := catalog.ParseVersion(c.MasterVersion)
	// The control plane's target: the lowest offered version that clears
	// its own findings, raised when a pool needs more.
	cpTarget, cpOK := master, errM == nil
	cp := component{catalog.ControlPlane, ""}
	cpKey := m.keyFor(c, cp)
	if comps[cp] {
		cpOK = false
		if errM == nil {
			for _, v := range candidates(o, c, catalog.ControlPlane, master, nil) {
				if m.clears(cat, c, cpKey, v, now) {
					cpTarget, cpOK = v, true
					break
				}
			}
		}
	}
	pools := slices.SortedFunc(func(yield func(component) bool) {
		for comp := range comps {
			if comp.kind == catalog.NodePool && !yield(comp) {
				return
			}
		}
	}, func(a, b component) int { return strings.Compare(a.pool, b.pool) })
	poolTarget := map[component]catalog.Version{}
	var unclear []string
	for range 3 { // a pool that needs a higher control plane raises it, then every pool is chosen again
		raised := false
		for _, comp := range pools {
			cur, err := catalog.ParseVersion(poolVersion(c, comp))
			if err != nil {
				continue
			}
			var limit *catalog.Version
			if cpOK {
				limit = &cpTarget
			}
			found := false
			ck := m.keyFor(c, comp)
			for _, v := range candidates(o, c, catalog.NodePool, cur, nil) {
				if !m.clears(cat, c, ck, v, now) {
					continue
				}
				if limit != nil && limit.Less(v) {
					// Only above the control plane's target: raise it to the
					// lowest offered version at or above v that still clears it.
					for _, w := range candidates(o, c, catalog.ControlPlane, v, nil) {
						if !comps[cp] || m.clears(cat, c, cpKey, w, now) {
							cpTarget, raised = w, true
							break
						}
					}
					if !raised {
						continue
					}
				}
				poolTarget[comp], found = v, true
				break
			}
			if !found {
				delete(poolTarget, comp)
			}
		}
		if !raised {
			break
		}
	}
	if cpOK && comps[cp] || cpOK && cpTarget.Compare(master) != 0 {
		p.targets.set(cp, cpTarget.String())
	} else if comps[cp] {
		p.targets.set(cp, "")
		unclear = append(unclear, cmp.Or(m.blocking(cat, c, o, cp, now), "every finding")+" on the control plane")
	}
	for _, comp := range pools {
		if v, ok := poolTarget[comp]; ok {
			p.targets.set(comp, v.String())
		} else {
			p.targets.set(comp, "")
			if b := m.blocking(cat, c, o, comp, now); b != "" {
				unclear = append(unclear, b+" on "+poolName(comp))
			} else {
				unclear = append(unclear, poolName(comp)+" (only versions above every control-plane version offered clear it)")
			}
		}
	}
	if len(unclear) > 0 {
		where := c.Location
		if _, ok := o.channels[c.ReleaseChannel]; ok && c.ReleaseChannel != "" {
			where += " on the " + c.ReleaseChannel + " channel"
		}
		p.reason = "No version offered in " + where + " clears " + strings.Join(unclear, "; ") + "."
	}
	if errM == nil && cpOK {
		p.steps = steps(o, c, master, cpTarget, poolTarget, pools)
	}
	return p
}

// blocking names the issues still found on comp at the newest version
// offered to it (at its current version when none is offered above it), or
// "" when that version would clear them.
func (m memo) blocking(cat *catalog.Catalog, c *Cluster, o *offered, comp component, now time.Time) string {
	cur := c.MasterVersion
	if comp.kind == catalog.NodePool {
		cur = poolVersion(c, comp)
	}
	v, err := catalog.ParseVersion(cur)
	if err != nil { // not a version: nothing to share, decided as it is
		return blockingAt(cat, c, comp, cur, now)
	}
	if vs := candidates(o, c, comp.kind, v, nil); len(vs) > 0 {
		v = vs[len(vs)-1]
	}
	k := m.keyAt(cat, m.keyFor(c, comp), v)
	if b, ok := m.block[k]; ok {
		return b
	}
	m.block[k] = blockingAt(cat, c, comp, v.String(), now)
	return m.block[k]
}

// blockingAt names the issues found on comp at version v.
func blockingAt(cat *catalog.Catalog, c *Cluster, comp component, v string, now time.Time) string {
	cc := withVersion(c, comp, v)
	var ids []string
	for _, f := range evaluate(cat, &cc, now) {
		if componentOf(&f) == comp && !slices.Contains(ids, f.IssueID) {
			ids = append(ids, f.IssueID)
		}
	}
	return strings.Join(ids, ", ")
}

func poolVersion(c *Cluster, comp component) string {
	if comp.pool == "" {
		return c.NodeVersion
	}
	for _, p := range c.NodePools {
		if p.Name == comp.pool {
			return p.Version
		}
	}
	return ""
}

func poolName(comp component) string {
	if comp.pool == "" {
		return "the nodes"
	}
	return "node pool " + comp.pool
}

// skew is how many minors older than the control plane nodes may be: three
// from Kubernetes 1.28, two before.
func skew(cp catalog.Minor) int {
	if cp.Compare(catalog.Minor{Major: 1, Minor: 28}) >= 0 {
		return 3
	}
	return 2
}

// steps orders the upgrade: the control plane one minor at a time (the
// lowest offered version of each minor on the way), node pools upgraded to
// the control plane's version first wherever the next minor would leave
// them beyond the version skew, and the pools to their targets last.
// Consecutive control-plane minors are one step: "control plane via 1.28,
// 1.29 to 1.30.5-gke.100".
func steps(o *offered, c *Cluster, from, to catalog.Version, poolTarget map[component]catalog.Version, pools []component) []string {
	var out []string
	var via []string // control-plane minors passed since the last pool step
	cpTo := func(v string) {
		if len(via) > 1 && len(out) > 0 && strings.HasPrefix(out[len(out)-1], "control plane ") {
			out = out[:len(out)-1]
		}
		step := "control plane to " + v
		if len(via) > 1 {
			step = "control plane via " + strings.Join(via[:len(via)-1], ", ") + " to " + v
		}
		out = append(out, step)
	}
	cur := from
	now := map[string]catalog.Version{} // every pool's version as the plan goes
	var names []string
	for _, p := range c.NodePools {
		if v, err := catalog.ParseVersion(p.Version); err == nil {
			now[p.Name] = v
			names = append(names, p.Name)
		}
	}
	for m := from.MinorLine(); m.Compare(to.MinorLine()) < 0; {
		m = catalog.Minor{Major: m.Major, Minor: m.Minor + 1}
		var lagging []string
		for _, n := range names {
			if now[n].MinorLine().Minor < m.Minor-skew(m) {
				lagging = append(lagging, n)
				now[n] = cur
			}
		}
		if len(lagging) > 0 {
			out = append(out, "node pools "+strings.Join(lagging, ", ")+" to "+cur.String()+" (version skew)")
			via = nil
		}
		next := to
		if m.Compare(to.MinorLine()) < 0 {
			next = lowestIn(o, c, m)
		}
		if next.IsZero() {
			next = catalog.Version{Major: m.Major, Minor: m.Minor} // none offered on the way: name the minor
			via = append(via, m.String())
			cpTo(m.String() + " (no version of it offered)")
		} else {
			via = append(via, m.String())
			cpTo(next.String())
		}
		cur = next
	}
	if cur.Compare(to) < 0 {
		via = append(via, to.MinorLine().String())
		cpTo(to.String())
	}
	byTarget := map[catalog.Version][]string{}
	var targets []catalog.Version
	for _, comp := range pools {
		if v, ok := poolTarget[comp]; ok {
			if byTarget[v] == nil {
				targets = append(targets, v)
			}
			byTarget[v] = append(byTarget[v], poolName(comp))
		}
	}
	for _, v := range targets {
		out = append(out, strings.Join(byTarget[v], ", ")+" to "+v.String())
	}
	return out
}

// lowestIn is the lowest version of minor m offered to c's control plane,
// or the zero Version.
func lowestIn(o *offered, c *Cluster, m catalog.Minor) catalog.Version {
	vs := candidates(o, c, catalog.ControlPlane, catalog.Version{Major: m.Major, Minor: m.Minor}, nil)
	if len(vs) > 0 && vs[0].MinorLine() == m {
		return vs[0]
	}
	return catalog.Version{}
}

// applyPlan writes a plan to the cluster record and its findings.
func (res *Result) applyPlan(rec *ClusterRecord, p plan, idx []int) {
	cleared := 0
	for _, i := range idx {
		f := &res.Findings[i]
		t, _ := p.targets.get(componentOf(f))
		if f.IssueID == endOfSupportID && !p.checked {
			t = "" // a fix version says nothing of a minor's support
		}
		f.UpgradeTo = t
		if t != "" {
			cleared++
		}
		if f.IssueID == endOfSupportID && p.checked {
			f.FixedIn = t // an offered version on a supported minor
		}
	}
	rec.UpgradeClears = int64(cleared)
	rec.UpgradeReason = p.reason
	rec.UpgradeSteps = nonNilSteps(p.steps)
	rec.UpgradeControlPlaneTo, _ = p.targets.get(component{catalog.ControlPlane, ""})
	for j := range rec.NodePools {
		rec.NodePools[j].UpgradeTo, _ = p.targets.get(component{catalog.NodePool, rec.NodePools[j].Name})
	}
}

// endOfSupportID is the issue ID of end-of-support findings (DESIGN.md).
const endOfSupportID = "GKE-END-OF-SUPPORT"

func nonNilSteps(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
