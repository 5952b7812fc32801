package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// Rules of the Kubernetes API checks: what a kubernetes_api issue's
// kubernetes.rule names. The rule's code is in scanner/kube; its
// parameters are data here.
const (
	// RuleIPMasqRandomFully: a DaemonSet runs ip-masq-agent (kubernetes.image,
	// the image's last path segment) at a version with random-fully on, in a
	// cluster with a NodePort or LoadBalancer Service.
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

	from, flagFrom, toPortsFrom Minor
	lo, hi                      int
}

// Versions returns From, FlagFrom and ToPortsFrom, parsed.
func (k *KubernetesCheck) Versions() (from, flagFrom, toPortsFrom Minor) {
	return k.from, k.flagFrom, k.toPortsFrom
}

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
	case RuleEphemeralPortRange:
		need("sysctl", k.Sysctl)
		ports()
		none("image", k.Image)
		none("from", k.From)
		none("flag_from", k.FlagFrom)
		none("to_ports_from", k.ToPortsFrom)
	case RuleNetworkPolicyEndPort:
		none("image", k.Image)
		none("from", k.From)
		none("flag_from", k.FlagFrom)
		none("to_ports_from", k.ToPortsFrom)
		none("port_range", k.PortRange)
		none("sysctl", k.Sysctl)
	case "":
		bad("rule is missing (want one of %s)", strings.Join(rules, ", "))
	default:
		bad("rule %q is not one of %s", k.Rule, strings.Join(rules, ", "))
	}
	return p
}
