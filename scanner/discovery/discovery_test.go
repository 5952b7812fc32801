package discovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/test/testkit"
)

// gcpdiag is the directory of the real gcloud/API dumps.
const gcpdiag = "../../testdata/gcpdiag/"

// noAccess leaves Cluster.Access and NoNetworkConfig out of comparisons;
// TestAccess and TestNoNetworkConfig check them.
var noAccess = cmp.Options{cmpopts.IgnoreFields(scanner.Cluster{}, "Access", "NoNetworkConfig"), noObject}

// noObject leaves out the Container API object a cluster keeps for the
// catalog's CEL conditions: what it holds is the input itself, compared
// with proto.Equal where a test needs it.
var noObject = cmpopts.IgnoreFields(scanner.Cluster{}, "Object")

// wrongShape is ParseClusters' message for JSON that is no cluster dump.
const wrongShape = `: wrong shape: want GKE clusters or their Cloud Asset Inventory assets: a JSON array, {"clusters": [...]}, {"assets": [...]}, one object, or NDJSON (one object per line)`

// readFile reads a fixture or fails the test.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var errText = testkit.ErrText

// The expected clusters below were derived by hand (jq) from the gcpdiag dumps.
var (
	gke1Clusters = []scanner.Cluster{
		{
			ProjectID: "gcpdiag-gke1-aaaa", Location: "europe-west4", Name: "autopilot-gke1",
			ID:             "f7bb291d77f44570ae0359d00e3f2e68f276e232a4b84ff1b1b26b8875b26f46",
			SelfLink:       "https://container.googleapis.com/v1/projects/gcpdiag-gke1-aaaa/locations/europe-west4/clusters/autopilot-gke1",
			Status:         "RUNNING",
			MasterVersion:  "1.24.10-gke.2300",
			NodeVersion:    "1.22.10-gke.600",
			InitialVersion: "1.22.10-gke.600",
			ReleaseChannel: "REGULAR",
			Datapath:       "ADVANCED_DATAPATH",
			Autopilot:      true,
			VPCNative:      true,
		},
		{
			ProjectID: "gcpdiag-gke1-aaaa", Location: "europe-west4", Name: "autopilot-gke2",
			ID:             "86b60f8aef344c66be3ce7bddacc99ca28e3b9690a9044e28be4b4c3c7d99941",
			SelfLink:       "https://container.googleapis.com/v1/projects/gcpdiag-gke1-aaaa/locations/europe-west4/clusters/autopilot-gke2",
			Status:         "RUNNING",
			MasterVersion:  "1.24.10-gke.2300",
			NodeVersion:    "1.22.10-gke.600",
			InitialVersion: "1.22.10-gke.600",
			ReleaseChannel: "REGULAR",
			Datapath:       "ADVANCED_DATAPATH",
			Autopilot:      true,
			VPCNative:      true,
		},
		{
			ProjectID: "gcpdiag-gke1-aaaa", Location: "europe-west4", Name: "gke2",
			ID:             "12cd17cd70b64fe2b23d17d17898c8161509f72746f94b0b949486fb5e07a22b",
			SelfLink:       "https://container.googleapis.com/v1/projects/gcpdiag-gke1-aaaa/locations/europe-west4/clusters/gke2",
			Status:         "RUNNING",
			MasterVersion:  "1.24.10-gke.2300",
			NodeVersion:    "1.24.10-gke.2300",
			InitialVersion: "1.22.10-gke.600",
			NodePools: []scanner.Pool{
				{Name: "default-pool", Version: "1.24.10-gke.2300", ImageType: "COS_CONTAINERD"},
				{Name: "low-pod-per-node-pool", Version: "1.24.10-gke.2300", ImageType: "COS_CONTAINERD"},
			},
		},
		{
			ProjectID: "gcpdiag-gke1-aaaa", Location: "europe-west4", Name: "gke3",
			ID:             "15974e2390f34be183a43aa73aae86c5ac5363817bec4b4b82064a0bc5b3d3b6",
			SelfLink:       "https://container.googleapis.com/v1/projects/gcpdiag-gke1-aaaa/locations/europe-west4/clusters/gke3",
			Status:         "RUNNING",
			MasterVersion:  "1.25.7-gke.1000",
			NodeVersion:    "1.25.7-gke.1000",
			InitialVersion: "1.25.7-gke.1000",
			ReleaseChannel: "REGULAR",
			NodePools: []scanner.Pool{
				{Name: "default-pool", Version: "1.25.7-gke.1000", ImageType: "COS_CONTAINERD"},
			},
		},
		{
			ProjectID: "gcpdiag-gke1-aaaa", Location: "europe-west4-a", Name: "gke1",
			ID:             "c10b95be9dbb48d09af2e5c299c655c01f02e38cc157489eb8ec454d30b7ecb7",
			SelfLink:       "https://container.googleapis.com/v1/projects/gcpdiag-gke1-aaaa/zones/europe-west4-a/clusters/gke1",
			Status:         "RUNNING",
			MasterVersion:  "1.25.7-gke.1000",
			NodeVersion:    "1.25.7-gke.1000",
			InitialVersion: "1.25.7-gke.1000",
			VPCNative:      true,
			NodePools: []scanner.Pool{
				{Name: "default-pool", Version: "1.25.7-gke.1000", ImageType: "COS_CONTAINERD"},
			},
		},
		{
			ProjectID: "gcpdiag-gke1-aaaa", Location: "europe-west4-a", Name: "gke4",
			ID:             "3520a9df187f4f07bb3eb43779a93e2b7f41daea55e74f62a45f6821abd9771e",
			SelfLink:       "https://container.googleapis.com/v1/projects/gcpdiag-gke1-aaaa/zones/europe-west4-a/clusters/gke4",
			Status:         "RUNNING",
			MasterVersion:  "1.24.10-gke.2300",
			NodeVersion:    "1.24.10-gke.2300",
			InitialVersion: "1.22.10-gke.600",
			ReleaseChannel: "REGULAR",
			VPCNative:      true,
			NodePools: []scanner.Pool{
				{Name: "default-pool", Version: "1.24.10-gke.2300", ImageType: "COS_CONTAINERD"},
			},
		},
		{
			ProjectID: "gcpdiag-gke1-aaaa", Location: "europe-west4-a", Name: "gke6",
			ID:             "ae0d671440334d958774869fae41fba7c463b87d933b485b982794440b09202e",
			SelfLink:       "https://container.googleapis.com/v1/projects/gcpdiag-gke1-aaaa/zones/europe-west4-a/clusters/gke6",
			Status:         "RUNNING",
			MasterVersion:  "1.25.7-gke.1000",
			NodeVersion:    "1.25.7-gke.1000",
			InitialVersion: "1.25.7-gke.1000",
			ReleaseChannel: "REGULAR",
			NodePools: []scanner.Pool{
				{Name: "default-pool", Version: "1.25.7-gke.1000", ImageType: "COS_CONTAINERD"},
			},
		},
	}
	gke2Clusters = []scanner.Cluster{
		{
			ProjectID: "gcpdiag-gke-cluster-autoscaler-rrrr", Location: "europe-west10-a", Name: "gcp-cluster",
			ID:             "1d08860da6b04fe29851304466f250cc1da7a37bc1034b42bde224b67e87fdc8",
			SelfLink:       "https://container.googleapis.com/v1/projects/gcpdiag-gke-cluster-autoscaler-rrrr/zones/europe-west10-a/clusters/gcp-cluster",
			Status:         "RUNNING",
			MasterVersion:  "1.27.8-gke.1067004",
			NodeVersion:    "1.27.8-gke.1067004",
			InitialVersion: "1.27.8-gke.1067004",
			ReleaseChannel: "REGULAR",
			Datapath:       "LEGACY_DATAPATH",
			VPCNative:      true,
			NodePools: []scanner.Pool{
				{Name: "default-pool", Version: "1.27.8-gke.1067004", ImageType: "COS_CONTAINERD"},
			},
		},
		{
			ProjectID: "gcpdiag-gke-cluster-autoscaler-rrrr", Location: "europe-west10", Name: "gcp-cluster",
			ID:             "714df7d8dc294225a17ea008c20ab288ee3e6b41b24c4527b8d418cb1a8cf3c4",
			SelfLink:       "https://container.googleapis.com/v1/projects/gcpdiag-gke-cluster-autoscaler-rrrr/locations/europe-west10/clusters/gcp-cluster",
			Status:         "RUNNING",
			MasterVersion:  "1.27.8-gke.1067004",
			NodeVersion:    "1.27.8-gke.1067004",
			InitialVersion: "1.27.8-gke.1067004",
			ReleaseChannel: "REGULAR",
			Datapath:       "LEGACY_DATAPATH",
			VPCNative:      true,
			NodePools: []scanner.Pool{
				{Name: "default-pool", Version: "1.27.8-gke.1067004", ImageType: "COS_CONTAINERD"},
			},
		},
	}
	gke3Clusters = []scanner.Cluster{
		{
			ProjectID: "gcpdiag-gke3-gggg", Location: "us-central1-c", Name: "cluster-1",
			ID:             "e478debbaec74a638eb439fbae5ac7cb4c51ffa27b3049868a20bc5aa1d3c64c",
			SelfLink:       "https://container.googleapis.com/v1/projects/gcpdiag-gke3-gggg/zones/us-central1-c/clusters/cluster-1",
			Status:         "ERROR",
			MasterVersion:  "1.29.4-gke.1043002",
			NodeVersion:    "1.29.4-gke.1043002",
			InitialVersion: "1.29.4-gke.1043002",
			ReleaseChannel: "REGULAR",
			VPCNative:      true,
			NodePools: []scanner.Pool{
				{Name: "default-pool", Version: "1.29.4-gke.1043002", ImageType: "COS_CONTAINERD"},
			},
		},
	}
)

func TestParseClustersGcpdiag(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []scanner.Cluster
	}{
		{
			// ListClustersResponse; two Autopilot clusters have no nodePools.
			name: "gke1 list response with Autopilot clusters without pools",
			file: "gke1-container-clusters.json",
			want: gke1Clusters,
		},
		{
			// A zonal and a regional cluster share a name; both stay.
			name: "gke2 same-name zonal and regional clusters",
			file: "gke2-container-clusters.json",
			want: gke2Clusters,
		},
		{
			// describe form: one object; status ERROR; zonal selfLink.
			name: "gke3 single cluster object",
			file: "gke3-container-clusters.json",
			want: gke3Clusters,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := readFile(t, gcpdiag+tc.file)
			got, err := ParseClusters(tc.file, data)
			if err != nil {
				t.Fatalf("ParseClusters(%s) error: %v", tc.file, err)
			}
			if diff := cmp.Diff(tc.want, got, noAccess); diff != "" {
				t.Errorf("ParseClusters(%s) mismatch (-want +got):\n%s", tc.file, diff)
			}
		})
	}
}

// A JSON array, a ListClustersResponse and one object decode to the same
// cluster, built from the describe-form dump of gke3.
func TestParseClustersForms(t *testing.T) {
	obj := bytes.TrimSpace(readFile(t, gcpdiag+"gke3-container-clusters.json"))
	tests := []struct {
		name string
		data []byte
	}{
		{name: "array", data: []byte("[" + string(obj) + "]")},
		{name: "list response", data: []byte(`{"clusters": [` + string(obj) + "]}")},
		{name: "single object", data: obj},
		{name: "surrounding whitespace", data: []byte("\n\t " + string(obj) + "\n\n")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseClusters(tc.name, tc.data)
			if err != nil {
				t.Fatalf("ParseClusters(%s) error: %v", tc.name, err)
			}
			if diff := cmp.Diff(gke3Clusters, got, noAccess); diff != "" {
				t.Errorf("ParseClusters(%s) mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

func TestParseClustersFields(t *testing.T) {
	const (
		regional = `"selfLink": "https://container.googleapis.com/v1/projects/p-1/locations/us-east1/clusters/c"`
		zonal    = `"selfLink": "https://container.googleapis.com/v1/projects/p-2/zones/us-east1-b/clusters/c"`
	)
	tests := []struct {
		name string
		in   string
		want []scanner.Cluster
	}{
		{
			name: "project and location from a /locations/ selfLink",
			in:   `[{"name": "c", ` + regional + `}]`,
			want: []scanner.Cluster{{
				ProjectID: "p-1", Location: "us-east1", Name: "c",
				SelfLink: "https://container.googleapis.com/v1/projects/p-1/locations/us-east1/clusters/c",
			}},
		},
		{
			name: "project and location from a /zones/ selfLink",
			in:   `[{"name": "c", ` + zonal + `}]`,
			want: []scanner.Cluster{{
				ProjectID: "p-2", Location: "us-east1-b", Name: "c",
				SelfLink: "https://container.googleapis.com/v1/projects/p-2/zones/us-east1-b/clusters/c",
			}},
		},
		{
			name: "location field wins over the selfLink",
			in:   `[{"name": "c", "location": "us-east1-c", ` + zonal + `}]`,
			want: []scanner.Cluster{{
				ProjectID: "p-2", Location: "us-east1-c", Name: "c",
				SelfLink: "https://container.googleapis.com/v1/projects/p-2/zones/us-east1-b/clusters/c",
			}},
		},
		{
			name: "unknown fields are ignored",
			in:   `{"name": "c", "someFutureField": {"x": 1}, "nodePools": [{"name": "np", "futurePoolField": [1, 2]}], ` + regional + `}`,
			want: []scanner.Cluster{{
				ProjectID: "p-1", Location: "us-east1", Name: "c",
				SelfLink:  "https://container.googleapis.com/v1/projects/p-1/locations/us-east1/clusters/c",
				NodePools: []scanner.Pool{{Name: "np"}},
			}},
		},
		{
			name: "node pool sysctls from config.linuxNodeConfig",
			in: `{"name": "c", "nodePools": [{"name": "np", "config": {"imageType": "COS_CONTAINERD",
				"linuxNodeConfig": {"sysctls": {"net.ipv4.ip_local_port_range": "30000 60999"}}}}], ` + regional + `}`,
			want: []scanner.Cluster{{
				ProjectID: "p-1", Location: "us-east1", Name: "c",
				SelfLink:  "https://container.googleapis.com/v1/projects/p-1/locations/us-east1/clusters/c",
				NodePools: []scanner.Pool{{Name: "np", ImageType: "COS_CONTAINERD", Sysctls: map[string]string{"net.ipv4.ip_local_port_range": "30000 60999"}}},
			}},
		},
		{
			// protojson with DiscardUnknown drops unknown enum names: the
			// field reads as unset, not as an error.
			name: "unknown status enum value reads as no status",
			in:   `{"name": "c", "status": "SOMETHING_NEW", ` + regional + `}`,
			want: []scanner.Cluster{{
				ProjectID: "p-1", Location: "us-east1", Name: "c",
				SelfLink: "https://container.googleapis.com/v1/projects/p-1/locations/us-east1/clusters/c",
			}},
		},
		{
			// An unknown datapath is kept, so that the catalog reads it as
			// unknown (UNKNOWN findings), not as the legacy dataplane.
			name: "unknown datapath enum value is kept",
			in:   `{"name": "c", "networkConfig": {"datapathProvider": "FUTURE_DATAPATH"}, ` + regional + `}`,
			want: []scanner.Cluster{{
				ProjectID: "p-1", Location: "us-east1", Name: "c", Datapath: "FUTURE_DATAPATH",
				SelfLink: "https://container.googleapis.com/v1/projects/p-1/locations/us-east1/clusters/c",
			}},
		},
		{
			name: "unknown release channel enum value reads as no channel",
			in:   `{"name": "c", "releaseChannel": {"channel": "FOREVER"}, "status": "RUNNING", ` + regional + `}`,
			want: []scanner.Cluster{{
				ProjectID: "p-1", Location: "us-east1", Name: "c", Status: "RUNNING",
				SelfLink: "https://container.googleapis.com/v1/projects/p-1/locations/us-east1/clusters/c",
			}},
		},
		{
			name: "enum values given as numbers",
			in:   `{"name": "c", "status": 2, "networkConfig": {"datapathProvider": 2}, ` + regional + `}`,
			want: []scanner.Cluster{{
				ProjectID: "p-1", Location: "us-east1", Name: "c", Status: "RUNNING", Datapath: "ADVANCED_DATAPATH",
				SelfLink: "https://container.googleapis.com/v1/projects/p-1/locations/us-east1/clusters/c",
			}},
		},
		{
			name: "Autopilot without pools and VPC-native",
			in:   `{"name": "c", "autopilot": {"enabled": true}, "ipAllocationPolicy": {"useIpAliases": true}, "currentNodeVersion": "1.30.1-gke.1", ` + regional + `}`,
			want: []scanner.Cluster{{
				ProjectID: "p-1", Location: "us-east1", Name: "c", Autopilot: true, VPCNative: true, NodeVersion: "1.30.1-gke.1",
				SelfLink: "https://container.googleapis.com/v1/projects/p-1/locations/us-east1/clusters/c",
			}},
		},
		{
			name: "list response with an empty clusters array",
			in:   `{"clusters": []}`,
			want: []scanner.Cluster{},
		},
		{
			name: "empty array",
			in:   `[]`,
			want: []scanner.Cluster{},
		},
		{
			name: "clusters null",
			in:   `{"clusters": null}`,
			want: []scanner.Cluster{},
		},
		{
			// The Container API omits the empty repeated field, so the real
			// ListClustersResponse of a project without clusters is {}.
			name: "empty list response from the API",
			in:   `{}`,
			want: []scanner.Cluster{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseClusters("in.json", []byte(tc.in))
			if err != nil {
				t.Fatalf("ParseClusters(%s) error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, noAccess); diff != "" {
				t.Errorf("ParseClusters(%s) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// parseErrorCase is an input that ParseClusters refuses with want.
type parseErrorCase struct{ name, in, want string }

// checkParseErrors runs ParseClusters on each case: the exact error, no
// clusters.
func checkParseErrors(t *testing.T, tests []parseErrorCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseClusters("in.json", []byte(tc.in))
			if errText(err) != tc.want {
				t.Errorf("ParseClusters(%s) error = %q, want %q", tc.in, errText(err), tc.want)
			}
			if got != nil {
				t.Errorf("ParseClusters(%s) = %v, want nil", tc.in, got)
			}
		})
	}
}

func TestParseClustersErrors(t *testing.T) {
	const link = `"selfLink": "https://container.googleapis.com/v1/projects/p/locations/l/clusters/c"`
	tests := []parseErrorCase{
		{name: "empty file", in: "", want: "in.json: file is empty"},
		{name: "only whitespace", in: " \n\t\n", want: "in.json: file is empty"},
		{name: "truncated object", in: `{"clusters": [`, want: "in.json:1:15: invalid JSON: unexpected end of JSON input"},
		{name: "truncated array", in: `[{"name": "c"`, want: "in.json:1:14: invalid JSON: unexpected end of JSON input"},
		{name: "bad token in array", in: `[{"name": "c",}]`, want: `in.json:1:15: invalid JSON: invalid character '}' looking for beginning of object key string`},
		{name: "trailing garbage", in: `{"name": "c"} x`, want: "in.json:1:15: invalid JSON: invalid character 'x' after top-level value"},
		{name: "invalid scalar", in: `nope`, want: "in.json:1:2: invalid JSON: invalid character 'o' in literal null (expecting 'u')"},
		{name: "object without clusters or name", in: `{"items": []}`, want: "in.json" + wrongShape},
		{name: "number", in: `42`, want: "in.json" + wrongShape},
		{name: "string", in: `"clusters"`, want: "in.json" + wrongShape},
		{name: "null", in: `null`, want: "in.json" + wrongShape},
		{name: "clusters is an object", in: `{"clusters": {"name": "c"}}`, want: `in.json:1:14: "clusters" is not an array of clusters`},
		{name: "clusters is a number", in: `{"clusters": 3}`, want: `in.json:1:14: "clusters" is not an array of clusters`},
		{name: "cluster without name", in: `[{` + link + `}]`, want: "in.json:1:2: cluster has no name"},
		{name: "cluster with empty name", in: `{"name": "", ` + link + `}`, want: "in.json:1:1: cluster has no name"},
		{
			name: "cluster without selfLink",
			in:   `[{"name": "c", "location": "l"}]`,
			want: `in.json:1:2: cluster c: no project ID: selfLink "" is not .../projects/P/locations/L/clusters/N`,
		},
		{
			name: "cluster with a selfLink without project",
			in:   `{"clusters": [{"name": "ok", ` + link + `}, {"name": "c", "selfLink": "https://container.googleapis.com/v1/clusters/c"}]}`,
			want: `in.json:1:116: cluster c: no project ID: selfLink "https://container.googleapis.com/v1/clusters/c" is not .../projects/P/locations/L/clusters/N`,
		},
		{name: "name of the wrong type", in: `{"name": 5, ` + link + `}`, want: "in.json:1:10: not a Container API cluster: invalid value for string field name: 5"},
		{name: "bool of the wrong type", in: `[{"name": "c", "autopilot": {"enabled": "yes"}}]`, want: `in.json:1:41: not a Container API cluster: invalid value for bool field enabled: "yes"`},
		{name: "nodePools not an array", in: `[{"name": "c", "nodePools": {}}]`, want: "in.json:1:29: not a Container API cluster: unexpected token {"},
		{name: "cluster that is not an object", in: `[1]`, want: "in.json:1:2: not a Container API cluster: unexpected token 1"},
		{
			// Positions are the file's, not the cluster's own JSON's.
			name: "wrong type in a multi-line cluster",
			in:   "{\"clusters\": [\n{\"name\": \"ok\", " + link + "},\n{\n  \"name\": \"c\",\n  \"status\": true\n}\n]}",
			want: "in.json:5:13: not a Container API cluster: invalid value for enum field status: true",
		},
		{
			name: "every bad cluster is reported",
			in:   `[{` + link + `}, {"name": "ok", ` + link + `}, {"name": "c"}]`,
			want: "in.json:1:2: cluster has no name\n" +
				`in.json:1:190: cluster c: no project ID: selfLink "" is not .../projects/P/locations/L/clusters/N`,
		},
	}
	checkParseErrors(t, tests)
}

func TestProjectFromSelfLink(t *testing.T) {
	tests := []struct {
		name     string
		selfLink string
		want     string
		wantOK   bool
	}{
		{name: "regional", selfLink: "https://container.googleapis.com/v1/projects/my-proj/locations/us-central1/clusters/c1", want: "my-proj", wantOK: true},
		{name: "zonal", selfLink: "https://container.googleapis.com/v1/projects/my-proj/zones/us-central1-a/clusters/c1", want: "my-proj", wantOK: true},
		{name: "v1beta1", selfLink: "https://container.googleapis.com/v1beta1/projects/p/locations/europe-west4/clusters/c", want: "p", wantOK: true},
		{name: "asset name", selfLink: "//container.googleapis.com/projects/p/locations/l/clusters/c", want: "p", wantOK: true},
		{name: "empty", selfLink: "", wantOK: false},
		{name: "no project", selfLink: "https://container.googleapis.com/v1/locations/l/clusters/c", wantOK: false},
		{name: "empty project", selfLink: "https://container.googleapis.com/v1/projects//locations/l/clusters/c", wantOK: false},
		{name: "regions instead of locations", selfLink: "https://container.googleapis.com/v1/projects/p/regions/l/clusters/c", wantOK: false},
		{name: "no cluster name", selfLink: "https://container.googleapis.com/v1/projects/p/locations/l/clusters/", wantOK: false},
		{name: "trailing slash", selfLink: "https://container.googleapis.com/v1/projects/p/locations/l/clusters/c/", wantOK: false},
		{name: "node pool link", selfLink: "https://container.googleapis.com/v1/projects/p/locations/l/clusters/c/nodePools/np", wantOK: false},
		{name: "relative name without leading slash", selfLink: "projects/p/locations/l/clusters/c", wantOK: false},
		{name: "not a link", selfLink: "my-proj", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ProjectFromSelfLink(tc.selfLink)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("ProjectFromSelfLink(%q) = %q, %v, want %q, %v", tc.selfLink, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// writeFiles writes name→content into a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFilesDiscover(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"empty.json": "",
		"array.json": `[{"name": "a", "selfLink": "https://container.googleapis.com/v1/projects/p/locations/l/clusters/a"},
			{"name": "b", "selfLink": "https://container.googleapis.com/v1/projects/p/zones/l-a/clusters/b"}]`,
	})
	missing := filepath.Join(dir, "missing.json")
	empty := filepath.Join(dir, "empty.json")
	array := filepath.Join(dir, "array.json")
	arrayClusters := []scanner.Cluster{
		{ProjectID: "p", Location: "l", Name: "a", SelfLink: "https://container.googleapis.com/v1/projects/p/locations/l/clusters/a"},
		{ProjectID: "p", Location: "l-a", Name: "b", SelfLink: "https://container.googleapis.com/v1/projects/p/zones/l-a/clusters/b"},
	}
	tests := []struct {
		name    string
		paths   []string
		want    []scanner.Cluster
		wantErr string
	}{
		{
			name:  "every cluster of every file in order",
			paths: []string{gcpdiag + "gke3-container-clusters.json", array, gcpdiag + "gke2-container-clusters.json"},
			want:  append(append(append([]scanner.Cluster(nil), gke3Clusters...), arrayClusters...), gke2Clusters...),
		},
		{
			name:  "all gcpdiag dumps",
			paths: []string{gcpdiag + "gke1-container-clusters.json", gcpdiag + "gke2-container-clusters.json", gcpdiag + "gke3-container-clusters.json"},
			want:  append(append(append([]scanner.Cluster(nil), gke1Clusters...), gke2Clusters...), gke3Clusters...),
		},
		{
			name:  "no files",
			paths: nil,
		},
		{
			name:  "missing and bad files are both reported and nothing is found",
			paths: []string{array, missing, empty},
			wantErr: "cluster input: open " + missing + ": no such file or directory\n" +
				empty + ": file is empty",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []scanner.Cluster
			found := func(c scanner.Cluster) { got = append(got, c) }
			failed := func(e scanner.ScanError) { t.Errorf("Files.Discover called failed(%v)", e) }
			_, err := Files{Paths: tc.paths}.Discover(t.Context(), found, failed)
			if errText(err) != tc.wantErr {
				t.Errorf("Files{%v}.Discover() error = %q, want %q", tc.paths, errText(err), tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, noAccess); diff != "" {
				t.Errorf("Files{%v}.Discover() found clusters mismatch (-want +got):\n%s", tc.paths, diff)
			}
		})
	}
}

// The missing file's error keeps its cause inside the joined error.
func TestFilesDiscoverMissingIsNotExist(t *testing.T) {
	dir := writeFiles(t, map[string]string{"bad.json": "{"})
	_, err := Files{Paths: []string{filepath.Join(dir, "nope.json"), filepath.Join(dir, "bad.json")}}.
		Discover(t.Context(), func(scanner.Cluster) {}, func(scanner.ScanError) {})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Files.Discover() error = %v, want one that wraps fs.ErrNotExist", err)
	}
}

func TestFilesDiscoverCancelled(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
	}{
		{name: "valid file", paths: []string{gcpdiag + "gke1-container-clusters.json"}},
		{name: "missing file", paths: []string{filepath.Join(t.TempDir(), "missing.json")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			n := 0
			_, err := Files{Paths: tc.paths}.Discover(ctx, func(scanner.Cluster) { n++ }, func(scanner.ScanError) {})
			if err != context.Canceled {
				t.Errorf("Files{%v}.Discover(cancelled) error = %v, want %v", tc.paths, err, context.Canceled)
			}
			if n != 0 {
				t.Errorf("Files{%v}.Discover(cancelled) found %d clusters, want 0", tc.paths, n)
			}
		})
	}
}

// A cluster's Kubernetes API is reached at the DNS endpoint when external
// traffic may use it, else at the endpoint IP with the cluster's CA.
func TestAccess(t *testing.T) {
	got, err := ParseClusters("gke3", readFile(t, gcpdiag+"gke3-container-clusters.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := got[0].Access
	if a.Endpoint != "35.239.14.64" || !strings.HasPrefix(a.CACert, "LS0tLS1CRUdJTi") || a.DNSEndpoint != "" {
		t.Errorf("gke3 access = %+v, want endpoint 35.239.14.64, its CA and no DNS endpoint", a)
	}
	for _, tc := range []struct {
		external bool
		want     string
	}{{true, "gke-0123456789abcdef-12345.us-central1.gke.goog"}, {false, ""}} {
		in := fmt.Sprintf(`{"name":"c","selfLink":"https://container.googleapis.com/v1/projects/p/locations/l/clusters/c",`+
			`"endpoint":"10.0.0.2","controlPlaneEndpointsConfig":{"dnsEndpointConfig":`+
			`{"endpoint":"gke-0123456789abcdef-12345.us-central1.gke.goog","allowExternalTraffic":%t}}}`, tc.external)
		got, err := ParseClusters("dns.json", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if a := got[0].Access; a.DNSEndpoint != tc.want || a.Endpoint != "10.0.0.2" {
			t.Errorf("allowExternalTraffic %t: access = %+v, want DNS endpoint %q", tc.external, a, tc.want)
		}
	}
}

// A cluster object without networkConfig (a dump trimmed by
// --format="json(…)") says so, and its Dataplane V2 issues are UNKNOWN,
// naming the field, never a pass; a legacy cluster's networkConfig
// without datapathProvider is the legacy dataplane.
func TestNoNetworkConfig(t *testing.T) {
	trimmed := `{"name":"c","selfLink":"https://container.googleapis.com/v1/projects/p/locations/l/clusters/c","currentMasterVersion":"1.27.1-gke.1"}`
	legacy := `{"name":"d","selfLink":"https://container.googleapis.com/v1/projects/p/locations/l/clusters/d","currentMasterVersion":"1.27.1-gke.1","networkConfig":{"network":"n"}}`
	got, err := ParseClusters("in.json", []byte("["+trimmed+","+legacy+"]"))
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].NoNetworkConfig || got[1].NoNetworkConfig {
		t.Fatalf("NoNetworkConfig = %t, %t; want true for the trimmed cluster only", got[0].NoNetworkConfig, got[1].NoNetworkConfig)
	}
	cat := testkit.Catalog(t)
	fs, _ := scanner.Match(cat, &got[0])
	var ids []string
	for _, f := range fs {
		if f.IssueID == "DPV2-NETPOL-CONNTRACK-SELF" || f.IssueID == "DPV2-HAIRPIN-CONNTRACK-LEAK" {
			ids = append(ids, f.IssueID)
			if f.Status != scanner.Unknown || !strings.Contains(f.Reason, "has no networkConfig in the input") {
				t.Errorf("%s: %s %q, want UNKNOWN naming networkConfig", f.IssueID, f.Status, f.Reason)
			}
		}
	}
	if len(ids) != 2 {
		t.Errorf("trimmed cluster's Dataplane V2 control-plane findings = %v, want both UNKNOWN", ids)
	}
	if fs, _ := scanner.Match(cat, &got[1]); len(fs) != 0 {
		for _, f := range fs {
			if strings.HasPrefix(f.IssueID, "DPV2-") {
				t.Errorf("legacy cluster has %s", f.IssueID)
			}
		}
	}
}
