package catalog

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Rules of the Kubernetes API checks: what a kubernetes_api issue's
// kubernetes.rule names. The rule's code is in scanner/kube; its
// parameters are data here.
const (
	// RuleIPMasqRandomFully: a DaemonSet runs ip-masq-agent (kubernetes.image,
	// the image's last path segment) at a version with random-fully on, in a
	// cluster with a NodePort or LoadBalancer Service. With log_container,
	// log_version_text and log_flag_text, the agent's start-up lines in
	// Cloud Logging are evidence too.
	RuleIPMasqRandomFully = "ip_masq_random_fully"
	// RuleEphemeralPortRange: a pod sets kubernetes.sysctl to a range that
	// overlaps kubernetes.port_range.
	RuleEphemeralPortRange = "ephemeral_port_range"
	// RuleNetworkPolicyEndPort: a NetworkPolicy port uses endPort.
	RuleNetworkPolicyEndPort = "network_policy_end_port"
)

var rules = []string{RuleIPMasqRandomFully, RuleEphemeralPortRange, RuleNetworkPolicyEndPort}

// KubernetesCheck is the data of a kubernetes_api issue's check.
type KubernetesCheck struct {
	Rule string `yaml:"rule"`
	// Image is the last path segment of the image (ip_masq_random_fully).
	Image string `yaml:"image"`
	// From is the first version with random-fully on by default; FlagFrom
	// the first where --random-fully=false turns it off; ToPortsFrom the
	// first where --to-ports outside PortRange clears it.
	From        string `yaml:"from"`
	FlagFrom    string `yaml:"flag_from"`
	ToPortsFrom string `yaml:"to_ports_from"`
	// PortRange is the range that must not be taken: "30000-32767".
	PortRange string `yaml:"port_range"`
	// Sysctl is the kernel parameter of the port range (ephemeral_port_range).
	Sysctl string `yaml:"sysctl"`

	// The agent's start-up lines in Cloud Logging (ip_masq_random_fully;
	// all three or none): LogContainer is the container whose stderr holds
	// them (resource.labels.container_name of a k8s_container entry);
	// LogVersionText is the text before the version in the line that
	// reports it ("ip-masq-agent version:", then "v2.12.0"); LogFlagText
	// the text before a flag's name in the lines that list the flags
	// ("FLAG: --", then `random-fully="true"`). Without them the check is
	// decided from Kubernetes objects only.
	LogContainer   string `yaml:"log_container"`
	LogVersionText string `yaml:"log_version_text"`
	LogFlagText    string `yaml:"log_flag_text"`

	from, flagFrom, toPortsFrom Minor
	lo, hi                      int
}

// Versions returns From, FlagFrom and ToPortsFrom, parsed.
func (k *KubernetesCheck) Versions() (from, flagFrom, toPortsFrom Minor) {
	return k.from, k.flagFrom, k.toPortsFrom
}

// Logged reports whether the check's agent start-up lines are read from
// Cloud Logging (LogContainer and the texts are set).
func (k *KubernetesCheck) Logged() bool { return k != nil && k.LogContainer != "" }

// containerName is a Kubernetes container name: a DNS-1123 label.
var containerName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Ports returns PortRange's bounds, inclusive.
func (k *KubernetesCheck) Ports() (lo, hi int) { return k.lo, k.hi }

// ParsePortRange reads "A-B" (ports, A <= B).
func ParsePortRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	lo, errA := strconv.Atoi(strings.TrimSpace(a))
	hi, errB := strconv.Atoi(strings.TrimSpace(b))
	if !ok || errA != nil || errB != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("%q is not a port range such as 30000-32767", s)
	}
	return lo, hi, nil
}

// ParseLocalPortRange reads a net.ipv4.ip_local_port_range value: two port
// numbers, low then high, split on any whitespace ("32768	60999").
func ParseLocalPortRange(value string) (lo, hi int, ok bool) {
	f := strings.Fields(value)
	if len(f) != 2 {
		return 0, 0, false
	}
	lo, errLo := strconv.Atoi(f[0])
	hi, errHi := strconv.Atoi(f[1])
	if errLo != nil || errHi != nil || lo < 0 || hi > 65535 || lo > hi {
		return 0, 0, false
	}
	return lo, hi, true
}

// validate checks the block for its rule and parses it in place.
func (k *KubernetesCheck) validate() []string {
	var p []string
	bad := func(format string, a ...any) { p = append(p, "kubernetes."+fmt.Sprintf(format, a...)) }
	need := func(name, v string) {
		if strings.TrimSpace(v) == "" {
			bad("%s is missing: rule %s needs it", name, k.Rule)
		}
	}
	none := func(name, v string) {
		if v != "" {
			bad("%s is not a parameter of rule %s", name, k.Rule)
		}
	}
	minor := func(name, v string, dst *Minor) {
		need(name, v)
		if v == "" {
			return
		}
		m, err := ParseMinor(v)
		if err != nil {
			bad("%s: %v", name, err)
		}
		*dst = m
	}
	ports := func() {
		need("port_range", k.PortRange)
		if k.PortRange == "" {
			return
		}
		var err error
		if k.lo, k.hi, err = ParsePortRange(k.PortRange); err != nil {
			bad("port_range: %v", err)
		}
	}
	logs := func() {
		if k.LogContainer == "" && k.LogVersionText == "" && k.LogFlagText == "" {
			return // the check reads no logs
		}
		needFor := func(name, v string) {
			if strings.TrimSpace(v) == "" {
				bad("%s is missing: the log_ fields go together (log_container, log_version_text, log_flag_text)", name)
			}
		}
		needFor("log_container", k.LogContainer)
		needFor("log_version_text", k.LogVersionText)
		needFor("log_flag_text", k.LogFlagText)
		if k.LogContainer != "" && !containerName.MatchString(k.LogContainer) {
			bad("log_container %q is not a container name (lower-case letters, digits and '-', such as ip-masq-agent)", k.LogContainer)
		}
		if strings.TrimSpace(k.LogFlagText) != "" && !strings.HasSuffix(k.LogFlagText, "-") {
			bad("log_flag_text %q must end with the dash(es) before a flag's name, as in \"FLAG: --\"", k.LogFlagText)
		}
	}
	noLogs := func() {
		none("log_container", k.LogContainer)
		none("log_version_text", k.LogVersionText)
		none("log_flag_text", k.LogFlagText)
	}
	switch k.Rule {
	case RuleIPMasqRandomFully:
		need("image", k.Image)
		minor("from", k.From, &k.from)
		minor("flag_from", k.FlagFrom, &k.flagFrom)
		minor("to_ports_from", k.ToPortsFrom, &k.toPortsFrom)
		ports()
		none("sysctl", k.Sysctl)
		if len(p) == 0 && (k.flagFrom.Compare(k.from) < 0 || k.toPortsFrom.Compare(k.flagFrom) < 0) {
			p = append(p, fmt.Sprintf("kubernetes: from %s, flag_from %s and to_ports_from %s must not decrease", k.From, k.FlagFrom, k.ToPortsFrom))
		}
		logs()
	case RuleEphemeralPortRange:
		need("sysctl", k.Sysctl)
		ports()
		none("image", k.Image)
		none("from", k.From)
		none("flag_from", k.FlagFrom)
		none("to_ports_from", k.ToPortsFrom)
		noLogs()
	case RuleNetworkPolicyEndPort:
		none("image", k.Image)
		none("from", k.From)
		none("flag_from", k.FlagFrom)
		none("to_ports_from", k.ToPortsFrom)
		none("port_range", k.PortRange)
		none("sysctl", k.Sysctl)
		noLogs()
	case "":
		bad("rule is missing (want one of %s)", strings.Join(rules, ", "))
	default:
		bad("rule %q is not one of %s", k.Rule, strings.Join(rules, ", "))
	}
	return p
}
