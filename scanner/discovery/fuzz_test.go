package discovery

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseClusters: ParseClusters never panics, returns an error or
// clusters (never both, never neither), every cluster it returns has a name
// and a project ID, and the same input always gives the same result.
func FuzzParseClusters(f *testing.F) {
	files, err := filepath.Glob("../../testdata/gcpdiag/*-container-clusters.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no gcpdiag cluster files: %v", err)
	}
	for _, p := range append(files, "../../testdata/demo/fleet.json") {
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
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseClusters("fuzz.json", data)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseClusters returned %d clusters and error %v", len(got), err)
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
		if diff := cmp.Diff(got, again); diff != "" {
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
