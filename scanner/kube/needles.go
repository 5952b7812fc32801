package kube

import (
	"bytes"
	"strings"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// needles are, per kind, the texts of which an object must hold one for
// matters to keep it: what the checks compare an object's fields with. A
// Service matters by its type NodePort or LoadBalancer, an
// ephemeral_port_range check reads a sysctl by its name, an
// ip_masq_random_fully check a DaemonSet's image by its name, and a
// network_policy_end_port check a NetworkPolicy's endPort.
//
// An asset's resource.data holds its keys and strings as their own UTF-8
// bytes on the wire, so an object whose data holds none of its kind's
// needles can change no verdict: it is neither written as JSON nor
// decoded. The needles must grow with the rules: a rule they do not know
// reads every object.
type needles struct {
	all    bool // a check no needle stands for: every object is read
	byKind map[string][][]byte
}

// podTemplateKinds are the kinds Objects.PodTemplates reads.
var podTemplateKinds = []string{"Pod", "DaemonSet", "Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob"}

func needlesOf(checks []*catalog.KubernetesCheck) needles {
	n := needles{byKind: map[string][][]byte{}}
	n.add([]string{"Service"}, "NodePort", "LoadBalancer") // matters keeps these whatever the checks
	for _, k := range checks {
		switch {
		case k == nil:
			n.all = true
		case k.Rule == catalog.RuleEphemeralPortRange:
			// Its name's last part, which the dotted and the slash forms
			// and the /proc/sys path all spell out (portRangeWrites).
			parts := strings.FieldsFunc(k.Sysctl, func(r rune) bool { return r == '.' || r == '/' })
			if len(parts) == 0 {
				n.all = true
				continue
			}
			n.add(podTemplateKinds, parts[len(parts)-1])
		case k.Rule == catalog.RuleIPMasqRandomFully:
			if k.Image == "" {
				n.all = true
				continue
			}
			n.add([]string{"DaemonSet"}, k.Image) // imageVersion compares the image's last path segment
		case k.Rule == catalog.RuleNetworkPolicyEndPort:
			// The last-applied-configuration annotation is JSON text,
			// which may spell a key with \u escapes.
			n.add([]string{"NetworkPolicy"}, "endPort", `\u`)
		default:
			n.all = true
		}
	}
	return n
}

func (n needles) add(kinds []string, texts ...string) {
	for _, kind := range kinds {
		for _, t := range texts {
			n.byKind[kind] = append(n.byKind[kind], []byte(t))
		}
	}
}

// mayMatter reports whether an object of kind, whose resource.data is
// data on the wire, holds one of its kind's needles.
func (n needles) mayMatter(kind string, data []byte) bool {
	if n.all {
		return true
	}
	for _, s := range n.byKind[kind] {
		if bytes.Contains(data, s) {
			return true
		}
	}
	return false
}
