package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// cli is the directory of the hand-written fixtures in the shapes gcloud
// prints; every one holds the same two clusters.
const cli = "../../testdata/cli/"

// cliClusters are the clusters of testdata/cli, Access included.
var cliClusters = []scanner.Cluster{
	{
		ProjectID: "acme-prod", Location: "us-central1", Name: "pay-prod-1",
		ID:             "4d2c86f0a5b94e7e9f5c1f0b6a1de29a3f1c08e27e5b4a5c9d0f2b7c8e1a3d45",
		SelfLink:       "https://container.googleapis.com/v1/projects/acme-prod/locations/us-central1/clusters/pay-prod-1",
		Status:         "RUNNING",
		MasterVersion:  "1.30.5-gke.1014001",
		NodeVersion:    "1.30.5-gke.1014001",
		InitialVersion: "1.28.9-gke.1000000",
		ReleaseChannel: "REGULAR",
		Datapath:       "ADVANCED_DATAPATH",
		VPCNative:      true,
		NodePools:      []scanner.Pool{{Name: "default-pool", Version: "1.30.5-gke.1014001", ImageType: "COS_CONTAINERD"}},
		Access:         scanner.Access{Endpoint: "34.118.10.21"},
	},
	{
		ProjectID: "acme-data-dev", Location: "europe-west4", Name: "etl-autopilot",
		ID:             "9b1e5f3c2a7d4c8e8f6a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e",
		SelfLink:       "https://container.googleapis.com/v1/projects/acme-data-dev/locations/europe-west4/clusters/etl-autopilot",
		Status:         "RUNNING",
		MasterVersion:  "1.31.1-gke.1678000",
		NodeVersion:    "1.31.1-gke.1678000",
		InitialVersion: "1.30.3-gke.1639000",
		ReleaseChannel: "RAPID",
		Datapath:       "ADVANCED_DATAPATH",
		Autopilot:      true,
		VPCNative:      true,
		Access:         scanner.Access{Endpoint: "34.90.2.17"},
	},
}

// samePools treats a nil and an empty node pool list, and sysctls, alike.
var samePools = cmp.Transformer("normal", normal)

// Every form of --input gives the same clusters: gcloud asset list, the
// API's ListAssetsResponse, gcloud asset export's NDJSON (with a node pool
// asset, skipped), NDJSON of clusters, and forms built from them here.
func TestParseClustersAssetForms(t *testing.T) {
	list := readFile(t, cli+"asset-list.json")
	var assets []json.RawMessage
	if err := json.Unmarshal(list, &assets); err != nil {
		t.Fatal(err)
	}
	var ndjson bytes.Buffer // gcloud asset list ... --format=json | jq -c '.[]'
	for _, a := range assets {
		if err := json.Compact(&ndjson, a); err != nil {
			t.Fatal(err)
		}
		ndjson.WriteByte('\n')
	}
	tests := []struct {
		name string
		data []byte
		want []scanner.Cluster
	}{
		{name: "gcloud asset list", data: list, want: cliClusters},
		{name: "ListAssetsResponse", data: readFile(t, cli+"asset-list-response.json"), want: cliClusters},
		{name: "gcloud asset export NDJSON", data: readFile(t, cli+"asset-export.ndjson"), want: cliClusters},
		{name: "NDJSON of clusters", data: readFile(t, cli+"clusters.ndjson"), want: cliClusters},
		{name: "NDJSON of camelCase assets", data: ndjson.Bytes(), want: cliClusters},
		{name: "one asset", data: assets[1], want: cliClusters[1:]},
		{name: "CRLF NDJSON", data: bytes.ReplaceAll(ndjson.Bytes(), []byte("\n"), []byte("\r\n")), want: cliClusters},
		{name: "two gcloud outputs in a row", data: append([]byte("["+string(assets[0])+"]\n"), list...), want: append(cliClusters[:1:1], cliClusters...)},
		{name: "ListAssetsResponse without assets", data: []byte(`{"readTime": "2026-11-27T09:00:00.123456Z"}`), want: []scanner.Cluster{}},
		{name: "empty assets", data: []byte(`{"assets": [], "readTime": "2026-11-27T09:00:00Z"}`), want: []scanner.Cluster{}},
		{name: "assets null", data: []byte(`{"assets": null}`), want: []scanner.Cluster{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseClusters(tc.name, tc.data)
			if err != nil {
				t.Fatalf("ParseClusters(%s) error: %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, got, samePools, noObject); diff != "" {
				t.Errorf("ParseClusters(%s) mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

// The real asset of Forseti's tests: gcloud asset export's snake_case keys,
// an asset name with v1/, a zonal cluster without location.
func TestParseClustersForseti(t *testing.T) {
	got, err := ParseClusters("cai-cluster-asset.ndjson", readFile(t, "../../testdata/forseti/cai-cluster-asset.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	want := []scanner.Cluster{{
		ProjectID: "project1", Location: "us-central1-a", Name: "cluster-1",
		SelfLink:       "https://container.googleapis.com/v1/projects/project1/zones/us-central1-a/clusters/cluster-1",
		Status:         "RUNNING",
		MasterVersion:  "1.7.11-gke.1",
		NodeVersion:    "1.7.11-gke.1",
		InitialVersion: "1.7.6-gke.1",
		NodePools:      []scanner.Pool{{Name: "default-pool", Version: "1.7.11-gke.1", ImageType: "COS"}},
		Access:         scanner.Access{Endpoint: "10.0.0.1", CACert: "[redacted]"},
		// A 2017 cluster object has no networkConfig: its dataplane is not known.
		NoNetworkConfig: true,
	}}
	if diff := cmp.Diff(want, got, samePools, noObject); diff != "" {
		t.Errorf("ParseClusters(forseti) mismatch (-want +got):\n%s", diff)
	}
}

func TestParseClustersAssetFields(t *testing.T) {
	asset := func(name, data string) string {
		return `{"name": "` + name + `", "assetType": "container.googleapis.com/Cluster", "resource": {"version": "v1", "data": ` + data + `}}`
	}
	const regional = "//container.googleapis.com/projects/p-1/locations/us-east1/clusters/c"
	tests := []struct {
		name string
		in   string
		want []scanner.Cluster
	}{
		{
			name: "project and location from the asset name without selfLink",
			in:   `[` + asset(regional, `{"name": "c"}`) + `]`,
			want: []scanner.Cluster{{ProjectID: "p-1", Location: "us-east1", Name: "c"}},
		},
		{
			name: "zonal asset name with v1/",
			in:   asset("//container.googleapis.com/v1/projects/p-2/zones/us-east1-b/clusters/c", `{"name": "c", "currentMasterVersion": "1.31.2-gke.3"}`),
			want: []scanner.Cluster{{ProjectID: "p-2", Location: "us-east1-b", Name: "c", MasterVersion: "1.31.2-gke.3"}},
		},
		{
			name: "selfLink wins over the asset name",
			in:   asset(regional, `{"name": "c", "selfLink": "https://container.googleapis.com/v1/projects/p-3/zones/us-east1-c/clusters/c"}`),
			want: []scanner.Cluster{{ProjectID: "p-3", Location: "us-east1-c", Name: "c",
				SelfLink: "https://container.googleapis.com/v1/projects/p-3/zones/us-east1-c/clusters/c"}},
		},
		{
			name: "location field wins over the asset name",
			in:   asset(regional, `{"name": "c", "location": "us-east1-d"}`),
			want: []scanner.Cluster{{ProjectID: "p-1", Location: "us-east1-d", Name: "c"}},
		},
		{
			name: "snake_case asset_type",
			in:   `{"name": "` + regional + `", "asset_type": "container.googleapis.com/Cluster", "resource": {"data": {"name": "c"}}}`,
			want: []scanner.Cluster{{ProjectID: "p-1", Location: "us-east1", Name: "c"}},
		},
		{
			// gcloud asset export of every type: the clusters are kept.
			name: "assets of other types are skipped",
			in: `{"name": "//compute.googleapis.com/projects/p-1/zones/us-east1-b/instances/vm", "asset_type": "compute.googleapis.com/Instance", "resource": {"data": {"name": "vm"}}}
` + asset(regional, `{"name": "c"}`) + `
{"name": "//container.googleapis.com/projects/p-1/locations/us-east1/clusters/c/k8s/namespaces/default", "asset_type": "k8s.io/Namespace", "resource": {"data": {"metadata": {"name": "default"}}}}
`,
			want: []scanner.Cluster{{ProjectID: "p-1", Location: "us-east1", Name: "c"}},
		},
		{
			name: "unknown datapath enum value is kept in an asset",
			in:   asset(regional, `{"name": "c", "networkConfig": {"datapathProvider": "FUTURE_DATAPATH"}}`),
			want: []scanner.Cluster{{ProjectID: "p-1", Location: "us-east1", Name: "c", Datapath: "FUTURE_DATAPATH"}},
		},
		{
			name: "clusters and assets in one file",
			in:   `{"name": "c", "selfLink": "https://container.googleapis.com/v1/projects/p-4/locations/l/clusters/c"}` + "\n" + asset(regional, `{"name": "c"}`),
			want: []scanner.Cluster{
				{ProjectID: "p-4", Location: "l", Name: "c", SelfLink: "https://container.googleapis.com/v1/projects/p-4/locations/l/clusters/c"},
				{ProjectID: "p-1", Location: "us-east1", Name: "c"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseClusters("in.json", []byte(tc.in))
			if err != nil {
				t.Fatalf("ParseClusters(%s) error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, samePools, noAccess); diff != "" {
				t.Errorf("ParseClusters(%s) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// A file of another kind gets one line saying what it looks like and
// which flag takes it: real files of each kind.
func TestParseClustersWrongKind(t *testing.T) {
	const (
		logs   = ": this looks like Cloud Logging entries (gcloud logging read output): pass it with --logs, not --input"
		kube   = ": this looks like a kubectl dump: pass its folder with --kube-objects, not --input"
		config = ": this looks like a GKE server config (gcloud container get-server-config output): pass its folder with --server-config, not --input"
	)
	file := func(p string) string { return string(readFile(t, "../../testdata/"+p)) }
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "gcloud logging read", in: file("demo/logs.json"), want: logs},
		{name: "ListLogEntries response", in: file("gcpdiag/gke1-logging-entries.json"), want: logs},
		{name: "one log entry", in: `{"insertId": "a", "timestamp": "2026-11-27T09:05:48Z", "resource": {"type": "k8s_pod"}}`, want: logs},
		{name: "NDJSON of log entries", in: "{\"insertId\": \"a\"}\n{\"insertId\": \"b\"}\n", want: logs},
		{name: "kubectl get -o json List", in: file("demo/kube/gke_acme-payments-prod_us-east1_pay-prod-2.json"), want: kube},
		{name: "one Kubernetes object", in: `{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ip-masq-agent"}}`, want: kube},
		{name: "gcloud container get-server-config", in: file("serverconfig/gcpdiag/europe-west4.json"), want: config},
		{
			name: "gcloud asset list of another type",
			in:   file("cli/asset-list-instances.json"),
			want: ": these are Cloud Asset Inventory assets of type compute.googleapis.com/Instance, not container.googleapis.com/Cluster: list clusters with --asset-types=container.googleapis.com/Cluster --content-type=resource",
		},
		{
			name: "export of four other types",
			in: `{"name": "//a", "asset_type": "compute.googleapis.com/Instance"}
{"name": "//b", "asset_type": "compute.googleapis.com/Disk"}
{"name": "//c", "asset_type": "compute.googleapis.com/Instance"}
{"name": "//d", "asset_type": "container.googleapis.com/NodePool"}
{"name": "//e", "asset_type": "k8s.io/Pod"}
`,
			want: ": these are Cloud Asset Inventory assets of types compute.googleapis.com/Instance, compute.googleapis.com/Disk, container.googleapis.com/NodePool and 1 more, not container.googleapis.com/Cluster: list clusters with --asset-types=container.googleapis.com/Cluster --content-type=resource",
		},
		{
			name: "two other types",
			in:   `{"assets": [{"name": "//a", "assetType": "compute.googleapis.com/Instance"}, {"name": "//b", "assetType": "compute.googleapis.com/Disk"}]}`,
			want: ": these are Cloud Asset Inventory assets of types compute.googleapis.com/Instance and compute.googleapis.com/Disk, not container.googleapis.com/Cluster: list clusters with --asset-types=container.googleapis.com/Cluster --content-type=resource",
		},
		{
			name: "gcloud asset list without --content-type=resource",
			in:   file("cli/asset-list-names.json"),
			want: ": these GKE cluster assets have no resource data: list them with --content-type=resource",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseClusters("in.json", []byte(tc.in))
			if errText(err) != "in.json"+tc.want {
				t.Errorf("ParseClusters error = %q, want %q", errText(err), "in.json"+tc.want)
			}
			if got != nil {
				t.Errorf("ParseClusters = %v, want nil", got)
			}
		})
	}
}

// Problems of assets and NDJSON are reported where they are in the file,
// one line each.
func TestParseClustersPositions(t *testing.T) {
	const (
		name  = "//container.googleapis.com/projects/p/locations/l/clusters/c"
		ok    = `{"name": "` + name + `", "assetType": "container.googleapis.com/Cluster", "resource": {"data": {"name": "c"}}}`
		link  = `"selfLink": "https://container.googleapis.com/v1/projects/p/locations/l/clusters/c"`
		entry = `{"insertId": "a", "timestamp": "2026-11-27T09:05:48Z"}`
	)
	tests := []parseErrorCase{
		{
			name: "wrong type in an asset's data on line 2",
			in:   ok + "\n" + `{"name": "` + name + `", "asset_type": "container.googleapis.com/Cluster", "resource": {"data": {"name": "c", "currentMasterVersion": 1.3}}}` + "\n",
			want: "in.json:2:183: not a Container API cluster: invalid value for string field currentMasterVersion: 1.3",
		},
		{
			name: "wrong type in a pretty-printed asset",
			in:   "[\n  {\n    \"assetType\": \"container.googleapis.com/Cluster\",\n    \"name\": \"" + name + "\",\n    \"resource\": {\n      \"data\": {\n        \"name\": \"c\",\n        \"nodePools\": {}\n      }\n    }\n  }\n]\n",
			want: "in.json:8:22: not a Container API cluster: unexpected token {",
		},
		{
			name: "asset data without a name",
			in:   ok + "\n" + `{"name": "` + name + `", "assetType": "container.googleapis.com/Cluster", "resource": {"data": {"location": "l"}}}`,
			want: "in.json:2:144: cluster has no name",
		},
		{
			name: "asset data that is not an object",
			in:   ok + "\n" + `{"name": "` + name + `", "assetType": "container.googleapis.com/Cluster", "resource": {"data": "c"}}`,
			want: `in.json:2:144: not a Container API cluster: unexpected token "c"`,
		},
		{
			name: "asset without data among assets with data",
			in:   ok + "\n" + `{"name": "` + name + `", "assetType": "container.googleapis.com/Cluster"}`,
			want: "in.json:2:1: asset " + name + " has no resource data: list it with --content-type=resource",
		},
		{
			name: "asset name of no cluster",
			in:   ok + "\n" + `{"name": "//container.googleapis.com/projects/p/clusters/c", "assetType": "container.googleapis.com/Cluster", "resource": {"data": {"name": "c"}}}`,
			want: `in.json:2:10: asset name "//container.googleapis.com/projects/p/clusters/c" is not a GKE cluster name (//container.googleapis.com/projects/P/locations/L/clusters/C)`,
		},
		{
			name: "asset without a name",
			in:   ok + "\n" + `{"assetType": "container.googleapis.com/Cluster", "resource": {"data": {"name": "c"}}}`,
			want: "in.json:2:1: asset has no name",
		},
		{
			name: "a log entry among clusters",
			in:   "[\n  {\"name\": \"c\", " + link + "},\n  " + entry + "\n]",
			want: "in.json:3:3: this looks like a Cloud Logging entry, not a cluster",
		},
		{
			name: "a number on line 2 of NDJSON",
			in:   "{\"name\": \"c\", " + link + "}\n42\n",
			want: "in.json:2:1: invalid JSON: invalid character '4' after top-level value",
		},
		{
			name: "a number on line 3 of NDJSON",
			in:   "{\"name\": \"c\", " + link + "}\n{\"name\": \"c\", " + link + "}\n42\n",
			want: "in.json:3:1: not a Container API cluster: unexpected token 42",
		},
		{
			name: "NDJSON cluster without selfLink",
			in:   "{\"name\": \"a\", " + link + "}\n{\"name\": \"b\"}\n",
			want: `in.json:2:1: cluster b: no project ID: selfLink "" is not .../projects/P/locations/L/clusters/N`,
		},
		{
			name: "columns count characters",
			in:   `[{"name": "c", "description": "café für Zürich", "status": []}]`,
			want: "in.json:1:60: not a Container API cluster: invalid value for enum field status: [",
		},
		{
			name: "wrong type after a multi-line string escape",
			in:   "[\n{\"name\": \"c\",\n \"description\": \"a\\nb\",\n \"autopilot\": {\"enabled\": 1}}]",
			want: "in.json:4:27: not a Container API cluster: invalid value for bool field enabled: 1",
		},
		{
			// Only top-level list responses are read: this one is not
			// skipped as an asset of another type.
			name: "a ListAssetsResponse in an array",
			in:   "[\n  {\"assets\": [" + ok + "]}\n]",
			want: "in.json:2:3: cluster has no name",
		},
		{
			name: "an asset type that is not a string",
			in:   ok + "\n" + `{"name": "` + name + `", "assetType": 7, "resource": {"data": {"name": "c"}}}`,
			want: "in.json:2:87: asset type 7 is not a type name",
		},
		{
			name: "assets is not an array",
			in:   "{\n  \"assets\": {}\n}",
			want: `in.json:2:13: "assets" is not an array of assets`,
		},
		{
			name: "NDJSON with a bad line",
			in:   ok + "\n" + ok + "\n" + `{"name": "c",, }` + "\n",
			want: "in.json:3:14: invalid JSON: invalid character ',' looking for beginning of object key string",
		},
		{
			name: "truncated NDJSON",
			in:   ok + "\n" + ok[:40] + "\n",
			want: "in.json:2:41: invalid JSON: unexpected end of JSON input",
		},
	}
	checkParseErrors(t, tests)
}

// The same cluster twice: the same data is a duplicate that the scan
// counts; different data is an error naming the cluster, both places and
// a difference.
func TestFilesDiscoverDuplicates(t *testing.T) {
	const selfLink = "https://container.googleapis.com/v1/projects/p/locations/l/clusters/c"
	cluster := func(version string) string {
		return `{"name": "c", "selfLink": "` + selfLink + `", "currentMasterVersion": "` + version + `", "nodePools": [{"name": "np", "version": "1.30.1-gke.1"}]}`
	}
	dir := writeFiles(t, map[string]string{
		"a.json":     cluster("1.30.1-gke.1"),
		"same.json":  "[\n" + cluster("1.30.1-gke.1") + "\n]",
		"b.json":     cluster("1.31.2-gke.3"),
		"list.json":  "[\n  " + cluster("1.30.1-gke.1") + ",\n  " + cluster("1.30.1-gke.2") + "\n]",
		"pools.json": `{"name": "c", "selfLink": "` + selfLink + `", "currentMasterVersion": "1.30.1-gke.1", "nodePools": [{"name": "np", "version": "1.30.1-gke.1", "config": {"imageType": "UBUNTU_CONTAINERD"}}, {"name": "np2"}]}`,
		"many.ndjson": cluster("1.30.1-gke.1") + "\n" +
			`{"name": "c", "selfLink": "` + selfLink + `", "currentMasterVersion": "1.30.1-gke.1", "status": "RUNNING", "endpoint": "10.0.0.2", "masterAuth": {"clusterCaCertificate": "LS0t"}, "nodePools": [{"name": "np", "version": "1.30.1-gke.1"}]}` + "\n",
		"ca.ndjson": cluster("1.30.1-gke.1") + "\n" +
			`{"name": "c", "selfLink": "` + selfLink + `", "currentMasterVersion": "1.30.1-gke.1", "masterAuth": {"clusterCaCertificate": "LS0t"}, "nodePools": [{"name": "np", "version": "1.30.1-gke.1"}]}` + "\n",
		"sysctls.json": `{"name": "c", "selfLink": "` + selfLink + `", "currentMasterVersion": "1.30.1-gke.1", "nodePools": [{"name": "np", "version": "1.30.1-gke.1", "config": {"linuxNodeConfig": {"sysctls": {}}}}]}`,
	})
	p := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name    string
		paths   []string
		found   int
		wantErr string
	}{
		{name: "the same data twice", paths: []string{p("a.json"), p("same.json"), p("a.json")}, found: 3},
		{name: "empty sysctls are no sysctls", paths: []string{p("a.json"), p("sysctls.json")}, found: 2},
		{
			name:    "different versions in two files",
			paths:   []string{p("a.json"), p("b.json")},
			wantErr: "cluster p/l/c is in " + p("a.json") + " and " + p("b.json") + " with different data (currentMasterVersion 1.30.1-gke.1 and 1.31.2-gke.3): keep one",
		},
		{
			name:    "in one file",
			paths:   []string{p("list.json")},
			wantErr: "cluster p/l/c is in " + p("list.json") + ":2 and " + p("list.json") + ":3 with different data (currentMasterVersion 1.30.1-gke.1 and 1.30.1-gke.2): keep one",
		},
		{
			name:  "node pools",
			paths: []string{p("same.json"), p("pools.json"), p("b.json")},
			wantErr: "cluster p/l/c is in " + p("same.json") + ":2 and " + p("pools.json") + " with different data (nodePools np and np,np2): keep one\n" +
				"cluster p/l/c is in " + p("same.json") + ":2 and " + p("b.json") + " with different data (currentMasterVersion 1.30.1-gke.1 and 1.31.2-gke.3): keep one",
		},
		{
			name:    "several fields",
			paths:   []string{p("many.ndjson")},
			wantErr: "cluster p/l/c is in " + p("many.ndjson") + ":1 and " + p("many.ndjson") + ":2 with different data (status unset and RUNNING, and 2 more): keep one",
		},
		{
			name:    "CA certificates are not printed",
			paths:   []string{p("ca.ndjson")},
			wantErr: "cluster p/l/c is in " + p("ca.ndjson") + ":1 and " + p("ca.ndjson") + ":2 with different data (masterAuth.clusterCaCertificate differs): keep one",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			_, err := Files{Paths: tc.paths}.Discover(t.Context(), func(scanner.Cluster) { n++ }, func(e scanner.ScanError) { t.Errorf("failed(%v)", e) })
			if errText(err) != tc.wantErr {
				t.Errorf("Discover(%v) error = %q, want %q", tc.paths, errText(err), tc.wantErr)
			}
			if n != tc.found {
				t.Errorf("Discover(%v) found %d clusters, want %d", tc.paths, n, tc.found)
			}
		})
	}
}

// A cluster in gcloud container clusters list's file and in gcloud asset
// list's is the same cluster: the scan counts the copies.
func TestScanCountsCopiesAcrossForms(t *testing.T) {
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	src := Files{Paths: []string{cli + "clusters.ndjson", cli + "asset-list.json", cli + "asset-export.ndjson"}}
	res, err := scanner.Scan(t.Context(), scanner.Options{Catalog: cat, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Clusters != 2 || res.Summary.DuplicateClusters != 4 {
		t.Errorf("clusters = %d, duplicates = %d; want 2 and 4", res.Summary.Clusters, res.Summary.DuplicateClusters)
	}
}

func TestClusterDiff(t *testing.T) {
	base := cliClusters[0]
	with := func(f func(*scanner.Cluster)) scanner.Cluster {
		c := base
		c.NodePools = append([]scanner.Pool(nil), base.NodePools...)
		f(&c)
		return c
	}
	tests := []struct {
		name string
		b    scanner.Cluster
		want string
	}{
		{name: "same", b: with(func(*scanner.Cluster) {}), want: ""},
		{name: "release channel left", b: with(func(c *scanner.Cluster) { c.ReleaseChannel = "" }), want: "releaseChannel.channel REGULAR and unset"},
		{name: "autopilot", b: with(func(c *scanner.Cluster) { c.Autopilot = true }), want: "autopilot.enabled false and true"},
		{name: "DNS endpoint", b: with(func(c *scanner.Cluster) { c.Access.DNSEndpoint = "gke-1.goog" }), want: "controlPlaneEndpointsConfig.dnsEndpointConfig.endpoint unset and gke-1.goog"},
		{name: "pool version", b: with(func(c *scanner.Cluster) { c.NodePools[0].Version = "1.30.6-gke.1" }), want: "nodePools[default-pool].version 1.30.5-gke.1014001 and 1.30.6-gke.1"},
		{name: "pool sysctls", b: with(func(c *scanner.Cluster) { c.NodePools[0].Sysctls = map[string]string{"a": "1"} }), want: "nodePools[default-pool].config.linuxNodeConfig.sysctls unset and map[a:1]"},
		{name: "no pools", b: with(func(c *scanner.Cluster) { c.NodePools = nil }), want: "nodePools default-pool and unset"},
		{name: "a field without a name here", b: with(func(c *scanner.Cluster) { c.NodePools[0].UpgradeTo = "1.31.1-gke.1" }), want: "fields differ"},
		{
			name: "three fields",
			b:    with(func(c *scanner.Cluster) { c.ID, c.Status, c.VPCNative = "x", "STOPPING", false }),
			want: "id " + base.ID + " and x, and 2 more",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := clusterDiff(base, tc.b); got != tc.want {
				t.Errorf("clusterDiff() = %q, want %q", got, tc.want)
			}
			if got := clusterDiff(tc.b, tc.b); got != "" {
				t.Errorf("clusterDiff(b, b) = %q, want none", got)
			}
		})
	}
	if strings.Contains(clusterDiff(base, with(func(c *scanner.Cluster) { c.Access.CACert = "LS0t" })), "LS0t") {
		t.Error("clusterDiff prints a CA certificate")
	}
}

// Files.Read replaces os.ReadFile, and names the file in messages: the CLI
// reads "-" as stdin.
func TestFilesRead(t *testing.T) {
	read := func(path string) (string, []byte, error) {
		if path == "-" {
			return "stdin", []byte("[{\"name\": \"c\"}]"), nil
		}
		return path, nil, fs.ErrNotExist
	}
	_, err := Files{Paths: []string{"-", "x.json"}, Read: read}.Discover(t.Context(), func(scanner.Cluster) {}, func(scanner.ScanError) {})
	want := "stdin:1:2: cluster c: no project ID: selfLink \"\" is not .../projects/P/locations/L/clusters/N\n" +
		"cluster input: file does not exist"
	if errText(err) != want {
		t.Errorf("Discover() error = %q, want %q", errText(err), want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Discover() error = %v, want one wrapping fs.ErrNotExist", err)
	}
}
