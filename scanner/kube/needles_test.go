package kube_test

import (
	"encoding/json"
	"testing"

	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/test/fleetgen"
)

// needleEdges are objects a check reads in ways the rules' fixtures spell
// rarely: each must be kept, so its needles must be found.
var needleEdges = []string{
	`{"kind":"Service","metadata":{"name":"lb","namespace":"shop"},"spec":{"type":"LoadBalancer"}}`,
	`{"kind":"Pod","metadata":{"name":"slash","namespace":"shop"},"spec":{"securityContext":{"sysctls":[{"name":"net/ipv4/ip_local_port_range","value":"30000 60999"}]},"containers":[{"name":"a","image":"busybox"}]}}`,
	`{"kind":"CronJob","metadata":{"name":"proc","namespace":"shop"},"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"busybox","command":["sh","-c","echo 30000 60999 | tee /proc/sys/net/ipv4/ip_local_port_range"]}]}}}}}}`,
	`{"kind":"DaemonSet","metadata":{"name":"masq","namespace":"kube-system"},"spec":{"template":{"spec":{"initContainers":[{"name":"a","image":"registry.example:5000/mirror/ip-masq-agent@sha256:0000000000000000000000000000000000000000000000000000000000000000"}]}}}}`,
	`{"kind":"NetworkPolicy","metadata":{"name":"applied","namespace":"shop","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"applied\",\"namespace\":\"shop\"},\"spec\":{\"egress\":[{\"ports\":[{\"port\":32000,\"\\u0065ndPort\":32768}]}],\"podSelector\":{}}}"}},"spec":{"podSelector":{},"egress":[{"ports":[{"port":32000}]}]}}`,
}

// TestNeedlesSound: every object the codec would skip (its data holds
// none of its kind's needles) is one matters drops once decoded, for the
// generated fleets' objects (typical padding included), the bundled
// kubectl dumps, the rules' fixtures and the edges. The skipped must be
// most of a typical cluster's objects, or the needles save nothing.
func TestNeedlesSound(t *testing.T) {
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	checks := cat.KubernetesChecks()
	type object struct {
		from string
		json []byte
	}
	var corpus []object
	shape := fleetgen.TypicalCluster
	for _, opt := range []fleetgen.Options{
		{Clusters: 120, Projects: 24, Seed: 11, Kube: true},
		{Clusters: 4, Projects: 2, Seed: 5, Kube: true, KubeShape: &shape},
	} {
		fleet, err := fleetgen.Generate(opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, objs := range fleet.Kube {
			for _, o := range objs {
				corpus = append(corpus, object{"a generated cluster", o.JSON})
			}
		}
	}
	for _, pattern := range []string{"../../testdata/demo/kube/*.json", "testdata/rules/*.json"} {
		for _, it := range listItems(t, pattern) {
			corpus = append(corpus, object{it.file, it.raw})
		}
	}
	for _, e := range needleEdges {
		corpus = append(corpus, object{"the edges", []byte(e)})
	}

	kept, skipped := map[string]int{}, map[string]int{}
	for _, o := range corpus {
		var m map[string]any
		if err := json.Unmarshal(o.json, &m); err != nil {
			t.Fatal(err)
		}
		kind, _ := m["kind"].(string)
		delete(m, "kind") // as Cloud Asset Inventory gives it
		delete(m, "apiVersion")
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		skip, keep, err := kube.Needled(kind, structOf(t, b), checks)
		if err != nil {
			t.Fatalf("%s: %s does not decode: %v", o.from, o.json, err)
		}
		if skip && keep {
			t.Fatalf("%s: an object that matters holds none of the needles of its kind:\n%s", o.from, o.json)
		}
		if keep {
			kept[kind]++
		}
		if skip {
			skipped[kind]++
		}
	}
	for _, kind := range []string{"Service", "NetworkPolicy", "DaemonSet", "Pod", "Deployment", "CronJob"} {
		if kept[kind] == 0 {
			t.Errorf("no %s in the corpus matters: the needles of its kind are not exercised", kind)
		}
	}
	total := 0
	for _, n := range skipped {
		total += n
	}
	if total < len(corpus)/2 {
		t.Errorf("%d of %d objects skipped: want most", total, len(corpus))
	}
	t.Logf("%d objects; kept %v; skipped %v", len(corpus), kept, skipped)

	// A rule the needles do not know reads every object.
	other := append(checks[:len(checks):len(checks)], &catalog.KubernetesCheck{Rule: "another_rule"})
	if skip, _, err := kube.Needled("Pod", structOf(t, []byte(`{"metadata":{"name":"p"}}`)), other); err != nil || skip {
		t.Errorf("with a rule the needles do not know, a Pod is skipped (%v, %v)", skip, err)
	}
}

// FuzzNeedlesSound: for any JSON object of each kind, an object the codec
// would skip is one matters drops.
func FuzzNeedlesSound(f *testing.F) {
	for _, e := range needleEdges {
		f.Add([]byte(e))
	}
	cat, err := catalog.Embedded()
	if err != nil {
		f.Fatal(err)
	}
	checks := cat.KubernetesChecks()
	f.Fuzz(func(t *testing.T, raw []byte) {
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		delete(m, "kind")
		delete(m, "apiVersion")
		b, err := json.Marshal(m)
		if err != nil {
			return
		}
		data := structOf(t, b)
		for _, kind := range []string{"Service", "NetworkPolicy", "DaemonSet", "Pod", "Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob"} {
			skip, keep, err := kube.Needled(kind, data, checks)
			if err == nil && skip && keep {
				t.Fatalf("a %s that matters holds none of its kind's needles: %s", kind, b)
			}
		}
	})
}
