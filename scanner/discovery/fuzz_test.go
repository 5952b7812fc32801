package discovery

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseClusters: ParseClusters never panics, returns an error or
// clusters (never both, never neither), every cluster it returns has a name
// and a project ID, every line of an error starts with the file's name
// (FILE: or FILE:LINE:COL:), and the same input always gives the same
// result. The seeds hold every form: clusters, assets, NDJSON of both, and
// files of other kinds.
func FuzzParseClusters(f *testing.F) {
	files, err := filepath.Glob("../../testdata/gcpdiag/*-container-clusters.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no gcpdiag cluster files: %v", err)
	}
	more, err := filepath.Glob("../../testdata/cli/*")
	if err != nil || len(more) == 0 {
		f.Fatalf("no testdata/cli files: %v", err)
	}
	files = append(files, more...)
	files = append(files, "../../testdata/demo/fleet.json", "../../testdata/forseti/cai-cluster-asset.ndjson",
		"../../testdata/demo/logs.json", "../../testdata/serverconfig/gcpdiag/europe-west4.json")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	const selfLink = "https://container.googleapis.com/v1/projects/proj-a/locations/us-central1/clusters/c1"
	for _, s := range []string{
		`[{"name":"c1","selfLink":"` + selfLink + `","currentMasterVersion":"1.28.3-gke.1090000"}]`,
		`{"clusters":[{"name":"c1","selfLink":"` + selfLink + `","nodePools":[{"name":"p","version":"1.27.3-gke.100","config":{"imageType":"COS_CONTAINERD"}}]}]}`,
		`{"name":"c1","selfLink":"` + selfLink + `","networkConfig":{"datapathProvider":"ADVANCED_DATAPATH"},"autopilot":{"enabled":true}}`,
		`{"name":"c1","selfLink":"https://container.googleapis.com/v1/projects/proj-a/zones/us-central1-a/clusters/c1","networkConfig":{"datapathProvider":"FUTURE_DATAPATH"},"status":"RUNNING","releaseChannel":{"channel":"RAPID"}}`,
		`{"clusters":[],"missingZones":["us-east1-b"]}`,
		`{}`,
		`[]`,
		`[{"name":""}]`,
		`{"name":"c1"}`,
		`{"clusters":{}}`,
		`"a string"`,
		`not json`,
		``,
		`[{"name":"c1","selfLink":"` + selfLink + `"},`,
		`{"name":"c1","selfLink":"` + selfLink + `"}` + "\n" + `{"name":"c2","selfLink":"` + selfLink + `"}` + "\n",
		`{"name":"//container.googleapis.com/projects/p/locations/l/clusters/c","assetType":"container.googleapis.com/Cluster","resource":{"data":{"name":"c"}}}`,
		`{"name":"//container.googleapis.com/v1/projects/p/zones/l-a/clusters/c","asset_type":"container.googleapis.com/Cluster","resource":{"data":{"name":"c","status":"RUNNING"}}}` + "\n" +
			`{"name":"//compute.googleapis.com/projects/p/zones/l-a/instances/i","asset_type":"compute.googleapis.com/Instance","resource":{"data":{"name":"i"}}}`,
		`{"assets":[{"name":"//container.googleapis.com/projects/p/locations/l/clusters/c","assetType":"container.googleapis.com/Cluster"}],"readTime":"2026-01-01T00:00:00Z"}`,
		`{"assets":[],"readTime":"2026-01-01T00:00:00Z"}`,
		`[{"name":"//x","assetType":"container.googleapis.com/Cluster","resource":{"data":{"name":"c"}}}]`,
		`{"entries":[{"insertId":"a","timestamp":"2026-01-01T00:00:00Z"}]}`,
		`{"apiVersion":"v1","kind":"List","items":[]}`,
		`{"validMasterVersions":["1.30.1-gke.1"]}`,
		"[\n{\"name\":\"c1\",\n\"description\":\"caf\u00e9\",\"status\":true}]",
		"{\"name\":\"c1\"}\n{\"name\":",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseClusters("fuzz.json", data)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseClusters returned %d clusters and error %v", len(got), err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.json:") {
					t.Fatalf("error line %q does not start with the file name", line)
				}
			}
		} else {
			if got == nil {
				t.Fatal("ParseClusters returned neither clusters nor an error")
			}
			for i, c := range got {
				if c.Name == "" || c.ProjectID == "" {
					t.Fatalf("cluster %d has name %q, project %q: want both", i, c.Name, c.ProjectID)
				}
			}
		}
		again, err2 := ParseClusters("fuzz.json", data)
		if fuzzErrString(err) != fuzzErrString(err2) {
			t.Fatalf("not deterministic: error %v, then %v", err, err2)
		}
		if diff := cmp.Diff(got, again, noObject); diff != "" {
			t.Fatalf("not deterministic (-first +second):\n%s", diff)
		}
	})
}

func fuzzErrString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
