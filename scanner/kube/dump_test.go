package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetscan/fleetscan/scanner"
)

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const svcList = `{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"kubernetes","namespace":"default"},"spec":{"type":"ClusterIP"}},
 {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ignored","namespace":"default"}},
 {"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"ip-masq-agent","namespace":"kube-system"}}]}`

// The bundled demo dumps are kubectl Lists of every kind the checks read.
func TestLoadDumpsDemo(t *testing.T) {
	d, err := LoadDumps("../../testdata/demo/kube")
	if err != nil {
		t.Fatal(err)
	}
	o := d.objects[scanner.ClusterKey{ProjectID: "acme-payments-prod", Location: "us-central1", Name: "pay-prod-1"}]
	if o == nil || len(o.DaemonSets) != 1 || len(o.Services) != 2 || len(o.NetworkPolicies) != 1 ||
		o.DaemonSets[0].Spec.Template.Spec.Containers[0].Image != "registry.k8s.io/networking/ip-masq-agent:v2.12.0" {
		t.Errorf("pay-prod-1 objects = %+v", o)
	}
	o = d.objects[scanner.ClusterKey{ProjectID: "acme-data-dev", Location: "us-central1", Name: "data-etl"}]
	if o == nil || len(o.Deployments) != 1 || len(o.Deployments[0].Spec.Template.Spec.InitContainers) != 1 {
		t.Errorf("data-etl objects = %+v", o)
	}
	if len(d.objects) != 4 {
		t.Errorf("%d clusters, want 4", len(d.objects))
	}
}

func TestLoadDumps(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"gke_shop-prod_europe-west1_web.json":          svcList,
		"gke_shop-prod_europe-west1-b_api/part-1.json": svcList,
		"gke_shop-prod_europe-west1-b_api/part-2.json": `{"apiVersion":"v1","kind":"Service","metadata":{"name":"lb","namespace":"shop"},"spec":{"type":"LoadBalancer"}}`,
		".hidden": "not read",
	})
	d, err := LoadDumps(dir)
	if err != nil {
		t.Fatal(err)
	}
	web := d.objects[scanner.ClusterKey{ProjectID: "shop-prod", Location: "europe-west1", Name: "web"}]
	api := d.objects[scanner.ClusterKey{ProjectID: "shop-prod", Location: "europe-west1-b", Name: "api"}]
	if web == nil || len(web.Services) != 1 || len(web.DaemonSets) != 1 {
		t.Errorf("web = %+v", web)
	}
	if api == nil || len(api.Services) != 2 || api.Services[1].Name != "lb" {
		t.Errorf("api = %+v", api)
	}
	inventory := []scanner.ClusterRecord{{Cluster: scanner.Cluster{ProjectID: "shop-prod", Location: "europe-west1", Name: "web"}}}
	got := d.Unmatched(inventory)
	want := []scanner.ScanError{{ProjectID: "shop-prod", Resource: filepath.Join(dir, "gke_shop-prod_europe-west1-b_api"), API: "kubectl", Code: "NOT_IN_INVENTORY",
		Message: "kube objects of cluster shop-prod/europe-west1-b/api, which no cluster input has; they were not used"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Unmatched (-want +got):\n%s", diff)
	}
	if _, covered, err := d.Check(t.Context(), &scanner.Cluster{ProjectID: "shop-prod", Location: "us-east1", Name: "other"}, nil); covered || err != nil {
		t.Errorf("a cluster without a dump: covered %v, err %v; want not covered", covered, err)
	}
}

// Every problem of a directory is reported at once, each naming its file.
func TestLoadDumpsErrors(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"clusters.json":                    svcList,
		"gke_shop-prod_europe-west1.json":  svcList,
		"gke_Shop_europe-west1_web.json":   svcList,
		"gke_shop-prod_us-east1_bad.json":  `{"items": [`,
		"gke_shop-prod_us-east1_nok.json":  `{"apiVersion":"v1","items":[]}`,
		"gke_shop-prod_us-east1_emp.json":  ``,
		"gke_shop-prod_us-east1_typ.json":  `{"kind":"List","items":[{"kind":"Service","spec":{"type":7}}, {"metadata":{}}]}`,
		"gke_shop-prod_us-east1_dir/x.txt": "",
	})
	_, err := LoadDumps(dir)
	got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
	want := strings.Join([]string{
		"clusters.json: not gke_PROJECT_LOCATION_CLUSTER.json or a folder of that name (the kubeconfig context of gcloud container clusters get-credentials)",
		"gke_Shop_europe-west1_web.json: not gke_PROJECT_LOCATION_CLUSTER.json or a folder of that name (the kubeconfig context of gcloud container clusters get-credentials)",
		"gke_shop-prod_europe-west1.json: not gke_PROJECT_LOCATION_CLUSTER.json or a folder of that name (the kubeconfig context of gcloud container clusters get-credentials)",
		"gke_shop-prod_us-east1_bad.json: not a kubectl JSON dump: unexpected end of JSON input",
		"gke_shop-prod_us-east1_dir: folder holds no .json dump",
		"gke_shop-prod_us-east1_emp.json: empty file: want the JSON of kubectl get ... -A -o json",
		`gke_shop-prod_us-east1_nok.json: no "kind": want a kubectl List (kubectl get ... -A -o json) or one object`,
		"gke_shop-prod_us-east1_typ.json: item 0: json: cannot unmarshal number into Go struct field ServiceSpec.spec.type of type v1.ServiceType",
		`gke_shop-prod_us-east1_typ.json: item 1: no "kind"`,
	}, "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadDumps errors (-want +got):\n%s", diff)
	}
	if _, err := LoadDumps(filepath.Join(dir, "missing")); err == nil || !strings.HasPrefix(err.Error(), "kube objects: open ") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestContextName(t *testing.T) {
	k := scanner.ClusterKey{ProjectID: "shop-prod", Location: "europe-west1-b", Name: "web-1"}
	if got := ContextName(k); got != "gke_shop-prod_europe-west1-b_web-1" {
		t.Errorf("ContextName = %q", got)
	}
	if back, ok := parseContext(ContextName(k)); !ok || back != k {
		t.Errorf("parseContext(ContextName(k)) = %v, %v", back, ok)
	}
	for _, bad := range []string{"gke_a_b", "gke_shop-prod_us_c_d", "shop-prod_us_c", "gke__us_c", "gke_shop-prod__c", "gke_shop-prod_us_"} {
		if _, ok := parseContext(bad); ok {
			t.Errorf("parseContext(%q) accepted", bad)
		}
	}
}
