package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/test/fleetgen"
)

// The demo's server configs (testdata/demo/serverconfig, what make demo
// passes as --server-config): the real gcloud output of gcpdiag's projects
// for the two regions it has, and for every other location of the demo
// versions generated as fleetgen does from the clusters there. go test
// -update rewrites them.
func TestDemoServerConfigs(t *testing.T) {
	var inputs []string
	for i, a := range demoArgs() {
		if a == "--input" {
			inputs = append(inputs, demoArgs()[i+1])
		}
	}
	var clusters []scanner.Cluster
	if _, err := (discovery.Files{Paths: inputs}).Discover(t.Context(), func(c scanner.Cluster) { clusters = append(clusters, c) }, func(e scanner.ScanError) {
		t.Errorf("scan error %+v", e)
	}); err != nil {
		t.Fatal(err)
	}
	var fleet fleetgen.Fleet // only what ServerConfig reads: locations and versions
	var locations []string
	for _, c := range clusters {
		//lint:ignore SA1019 deprecated, but what an Autopilot cluster without pools reports, and the scanner reads it
		pc := &containerpb.Cluster{Location: c.Location, CurrentMasterVersion: c.MasterVersion, CurrentNodeVersion: c.NodeVersion}
		for _, p := range c.NodePools {
			pc.NodePools = append(pc.NodePools, &containerpb.NodePool{Version: p.Version})
		}
		fleet.Clusters = append(fleet.Clusters, pc)
		if !slices.Contains(locations, c.Location) {
			locations = append(locations, c.Location)
		}
	}
	dir := data + "demo/serverconfig"
	want := map[string][]byte{}
	for _, l := range locations {
		b, err := os.ReadFile(data + "serverconfig/gcpdiag/" + l + ".json")
		if os.IsNotExist(err) {
			b, err = fleetgen.ServerConfigJSON(fleet.ServerConfig(l))
		}
		if err != nil {
			t.Fatal(err)
		}
		want[l+".json"] = b
	}
	if *update {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, _ := filepath.Glob(dir + "/*.json")
	if len(files) != len(want) {
		t.Errorf("%s has %d files, want one per demo location (%d): go test -update", dir, len(files), len(want))
	}
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s/%s is stale or missing (%v): go test ./scanner/cmd/fleetscan -run TestDemoServerConfigs -update", dir, name, err)
		}
	}
	if _, err := (discovery.ServerConfigDir{Dir: dir}).Offers(); err != nil {
		t.Errorf("the demo's server configs do not load: %v", err)
	}
}
