package fleetgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/test/testkit"
)

// shapeOptions is the fleet of the KubeShape tests: 40 clusters, so that
// padding them to TypicalCluster (about 19,000 objects) takes a second.
var shapeOptions = Options{Clusters: 40, Projects: 8, Seed: 21, Kube: true}

// shapeFleets are that fleet without padding and padded to TypicalCluster,
// generated once for the tests that share them.
var shapeFleets = sync.OnceValues(func() ([2]*Fleet, error) {
	plain, err := Generate(shapeOptions)
	if err != nil {
		return [2]*Fleet{}, err
	}
	opt := shapeOptions
	opt.KubeShape = &TypicalCluster
	padded, err := Generate(opt)
	return [2]*Fleet{plain, padded}, err
})

func plainAndTypical(t *testing.T) (plain, padded *Fleet) {
	t.Helper()
	f, err := shapeFleets()
	if err != nil {
		t.Fatal(err)
	}
	return f[0], f[1]
}

// shapeOf counts a cluster's objects as KubeShape does.
func shapeOf(objs []KubeObject) KubeShape {
	var s KubeShape
	for _, o := range objs {
		switch o.Kind {
		case "DaemonSet":
			s.DaemonSets++
		case "Service":
			s.Services++
		case "NetworkPolicy":
			s.NetworkPolicies++
		case "Pod":
			s.Pods++
		case "Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob":
			s.Workloads++
		}
	}
	return s
}

func objectKey(o KubeObject) string { return o.AssetType + " " + o.Namespace + "/" + o.Name }

// Padding brings every kind up to the shape exactly, and leaves a kind
// the cluster already has as many of, or more, as it is; the objects are
// what kubectl prints, sorted, one of each kind and namespace/name, and
// every ownerReference names an object of the cluster.
func TestKubeShapeCounts(t *testing.T) {
	plain, typical := plainAndTypical(t)
	shapes := []KubeShape{
		TypicalCluster,
		{DaemonSets: 1, Services: 4, NetworkPolicies: 2, Workloads: 5, Pods: 2}, // some clusters over, some under
		{Workloads: 3, Pods: 10},          // Pods beyond the padding workloads' replicas
		{DaemonSets: 3, Pods: 40},         // Pods on every node, then Pods of their own
		{Services: 3, NetworkPolicies: 4}, // no padding workload to select
	}
	for si, shape := range shapes {
		t.Run(fmt.Sprintf("%+v", shape), func(t *testing.T) {
			f := typical
			if si > 0 {
				opt := shapeOptions
				opt.KubeShape = &shape
				var err error
				if f, err = Generate(opt); err != nil {
					t.Fatal(err)
				}
			}
			var under, over [5]int // clusters below and above the shape, by kind
			for i, c := range f.Clusters {
				key := KubeKey(c)
				before, after := shapeOf(plain.Kube[key]), shapeOf(f.Kube[key])
				b := [5]int{before.DaemonSets, before.Services, before.NetworkPolicies, before.Workloads, before.Pods}
				a := [5]int{after.DaemonSets, after.Services, after.NetworkPolicies, after.Workloads, after.Pods}
				s := [5]int{shape.DaemonSets, shape.Services, shape.NetworkPolicies, shape.Workloads, shape.Pods}
				for j := range s {
					switch {
					case b[j] < s[j]:
						under[j]++
					case b[j] > s[j]:
						over[j]++
					}
					if a[j] != max(b[j], s[j]) {
						t.Fatalf("cluster %d %s: %+v before padding, %+v after; want %+v padded to %+v", i, key, before, after, before, shape)
					}
				}
				checkCluster(t, key, f.Kube[key], f)
			}
			if si == 0 && under != [5]int{len(f.Clusters), len(f.Clusters), len(f.Clusters), len(f.Clusters), len(f.Clusters)} {
				t.Errorf("clusters below TypicalCluster by kind (DaemonSets, Services, NetworkPolicies, Workloads, Pods): %v of %d; want all", under, len(f.Clusters))
			}
			if si == 1 {
				for j, n := range []string{"DaemonSets", "Services", "NetworkPolicies", "Workloads"} {
					if under[j] == 0 || over[j] == 0 {
						t.Errorf("%s: %d clusters below %+v, %d above; want some of each", n, under[j], shape, over[j])
					}
				}
			}
		})
	}
}

// checkCluster checks one cluster's objects: each as kubectl prints it,
// sorted by asset type then namespace/name without repeats, and every
// ownerReference resolving to an object of the cluster with that UID.
func checkCluster(t *testing.T, key string, objs []KubeObject, f *Fleet) {
	t.Helper()
	uids := map[string]string{} // "Kind namespace/name" → uid
	type owner struct{ Kind, Name, UID string }
	owners := map[string][]owner{} // by the owned object's key
	for j, o := range objs {
		checkObject(t, key, o, f.Now)
		if j > 0 && objectKey(objs[j-1]) >= objectKey(o) {
			t.Fatalf("cluster %s: %s before %s: not sorted, or twice", key, objectKey(objs[j-1]), objectKey(o))
		}
		var m struct {
			Metadata struct {
				UID             string
				OwnerReferences []owner `json:"ownerReferences"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(o.JSON, &m); err != nil {
			t.Fatal(err)
		}
		uids[o.Kind+" "+o.Namespace+"/"+o.Name] = m.Metadata.UID
		owners[objectKey(o)] = m.Metadata.OwnerReferences
	}
	for _, o := range objs {
		for _, r := range owners[objectKey(o)] {
			if uid, ok := uids[r.Kind+" "+o.Namespace+"/"+r.Name]; !ok || uid != r.UID {
				t.Fatalf("cluster %s: %s is owned by %s %s (uid %s), which the cluster does not have (uid %q)", key, objectKey(o), r.Kind, r.Name, r.UID, uid)
			}
		}
	}
}

// Padding changes nothing but adds objects: the same seed gives the same
// folders, projects, clusters and events with or without KubeShape, every
// object of the unpadded fleet is in the padded one byte for byte, and
// the padding is the same every time.
func TestKubeShapeKeepsTheFleet(t *testing.T) {
	plain, padded := plainAndTypical(t)
	sameFleet(t, plain, padded, "KubeShape")
	if len(plain.Kube) != len(padded.Kube) {
		t.Fatalf("Kube has %d clusters without KubeShape, %d with it", len(plain.Kube), len(padded.Kube))
	}
	opt := shapeOptions
	opt.KubeShape = &TypicalCluster
	again, err := Generate(opt)
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for key, objs := range plain.Kube {
		byKey := map[string]KubeObject{}
		for _, o := range padded.Kube[key] {
			byKey[objectKey(o)] = o
		}
		for _, o := range objs {
			p, ok := byKey[objectKey(o)]
			if !ok {
				t.Fatalf("cluster %s: %s is not in the padded fleet", key, objectKey(o))
			}
			if p.APIVersion != o.APIVersion || p.Kind != o.Kind || !bytes.Equal(p.JSON, o.JSON) {
				t.Fatalf("cluster %s: %s differs with KubeShape:\n%s\nwithout it:\n%s", key, objectKey(o), p.JSON, o.JSON)
			}
			kept++
		}
		other := again.Kube[key]
		if len(other) != len(padded.Kube[key]) {
			t.Fatalf("cluster %s: %d padded objects, then %d with the same seed", key, len(padded.Kube[key]), len(other))
		}
		for j, o := range padded.Kube[key] {
			if objectKey(o) != objectKey(other[j]) || !bytes.Equal(o.JSON, other[j].JSON) {
				t.Fatalf("cluster %s: padded object %d (%s) differs between two runs with the same seed", key, j, objectKey(o))
			}
		}
	}
	t.Logf("%d objects without padding, all kept as they are", kept)
}

// Padding changes no verdict: every cluster's in-cluster results, evidence
// included (Summary, Count, Sample), are the same with and without it, as
// the dump alone decides them and as --kube-objects (LoadDumps) does; and
// no padding object is of a form the checks look for.
func TestKubeShapeChangesNoVerdict(t *testing.T) {
	plain, padded := plainAndTypical(t)
	cat := testkit.Catalog(t)
	ids := []string{"DPV2-NODEPORT-RANDOMFULLY", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NETPOL-ENDPORT"}
	for _, id := range ids {
		if is := cat.Issue(id); is == nil || is.Kubernetes == nil {
			t.Fatalf("catalog has no Kubernetes check %s", id)
		}
	}
	dir := filepath.Join(t.TempDir(), "kube")
	if err := padded.WriteKubeDumps(dir); err != nil {
		t.Fatal(err)
	}
	dumps, err := kube.LoadDumps(dir)
	if err != nil {
		t.Fatal(err)
	}
	decided := map[string]map[scanner.Status]int{}
	for i, c := range plain.Clusters {
		key := clusterKey(plain, i)
		list, err := KubeListJSON(plain.Kube[key.String()])
		if err != nil {
			t.Fatal(err)
		}
		var o kube.Objects
		if err := kube.ReadDump(key.String(), list, &o); err != nil {
			t.Fatal(err)
		}
		want := kube.Decide(cat.Issues, &o)
		sc := &scanner.Cluster{ProjectID: key.ProjectID, Location: key.Location, Name: key.Name}
		got, covered, err := dumps.Check(context.Background(), sc, cat.Issues)
		if err != nil || !covered {
			t.Fatalf("cluster %s: Check of the padded dump: covered %v, err %v", key, covered, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("cluster %s (%s): padding changes the results (-without +with):\n%s", key, c.GetNetworkConfig().GetDatapathProvider(), diff)
		}
		for _, r := range want {
			if decided[r.IssueID] == nil {
				decided[r.IssueID] = map[scanner.Status]int{}
			}
			decided[r.IssueID][r.Status]++
		}
		checkBenign(t, key.String(), plain.Kube[key.String()], padded.Kube[key.String()])
	}
	// The comparison means something: each check affects some clusters.
	for _, id := range ids {
		if decided[id][scanner.Affected] == 0 {
			t.Errorf("%s: no cluster of the %d is affected without padding (%v), so padding is not shown to keep it", id, len(plain.Clusters), decided[id])
		}
	}
	t.Logf("results without padding: %v", decided)
}

// checkBenign checks the padding objects themselves (those of padded that
// plain does not have): ClusterIP Services, no ip-masq-agent image, no
// ip_local_port_range, no endPort, not even in an annotation.
func checkBenign(t *testing.T, key string, plain, padded []KubeObject) {
	t.Helper()
	regular := map[string]bool{}
	for _, o := range plain {
		regular[objectKey(o)] = true
	}
	for _, o := range padded {
		if regular[objectKey(o)] {
			continue
		}
		s := string(o.JSON)
		for _, form := range []string{"ip-masq-agent", "ip_local_port_range", "ip_local_port", "sysctl", "endPort", "NodePort", "LoadBalancer\""} {
			if strings.Contains(s, form) {
				t.Fatalf("cluster %s: padding %s has %q: %s", key, objectKey(o), form, s)
			}
		}
		if o.Kind == "Service" {
			var svc corev1.Service
			if err := json.Unmarshal(o.JSON, &svc); err != nil || svc.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Fatalf("cluster %s: padding %s is of type %q (%v), want ClusterIP", key, objectKey(o), svc.Spec.Type, err)
			}
		}
	}
}

// sortedJSON, the reordering of bytes that add uses, prints what the
// round trip through a map prints, for every object of a padded fleet (as
// json.Marshal prints its typed value) and for inputs it must refuse.
func TestSortedJSON(t *testing.T) {
	_, padded := plainAndTypical(t)
	types := map[string]func() any{
		"DaemonSet": func() any { return new(appsv1.DaemonSet) }, "Deployment": func() any { return new(appsv1.Deployment) },
		"StatefulSet": func() any { return new(appsv1.StatefulSet) }, "ReplicaSet": func() any { return new(appsv1.ReplicaSet) },
		"Job": func() any { return new(batchv1.Job) }, "CronJob": func() any { return new(batchv1.CronJob) },
		"Pod": func() any { return new(corev1.Pod) }, "Service": func() any { return new(corev1.Service) },
		"NetworkPolicy": func() any { return new(networkingv1.NetworkPolicy) },
	}
	n := 0
	for i, c := range padded.Clusters {
		for j, o := range padded.Kube[KubeKey(c)] {
			if i >= 3 && j%20 != 0 { // every object of 3 clusters, a twentieth of the others'
				continue
			}
			v := types[o.Kind]()
			if err := json.Unmarshal(o.JSON, v); err != nil {
				t.Fatal(err)
			}
			v.(runtime.Object).GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{}) // as add has it
			typed, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := sortedJSON(typed, o.APIVersion, o.Kind)
			want, err := kubectlJSONMap(typed, o.APIVersion, o.Kind, nil)
			if !ok || err != nil || !bytes.Equal(got, want) || !bytes.Equal(got, o.JSON) {
				t.Fatalf("%s: sortedJSON ok %v:\n%s\nthe map round trip (%v):\n%s\nthe fleet:\n%s", objectKey(o), ok, got, err, want, o.JSON)
			}
			n++
		}
	}
	t.Logf("%d objects", n)

	for _, c := range []struct {
		in string
		ok bool
	}{
		{`{"b":{"z":[1,{"y":null,"x":"a\"}b"}],"a":true},"a":[],"c":{}}`, true},
		{`{"s":"\\","t":"\\\"","u":"\u003c\u2028é","n":-1.5e3}`, true},
		{`{}`, true},
		{`{"k\u0065y":1}`, false}, // an escaped key: the map compares it unescaped
		{`{"a":1,"a":2}`, false},  // a repeated key
		{`{"kind":"Pod"}`, false}, // kind is already set
		{`{"a":1`, false},         // not JSON
		{`{"a": 1}`, false},       // not compact
		{`["a"]`, false},          // not an object
		{`{"a":"b}`, false},       // an unterminated string
		{`{"b":1,"a":{"d":1,"d":2}}`, false},
	} {
		got, ok := sortedJSON([]byte(c.in), "v1", "Pod")
		if ok != c.ok {
			t.Errorf("sortedJSON(%s): ok %v, want %v (%s)", c.in, ok, c.ok, got)
			continue
		}
		if !ok {
			continue
		}
		want, err := kubectlJSONMap([]byte(c.in), "v1", "Pod", nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("sortedJSON(%s) = %s, the map round trip %s (%v)", c.in, got, want, err)
		}
	}
}

// BenchmarkTypicalCluster generates 1,000 clusters padded to
// TypicalCluster (480,000 objects): go test -run X -bench TypicalCluster
// ./test/fleetgen/.
func BenchmarkTypicalCluster(b *testing.B) {
	for b.Loop() {
		f, err := Generate(Options{Clusters: 1000, Projects: 100, Seed: 1, Kube: true, KubeShape: &TypicalCluster})
		if err != nil {
			b.Fatal(err)
		}
		objects, size := 0, 0
		for _, objs := range f.Kube {
			objects += len(objs)
			for _, o := range objs {
				size += len(o.JSON)
			}
		}
		b.ReportMetric(float64(objects), "objects")
		b.ReportMetric(float64(size)/1e6, "MB-of-JSON")
	}
}
