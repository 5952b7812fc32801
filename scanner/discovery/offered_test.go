package discovery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
)

// serverConfigs is the directory of the real gcloud get-server-config dumps.
const serverConfigs = "../../testdata/serverconfig/gcpdiag"

// quick retries fast, so that transient faults cost milliseconds.
var quick = gcpclient.Policy{Timeout: 5 * time.Second, Initial: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 12}

func TestOfferedFromProto(t *testing.T) {
	sc := &containerpb.ServerConfig{
		DefaultClusterVersion: "1.30.5-gke.1014001",
		ValidMasterVersions:   []string{"1.31.1-gke.1678000", "1.30.5-gke.1014001"},
		ValidNodeVersions:     []string{"1.31.1-gke.1678000", "1.30.5-gke.1014001", "1.29.9-gke.1496000"},
		Channels: []*containerpb.ServerConfig_ReleaseChannelConfig{
			{Channel: containerpb.ReleaseChannel_RAPID, DefaultVersion: "1.31.1-gke.1678000", ValidVersions: []string{"1.31.1-gke.1678000"}},
			{Channel: containerpb.ReleaseChannel_Channel(0), ValidVersions: []string{"1.20.1-gke.1"}},
			{Channel: containerpb.ReleaseChannel_EXTENDED, ValidVersions: []string{"1.30.5-gke.1014001", "1.29.9-gke.1496000"}, UpgradeTargetVersion: "1.30.5-gke.1014001"},
			{Channel: containerpb.ReleaseChannel_Channel(9), ValidVersions: []string{"1.32.0-gke.1"}}, // newer than this client
		},
	}
	got := OfferedFromProto(sc)
	want := scanner.Offered{
		MasterVersions: []string{"1.31.1-gke.1678000", "1.30.5-gke.1014001"},
		NodeVersions:   []string{"1.31.1-gke.1678000", "1.30.5-gke.1014001", "1.29.9-gke.1496000"},
		Channels: map[string][]string{
			"RAPID":    {"1.31.1-gke.1678000"},
			"EXTENDED": {"1.30.5-gke.1014001", "1.29.9-gke.1496000"},
			"9":        {"1.32.0-gke.1"},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("OfferedFromProto (-want +got):\n%s", d)
	}
	sc.ValidMasterVersions[0] = "changed"
	sc.Channels[0].ValidVersions[0] = "changed"
	if got.MasterVersions[0] != "1.31.1-gke.1678000" || got.Channels["RAPID"][0] != "1.31.1-gke.1678000" {
		t.Errorf("OfferedFromProto shares the proto's slices: %v", got)
	}
	if got := OfferedFromProto(&containerpb.ServerConfig{ValidMasterVersions: []string{"1.31.1-gke.1678000"}}); got.Channels != nil {
		t.Errorf("Channels of a config without channels = %#v, want nil", got.Channels)
	}
}

// The real gcloud dumps load with their concrete values.
func TestServerConfigDirGcpdiag(t *testing.T) {
	d := ServerConfigDir{Dir: serverConfigs}
	got, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("Load() has locations %v, want europe-west4 and europe-west10", keys(got))
	}
	type summary struct {
		Masters, Nodes                         int
		NewestMaster, OldestMaster, OldestNode string
		Channels                               map[string][]string // the newest and the oldest of each, and their count
	}
	sum := func(o scanner.Offered) summary {
		s := summary{Masters: len(o.MasterVersions), Nodes: len(o.NodeVersions), NewestMaster: o.MasterVersions[0],
			OldestMaster: o.MasterVersions[len(o.MasterVersions)-1], OldestNode: o.NodeVersions[len(o.NodeVersions)-1], Channels: map[string][]string{}}
		for ch, vs := range o.Channels {
			s.Channels[ch] = []string{vs[0], vs[len(vs)-1], fmt.Sprint(len(vs))}
		}
		return s
	}
	want := map[string]summary{
		"europe-west4": {
			Masters: 24, Nodes: 493, NewestMaster: "1.26.3-gke.1000", OldestMaster: "1.21.14-gke.8500", OldestNode: "1.11.10-gke.5",
			Channels: map[string][]string{
				"RAPID":   {"1.26.3-gke.1000", "1.21.14-gke.18800", "11"},
				"REGULAR": {"1.26.2-gke.1000", "1.21.14-gke.18800", "7"},
				"STABLE":  {"1.24.11-gke.1000", "1.21.14-gke.15800", "7"},
			},
		},
		"europe-west10": {
			Masters: 35, Nodes: 629, NewestMaster: "1.29.3-gke.1093000", OldestMaster: "1.25.15-gke.1115000", OldestNode: "1.11.10-gke.5",
			Channels: map[string][]string{
				"RAPID":   {"1.29.3-gke.1093000", "1.25.16-gke.1596000", "15"},
				"REGULAR": {"1.29.1-gke.1589018", "1.25.16-gke.1460000", "12"},
				"STABLE":  {"1.28.3-gke.1286000", "1.25.15-gke.1115000", "11"},
			},
		},
	}
	for l, w := range want {
		if d := cmp.Diff(w, sum(got[l])); d != "" {
			t.Errorf("%s (-want +got):\n%s", l, d)
		}
	}
	if v := got["europe-west4"].MasterVersions[4]; v != "1.25.7-gke.1000" { // defaultClusterVersion
		t.Errorf("europe-west4 validMasterVersions[4] = %q, want 1.25.7-gke.1000", v)
	}

	offers, err := d.Offers()
	if err != nil {
		t.Fatal(err)
	}
	var _ scanner.Offers = offers
	o, err := offers.Offered(t.Context(), "any-project", "europe-west10")
	if err != nil || o.MasterVersions[0] != "1.29.3-gke.1093000" {
		t.Errorf("Offered(europe-west10) = %v, %v", o.MasterVersions[:1], err)
	}
	// Exact: a regional file does not answer for its zones.
	_, err = offers.Offered(t.Context(), "any-project", "europe-west10-a")
	wantMsg := "no server config for location europe-west10-a in " + serverConfigs + " (want " + serverConfigs +
		"/europe-west10-a.json from gcloud container get-server-config --location europe-west10-a --format=json)"
	if errText(err) != wantMsg || codeOf(err) != "NOT_FOUND" {
		t.Errorf("Offered(europe-west10-a) error = %q (code %q), want %q (NOT_FOUND)", errText(err), codeOf(err), wantMsg)
	}
}

// codeOf is the code the scan records for an Offers error: its Code()
// method's ("" without one).
func codeOf(err error) string {
	var c interface{ Code() string }
	if errors.As(err, &c) {
		return c.Code()
	}
	return ""
}

func keys(m map[string]scanner.Offered) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestParseServerConfigErrors(t *testing.T) {
	const shape = "in.json: wrong shape: want one ServerConfig object, as gcloud container get-server-config --format=json prints it"
	const none = "in.json: no versions: validMasterVersions, validNodeVersions and every channel's validVersions are empty or missing"
	for _, tc := range []struct{ name, in, want string }{
		{"empty file", "", "in.json: file is empty"},
		{"truncated", "{\n  \"validMasterVersions\": [\n    \"1.29.3-gke.1093000\",\n", "in.json:3:26: invalid JSON: unexpected end of JSON input"},
		{"bad token", `{"validMasterVersions": ["1.29.3-gke.1093000",]}`, "in.json:1:47: invalid JSON: invalid character ']' looking for beginning of value"},
		{"trailing garbage", `{"validMasterVersions": ["1.29.3-gke.1093000"]} x`, "in.json:1:49: invalid JSON: invalid character 'x' after top-level value"},
		{"array", `[{"validMasterVersions": ["1.29.3-gke.1093000"]}]`, shape},
		{"string", `"1.29.3-gke.1093000"`, shape},
		{"null", `null`, shape},
		{"version of the wrong type", "{\n  \"validMasterVersions\": [\n    1.29\n  ]\n}", "in.json: not a Container API server config: (line 3:5): invalid value for string field validMasterVersions: 1.29"},
		{"versions not an array", `{"validNodeVersions": "1.29.3-gke.1093000"}`, `in.json: not a Container API server config: syntax error (column 23): unexpected token "1.29.3-gke.1093000"`},
		{"channel of the wrong type", `{"channels": [{"channel": true, "validVersions": ["1.29.3-gke.1093000"]}]}`, "in.json: not a Container API server config: (column 27): invalid value for enum field channel: true"},
		{"empty object", `{}`, none},
		{"only other fields", `{"defaultClusterVersion": "1.29.3-gke.1093000", "defaultImageType": "COS_CONTAINERD", "items": []}`, none},
		{"channels without versions", `{"validMasterVersions": [], "channels": [{"channel": "RAPID", "defaultVersion": "1.29.3-gke.1093000"}]}`, none},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseServerConfig("in.json", []byte(tc.in))
			if errText(err) != tc.want {
				t.Errorf("ParseServerConfig(%s) error = %q, want %q", tc.in, errText(err), tc.want)
			}
		})
	}
	// Versions in a channel alone are enough; unknown fields and enum names are ignored.
	got, err := ParseServerConfig("in.json", []byte(`{"channels": [{"channel": "RAPID", "validVersions": ["1.34.1-gke.1"]}, {"channel": "NIGHTLY", "validVersions": ["1.35.0-gke.1"]}], "windowsVersionMaps": {}}`))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(scanner.Offered{Channels: map[string][]string{"RAPID": {"1.34.1-gke.1"}}}, got); d != "" {
		t.Errorf("ParseServerConfig (-want +got):\n%s", d)
	}
}

func TestServerConfigDirErrors(t *testing.T) {
	const ok = `{"validMasterVersions": ["1.31.5-gke.1233000"]}`
	const want = "(want only %[1]s/L.json from gcloud container get-server-config --location L --format=json, one per location)"
	for _, tc := range []struct {
		name  string
		files map[string]string // "" content: a directory
		want  string            // %[1]s is the directory
	}{
		{"malformed JSON", map[string]string{"us-central1.json": ok, "us-east1.json": "{\n  \"validMasterVersions\": [\"1.31.5-gke.1233000\"\n}\n"},
			"%[1]s/us-east1.json:3:1: invalid JSON: invalid character '}' after array element"},
		{"wrong type", map[string]string{"us-east1-b.json": `{"validMasterVersions": {}}`},
			"%[1]s/us-east1-b.json: not a Container API server config: syntax error (column 25): unexpected token {"},
		{"no versions", map[string]string{"us-east1.json": `{"defaultImageType": "COS_CONTAINERD"}`},
			"%[1]s/us-east1.json: no versions: validMasterVersions, validNodeVersions and every channel's validVersions are empty or missing"},
		{"bad location name", map[string]string{"us-central1.json": ok, "container-server-config-us-central1.json": ok},
			`%[1]s/container-server-config-us-central1.json: "container-server-config-us-central1" is not a GCP location (want a region such as us-central1 or a zone such as us-central1-a: %[1]s/us-central1.json)`},
		{"upper case", map[string]string{"US-CENTRAL1.json": ok},
			`%[1]s/US-CENTRAL1.json: "US-CENTRAL1" is not a GCP location (want a region such as us-central1 or a zone such as us-central1-a: %[1]s/us-central1.json)`},
		{"all locations", map[string]string{"-.json": ok},
			`%[1]s/-.json: "-" is not a GCP location (want a region such as us-central1 or a zone such as us-central1-a: %[1]s/us-central1.json)`},
		{"not a .json file", map[string]string{"us-central1.json": ok, "README.md": "# notes"},
			"%[1]s/README.md: not a .json file " + want},
		{"a directory", map[string]string{"us-central1.json": ok, "old": ""},
			"%[1]s/old: not a .json file " + want},
		{"every problem", map[string]string{"us-central1.json": "", "x.json": ok, "notes.txt": "x"},
			"%[1]s/notes.txt: not a .json file " + want + "\n" +
				"%[1]s/us-central1.json: file is empty\n" +
				`%[1]s/x.json: "x" is not a GCP location (want a region such as us-central1 or a zone such as us-central1-a: %[1]s/us-central1.json)`},
		{"empty directory", map[string]string{},
			"server config: %[1]s is empty (want %[1]s/L.json from gcloud container get-server-config --location L --format=json for each location of the clusters)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				var err error
				if content == "" && filepath.Ext(name) == "" {
					err = os.Mkdir(filepath.Join(dir, name), 0o755)
				} else {
					err = os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := ServerConfigDir{Dir: dir}.Load()
			if want := fmt.Sprintf(tc.want, dir); errText(err) != want {
				t.Errorf("Load() error = %q\nwant %q", errText(err), want)
			}
			if got != nil {
				t.Errorf("Load() = %v, want nil", got)
			}
			if _, err := (ServerConfigDir{Dir: dir}).Offers(); err == nil {
				t.Error("Offers() error = nil")
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "none")
	_, err := ServerConfigDir{Dir: missing}.Load()
	if want := "server config: open " + missing + ": no such file or directory"; errText(err) != want || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load() of a missing directory error = %q, want %q wrapping fs.ErrNotExist", errText(err), want)
	}
}

func TestServerConfigDirLocations(t *testing.T) {
	dir := t.TempDir()
	const ok = `{"validNodeVersions": ["1.31.5-gke.1233000"]}`
	ls := []string{"us-central1", "us-central1-a", "northamerica-northeast1", "europe-west10-c", "me-central2", "africa-south1"}
	for _, l := range ls {
		if err := os.WriteFile(filepath.Join(dir, l+".json"), []byte(ok), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	offers, err := ServerConfigDir{Dir: dir}.Offers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if o, err := offers.Offered(t.Context(), "p", l); err != nil || o.NodeVersions[0] != "1.31.5-gke.1233000" {
			t.Errorf("Offered(%s) = %v, %v", l, o, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := offers.Offered(ctx, "p", "us-central1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Offered(cancelled) error = %v, want context.Canceled", err)
	}
}

// live starts a fake of fleet f and a ServerConfigs on the real Container
// client.
func liveOffers(t *testing.T, f *fleetgen.Fleet, opt gcpfake.Options) (*gcpfake.Server, *ServerConfigs) {
	t.Helper()
	srv, err := gcpfake.Start(f, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, err := container.NewClusterManagerClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return srv, &ServerConfigs{Client: c, Policy: quick}
}

func genFleet(t *testing.T, o fleetgen.Options) *fleetgen.Fleet {
	t.Helper()
	f, err := fleetgen.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// crowded returns a location with clusters of two projects, and those
// projects.
func crowded(t *testing.T, f *fleetgen.Fleet) (location string, projects [2]string) {
	t.Helper()
	first := map[string]string{} // location → a project
	for _, c := range f.Clusters {
		p, _ := ProjectFromSelfLink(c.GetSelfLink())
		l := c.GetLocation()
		if q, ok := first[l]; ok && q != p {
			return l, [2]string{q, p}
		}
		first[l] = p
	}
	t.Fatal("no location has clusters of two projects")
	return "", projects
}

const getServerConfig = "container.GetServerConfig"

// One call per location, whichever clusters and projects ask.
func TestServerConfigsCaches(t *testing.T) {
	f := genFleet(t, fleetgen.Options{Clusters: 80, Projects: 8, Seed: 3})
	srv, s := liveOffers(t, f, gcpfake.Options{})
	ctx := t.Context()
	l, ps := crowded(t, f)
	var in int
	for _, c := range f.Clusters {
		if c.GetLocation() != l {
			continue
		}
		in++
		p, _ := ProjectFromSelfLink(c.GetSelfLink())
		got, err := s.Offered(ctx, p, l)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(OfferedFromProto(f.ServerConfig(l)), got); d != "" {
			t.Fatalf("Offered(%s, %s) (-want +got):\n%s", p, l, d)
		}
	}
	if _, err := s.Offered(ctx, ps[1], l); err != nil {
		t.Fatal(err)
	}
	if in < 2 || s.Calls() != 1 || srv.Calls()[getServerConfig] != 1 {
		t.Errorf("%d clusters in %s: Calls() = %d, the fake got %d calls; want 1 and 1", in, l, s.Calls(), srv.Calls()[getServerConfig])
	}
	// Every location: one call each.
	for _, loc := range f.Locations() {
		if _, err := s.Offered(ctx, ps[0], loc); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.Locations()); s.Calls() != n || srv.Calls()[getServerConfig] != n {
		t.Errorf("%d locations: Calls() = %d, the fake got %d calls", n, s.Calls(), srv.Calls()[getServerConfig])
	}
}

// Concurrent callers for a location share the call in flight.
func TestServerConfigsConcurrent(t *testing.T) {
	f := genFleet(t, fleetgen.Options{Clusters: 40, Projects: 4, Seed: 3})
	srv, s := liveOffers(t, f, gcpfake.Options{Latency: 50 * time.Millisecond})
	l, ps := crowded(t, f)
	const callers = 32
	var wg sync.WaitGroup
	results := make([]scanner.Offered, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			results[i], errs[i] = s.Offered(t.Context(), ps[i%2], l)
		})
	}
	wg.Wait()
	want := OfferedFromProto(f.ServerConfig(l))
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if d := cmp.Diff(want, results[i]); d != "" {
			t.Fatalf("caller %d (-want +got):\n%s", i, d)
		}
	}
	if s.Calls() != 1 || srv.Calls()[getServerConfig] != 1 {
		t.Errorf("%d concurrent callers: Calls() = %d, the fake got %d calls; want 1 and 1", callers, s.Calls(), srv.Calls()[getServerConfig])
	}
}

// A denied project's error keeps its code; it is kept for that project, and
// another project with clusters in the location may still ask.
func TestServerConfigsDenied(t *testing.T) {
	f := genFleet(t, fleetgen.Options{Clusters: 40, Projects: 4, Seed: 3})
	l, ps := crowded(t, f)
	srv, s := liveOffers(t, f, gcpfake.Options{Deny: map[string]codes.Code{ps[0]: codes.PermissionDenied}})
	ctx := t.Context()
	_, err := s.Offered(ctx, ps[0], l)
	if gcpclient.Code(err) != codes.PermissionDenied || gcpclient.CodeName(err) != "PERMISSION_DENIED" || codeOf(err) != "PERMISSION_DENIED" {
		t.Fatalf("Offered of a denied project: error %v, code %v; want PERMISSION_DENIED", err, gcpclient.Code(err))
	}
	want := "get the versions offered in " + l + " with the Container API: rpc error: code = PermissionDenied desc = gcpfake: access to " + ps[0] + " denied (Options.Deny)"
	if errText(err) != want {
		t.Errorf("error = %q, want %q", errText(err), want)
	}
	_, err2 := s.Offered(ctx, ps[0], l)
	if err2 != err || s.Calls() != 1 || srv.Calls()[getServerConfig] != 1 {
		t.Errorf("asked again: error %v (want the same), Calls() = %d, the fake got %d; want 1 and 1", err2, s.Calls(), srv.Calls()[getServerConfig])
	}
	got, err := s.Offered(ctx, ps[1], l)
	if err != nil {
		t.Fatalf("Offered of an allowed project: %v", err)
	}
	if d := cmp.Diff(OfferedFromProto(f.ServerConfig(l)), got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, err := s.Offered(ctx, ps[0], l); err != nil || s.Calls() != 2 {
		t.Errorf("after an answer: Offered(%s) error %v, Calls() = %d; want the answer and 2", ps[0], err, s.Calls())
	}
}

// A caller that asks while a denied project's call is in flight waits for
// it, then asks with its own project.
func TestServerConfigsDeniedInFlight(t *testing.T) {
	f := genFleet(t, fleetgen.Options{Clusters: 40, Projects: 4, Seed: 3})
	l, ps := crowded(t, f)
	arrived := make(chan struct{}, 4)
	srv, s := liveOffers(t, f, gcpfake.Options{Latency: 30 * time.Millisecond, Deny: map[string]codes.Code{ps[0]: codes.PermissionDenied},
		OnCall: func(string, int) { arrived <- struct{}{} }})
	var denied error
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, denied = s.Offered(t.Context(), ps[0], l)
	}()
	<-arrived // the denied call is in flight
	got, err := s.Offered(t.Context(), ps[1], l)
	<-done
	if gcpclient.Code(denied) != codes.PermissionDenied || err != nil || len(got.MasterVersions) == 0 {
		t.Errorf("denied project: %v; allowed project: %v, %d master versions", denied, err, len(got.MasterVersions))
	}
	if s.Calls() != 2 || srv.Calls()[getServerConfig] != 2 {
		t.Errorf("Calls() = %d, the fake got %d; want 2 and 2", s.Calls(), srv.Calls()[getServerConfig])
	}
}

// Transient faults are retried under the policy, within one call.
func TestServerConfigsTransient(t *testing.T) {
	f := genFleet(t, fleetgen.Options{Clusters: 60, Projects: 6, Seed: 3})
	srv, s := liveOffers(t, f, gcpfake.Options{TransientRate: 0.5, Seed: 2})
	p := f.Projects[0].ID
	for _, l := range f.Locations() {
		got, err := s.Offered(t.Context(), p, l)
		if err != nil {
			t.Fatalf("Offered(%s): %v", l, err)
		}
		if d := cmp.Diff(OfferedFromProto(f.ServerConfig(l)), got); d != "" {
			t.Fatalf("Offered(%s) (-want +got):\n%s", l, d)
		}
	}
	n := len(f.Locations())
	if s.Calls() != n || srv.Calls()[getServerConfig] <= n {
		t.Errorf("%d locations: Calls() = %d, the fake got %d; want %d and more (retries)", n, s.Calls(), srv.Calls()[getServerConfig], n)
	}
	// Retries spent: the error is the last transient one, and it is kept.
	srv2, s2 := liveOffers(t, f, gcpfake.Options{TransientRate: 1})
	s2.Policy.Attempts = 2
	_, err := s2.Offered(t.Context(), p, f.Clusters[0].GetLocation())
	if c := gcpclient.Code(err); c != codes.Unavailable && c != codes.ResourceExhausted || codeOf(err) != gcpclient.CodeName(err) {
		t.Errorf("retries spent: error %v, want UNAVAILABLE or RESOURCE_EXHAUSTED", err)
	}
	if got := srv2.Calls()[getServerConfig]; got != 3 || s2.Calls() != 1 {
		t.Errorf("retries spent: the fake got %d calls, Calls() = %d; want 3 (1 + 2 retries) and 1", got, s2.Calls())
	}
}

// A call cancelled by its caller is not kept: the next caller asks again.
func TestServerConfigsCancelled(t *testing.T) {
	f := genFleet(t, fleetgen.Options{Clusters: 20, Projects: 2, Seed: 3})
	arrived := make(chan struct{}, 4)
	srv, s := liveOffers(t, f, gcpfake.Options{Latency: 200 * time.Millisecond, OnCall: func(string, int) { arrived <- struct{}{} }})
	l, p := f.Clusters[0].GetLocation(), f.Projects[0].ID
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-arrived; cancel() }()
	if _, err := s.Offered(ctx, p, l); gcpclient.Code(err) != codes.Canceled {
		t.Fatalf("cancelled Offered error = %v, want CANCELED", err)
	}
	if _, err := s.Offered(ctx, p, l); !errors.Is(err, context.Canceled) {
		t.Errorf("Offered with a cancelled context error = %v, want context.Canceled", err)
	}
	if _, err := s.Offered(t.Context(), p, l); err != nil {
		t.Fatalf("Offered after a cancelled call: %v", err)
	}
	if s.Calls() != 2 || srv.Calls()[getServerConfig] != 2 {
		t.Errorf("Calls() = %d, the fake got %d; want 2 and 2", s.Calls(), srv.Calls()[getServerConfig])
	}
}
