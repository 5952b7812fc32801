package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// testObjects reads testdata/rules/file, a kubectl List (`kubectl get …
// -A -o json`), and returns the items named by keys ("Kind ns/name"), or
// every item when no key is given. Items are decoded strictly into the
// k8s.io/api types, so test data cannot drift from what kubectl prints.
func testObjects(t *testing.T, file string, keys ...string) *Objects {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "rules", file))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if list.APIVersion != "v1" || list.Kind != "List" {
		t.Fatalf("%s: apiVersion %q kind %q, want a v1 List", file, list.APIVersion, list.Kind)
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = false
	}
	o := &Objects{}
	for i, raw := range list.Items {
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Namespace string `json:"namespace"`
				Name      string `json:"name"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatalf("%s item %d: %v", file, i, err)
		}
		key := head.Kind + " " + head.Metadata.Namespace + "/" + head.Metadata.Name
		if _, ok := want[key]; len(keys) > 0 && !ok {
			continue
		}
		want[key] = true
		var err error
		switch head.Kind {
		case "DaemonSet":
			o.DaemonSets, err = appendDecoded(o.DaemonSets, raw)
		case "Deployment":
			o.Deployments, err = appendDecoded(o.Deployments, raw)
		case "StatefulSet":
			o.StatefulSets, err = appendDecoded(o.StatefulSets, raw)
		case "ReplicaSet":
			o.ReplicaSets, err = appendDecoded(o.ReplicaSets, raw)
		case "Job":
			o.Jobs, err = appendDecoded(o.Jobs, raw)
		case "CronJob":
			o.CronJobs, err = appendDecoded(o.CronJobs, raw)
		case "Pod":
			o.Pods, err = appendDecoded(o.Pods, raw)
		case "Service":
			o.Services, err = appendDecoded(o.Services, raw)
		case "NetworkPolicy":
			o.NetworkPolicies, err = appendDecoded(o.NetworkPolicies, raw)
		default:
			err = fmt.Errorf("kind %q is not one the checks read", head.Kind)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", file, key, err)
		}
	}
	for k, found := range want {
		if !found {
			t.Fatalf("%s has no %s", file, k)
		}
	}
	return o
}

func appendDecoded[T any](dst []T, raw json.RawMessage) ([]T, error) {
	var v T
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		return dst, err
	}
	return append(dst, v), nil
}

// check returns the catalog's own check of issue id, so the YAML data
// (versions, port range, sysctl) drives the tests.
func check(t *testing.T, id string) *catalog.KubernetesCheck {
	t.Helper()
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	is := cat.Issue(id)
	if is == nil || is.Kubernetes == nil {
		t.Fatalf("the embedded catalog has no kubernetes check %s", id)
	}
	return is.Kubernetes
}

type ruleCase struct {
	name    string
	objects []string // the cluster: items of the rule's test file; nil for an empty cluster
	outcome catalog.Outcome
	reason  string   // compared exactly when set
	want    []string // Verdict.Objects
	count   int      // Verdict.Count; len(want) when 0
	sample  string   // compared exactly when set
}

func runCases(t *testing.T, id, file string, cases []ruleCase) {
	t.Helper()
	k := check(t, id)
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.name] {
			t.Fatalf("two cases named %q", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			o := &Objects{}
			if tc.objects != nil {
				o = testObjects(t, file, tc.objects...)
			}
			v := Evaluate(k, o)
			if v.Outcome != tc.outcome {
				t.Errorf("Outcome = %v, want %v (reason %q)", v.Outcome, tc.outcome, v.Reason)
			}
			if v.Reason == "" || strings.HasSuffix(v.Reason, ".") || strings.Contains(v.Reason, "\n") {
				t.Errorf("Reason %q: want one sentence without the final period", v.Reason)
			}
			if tc.reason != "" && v.Reason != tc.reason {
				t.Errorf("Reason\n got %q\nwant %q", v.Reason, tc.reason)
			}
			if diff := cmp.Diff(tc.want, v.Objects); diff != "" {
				t.Errorf("Objects (-want +got):\n%s", diff)
			}
			count := tc.count
			if count == 0 {
				count = len(tc.want)
			}
			if v.Count != count {
				t.Errorf("Count = %d, want %d", v.Count, count)
			}
			if tc.sample != "" && v.Sample != tc.sample {
				t.Errorf("Sample\n got %q\nwant %q", v.Sample, tc.sample)
			}
			if v.Outcome == catalog.NotAffected {
				if v.Summary != "" || v.Sample != "" {
					t.Errorf("NotAffected with Summary %q, Sample %q", v.Summary, v.Sample)
				}
			} else if v.Summary == "" || v.Sample == "" {
				t.Errorf("Summary %q, Sample %q: want both", v.Summary, v.Sample)
			}
		})
	}
}

func TestIPMasqRandomFully(t *testing.T) {
	const web, lb, apiserver, cart = "Service default/web", "Service shop/frontend", "Service default/kubernetes", "Service shop/cart"
	ds := func(name string) string { return "DaemonSet " + name }
	// with: the DaemonSet in a cluster with a ClusterIP and a NodePort Service.
	with := func(names ...string) []string {
		out := []string{apiserver, web}
		for _, n := range names {
			out = append(out, ds(n))
		}
		return out
	}
	on := func(name string) ruleCase {
		return ruleCase{name: name, objects: with(name), outcome: catalog.Affected, want: []string{ds(name), web}}
	}
	off := func(name string) ruleCase {
		return ruleCase{name: name, objects: with(name), outcome: catalog.NotAffected}
	}
	undecided := func(name string) ruleCase {
		return ruleCase{name: name, objects: with(name), outcome: catalog.Undecided, want: []string{ds(name), web}}
	}
	named := func(tc ruleCase, name, reason string) ruleCase {
		tc.name, tc.reason = name, reason
		return tc
	}
	const digest = "sha256:5c3b9a6f0e1d2c4b8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a291"
	runCases(t, "DPV2-NODEPORT-RANDOMFULLY", "ip-masq-agent.json", []ruleCase{
		{
			name: "2.12.0 default flags", objects: with("kube-system/ip-masq-agent"), outcome: catalog.Affected,
			reason: "runs ip-masq-agent 2.12.0 with random-fully on (DaemonSet kube-system/ip-masq-agent) and has NodePort or LoadBalancer Services (default/web)",
			want:   []string{ds("kube-system/ip-masq-agent"), web},
			sample: "kube-system/ip-masq-agent: registry.k8s.io/networking/ip-masq-agent:v2.12.0 --masq-chain=IP-MASQ --nomasq-all-reserved-ranges",
		},

		// Versions.
		named(off("masq/v2-9-3"), "2.9.3 GKE image is below 2.10",
			"runs ip-masq-agent 2.9.3-v0.2.4-gke.5, below 2.10, the first version with random-fully on by default (DaemonSet masq/v2-9-3)"),
		off("masq/v2-9-3-false"),
		named(on("masq/v2-10-0-false"), "2.10.0 ignores --random-fully=false",
			"runs ip-masq-agent 2.10.0 with random-fully on, which --random-fully=false cannot turn off before 2.11 (DaemonSet masq/v2-10-0-false) and has NodePort or LoadBalancer Services (default/web)"),
		on("masq/v2-10-1"),

		// --random-fully from 2.11.
		on("masq/v2-11-0"),
		named(off("masq/rf-false"), "2.11.0 --random-fully=false",
			"runs ip-masq-agent 2.11.0 with random-fully off by --random-fully=false (DaemonSet masq/rf-false)"),
		off("masq/rf-0"),
		off("masq/rf-f"),
		off("masq/rf-f-upper"),
		off("masq/rf-false-upper"),
		off("masq/rf-false-title"),
		on("masq/rf-true"),
		on("masq/rf-bare"),
		named(on("masq/rf-two-words"), "--random-fully false as two words stays on",
			"runs ip-masq-agent 2.11.0 with random-fully on (DaemonSet masq/rf-two-words) and has NodePort or LoadBalancer Services (default/web)"),
		named(off("masq/rf-single-dash-0"), "-random-fully=0",
			"runs ip-masq-agent 2.11.0 with random-fully off by -random-fully=0 (DaemonSet masq/rf-single-dash-0)"),
		on("masq/rf-later-true"),
		off("masq/rf-later-false"),
		on("masq/rf-not-bool"),
		off("masq/rf-in-command"),
		off("masq/rf-sh-c"),

		// --to-ports from 2.12.
		on("masq/to-ports-2-11"),
		named(off("masq/to-ports-below"), "2.12.0 --to-ports below the NodePort range",
			"runs ip-masq-agent 2.12.0 with random-fully off by --to-ports=20000-29999, outside 30000-32767 (DaemonSet masq/to-ports-below)"),
		on("masq/to-ports-overlap-low"),
		on("masq/to-ports-overlap-high"),
		off("masq/to-ports-above"),
		off("masq/to-ports-single-dash"),
		named(off("masq/to-ports-two-words"), "--to-ports as two words",
			"runs ip-masq-agent 2.12.1 with random-fully off by --to-ports 32768-65535, outside 30000-32767 (DaemonSet masq/to-ports-two-words)"),
		on("masq/to-ports-later"),

		// Image forms.
		on("masq/no-v"),
		named(on("masq/gke-digest"), "GKE image with tag and digest",
			"runs ip-masq-agent 2.12.6-gke.15 with random-fully on (DaemonSet masq/gke-digest) and has NodePort or LoadBalancer Services (default/web)"),
		named(undecided("masq/digest-only"), "digest only",
			`runs ip-masq-agent image "registry.k8s.io/networking/ip-masq-agent@`+digest+`", whose version cannot be read because it is pinned by digest only, without a tag (DaemonSet masq/digest-only) and has NodePort or LoadBalancer Services (default/web)`),
		{
			name: "latest", objects: with("masq/latest"), outcome: catalog.Undecided,
			reason: `runs ip-masq-agent image "registry.k8s.io/networking/ip-masq-agent:latest", whose version cannot be read because its tag "latest" is not a version (DaemonSet masq/latest) and has NodePort or LoadBalancer Services (default/web)`,
			want:   []string{ds("masq/latest"), web},
			sample: "masq/latest: registry.k8s.io/networking/ip-masq-agent:latest --masq-chain=IP-MASQ --nomasq-all-reserved-ranges",
		},
		named(undecided("masq/no-tag"), "no tag",
			`runs ip-masq-agent image "registry.k8s.io/networking/ip-masq-agent", whose version cannot be read because it has no tag (DaemonSet masq/no-tag) and has NodePort or LoadBalancer Services (default/web)`),
		named(undecided("masq/port-no-tag"), "registry port is not a tag",
			`runs ip-masq-agent image "localhost:5000/ip-masq-agent", whose version cannot be read because it has no tag (DaemonSet masq/port-no-tag) and has NodePort or LoadBalancer Services (default/web)`),
		named(undecided("masq/non-numeric"), "non-numeric tag",
			`runs ip-masq-agent image "ip-masq-agent:v2.x", whose version cannot be read because its tag "v2.x" is not a version (DaemonSet masq/non-numeric) and has NodePort or LoadBalancer Services (default/web)`),
		named(off("masq/foo"), "ip-masq-agent-foo is another image", "runs no ip-masq-agent DaemonSet"),
		on("masq/init"),
		on("ops/sidecar"),

		// Services.
		{
			name: "no Service at all", objects: []string{ds("kube-system/ip-masq-agent")}, outcome: catalog.NotAffected,
			reason: "runs ip-masq-agent 2.12.0 with random-fully on (DaemonSet kube-system/ip-masq-agent) but has no NodePort or LoadBalancer Service",
		},
		{name: "ClusterIP Services only", objects: []string{ds("kube-system/ip-masq-agent"), apiserver, cart}, outcome: catalog.NotAffected},
		{
			name: "LoadBalancer Service only", objects: []string{ds("kube-system/ip-masq-agent"), lb}, outcome: catalog.Affected,
			reason: "runs ip-masq-agent 2.12.0 with random-fully on (DaemonSet kube-system/ip-masq-agent) and has NodePort or LoadBalancer Services (shop/frontend)",
			want:   []string{ds("kube-system/ip-masq-agent"), lb},
		},
		{
			name: "NodePort and LoadBalancer Services", objects: []string{ds("kube-system/ip-masq-agent"), apiserver, cart, web, lb}, outcome: catalog.Affected,
			reason: "runs ip-masq-agent 2.12.0 with random-fully on (DaemonSet kube-system/ip-masq-agent) and has NodePort or LoadBalancer Services (default/web, shop/frontend)",
			want:   []string{ds("kube-system/ip-masq-agent"), web, lb},
		},
		{
			name: "unreadable version without NodePort Service", objects: []string{ds("masq/latest"), apiserver, cart}, outcome: catalog.NotAffected,
			reason: `runs ip-masq-agent image "registry.k8s.io/networking/ip-masq-agent:latest", whose version cannot be read because its tag "latest" is not a version (DaemonSet masq/latest) but has no NodePort or LoadBalancer Service`,
		},
		{name: "NodePort Service without ip-masq-agent", objects: []string{apiserver, web, ds("kube-system/fluentbit-gke")}, outcome: catalog.NotAffected, reason: "runs no ip-masq-agent DaemonSet"},
		{name: "empty cluster", outcome: catalog.NotAffected, reason: "runs no ip-masq-agent DaemonSet"},

		// Several DaemonSets.
		{
			name: "affected wins over undecided and off", objects: with("kube-system/ip-masq-agent", "masq/v2-10-1", "masq/latest", "masq/rf-false"), outcome: catalog.Affected,
			reason: "runs ip-masq-agent with random-fully on in 2 DaemonSets (kube-system/ip-masq-agent 2.12.0, masq/v2-10-1 2.10.1) and has NodePort or LoadBalancer Services (default/web)",
			want:   []string{ds("kube-system/ip-masq-agent"), ds("masq/v2-10-1"), web},
			sample: "kube-system/ip-masq-agent: registry.k8s.io/networking/ip-masq-agent:v2.12.0 --masq-chain=IP-MASQ --nomasq-all-reserved-ranges",
		},
		{
			name: "undecided wins over off", objects: with("masq/rf-false", "masq/latest", "masq/no-tag", "masq/v2-9-3"), outcome: catalog.Undecided,
			reason: "runs ip-masq-agent images whose version cannot be read in 2 DaemonSets (masq/latest, masq/no-tag) and has NodePort or LoadBalancer Services (default/web)",
			want:   []string{ds("masq/latest"), ds("masq/no-tag"), web},
		},
		{
			name: "all off", objects: with("masq/rf-false", "masq/v2-9-3"), outcome: catalog.NotAffected,
			reason: "runs ip-masq-agent below 2.10 or with random-fully off in 2 DaemonSets (masq/rf-false 2.11.0, masq/v2-9-3 2.9.3-v0.2.4-gke.5)",
		},
		{
			name: "whole file", objects: []string{}, outcome: catalog.Affected,
			want: []string{
				ds("kube-system/ip-masq-agent"), ds("masq/gke-digest"), ds("masq/init"), ds("masq/no-v"), ds("masq/rf-bare"),
				ds("masq/rf-later-true"), ds("masq/rf-not-bool"), ds("masq/rf-true"), ds("masq/rf-two-words"),
				ds("masq/to-ports-2-11"), ds("masq/to-ports-later"), ds("masq/to-ports-overlap-high"), ds("masq/to-ports-overlap-low"),
				ds("masq/v2-10-0-false"), ds("masq/v2-10-1"), ds("masq/v2-11-0"), ds("ops/sidecar"), web, lb,
			},
		},
	})
}

func TestEphemeralPortRange(t *testing.T) {
	affected := func(object string) ruleCase {
		return ruleCase{name: object, objects: []string{object}, outcome: catalog.Affected, want: []string{object}}
	}
	notAffected := func(object string) ruleCase {
		return ruleCase{name: object, objects: []string{object}, outcome: catalog.NotAffected}
	}
	undecided := func(object string) ruleCase {
		return ruleCase{name: object, objects: []string{object}, outcome: catalog.Undecided, want: []string{object}}
	}
	with := func(tc ruleCase, reason, sample string) ruleCase {
		tc.reason, tc.sample = reason, sample
		return tc
	}
	runCases(t, "DPV2-NODEPORT-EPHEMERAL", "ephemeral-port-range.json", []ruleCase{
		// securityContext.sysctls at each boundary.
		with(affected("Pod shop/sysctl-30000"),
			"sets net.ipv4.ip_local_port_range to 30000 60999, overlapping 30000-32767 (Pod shop/sysctl-30000)",
			"net.ipv4.ip_local_port_range=30000 60999 (securityContext.sysctls of Pod shop/sysctl-30000)"),
		affected("Pod shop/sysctl-32767"),
		with(notAffected("Pod shop/sysctl-32768"),
			"sets net.ipv4.ip_local_port_range only outside 30000-32767 (Pod shop/sysctl-32768: 32768 60999)", ""),
		notAffected("Pod shop/sysctl-1024-29999"),
		affected("Pod shop/sysctl-1024-30000"),
		with(affected("Pod shop/sysctl-tab"), "",
			"net.ipv4.ip_local_port_range=30000 60999 (securityContext.sysctls of Pod shop/sysctl-tab)"),
		affected("Pod shop/sysctl-spaces"),
		with(undecided("Pod shop/sysctl-garbage"),
			`sets net.ipv4.ip_local_port_range to "30000-60999", which is not two port numbers (Pod shop/sysctl-garbage)`,
			"net.ipv4.ip_local_port_range=30000-60999 (securityContext.sysctls of Pod shop/sysctl-garbage)"),
		undecided("Pod shop/sysctl-one"),
		affected("Pod shop/sysctl-slash"),
		with(notAffected("Pod shop/sysctl-other"), "does not set net.ipv4.ip_local_port_range in any Pod or workload", ""),

		// Containers that run sysctl or write /proc, in every workload kind.
		with(affected("Deployment shop/web"),
			"sets net.ipv4.ip_local_port_range to 30000 60999, overlapping 30000-32767 (Deployment shop/web)",
			"net.ipv4.ip_local_port_range=30000 60999 (initContainer sysctl of Deployment shop/web)"),
		with(affected("Deployment shop/web-args"), "",
			"net.ipv4.ip_local_port_range=30000 60999 (container app of Deployment shop/web-args)"),
		affected("Deployment shop/web-argv"),
		affected("Deployment shop/web-no-w"),
		affected("Deployment shop/web-quoted-key"),
		affected("Deployment shop/web-tee"),
		with(undecided("Deployment shop/web-env"),
			`sets net.ipv4.ip_local_port_range to "$PORT_RANGE", which is not two port numbers (Deployment shop/web-env)`, ""),
		notAffected("Deployment shop/web-safe"),
		with(notAffected("Deployment shop/web-reader"), "does not set net.ipv4.ip_local_port_range in any Pod or workload", ""),
		with(affected("StatefulSet db/postgres"), "",
			"net.ipv4.ip_local_port_range=30000 60999 (initContainer tune of StatefulSet db/postgres)"),
		with(affected("DaemonSet kube-system/node-tuning"),
			"sets net.ipv4.ip_local_port_range to 32000 60999, overlapping 30000-32767 (DaemonSet kube-system/node-tuning)",
			"net.ipv4.ip_local_port_range=32000 60999 (container tune of DaemonSet kube-system/node-tuning)"),
		with(affected("ReplicaSet batch/worker-7c9d8f6b5"), "",
			"net.ipv4.ip_local_port_range=32000 60999 (initContainer ports of ReplicaSet batch/worker-7c9d8f6b5)"),
		with(affected("Job batch/tune-ports"), "",
			"net.ipv4.ip_local_port_range=32000 60999 (container tune of Job batch/tune-ports)"),
		with(affected("CronJob batch/retune"), "",
			"net.ipv4.ip_local_port_range=30000 60999 (container retune of CronJob batch/retune)"),
		affected("Job batch/slash-sh"),
		with(undecided("Job batch/heredoc"),
			`sets net.ipv4.ip_local_port_range to "cat <<EOF", which is not two port numbers (Job batch/heredoc)`, ""),

		// Several objects.
		{
			name: "affected wins over undecided", objects: []string{"Deployment shop/web", "Pod shop/sysctl-garbage", "Pod shop/sysctl-32768"},
			outcome: catalog.Affected, want: []string{"Deployment shop/web"},
		},
		{
			name: "two affected", objects: []string{"Deployment shop/web", "Pod shop/sysctl-30000", "Pod shop/sysctl-1024-29999"}, outcome: catalog.Affected,
			reason: "sets net.ipv4.ip_local_port_range to a range overlapping 30000-32767 in 2 objects (Deployment shop/web, Pod shop/sysctl-30000)",
			want:   []string{"Deployment shop/web", "Pod shop/sysctl-30000"},
		},
		{
			name: "two undecided", objects: []string{"Pod shop/sysctl-garbage", "Deployment shop/web-env", "Deployment shop/web-safe"}, outcome: catalog.Undecided,
			reason: `sets net.ipv4.ip_local_port_range to values that are not two port numbers, such as "$PORT_RANGE", in 2 objects (Deployment shop/web-env, Pod shop/sysctl-garbage)`,
			want:   []string{"Deployment shop/web-env", "Pod shop/sysctl-garbage"},
		},
		{
			name: "two outside", objects: []string{"Pod shop/sysctl-32768", "Deployment shop/web-safe"}, outcome: catalog.NotAffected,
			reason: "sets net.ipv4.ip_local_port_range only outside 30000-32767, in 2 objects (Deployment shop/web-safe, Pod shop/sysctl-32768)",
		},
		{
			name: "whole file", objects: []string{}, outcome: catalog.Affected, count: 18,
			want: []string{
				"CronJob batch/retune", "DaemonSet kube-system/node-tuning",
				"Deployment shop/web", "Deployment shop/web-args", "Deployment shop/web-argv", "Deployment shop/web-no-w",
				"Deployment shop/web-quoted-key", "Deployment shop/web-tee",
				"Job batch/slash-sh", "Job batch/tune-ports",
				"Pod shop/sysctl-1024-30000", "Pod shop/sysctl-30000", "Pod shop/sysctl-32767", "Pod shop/sysctl-slash",
				"Pod shop/sysctl-spaces", "Pod shop/sysctl-tab",
				"ReplicaSet batch/worker-7c9d8f6b5", "StatefulSet db/postgres",
			},
		},
		{name: "empty cluster", outcome: catalog.NotAffected, reason: "does not set net.ipv4.ip_local_port_range in any Pod or workload"},
	})
}

func TestNetworkPolicyEndPort(t *testing.T) {
	runCases(t, "DPV2-NETPOL-ENDPORT", "networkpolicies.json", []ruleCase{
		{
			name: "ingress endPort", objects: []string{"NetworkPolicy shop/allow-range"}, outcome: catalog.Affected,
			reason: "has a NetworkPolicy whose ingress port 32000-32768/TCP uses endPort (NetworkPolicy shop/allow-range)",
			want:   []string{"NetworkPolicy shop/allow-range"},
			sample: "shop/allow-range: ingress port 32000-32768/TCP",
		},
		{
			name: "egress endPort", objects: []string{"NetworkPolicy shop/egress-range"}, outcome: catalog.Affected,
			reason: "has a NetworkPolicy whose egress port 5000-5100/UDP uses endPort (NetworkPolicy shop/egress-range)",
			want:   []string{"NetworkPolicy shop/egress-range"},
			sample: "shop/egress-range: egress port 5000-5100/UDP",
		},
		{
			name: "only in last-applied-configuration", objects: []string{"NetworkPolicy shop/dropped-range"}, outcome: catalog.Affected,
			reason: "has a NetworkPolicy whose ingress port 32000-32768/TCP uses endPort in its last-applied-configuration, though the stored spec has none (NetworkPolicy shop/dropped-range)",
			want:   []string{"NetworkPolicy shop/dropped-range"},
			sample: "shop/dropped-range: ingress port 32000-32768/TCP (in last-applied-configuration; the stored spec has no endPort)",
		},
		{
			name: "neither", objects: []string{"NetworkPolicy shop/plain"}, outcome: catalog.NotAffected,
			reason: "has 1 NetworkPolicy, none of which uses endPort",
		},
		{name: "malformed annotation is ignored", objects: []string{"NetworkPolicy shop/malformed"}, outcome: catalog.NotAffected},
		{
			name: "malformed annotation, endPort in spec", objects: []string{"NetworkPolicy shop/malformed-spec-range"}, outcome: catalog.Affected,
			want: []string{"NetworkPolicy shop/malformed-spec-range"},
		},
		{
			name: "no endPort anywhere", objects: []string{"NetworkPolicy shop/plain", "NetworkPolicy shop/malformed", "NetworkPolicy default/default-deny"}, outcome: catalog.NotAffected,
			reason: "has 3 NetworkPolicies, none of which uses endPort",
		},
		{
			name: "whole file", objects: []string{}, outcome: catalog.Affected,
			reason: "has 4 NetworkPolicies that use endPort, 1 of them only in the last-applied-configuration (shop/allow-range, shop/dropped-range, shop/egress-range and 1 more)",
			want:   []string{"NetworkPolicy shop/allow-range", "NetworkPolicy shop/dropped-range", "NetworkPolicy shop/egress-range", "NetworkPolicy shop/malformed-spec-range"},
			sample: "shop/allow-range: ingress port 32000-32768/TCP",
		},
		{name: "empty cluster", outcome: catalog.NotAffected, reason: "has no NetworkPolicy"},
	})
}

func TestImageVersion(t *testing.T) {
	const sha = "@sha256:5c3b9a6f0e1d2c4b8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a291"
	for _, tc := range []struct {
		image string
		want  string // MAJOR.MINOR, or "" when unreadable or another image
		why   string
	}{
		{image: "registry.k8s.io/networking/ip-masq-agent:v2.12.0", want: "2.12"},
		{image: "gke.gcr.io/ip-masq-agent:v2.12.6-gke.15" + sha, want: "2.12"},
		{image: "gke.gcr.io/ip-masq-agent:v2.9.3-v0.2.4-gke.5", want: "2.9"},
		{image: "ip-masq-agent:v2.10.1", want: "2.10"},
		{image: "ip-masq-agent:2.11", want: "2.11"},
		{image: "localhost:5000/ip-masq-agent:v2.11.0", want: "2.11"},
		{image: "localhost:5000/ip-masq-agent", why: "it has no tag"},
		{image: "registry.k8s.io/networking/ip-masq-agent" + sha, why: "it is pinned by digest only, without a tag"},
		{image: "registry.k8s.io/networking/ip-masq-agent:latest", why: `its tag "latest" is not a version`},
		{image: "registry.k8s.io/networking/ip-masq-agent", why: "it has no tag"},
		{image: "ip-masq-agent:v2", why: `its tag "v2" is not a version`},
		{image: "ip-masq-agent:v2.12rc1", why: `its tag "v2.12rc1" is not a version`},
		{image: "ip-masq-agent:v99999999999.1", why: `its tag "v99999999999.1" is not a version`},
		{image: "registry.k8s.io/networking/ip-masq-agent-foo:v2.12.0"},
		{image: "registry.k8s.io/ip-masq-agent/other:v2.12.0"},
	} {
		v, ok, why := imageVersion(tc.image, "ip-masq-agent")
		got := ""
		if ok {
			got = v.String()
		}
		if got != tc.want || why != tc.why {
			t.Errorf("imageVersion(%q) = %q, %q; want %q, %q", tc.image, got, why, tc.want, tc.why)
		}
	}
}

// TestEvaluateObjectsCut: Objects stops at 20, sorted, while Count and the
// Reason keep the whole number.
func TestEvaluateObjectsCut(t *testing.T) {
	o := testObjects(t, "ip-masq-agent.json", "DaemonSet kube-system/ip-masq-agent", "Service default/web")
	svc := o.Services[0]
	o.Services = nil
	for i := 24; i >= 0; i-- {
		s := *svc.DeepCopy()
		s.Name = fmt.Sprintf("svc-%02d", i)
		o.Services = append(o.Services, s)
	}
	v := Evaluate(check(t, "DPV2-NODEPORT-RANDOMFULLY"), o)
	if v.Outcome != catalog.Affected || v.Count != 26 || len(v.Objects) != 20 {
		t.Fatalf("Outcome %v, Count %d, %d Objects; want Affected, 26, 20", v.Outcome, v.Count, len(v.Objects))
	}
	if v.Objects[0] != "DaemonSet kube-system/ip-masq-agent" || v.Objects[19] != "Service default/svc-18" || !slices.IsSorted(v.Objects) {
		t.Errorf("Objects = %q", v.Objects)
	}
	const want = "runs ip-masq-agent 2.12.0 with random-fully on (DaemonSet kube-system/ip-masq-agent) and has NodePort or LoadBalancer Services (default/svc-00, default/svc-01, default/svc-02 and 22 more)"
	if v.Reason != want {
		t.Errorf("Reason\n got %q\nwant %q", v.Reason, want)
	}
	if want := "1 DaemonSet runs ip-masq-agent with random-fully on; 25 NodePort or LoadBalancer Services can collide with masqueraded source ports"; v.Summary != want {
		t.Errorf("Summary\n got %q\nwant %q", v.Summary, want)
	}
}

func TestEvaluateEdges(t *testing.T) {
	if v := Evaluate(&catalog.KubernetesCheck{Rule: "pod_disruption"}, &Objects{}); v.Outcome != catalog.Undecided ||
		v.Reason != `cannot be checked: fleetscan has no Kubernetes rule "pod_disruption"` {
		t.Errorf("unknown rule: %+v", v)
	}
	if v := Evaluate(check(t, "DPV2-NETPOL-ENDPORT"), nil); v.Outcome != catalog.NotAffected || v.Reason != "has no NetworkPolicy" {
		t.Errorf("nil objects: %+v", v)
	}
	if v := Evaluate(nil, &Objects{}); v.Outcome != catalog.Undecided {
		t.Errorf("nil check: %+v", v)
	}
	// The same pod spec in a Pod and in all its owners: every object is named.
	o := testObjects(t, "ephemeral-port-range.json", "Deployment shop/web")
	spec := o.Deployments[0].Spec.Template.Spec
	o.Pods = []corev1.Pod{{Spec: spec}}
	o.Pods[0].Namespace, o.Pods[0].Name = "shop", "web-5d9c7b8f6-x2x7p"
	o.ReplicaSets = []appsv1.ReplicaSet{{Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: spec}}}}
	o.ReplicaSets[0].Namespace, o.ReplicaSets[0].Name = "shop", "web-5d9c7b8f6"
	v := Evaluate(check(t, "DPV2-NODEPORT-EPHEMERAL"), o)
	want := []string{"Deployment shop/web", "Pod shop/web-5d9c7b8f6-x2x7p", "ReplicaSet shop/web-5d9c7b8f6"}
	if v.Outcome != catalog.Affected || !slices.Equal(v.Objects, want) || v.Count != 3 {
		t.Errorf("owners: %v %q %d; want Affected %q 3", v.Outcome, v.Objects, v.Count, want)
	}
}

// An agent's logged version and flags are decided by the DaemonSet rule's
// own code: the version as an image tag, the flags as container args.
func TestAgentRandomFully(t *testing.T) {
	k := check(t, "DPV2-NODEPORT-RANDOMFULLY")
	for _, tc := range []struct {
		name    string
		version string
		args    []string
		on      bool
		why     string
	}{
		{"2.12 default flags", "v2.12.0", []string{"--random-fully=true"}, true,
			"ip-masq-agent v2.12.0 started with random-fully on"},
		{"2.9 is below 2.10", "v2.9.3", nil, false,
			"ip-masq-agent v2.9.3 started below 2.10, the first version with random-fully on by default"},
		{"2.10 without the flag", "v2.10.1", nil, true,
			"ip-masq-agent v2.10.1 started with random-fully on"},
		{"2.10 ignores false", "v2.10.0", []string{"--random-fully=false"}, true,
			"ip-masq-agent v2.10.0 started with random-fully on, which --random-fully=false cannot turn off before 2.11"},
		{"2.11 false", "v2.11.0", []string{"--random-fully=false"}, false,
			"ip-masq-agent v2.11.0 started with random-fully off by --random-fully=false"},
		{"2.11 true", "v2.11.0", []string{"--random-fully=true"}, true,
			"ip-masq-agent v2.11.0 started with random-fully on"},
		{"2.11 ignores to-ports", "v2.11.0", []string{"--random-fully=true", "--to-ports=20000-29999"}, true,
			"ip-masq-agent v2.11.0 started with random-fully on"},
		{"2.12 to-ports outside", "v2.12.0", []string{"--random-fully=true", "--to-ports=20000-29999"}, false,
			"ip-masq-agent v2.12.0 started with random-fully off by --to-ports=20000-29999, outside 30000-32767"},
		{"2.12 to-ports overlapping", "v2.12.0", []string{"--random-fully=true", "--to-ports=29000-30500"}, true,
			"ip-masq-agent v2.12.0 started with random-fully on"},
		{"2.12 the last flag counts", "v2.12.0", []string{"--random-fully=false", "--random-fully=true"}, true,
			"ip-masq-agent v2.12.0 started with random-fully on"},
		{"GKE build", "v2.12.6-gke.15", []string{"--random-fully=true"}, true,
			"ip-masq-agent v2.12.6-gke.15 started with random-fully on"},
		{"no v", "2.11.0", []string{"--random-fully=0"}, false,
			"ip-masq-agent 2.11.0 started with random-fully off by --random-fully=0"},

		// Versions that cannot be read: only the flag decides, and only on.
		{"latest with the flag true", "latest", []string{"--random-fully=true"}, true,
			"ip-masq-agent of unknown version started with random-fully on by --random-fully=true, a flag that no agent below 2.10 has"},
		{"not logged, flag true", "", []string{"--random-fully=true"}, true,
			"ip-masq-agent of unknown version started with random-fully on by --random-fully=true, a flag that no agent below 2.10 has"},
		{"unknown, flag false", "latest", []string{"--random-fully=false"}, false,
			"ip-masq-agent of unknown version started with --random-fully=false, so random-fully cannot be decided"},
		{"unknown, to-ports outside", "dev", []string{"--random-fully=true", "--to-ports=20000-29999"}, false,
			"ip-masq-agent of unknown version started with --random-fully=true --to-ports=20000-29999, so random-fully cannot be decided"},
		{"unknown, no flag", "v2", nil, false,
			"ip-masq-agent of unknown version started without a --random-fully flag, so random-fully cannot be decided"},
		{"a version that is no tag", "v2.12.0/evil:x", []string{"--random-fully=true"}, true,
			"ip-masq-agent of unknown version started with random-fully on by --random-fully=true, a flag that no agent below 2.10 has"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			on, why := AgentRandomFully(k, tc.version, tc.args)
			if on != tc.on || why != tc.why {
				t.Errorf("AgentRandomFully(%q, %q) = %v, %q; want %v, %q", tc.version, tc.args, on, why, tc.on, tc.why)
			}
		})
	}
}

// Every DaemonSet of the rule's test file with a readable version is
// decided the same from what its agent would log: its tag and its words.
func TestAgentRandomFullyMatchesDaemonSets(t *testing.T) {
	k := check(t, "DPV2-NODEPORT-RANDOMFULLY")
	o := testObjects(t, "ip-masq-agent.json")
	compared := 0
	for i := range o.DaemonSets {
		ds := &o.DaemonSets[i]
		a, ok := masqAgentOf(k, ds.Namespace+"/"+ds.Name, &ds.Spec.Template.Spec)
		cs := allContainers(&ds.Spec.Template.Spec)
		if !ok || a.state == masqUnknown || len(cs) != 1 {
			continue
		}
		on, why := AgentRandomFully(k, imageTag(cs[0].Image), commandLine(cs[0]))
		if on != (a.state == masqOn) {
			t.Errorf("%s: AgentRandomFully = %v (%s), the DaemonSet rule says %q", a.name, on, why, a.desc)
		}
		compared++
	}
	if compared < 20 {
		t.Errorf("compared %d DaemonSets, want the file's 20 or more", compared)
	}
}

// TestPortRangeWritesCompiledOnce: the check's regexps are compiled once
// per sysctl name (the check runs on every object a scan reads), and each
// name gets its own.
func TestPortRangeWritesCompiledOnce(t *testing.T) {
	a, b := portRangeWritesOf("net.ipv4.ip_local_port_range"), portRangeWritesOf("net.ipv4.ip_local_reserved_ports")
	if again := portRangeWritesOf("net.ipv4.ip_local_port_range"); again.sysctl != a.sysctl || again.proc != a.proc {
		t.Error("the same sysctl was compiled twice")
	}
	for _, tc := range []struct {
		w    portRangeWrites
		line string
		want bool
	}{
		{a, "sysctl -w net.ipv4.ip_local_port_range=30000", true},
		{a, "sysctl -w net.ipv4.ip_local_reserved_ports=30000", false},
		{b, "sysctl -w net.ipv4.ip_local_reserved_ports=30000", true},
		{b, "echo 30000 > /proc/sys/net/ipv4/ip_local_port_range", false},
		{a, "echo 30000 > /proc/sys/net/ipv4/ip_local_port_range", true},
	} {
		if got := tc.w.sysctl.MatchString(tc.line) || tc.w.proc.MatchString(tc.line); got != tc.want {
			t.Errorf("%s on %q: matched %v, want %v", tc.w.sysctl, tc.line, got, tc.want)
		}
	}
}

// podTemplateKinds, the kinds the ephemeral-port needles stand for, are
// the asset kinds Objects.PodTemplates reads: a kind added to one list and
// not the other would be skipped unread, or decoded for nothing.
func TestPodTemplateKinds(t *testing.T) {
	var read []string
	for _, k := range assetKinds {
		var o Objects
		if err := o.addKind(k.kind, []byte(`{"metadata":{"name":"x","namespace":"y"}}`)); err != nil {
			t.Fatalf("%s: %v", k.kind, err)
		}
		o.PodTemplates(func(kind, _ string, _ *corev1.PodSpec) { read = append(read, kind) })
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(podTemplateKinds)), slices.Sorted(slices.Values(read))); diff != "" {
		t.Errorf("podTemplateKinds are not the kinds PodTemplates reads (-needles +PodTemplates):\n%s", diff)
	}
}
