package kube

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// Verdict is one rule's decision on one cluster's objects.
type Verdict struct {
	Outcome catalog.Outcome // catalog.Affected, catalog.Undecided or catalog.NotAffected
	// Reason completes a sentence that starts "The cluster", e.g.
	// "runs ip-masq-agent 2.12.0 with random-fully on (DaemonSet kube-system/ip-masq-agent) and has NodePort or LoadBalancer Services (default/web)".
	Reason string
	// Objects are the deciding objects as "Kind namespace/name", sorted, at most 20.
	Objects []string
	// Count is how many objects decide it (before the cut to 20).
	Count int
	// Summary is one line of evidence an owner can act on; Sample one concrete detail (an image and its args, a sysctl value, a policy's port).
	Summary, Sample string
}

const (
	maxObjects = 20  // Verdict.Objects
	maxNamed   = 3   // names spelled out in a Reason
	maxSample  = 300 // characters of a Sample
)

// Evaluate decides the check k on the objects o. A cluster with no object of the rule's kinds is NotAffected, except as the rules say.
//
// A NotAffected verdict has a Reason but no Objects, Count, Summary or
// Sample: nothing in the cluster makes the issue happen.
func Evaluate(k *catalog.KubernetesCheck, o *Objects) Verdict {
	if o == nil {
		o = &Objects{}
	}
	if k == nil {
		return Verdict{Outcome: catalog.Undecided, Reason: "cannot be checked: the issue has no kubernetes check"}
	}
	// A new rule also gets its needles (needlesOf), or Cloud Asset
	// Inventory's objects are all decoded for it.
	switch k.Rule {
	case catalog.RuleIPMasqRandomFully:
		return ipMasqRandomFully(k, o)
	case catalog.RuleEphemeralPortRange:
		return ephemeralPortRange(k, o)
	case catalog.RuleNetworkPolicyEndPort:
		return networkPolicyEndPort(o)
	}
	return Verdict{Outcome: catalog.Undecided, Reason: fmt.Sprintf("cannot be checked: fleetscan has no Kubernetes rule %q", k.Rule)}
}

// decided builds a verdict that names objects: sorted, deduplicated,
// counted, then cut to maxObjects.
func decided(out catalog.Outcome, reason, summary, sample string, objects []string) Verdict {
	objects = slices.Compact(slices.Sorted(slices.Values(objects)))
	v := Verdict{Outcome: out, Reason: reason, Count: len(objects), Summary: summary, Sample: truncate(sample)}
	if len(objects) > maxObjects {
		objects = objects[:maxObjects:maxObjects]
	}
	v.Objects = objects
	return v
}

// ---- ip_masq_random_fully ----

// masqState orders what one ip-masq-agent DaemonSet does: the worst of
// its containers counts.
type masqState int

const (
	masqOff     masqState = iota // below From, or turned off by its flags
	masqUnknown                  // the image's version cannot be read
	masqOn                       // random-fully on
)

// masqAgent is one DaemonSet that runs the ip-masq-agent image.
type masqAgent struct {
	name    string // namespace/name
	state   masqState
	version string // the image tag without its leading v; "" when unreadable
	desc    string // "ip-masq-agent 2.12.0 with random-fully on", for a Reason
	sample  string // image and arguments
}

func (a masqAgent) object() string { return "DaemonSet " + a.name }

// ipMasqRandomFully: a DaemonSet (any namespace) runs k.Image at a version
// with random-fully on, in a cluster with a NodePort or LoadBalancer Service.
func ipMasqRandomFully(k *catalog.KubernetesCheck, o *Objects) Verdict {
	var agents []masqAgent
	for i := range o.DaemonSets {
		ds := &o.DaemonSets[i]
		if a, ok := masqAgentOf(k, ds.Namespace+"/"+ds.Name, &ds.Spec.Template.Spec); ok {
			agents = append(agents, a)
		}
	}
	var services []string
	for i := range o.Services {
		s := &o.Services[i]
		if s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			services = append(services, s.Namespace+"/"+s.Name)
		}
	}
	slices.SortFunc(agents, func(a, b masqAgent) int { return strings.Compare(a.name, b.name) })
	slices.Sort(services)

	if len(agents) == 0 {
		return Verdict{Outcome: catalog.NotAffected, Reason: "runs no " + k.Image + " DaemonSet"}
	}
	worst := masqOff
	for _, a := range agents {
		worst = max(worst, a.state)
	}
	chosen := slices.DeleteFunc(slices.Clone(agents), func(a masqAgent) bool { return a.state != worst })
	var runs string
	switch {
	case len(chosen) == 1:
		runs = "runs " + chosen[0].desc + " (" + chosen[0].object() + ")"
	case worst == masqOn:
		runs = fmt.Sprintf("runs %s with random-fully on in %d DaemonSets (%s)", k.Image, len(chosen), agentList(chosen))
	case worst == masqUnknown:
		runs = fmt.Sprintf("runs %s images whose version cannot be read in %d DaemonSets (%s)", k.Image, len(chosen), agentList(chosen))
	default:
		from, _, _ := k.Versions()
		runs = fmt.Sprintf("runs %s below %s or with random-fully off in %d DaemonSets (%s)", k.Image, from, len(chosen), agentList(chosen))
	}
	if worst == masqOff {
		return Verdict{Outcome: catalog.NotAffected, Reason: runs}
	}
	if len(services) == 0 {
		return Verdict{Outcome: catalog.NotAffected, Reason: runs + " but has no NodePort or LoadBalancer Service"}
	}

	reason := runs + " and has NodePort or LoadBalancer Services (" + nameList(services) + ")"
	objects := make([]string, 0, len(chosen)+len(services))
	for _, a := range chosen {
		objects = append(objects, a.object())
	}
	for _, s := range services {
		objects = append(objects, "Service "+s)
	}
	svc := plural(len(services), "NodePort or LoadBalancer Service", "NodePort or LoadBalancer Services")
	sample := chosen[0].name + ": " + chosen[0].sample
	if worst == masqUnknown {
		runners := plural(len(chosen), "DaemonSet runs an "+k.Image+" image", "DaemonSets run "+k.Image+" images")
		summary := fmt.Sprintf("%s whose version cannot be read; tag it with its version to decide (%s)", runners, svc)
		return decided(catalog.Undecided, reason, summary, sample, objects)
	}
	runners := plural(len(chosen), "DaemonSet runs "+k.Image, "DaemonSets run "+k.Image)
	summary := fmt.Sprintf("%s with random-fully on; %s can collide with masqueraded source ports", runners, svc)
	return decided(catalog.Affected, reason, summary, sample, objects)
}

// masqAgentOf decides the pod spec of DaemonSet name; ok is false when no
// container (init containers included) runs k.Image.
func masqAgentOf(k *catalog.KubernetesCheck, name string, spec *corev1.PodSpec) (a masqAgent, ok bool) {
	for _, c := range allContainers(spec) {
		v, readable, why := imageVersion(c.Image, k.Image)
		if !readable && why == "" {
			continue // another image
		}
		b := masqAgent{name: name, sample: strings.Join(append([]string{c.Image}, commandLine(c)...), " ")}
		if readable {
			on, how := randomFullyOn(c, v, k)
			b.version = strings.TrimPrefix(imageTag(c.Image), "v")
			b.desc = k.Image + " " + b.version + how
			if on {
				b.state = masqOn
			}
		} else {
			b.state = masqUnknown
			b.desc = fmt.Sprintf("%s image %q, whose version cannot be read because %s", k.Image, c.Image, why)
		}
		if !ok || b.state > a.state {
			a, ok = b, true
		}
	}
	return a, ok
}

// splitImage returns the last path segment of an image reference without
// its tag and digest, the tag ("" when none) and whether a digest is given.
// A registry port ("localhost:5000/x") is not a tag: the tag is after the
// last ':' of the last path segment.
func splitImage(image string) (name, tag string, digest bool) {
	ref, _, digest := strings.Cut(strings.TrimSpace(image), "@")
	last := ref[strings.LastIndexByte(ref, '/')+1:]
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		return last[:i], last[i+1:], digest
	}
	return last, "", digest
}

func imageTag(image string) string {
	_, tag, _ := splitImage(image)
	return tag
}

// tagVersion is an image tag vX.Y[.Z][-suffix], the leading v optional.
var tagVersion = regexp.MustCompile(`^v?([0-9]+)\.([0-9]+)(?:\.[0-9]+)?(?:-.*)?$`)

// imageVersion reads the MAJOR.MINOR of image when the image is name (its
// last path segment without tag and digest). ok reports a readable version;
// when the image is name but its version cannot be read, why says why
// ("its tag "latest" is not a version"). For another image both are zero.
func imageVersion(image, name string) (v catalog.Minor, ok bool, why string) {
	n, tag, digest := splitImage(image)
	if n != name {
		return catalog.Minor{}, false, ""
	}
	switch m := tagVersion.FindStringSubmatch(tag); {
	case tag == "" && digest:
		return catalog.Minor{}, false, "it is pinned by digest only, without a tag"
	case tag == "":
		return catalog.Minor{}, false, "it has no tag"
	case m == nil:
		return catalog.Minor{}, false, fmt.Sprintf("its tag %q is not a version", tag)
	default:
		v, err := catalog.ParseMinor(m[1] + "." + m[2])
		if err != nil {
			return catalog.Minor{}, false, fmt.Sprintf("its tag %q is not a version", tag)
		}
		return v, true, ""
	}
}

// randomFullyOn decides whether container c, running ip-masq-agent version
// v, masquerades with random-fully. how continues "ip-masq-agent 2.12.0"
// in a Reason, e.g. " with random-fully off by --random-fully=false".
//
// Flags are read as Go's flag package reads them: "--name=value" or
// "-name=value", a bare "--random-fully" is true (so "--random-fully false"
// leaves it on), and the last occurrence counts. Every word of command and
// args is read, so a flag inside "sh -c '…'" counts too.
func randomFullyOn(c *corev1.Container, v catalog.Minor, k *catalog.KubernetesCheck) (on bool, how string) {
	from, flagFrom, toPortsFrom := k.Versions()
	if v.Compare(from) < 0 {
		return false, fmt.Sprintf(", below %s, the first version with random-fully on by default", from)
	}
	randomFully, rfFlag := lastFlag(c, FlagRandomFully, true)
	toPorts, tpFlag := lastFlag(c, FlagToPorts, false)
	b, err := strconv.ParseBool(randomFully)
	off := err == nil && !b
	if v.Compare(flagFrom) < 0 {
		if off {
			return true, fmt.Sprintf(" with random-fully on, which %s cannot turn off before %s", rfFlag, flagFrom)
		}
		return true, " with random-fully on"
	}
	if off {
		return false, " with random-fully off by " + rfFlag
	}
	if v.Compare(toPortsFrom) >= 0 && toPorts != "" {
		lo, hi := k.Ports()
		if a, b, err := catalog.ParsePortRange(toPorts); err == nil && (b < lo || a > hi) {
			return false, fmt.Sprintf(" with random-fully off by %s, outside %d-%d", tpFlag, lo, hi)
		}
	}
	return true, " with random-fully on"
}

// The ip-masq-agent flags that decide random-fully: what randomFullyOn
// reads from a container's command line, and what the Cloud Logging query
// asks for in the agent's start-up lines.
const (
	FlagRandomFully = "random-fully"
	FlagToPorts     = "to-ports"
)

// dockerTag is what an image tag may hold.
var dockerTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// AgentRandomFully decides, by the rule ip_masq_random_fully, whether an
// agent of check k that started reporting version (as the agent logs it,
// the form of its image tag: "v2.12.0"; "" when not logged) and flags args
// (command-line words, "--random-fully=true", "--to-ports=20000-29999")
// masquerades with random-fully. It is the DaemonSet rule applied to a
// container of image k.Image:version with those args. why is a phrase
// that names the agent: "ip-masq-agent v2.12.0 started with random-fully
// on".
//
// A version that cannot be read decides nothing by itself, but an agent
// that logged a --random-fully flag is at least k's from version (older
// agents have no such flag): it is on when it would be on at
// to_ports_from, where every flag that can turn it off does, so on at any
// version from from.
func AgentRandomFully(k *catalog.KubernetesCheck, version string, args []string) (on bool, why string) {
	c := corev1.Container{Image: k.Image, Args: args}
	if dockerTag.MatchString(version) {
		c.Image += ":" + version
	}
	if v, ok, _ := imageVersion(c.Image, k.Image); ok {
		on, how := randomFullyOn(&c, v, k)
		return on, k.Image + " " + version + " started" + strings.TrimPrefix(how, ",")
	}
	agent := k.Image + " of unknown version"
	value, written := lastFlag(&c, FlagRandomFully, true)
	if written == "" {
		return false, agent + " started without a --" + FlagRandomFully + " flag, so random-fully cannot be decided"
	}
	from, _, toPortsFrom := k.Versions()
	if on, _ := randomFullyOn(&c, toPortsFrom, k); on {
		return true, fmt.Sprintf("%s started with random-fully on by --%s=%s, a flag that no agent below %s has", agent, FlagRandomFully, value, from)
	}
	flags := []string{written}
	if _, tp := lastFlag(&c, FlagToPorts, false); tp != "" {
		flags = append(flags, tp)
	}
	return false, agent + " started with " + strings.Join(flags, " ") + ", so random-fully cannot be decided"
}

// lastFlag returns the value of the last occurrence of flag name in c's
// command and args and that occurrence as written ("-to-ports 1-2"); both
// are "" when absent. A boolean flag without "=value" is "true"; any other
// flag takes the next word then, as Go's flag package does.
func lastFlag(c *corev1.Container, name string, boolean bool) (value, written string) {
	var words []string
	for _, s := range commandLine(c) {
		words = append(words, strings.Fields(s)...)
	}
	for i, w := range words {
		w = strings.Trim(w, `"'`)
		if !strings.HasPrefix(w, "-") {
			continue
		}
		dashes := "-"
		if strings.HasPrefix(w, "--") {
			dashes = "--"
		}
		n, val, hasValue := strings.Cut(w[len(dashes):], "=")
		switch {
		case n != name:
			continue
		case hasValue:
			value = strings.Trim(val, `"'`)
			written = dashes + name + "=" + value
		case boolean:
			value, written = "true", dashes+name
		case i+1 < len(words):
			value = strings.Trim(words[i+1], `"'`)
			written = dashes + name + " " + value
		}
	}
	return value, written
}

func agentList(agents []masqAgent) string {
	names := make([]string, len(agents))
	for i, a := range agents {
		names[i] = a.name
		if a.version != "" {
			names[i] += " " + a.version
		}
	}
	return nameList(names)
}

// ---- ephemeral_port_range ----

// portSetting is one place where a pod spec sets the port range.
type portSetting struct {
	object string // "Kind namespace/name"
	where  string // "securityContext.sysctls", "initContainer sysctl", "container app"
	value  string // as written, for messages
	lo, hi int
	ok     bool // value is two port numbers
}

// ephemeralPortRange: a Pod or workload pod template sets k.Sysctl to a
// range that overlaps k.Ports(), through securityContext.sysctls or a
// container that runs sysctl or writes the /proc/sys file.
func ephemeralPortRange(k *catalog.KubernetesCheck, o *Objects) Verdict {
	lo, hi := k.Ports()
	writes := portRangeWritesOf(k.Sysctl)
	var settings []portSetting
	o.PodTemplates(func(kind, name string, spec *corev1.PodSpec) {
		object := kind + " " + name
		add := func(where, value string) {
			s := portSetting{object: object, where: where, value: value}
			s.lo, s.hi, s.ok = catalog.ParseLocalPortRange(value)
			settings = append(settings, s)
		}
		if sc := spec.SecurityContext; sc != nil {
			for _, s := range sc.Sysctls {
				if sameSysctl(s.Name, k.Sysctl) {
					add("securityContext.sysctls", s.Value)
				}
			}
		}
		for i := range spec.InitContainers {
			for _, v := range writes.values(&spec.InitContainers[i]) {
				add("initContainer "+spec.InitContainers[i].Name, v)
			}
		}
		for i := range spec.Containers {
			for _, v := range writes.values(&spec.Containers[i]) {
				add("container "+spec.Containers[i].Name, v)
			}
		}
	})
	if len(settings) == 0 {
		return Verdict{Outcome: catalog.NotAffected, Reason: "does not set " + k.Sysctl + " in any Pod or workload"}
	}
	slices.SortStableFunc(settings, func(a, b portSetting) int { return strings.Compare(a.object, b.object) })
	var overlapping, unreadable, outside []portSetting
	for _, s := range settings {
		switch {
		case !s.ok:
			unreadable = append(unreadable, s)
		case s.lo <= hi && s.hi >= lo:
			overlapping = append(overlapping, s)
		default:
			outside = append(outside, s)
		}
	}
	ports := fmt.Sprintf("%d-%d", lo, hi)
	sample := func(s portSetting) string {
		v := s.value
		if s.ok {
			v = fmt.Sprintf("%d %d", s.lo, s.hi)
		}
		return fmt.Sprintf("%s=%s (%s of %s)", k.Sysctl, v, s.where, s.object)
	}
	switch {
	case len(overlapping) > 0:
		objects := settingObjects(overlapping)
		s := overlapping[0]
		reason := fmt.Sprintf("sets %s to %d %d, overlapping %s (%s)", k.Sysctl, s.lo, s.hi, ports, objects[0])
		if len(objects) > 1 {
			reason = fmt.Sprintf("sets %s to a range overlapping %s in %d objects (%s)", k.Sysctl, ports, len(objects), nameList(objects))
		}
		summary := fmt.Sprintf("%s %s to a range overlapping %s, where NodePort Services take their ports", plural(len(objects), "object sets", "objects set"), k.Sysctl, ports)
		return decided(catalog.Affected, reason, summary, sample(s), objects)
	case len(unreadable) > 0:
		objects := settingObjects(unreadable)
		s := unreadable[0]
		reason := fmt.Sprintf("sets %s to %q, which is not two port numbers (%s)", k.Sysctl, s.value, objects[0])
		if len(objects) > 1 {
			reason = fmt.Sprintf("sets %s to values that are not two port numbers, such as %q, in %d objects (%s)", k.Sysctl, s.value, len(objects), nameList(objects))
		}
		summary := fmt.Sprintf("%s %s to a value fleetscan cannot read as a port range", plural(len(objects), "object sets", "objects set"), k.Sysctl)
		return decided(catalog.Undecided, reason, summary, sample(s), objects)
	default:
		objects := settingObjects(outside)
		s := outside[0]
		reason := fmt.Sprintf("sets %s only outside %s (%s: %d %d)", k.Sysctl, ports, objects[0], s.lo, s.hi)
		if len(objects) > 1 {
			reason = fmt.Sprintf("sets %s only outside %s, in %d objects (%s)", k.Sysctl, ports, len(objects), nameList(objects))
		}
		return Verdict{Outcome: catalog.NotAffected, Reason: reason}
	}
}

func settingObjects(settings []portSetting) []string {
	objects := make([]string, 0, len(settings))
	for _, s := range settings {
		objects = append(objects, s.object)
	}
	return slices.Compact(objects) // settings are sorted by object
}

// sameSysctl compares sysctl names, in the dotted or the slash form that
// both sysctl(8) and securityContext.sysctls accept.
func sameSysctl(a, b string) bool {
	return strings.ReplaceAll(a, "/", ".") == strings.ReplaceAll(b, "/", ".")
}

// portRangeWrites finds, in a container's command line, the values written
// to one sysctl: "sysctl [-w|--write] KEY=VALUE" (KEY dotted or with '/')
// and "echo|printf VALUE > /proc/sys/KEY-AS-PATH" (also ">>" and "| tee").
type portRangeWrites struct {
	sysctl *regexp.Regexp // group 1: a quote opening "KEY=VALUE"
	proc   *regexp.Regexp // group 1: the redirection or tee
}

// portRangeWritesOf is newPortRangeWrites of sysctl, compiled once: a scan
// evaluates the check on every object it reads.
func portRangeWritesOf(sysctl string) portRangeWrites {
	if w, ok := compiledWrites.Load(sysctl); ok {
		return w.(portRangeWrites)
	}
	w, _ := compiledWrites.LoadOrStore(sysctl, newPortRangeWrites(sysctl))
	return w.(portRangeWrites)
}

// compiledWrites holds portRangeWritesOf's regexps by sysctl name: a
// catalog's checks name a few.
var compiledWrites sync.Map

func newPortRangeWrites(sysctl string) portRangeWrites {
	parts := strings.FieldsFunc(sysctl, func(r rune) bool { return r == '.' || r == '/' })
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = regexp.QuoteMeta(p)
	}
	key := strings.Join(quoted, `[./]`)
	path := regexp.QuoteMeta("/proc/sys/" + strings.Join(parts, "/"))
	return portRangeWrites{
		// sysctl, any options and other settings (not across ; & | or a
		// newline), then KEY= possibly inside quotes.
		sysctl: regexp.MustCompile(`\bsysctl(?:[ \t]+[^\s;&|]+)*?[ \t]+(["']?)` + key + `=`),
		proc:   regexp.MustCompile(`(>>?[ \t]*|\btee(?:[ \t]+-a)?[ \t]+)["']?` + path + `\b`),
	}
}

// values returns the values c writes to the sysctl, as written. sysctl is
// looked for in command and args joined with spaces (an argv such as
// ["sysctl", "-w", "KEY=V"] or a shell script); a /proc write needs a
// shell, so it is looked for in each script on its own.
func (w portRangeWrites) values(c *corev1.Container) []string {
	line := commandLine(c)
	text := strings.Join(line, " ")
	var values []string
	for _, m := range w.sysctl.FindAllStringSubmatchIndex(text, -1) {
		values = append(values, sysctlValue(text[m[1]:], text[m[2]:m[3]]))
	}
	for _, script := range line {
		for _, m := range w.proc.FindAllStringSubmatchIndex(script, -1) {
			before := script[:m[0]]
			if strings.HasPrefix(script[m[2]:m[3]], "tee") {
				// "echo V | tee PATH": the value is from the command before the pipe.
				if i := strings.LastIndexByte(before, '|'); i >= 0 {
					before = before[:i]
				}
			}
			values = append(values, echoValue(before[strings.LastIndexAny(before, ";&|\n(")+1:]))
		}
	}
	return values
}

var unquotedRange = regexp.MustCompile(`^[0-9]+(?:[ \t]+[0-9]+)?`)

// sysctlValue reads the value after "KEY=": up to the closing quote when
// quote opened "KEY=VALUE" or VALUE starts with a quote; else one or two
// numbers (argv elements are joined with spaces); else one word.
func sysctlValue(rest, quote string) string {
	if quote == "" && rest != "" && (rest[0] == '"' || rest[0] == '\'') {
		quote, rest = rest[:1], rest[1:]
	}
	if quote != "" {
		if i := strings.Index(rest, quote); i >= 0 {
			return rest[:i]
		}
		return rest
	}
	if m := unquotedRange.FindString(rest); m != "" {
		return m
	}
	if i := strings.IndexAny(rest, " \t\n;&|"); i >= 0 {
		return rest[:i]
	}
	return rest
}

// echoValue reads what a shell command "echo [-n|-e] V" or "printf V"
// writes, quotes removed and \t, \n as whitespace; another command is
// returned as written (and then is not a port range).
func echoValue(command string) string {
	f := strings.Fields(command)
	for len(f) > 0 && slices.Contains([]string{"then", "do", "else", "{"}, f[0]) {
		f = f[1:]
	}
	if len(f) == 0 || (f[0] != "echo" && f[0] != "printf") {
		return strings.TrimSpace(command)
	}
	args := f[1:]
	for f[0] == "echo" && len(args) > 0 && slices.Contains([]string{"-n", "-e", "-ne", "-en"}, args[0]) {
		args = args[1:]
	}
	v := strings.Join(args, " ")
	v = strings.NewReplacer(`"`, "", `'`, "", `\t`, " ", `\n`, " ").Replace(v)
	return strings.TrimSpace(v)
}

// ---- network_policy_end_port ----

// endPortUse is one NetworkPolicy that uses endPort.
type endPortUse struct {
	name    string // namespace/name
	port    string // the first such port: "ingress port 32000-32768/TCP"
	applied bool   // seen only in the last-applied-configuration annotation
}

// networkPolicyEndPort: a NetworkPolicy has an ingress or egress port with
// endPort, in its stored spec or, when that has none, in its
// kubectl.kubernetes.io/last-applied-configuration (Dataplane V2 drops the
// field on write). A malformed annotation is ignored.
func networkPolicyEndPort(o *Objects) Verdict {
	var uses []endPortUse
	for i := range o.NetworkPolicies {
		np := &o.NetworkPolicies[i]
		u := endPortUse{name: np.Namespace + "/" + np.Name}
		if ports := endPorts(&np.Spec); len(ports) > 0 {
			u.port = ports[0]
		} else if applied, ok := lastApplied(np); ok {
			if ports := endPorts(&applied.Spec); len(ports) > 0 {
				u.port, u.applied = ports[0], true
			}
		}
		if u.port != "" {
			uses = append(uses, u)
		}
	}
	if len(uses) == 0 {
		if n := len(o.NetworkPolicies); n > 0 {
			return Verdict{Outcome: catalog.NotAffected, Reason: fmt.Sprintf("has %s, none of which uses endPort", plural(n, "NetworkPolicy", "NetworkPolicies"))}
		}
		return Verdict{Outcome: catalog.NotAffected, Reason: "has no NetworkPolicy"}
	}
	slices.SortFunc(uses, func(a, b endPortUse) int { return strings.Compare(a.name, b.name) })
	objects := make([]string, len(uses))
	names := make([]string, len(uses))
	applied := 0
	for i, u := range uses {
		objects[i], names[i] = "NetworkPolicy "+u.name, u.name
		if u.applied {
			applied++
		}
	}
	u := uses[0]
	var reason string
	switch {
	case len(uses) == 1 && u.applied:
		reason = fmt.Sprintf("has a NetworkPolicy whose %s uses endPort in its last-applied-configuration, though the stored spec has none (%s)", u.port, objects[0])
	case len(uses) == 1:
		reason = fmt.Sprintf("has a NetworkPolicy whose %s uses endPort (%s)", u.port, objects[0])
	case applied > 0:
		reason = fmt.Sprintf("has %d NetworkPolicies that use endPort, %d of them only in the last-applied-configuration (%s)", len(uses), applied, nameList(names))
	default:
		reason = fmt.Sprintf("has %d NetworkPolicies that use endPort (%s)", len(uses), nameList(names))
	}
	summary := plural(len(uses), "NetworkPolicy uses", "NetworkPolicies use") + " endPort, which Dataplane V2 does not enforce"
	if applied > 0 {
		summary += fmt.Sprintf(" (%d seen only in last-applied-configuration)", applied)
	}
	sample := u.name + ": " + u.port
	if u.applied {
		sample += " (in last-applied-configuration; the stored spec has no endPort)"
	}
	return decided(catalog.Affected, reason, summary, sample, objects)
}

// endPorts describes the ports of spec that use endPort, ingress first.
func endPorts(spec *networkingv1.NetworkPolicySpec) []string {
	var out []string
	add := func(direction string, ports []networkingv1.NetworkPolicyPort) {
		for _, p := range ports {
			if p.EndPort == nil {
				continue
			}
			from, proto := "any", corev1.ProtocolTCP
			if p.Port != nil {
				from = p.Port.String()
			}
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			out = append(out, fmt.Sprintf("%s port %s-%d/%s", direction, from, *p.EndPort, proto))
		}
	}
	for _, r := range spec.Ingress {
		add("ingress", r.Ports)
	}
	for _, r := range spec.Egress {
		add("egress", r.Ports)
	}
	return out
}

// lastApplied decodes np's last-applied-configuration annotation; ok is
// false when there is none or it is not JSON of a NetworkPolicy.
func lastApplied(np *networkingv1.NetworkPolicy) (applied networkingv1.NetworkPolicy, ok bool) {
	s := np.Annotations[corev1.LastAppliedConfigAnnotation]
	if s == "" {
		return applied, false
	}
	return applied, json.Unmarshal([]byte(s), &applied) == nil
}

// ---- helpers ----

func allContainers(spec *corev1.PodSpec) []*corev1.Container {
	out := make([]*corev1.Container, 0, len(spec.InitContainers)+len(spec.Containers))
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}

// commandLine is a container's command followed by its args.
func commandLine(c *corev1.Container) []string {
	return append(slices.Clip(c.Command), c.Args...)
}

// nameList spells out the first maxNamed names: "a, b, c and 2 more".
func nameList(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func truncate(s string) string { return Truncate(s, maxSample) }

// Truncate cuts s to at most n bytes on a rune boundary, ending in "…"
// when cut: a sample line that stays readable.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
