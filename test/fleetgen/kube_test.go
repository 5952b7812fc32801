package fleetgen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/kube"
)

func kubeFleet(t *testing.T, opt Options) *Fleet {
	t.Helper()
	opt.Kube = true
	f, err := Generate(opt)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func clusterKey(f *Fleet, i int) scanner.ClusterKey {
	c := f.Clusters[i]
	return scanner.ClusterKey{ProjectID: projectOfSelfLink(c.GetSelfLink()), Location: c.GetLocation(), Name: c.GetName()}
}

// Options.Kube adds objects and changes nothing else: the same seed gives
// the same folders, projects, clusters and events with or without it, and
// the same objects every time.
func TestKubeKeepsTheFleet(t *testing.T) {
	opt := Options{Clusters: 300, Projects: 40, Seed: 5}
	plain, err := Generate(opt)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Kube != nil {
		t.Fatalf("Kube = %d clusters without Options.Kube, want nil", len(plain.Kube))
	}
	withKube, again := kubeFleet(t, opt), kubeFleet(t, opt)
	sameFleet(t, plain, withKube, "Options.Kube")
	plainFiles, kubeFiles := t.TempDir(), t.TempDir()
	for dir, f := range map[string]*Fleet{plainFiles: plain, kubeFiles: withKube} {
		if _, _, err := f.WriteFiles(dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"clusters.json", "logs.json"} {
		a, _ := os.ReadFile(filepath.Join(plainFiles, name))
		b, _ := os.ReadFile(filepath.Join(kubeFiles, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs with Options.Kube", name)
		}
	}

	if len(withKube.Kube) != len(withKube.Clusters) {
		t.Fatalf("Kube has %d clusters, want %d", len(withKube.Kube), len(withKube.Clusters))
	}
	for i, c := range withKube.Clusters {
		key := clusterKey(withKube, i).String()
		if KubeKey(c) != key {
			t.Fatalf("KubeKey = %q, want %q", KubeKey(c), key)
		}
		objs, ok := withKube.Kube[key]
		if !ok {
			t.Fatalf("cluster %s has no objects", key)
		}
		other := again.Kube[key]
		if len(objs) != len(other) {
			t.Fatalf("cluster %s: %d objects, then %d with the same seed", key, len(objs), len(other))
		}
		var kubernetes bool
		var systemPods int
		for j, o := range objs {
			if !bytes.Equal(o.JSON, other[j].JSON) || o.AssetType+o.Namespace+o.Name != other[j].AssetType+other[j].Namespace+other[j].Name {
				t.Fatalf("cluster %s: object %d differs between two runs with the same seed", key, j)
			}
			if j > 0 {
				prev := objs[j-1]
				if prev.AssetType > o.AssetType || prev.AssetType == o.AssetType && prev.Namespace+"/"+prev.Name >= o.Namespace+"/"+o.Name {
					t.Fatalf("cluster %s: %s %s/%s before %s %s/%s: not sorted by asset type then namespace/name", key, prev.AssetType, prev.Namespace, prev.Name, o.AssetType, o.Namespace, o.Name)
				}
			}
			kubernetes = kubernetes || o.Kind == "Service" && o.Namespace == "default" && o.Name == "kubernetes"
			if o.Kind == "Pod" && o.Namespace == "kube-system" {
				systemPods++
			}
			checkObject(t, key, o, withKube.Now)
		}
		if !kubernetes || systemPods < 2 {
			t.Fatalf("cluster %s: default/kubernetes Service %v, %d kube-system Pods; want it and at least 2", key, kubernetes, systemPods)
		}
	}
}

// checkObject checks that o is what kubectl prints: apiVersion and kind
// matching its fields, the metadata the API server sets, and a type that
// matches its Cloud Asset Inventory type.
func checkObject(t *testing.T, key string, o KubeObject, now time.Time) {
	t.Helper()
	var v struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name, Namespace, UID, ResourceVersion, CreationTimestamp string
		} `json:"metadata"`
		Status *json.RawMessage `json:"status"`
	}
	if err := json.Unmarshal(o.JSON, &v); err != nil {
		t.Fatalf("cluster %s: %s %s/%s: %v", key, o.Kind, o.Namespace, o.Name, err)
	}
	m := v.Metadata
	if created, err := time.Parse(time.RFC3339, m.CreationTimestamp); err != nil || !created.Before(now) {
		t.Fatalf("cluster %s: %s %s/%s created at %q, want RFC 3339 before %v", key, o.Kind, o.Namespace, o.Name, m.CreationTimestamp, now)
	}
	group, _, _ := strings.Cut(o.APIVersion, "/")
	if !strings.Contains(o.APIVersion, "/") {
		group = ""
	}
	wantType := strings.TrimPrefix(strings.TrimSuffix(group, ".k8s.io")+".k8s.io/", ".") + o.Kind
	if v.APIVersion != o.APIVersion || v.Kind != o.Kind || m.Name != o.Name || m.Namespace != o.Namespace ||
		len(m.UID) != 36 || m.ResourceVersion == "" || m.CreationTimestamp == "" || o.AssetType != wantType ||
		(o.Kind != "NetworkPolicy" && v.Status == nil) {
		t.Fatalf("cluster %s: object %+v has apiVersion %q, kind %q, metadata %+v, status %v; want asset type %q",
			key, KubeObject{AssetType: o.AssetType, APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}, v.APIVersion, v.Kind, m, v.Status != nil, wantType)
	}
}

// WriteKubeDumps writes what kube.LoadDumps reads: one kubectl List per
// cluster named after its kubeconfig context, with every object.
func TestWriteKubeDumps(t *testing.T) {
	f := kubeFleet(t, Options{Clusters: 80, Projects: 12, Seed: 9})
	dir := filepath.Join(t.TempDir(), "kube")
	if err := f.WriteKubeDumps(dir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != len(f.Clusters) {
		t.Fatalf("%d files in %s (%v), want %d", len(entries), dir, err, len(f.Clusters))
	}
	dumps, err := kube.LoadDumps(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.Clusters {
		key := clusterKey(f, i)
		path := filepath.Join(dir, kube.ContextName(key)+".json")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("cluster %s: %v", key, err)
		}
		var list struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Items      []json.RawMessage `json:"items"`
			Metadata   map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal(data, &list); err != nil || list.APIVersion != "v1" || list.Kind != "List" || list.Metadata["resourceVersion"] != "" || len(list.Metadata) != 1 {
			t.Fatalf("%s: not a kubectl List (%v): %.200s", path, err, data)
		}
		if !strings.HasPrefix(string(data), "{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n        {\n") {
			t.Errorf("%s is not indented as kubectl prints it: %.80q", path, data)
		}
		var o kube.Objects
		if err := kube.ReadDump(path, data, &o); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{
			"DaemonSet": len(o.DaemonSets), "Deployment": len(o.Deployments), "StatefulSet": len(o.StatefulSets),
			"ReplicaSet": len(o.ReplicaSets), "Job": len(o.Jobs), "CronJob": len(o.CronJobs), "Pod": len(o.Pods),
			"Service": len(o.Services), "NetworkPolicy": len(o.NetworkPolicies),
		}
		want := map[string]int{}
		for _, k := range []string{"DaemonSet", "Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob", "Pod", "Service", "NetworkPolicy"} {
			want[k] = 0
		}
		for _, obj := range f.Kube[key.String()] {
			want[obj.Kind]++
		}
		if len(list.Items) != len(f.Kube[key.String()]) || !mapsEqual(got, want) {
			t.Fatalf("cluster %s: dump has %d items %v, want %d %v", key, len(list.Items), got, len(f.Kube[key.String()]), want)
		}
		// LoadDumps has the cluster, and decides as the dump alone does.
		sc := &scanner.Cluster{ProjectID: key.ProjectID, Location: key.Location, Name: key.Name}
		res, covered, err := dumps.Check(context.Background(), sc, cat.Issues)
		if err != nil || !covered {
			t.Fatalf("cluster %s: Check covered %v, err %v", key, covered, err)
		}
		wantRes, _ := json.Marshal(kube.Decide(cat.Issues, &o))
		gotRes, _ := json.Marshal(res)
		if !bytes.Equal(wantRes, gotRes) {
			t.Errorf("cluster %s: LoadDumps decides %s, the dump alone %s", key, gotRes, wantRes)
		}
	}
	if err := (&Fleet{}).WriteKubeDumps(dir); err == nil || err.Error() != "fleetgen: the fleet has no Kubernetes objects: generate it with Options.Kube" {
		t.Errorf("WriteKubeDumps without objects: %v", err)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Each in-cluster check finds some Dataplane V2 clusters affected (10–60%),
// some undecided where its rule can be, and the rest not affected; and the
// objects come in every form the checks read.
func TestKubeCheckOutcomes(t *testing.T) {
	f := kubeFleet(t, Options{Clusters: 400, Projects: 50, Seed: 11})
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"DPV2-NODEPORT-RANDOMFULLY", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NETPOL-ENDPORT"}
	outcomes := map[string]map[catalog.Outcome]int{}
	dpv2 := 0
	for i, c := range f.Clusters {
		if c.GetNetworkConfig().GetDatapathProvider().String() != "ADVANCED_DATAPATH" {
			continue
		}
		dpv2++
		key := clusterKey(f, i)
		list, err := KubeListJSON(f.Kube[key.String()])
		if err != nil {
			t.Fatal(err)
		}
		var o kube.Objects
		if err := kube.ReadDump(key.String(), list, &o); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			is := cat.Issue(id)
			if is == nil || is.Kubernetes == nil {
				t.Fatalf("catalog has no Kubernetes check %s", id)
			}
			if outcomes[id] == nil {
				outcomes[id] = map[catalog.Outcome]int{}
			}
			outcomes[id][kube.Evaluate(is.Kubernetes, &o).Outcome]++
		}
	}
	for _, id := range ids {
		n := outcomes[id]
		share := float64(n[catalog.Affected]) / float64(dpv2)
		t.Logf("%s: %d affected (%.0f%%), %d undecided, %d not affected of %d Dataplane V2 clusters", id, n[catalog.Affected], 100*share, n[catalog.Undecided], n[catalog.NotAffected], dpv2)
		if share < 0.10 || share > 0.60 {
			t.Errorf("%s: %.0f%% of the Dataplane V2 clusters affected, want 10%%–60%%", id, 100*share)
		}
		if n[catalog.NotAffected] == 0 {
			t.Errorf("%s: no Dataplane V2 cluster is not affected", id)
		}
		if id != "DPV2-NETPOL-ENDPORT" && n[catalog.Undecided] == 0 { // that rule is never undecided
			t.Errorf("%s: no Dataplane V2 cluster is undecided", id)
		}
	}

	// Every form appears.
	forms := map[string]int{}
	for _, objs := range f.Kube {
		for _, o := range objs {
			s := string(o.JSON)
			for _, form := range []string{
				"registry.k8s.io/networking/ip-masq-agent:v2.", "gke.gcr.io/ip-masq-agent:v2.", "ip-masq-agent:latest",
				"--random-fully=false", "--to-ports=20000-29999",
				`"sysctls":[{"name":"net.ipv4.ip_local_port_range"`, `sysctl -w net.ipv4.ip_local_port_range=\"`,
			} {
				if strings.Contains(s, form) {
					forms[form]++
				}
			}
			for _, version := range []string{"v2.9.", "v2.10.", "v2.11.", "v2.12."} {
				if strings.Contains(s, "ip-masq-agent:"+version) {
					forms["ip-masq-agent "+version]++
				}
			}
			if strings.Contains(s, "gke.gcr.io/ip-masq-agent:v2.") && !strings.Contains(s, "-gke.") || strings.Contains(s, "gke.gcr.io/ip-masq-agent:v2.") && !strings.Contains(s, "@sha256:") {
				t.Errorf("gke.gcr.io image without -gke.N@sha256: in %s", s)
			}
			switch o.Kind {
			case "Service":
				var svc corev1.Service
				_ = json.Unmarshal(o.JSON, &svc)
				forms["Service "+string(svc.Spec.Type)]++
			case "NetworkPolicy":
				var np networkingv1.NetworkPolicy
				_ = json.Unmarshal(o.JSON, &np)
				stored := strings.Contains(s, `\"endPort\"`) // in the annotation
				spec, _ := json.Marshal(np.Spec)
				switch {
				case strings.Contains(string(spec), "endPort"):
					forms["endPort in spec"]++
				case stored:
					forms["endPort only in last-applied"]++
				}
			default:
				forms[o.Kind]++
			}
		}
	}
	for _, form := range []string{
		"registry.k8s.io/networking/ip-masq-agent:v2.", "gke.gcr.io/ip-masq-agent:v2.", "ip-masq-agent:latest",
		"--random-fully=false", "--to-ports=20000-29999",
		"ip-masq-agent v2.9.", "ip-masq-agent v2.10.", "ip-masq-agent v2.11.", "ip-masq-agent v2.12.",
		`"sysctls":[{"name":"net.ipv4.ip_local_port_range"`, `sysctl -w net.ipv4.ip_local_port_range=\"`,
		"Service ClusterIP", "Service NodePort", "Service LoadBalancer",
		"endPort in spec", "endPort only in last-applied",
		"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod",
	} {
		if forms[form] == 0 {
			t.Errorf("no object has %s", form)
		}
	}
}

// sameFleet fails unless a and b have the same clusters, events, folders
// and projects: what it says an option (what) leaves alone.
func sameFleet(t *testing.T, a, b *Fleet, what string) {
	t.Helper()
	if len(a.Clusters) != len(b.Clusters) || len(a.Events) != len(b.Events) {
		t.Fatalf("%d clusters and %d events without %s, %d and %d with it", len(a.Clusters), len(a.Events), what, len(b.Clusters), len(b.Events))
	}
	for i := range a.Clusters {
		if !proto.Equal(a.Clusters[i], b.Clusters[i]) {
			t.Fatalf("cluster %d differs with %s", i, what)
		}
	}
	for i := range a.Events {
		if !proto.Equal(a.Events[i], b.Events[i]) {
			t.Fatalf("event %d differs with %s", i, what)
		}
	}
	aj, _ := json.Marshal([]any{a.Org, a.Now, a.Folders, a.Projects})
	bj, _ := json.Marshal([]any{b.Org, b.Now, b.Folders, b.Projects})
	if !bytes.Equal(aj, bj) {
		t.Fatalf("folders or projects differ with %s", what)
	}
}
