// Package test holds fleetscan's end-to-end tests: the real Google Cloud
// clients against the in-process fakes of gcpfake, on fleets from fleetgen.
package test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	asset "cloud.google.com/go/asset/apiv1"
	container "cloud.google.com/go/container/apiv1"
	logging "cloud.google.com/go/logging/apiv2"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/evidence"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
	"github.com/fleetscan/fleetscan/test/testkit"
)

// fast retries quickly so that injected faults do not slow the suite.
var fast = gcpclient.Policy{Timeout: 20 * time.Second, Initial: time.Millisecond, Max: 20 * time.Millisecond, Attempts: 12}

var modes = []string{discovery.ModeAssetInventory, discovery.ModeContainerAPI}

func generate(t testing.TB, clusters, projects int) *fleetgen.Fleet {
	t.Helper()
	f, err := fleetgen.Generate(fleetgen.Options{Clusters: clusters, Projects: projects, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var embedded = testkit.Catalog

// scanFiles is the offline path: the fleet written as gcloud JSON files.
func scanFiles(t *testing.T, f *fleetgen.Fleet) *scanner.Result {
	t.Helper()
	return scanFilesWith(t, f, nil)
}

// scanFilesWith is scanFiles with in-cluster checks from ic (nil: none).
func scanFilesWith(t *testing.T, f *fleetgen.Fleet, ic scanner.InCluster) *scanner.Result {
	t.Helper()
	clusters, logs, err := f.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	entries, err := evidence.ReadFiles([]string{logs})
	if err != nil {
		t.Fatal(err)
	}
	// The versions offered, as gcloud container get-server-config prints them.
	dir := filepath.Join(t.TempDir(), "serverconfig")
	if err := f.WriteServerConfigs(dir); err != nil {
		t.Fatal(err)
	}
	offers, err := discovery.ServerConfigDir{Dir: dir}.Offers()
	if err != nil {
		t.Fatal(err)
	}
	res, err := scanner.Scan(t.Context(), scanner.Options{
		Catalog: embedded(t), Source: discovery.Files{Paths: []string{clusters}}, Evidence: evidence.Entries(entries),
		InCluster: ic, Offers: offers, ScanID: "e2e", Now: f.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// live holds the real clients connected to a fake.
type live struct {
	srv      *gcpfake.Server
	asset    *asset.Client
	clusters *container.ClusterManagerClient
	projects *resourcemanager.ProjectsClient
	folders  *resourcemanager.FoldersClient
	logging  *logging.Client
}

func startLive(t testing.TB, f *fleetgen.Fleet, opt gcpfake.Options) *live {
	t.Helper()
	srv, err := gcpfake.Start(f, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx := context.Background()
	l := &live{srv: srv}
	opts := srv.ClientOptions()
	var errs [5]error
	l.asset, errs[0] = asset.NewClient(ctx, opts...)
	l.clusters, errs[1] = container.NewClusterManagerClient(ctx, opts...)
	l.projects, errs[2] = resourcemanager.NewProjectsClient(ctx, opts...)
	l.folders, errs[3] = resourcemanager.NewFoldersClient(ctx, opts...)
	l.logging, errs[4] = logging.NewClient(ctx, opts...)
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.asset.Close()
		l.clusters.Close()
		l.projects.Close()
		l.folders.Close()
		l.logging.Close()
	})
	return l
}

// source is mode's source of scope, reading the clusters for cat.
func (l *live) source(mode string, scope scanner.Scope, cat *catalog.Catalog) scanner.Source {
	if mode == discovery.ModeAssetInventory {
		return &discovery.AssetInventory{Client: l.asset, Scope: scope, Policy: fast, Catalog: cat}
	}
	return &discovery.ContainerAPI{Clusters: l.clusters, Projects: l.projects, Folders: l.folders, Scope: scope, Policy: fast}
}

func (l *live) scan(ctx context.Context, t testing.TB, f *fleetgen.Fleet, mode string) (*scanner.Result, error) {
	t.Helper()
	return l.scanWith(ctx, t, f, mode, nil)
}

// scanWith is scan with in-cluster checks from ic (nil: none).
func (l *live) scanWith(ctx context.Context, t testing.TB, f *fleetgen.Fleet, mode string, ic scanner.InCluster) (*scanner.Result, error) {
	t.Helper()
	scope, err := scanner.ParseScope(f.Org)
	if err != nil {
		t.Fatal(err)
	}
	return scanner.Scan(ctx, scanner.Options{
		Catalog: embedded(t), Source: l.source(mode, scope, embedded(t)),
		Evidence: &evidence.Logging{Client: l.logging, Policy: fast}, InCluster: ic,
		Offers: &discovery.ServerConfigs{Client: l.clusters, Policy: fast}, ScanID: "e2e", Now: f.Now,
	})
}

// The live path, in both modes, returns exactly what the offline path
// returns for the same fleet written to files.
func TestLiveMatchesOffline(t *testing.T) {
	f := generate(t, 400, 80)
	want := scanFiles(t, f)
	if want.Summary.ByStatus[scanner.Observed] == 0 || want.Summary.ByStatus[scanner.Unknown] == 0 || want.Summary.UnmatchedEvents == 0 {
		t.Fatalf("generated fleet lacks a case: %+v", want.Summary)
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := startLive(t, f, gcpfake.Options{})
			got, err := l.scan(t.Context(), t, f, mode)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.Findings, got.Findings); diff != "" {
				t.Errorf("findings (-offline +live):\n%s", diff)
			}
			if diff := cmp.Diff(want.Clusters, got.Clusters); diff != "" {
				t.Errorf("clusters (-offline +live):\n%s", diff)
			}
			if diff := cmp.Diff(want.Summary, got.Summary); diff != "" {
				t.Errorf("summary (-offline +live):\n%s", diff)
			}
			calls := l.srv.Calls()
			if mode == discovery.ModeAssetInventory && calls["asset.ListAssets"] != 1 {
				t.Errorf("ListAssets calls = %d, want 1 for 400 clusters", calls["asset.ListAssets"])
			}
			if mode == discovery.ModeContainerAPI && calls["container.ListClusters"] != len(f.Projects) {
				t.Errorf("ListClusters calls = %d, want one per project (%d)", calls["container.ListClusters"], len(f.Projects))
			}
			if got := calls["logging.ListLogEntries"]; got != 1 {
				t.Errorf("ListLogEntries calls = %d, want 1 for 80 projects", got)
			}
		})
	}
}

// A fleet of real-size clusters (fleetgen.Options.RealSize: endpoint, CA
// certificate, logging, node configuration and more, about 8 KB each) scans,
// live in both modes, to the findings, records and summary of the same
// fleet without those fields: none of them decides anything, and a live
// scan decodes only the fields it reads.
func TestRealSizeChangesNoFinding(t *testing.T) {
	want := scanFiles(t, generate(t, 300, 60))
	padded, err := fleetgen.Generate(fleetgen.Options{Clusters: 300, Projects: 60, Seed: 42, RealSize: true})
	if err != nil {
		t.Fatal(err)
	}
	// The records' clusters differ in how to reach their API only.
	noAccess := cmpopts.IgnoreFields(scanner.Cluster{}, "Access")
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := startLive(t, padded, gcpfake.Options{})
			got, err := l.scan(t.Context(), t, padded, mode)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.Findings, got.Findings); diff != "" {
				t.Errorf("findings (-plain +real size):\n%s", diff)
			}
			if diff := cmp.Diff(want.Clusters, got.Clusters, noAccess); diff != "" {
				t.Errorf("clusters (-plain +real size):\n%s", diff)
			}
			if diff := cmp.Diff(want.Summary, got.Summary); diff != "" {
				t.Errorf("summary (-plain +real size):\n%s", diff)
			}
			for _, rec := range got.Clusters {
				if rec.Access.Endpoint == "" || rec.Access.CACert == "" {
					t.Fatalf("%s: access %+v, want the padded endpoint and CA certificate read", rec.Key(), rec.Access)
				}
			}
		})
	}
}

// A fifth of all calls failing with UNAVAILABLE or RESOURCE_EXHAUSTED ends
// in the same findings as a clean run, after retries.
func TestTransientFaults(t *testing.T) {
	f := generate(t, 300, 120)
	want := scanFiles(t, f)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := startLive(t, f, gcpfake.Options{TransientRate: 0.2, Seed: 3})
			got, err := l.scan(t.Context(), t, f, mode)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.Findings, got.Findings); diff != "" {
				t.Errorf("findings with faults (-clean +faults):\n%s", diff)
			}
			if len(got.Errors) != 0 {
				t.Errorf("scan errors = %v, want none (every fault retried)", got.Errors)
			}
		})
	}
}

// PERMISSION_DENIED on some projects: scan errors for those, full findings
// for the rest (in container-api mode their clusters are not listed; in
// asset-inventory mode their logs are not readable).
func TestPermissionDenied(t *testing.T) {
	f := generate(t, 300, 60)
	want := scanFiles(t, f)
	// Deny projects that have clusters with log evidence, so the test shows
	// the others keep theirs.
	var denied []string
	for _, fd := range want.Findings {
		if fd.Status == scanner.Observed && !slices.Contains(denied, fd.ProjectID) && len(denied) < 3 {
			denied = append(denied, fd.ProjectID)
		}
	}
	if len(denied) < 2 {
		t.Fatalf("fleet has too few observed projects: %v", denied)
	}
	deny := map[string]codes.Code{}
	for _, p := range denied {
		deny[p] = codes.PermissionDenied
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := startLive(t, f, gcpfake.Options{Deny: deny})
			got, err := l.scan(t.Context(), t, f, mode)
			if err != nil {
				t.Fatal(err)
			}
			api := "container"
			if mode == discovery.ModeAssetInventory {
				api = "logging"
			}
			var gotErr []string
			for _, e := range got.Errors {
				if e.API != api || e.Code != "PERMISSION_DENIED" || e.Resource != "projects/"+e.ProjectID {
					t.Errorf("unexpected scan error %+v", e)
				}
				gotErr = append(gotErr, e.ProjectID)
			}
			slices.Sort(gotErr)
			slices.Sort(denied)
			if got.Summary.ProjectsFailed != len(denied) {
				t.Errorf("projects failed = %d, want %d", got.Summary.ProjectsFailed, len(denied))
			}
			if diff := cmp.Diff(denied, gotErr); diff != "" {
				t.Errorf("scan errors for projects (-want +got):\n%s", diff)
			}
			// Every finding of a project that was not denied is unchanged.
			keep := func(fs []scanner.Finding) []scanner.Finding {
				return slices.DeleteFunc(slices.Clone(fs), func(fd scanner.Finding) bool { return deny[fd.ProjectID] != 0 })
			}
			if diff := cmp.Diff(keep(want.Findings), keep(got.Findings)); diff != "" {
				t.Errorf("findings of the other projects (-offline +live):\n%s", diff)
			}
			for _, p := range f.Projects {
				if got.Complete(p.ID) != (deny[p.ID] == 0) {
					t.Errorf("Complete(%s) = %v, want %v", p.ID, got.Complete(p.ID), deny[p.ID] == 0)
				}
			}
			// The project list was read whole: a project not in it is out of
			// the scope (container-api), or the scope listed has no cluster of
			// it (asset-inventory); either way its old findings are resolved.
			if !got.Complete("gone-project") {
				t.Errorf("Complete(a project not in the scope) = false after a whole listing")
			}
		})
	}
}

// A denied folder in container-api mode loses only the projects under it.
func TestDeniedFolder(t *testing.T) {
	f := generate(t, 200, 60)
	var folder string
	for _, fo := range f.Folders {
		if fo.Parent == f.Org && hasProjects(f, fo.Name) {
			folder = fo.Name
			break
		}
	}
	if folder == "" {
		t.Fatal("no top-level folder with projects")
	}
	l := startLive(t, f, gcpfake.Options{Deny: map[string]codes.Code{folder: codes.PermissionDenied}})
	got, err := l.scan(t.Context(), t, f, discovery.ModeContainerAPI)
	if err != nil {
		t.Fatal(err)
	}
	want := []scanner.ScanError{{ScanID: "e2e", ScannedAt: f.Now.UTC(), Resource: folder, API: "resourcemanager", Code: "PERMISSION_DENIED"}}
	if diff := cmp.Diff(want, got.Errors, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Message" }, cmp.Ignore())); diff != "" {
		t.Errorf("scan errors (-want +got):\n%s", diff)
	}
	under := projectsUnder(f, folder)
	for _, c := range got.Clusters {
		if under[c.ProjectID] {
			t.Errorf("cluster %s of denied folder %s was scanned", c.Key(), folder)
		}
	}
	if got.Summary.Clusters == 0 || got.Summary.Clusters >= len(f.Clusters) {
		t.Errorf("clusters scanned = %d of %d, want some but not all", got.Summary.Clusters, len(f.Clusters))
	}
	// Only the projects that were listed are complete: one under the folder
	// may have lost every cluster, or none; the scan cannot tell.
	for _, p := range f.Projects {
		if got.Complete(p.ID) == under[p.ID] {
			t.Errorf("Complete(%s) = %v, want %v (under the denied folder: %v)", p.ID, got.Complete(p.ID), !under[p.ID], under[p.ID])
		}
	}
	if got.Complete("gone-project") {
		t.Errorf("Complete(a project not listed) = true with a folder unread")
	}
}

// No access to the scope itself fails the scan with the API's reason.
func TestDeniedScope(t *testing.T) {
	f := generate(t, 20, 5)
	l := startLive(t, f, gcpfake.Options{Deny: map[string]codes.Code{f.Org: codes.PermissionDenied}})
	for _, mode := range modes {
		_, err := l.scan(t.Context(), t, f, mode)
		if gcpclient.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: error = %v, want PERMISSION_DENIED on %s", mode, err, f.Org)
		}
	}
}

// A hostile cluster name cannot change the Logging filter's meaning: names
// never enter the filter, and the events are still attributed by label.
func TestHostileClusterName(t *testing.T) {
	f := generate(t, 100, 20)
	const hostile = `evil" OR logName:"x\\" -resource.type:"k8s_pod`
	victim := f.Events[len(f.Events)/2]
	labels := victim.GetResource().GetLabels()
	renamed := 0
	for _, c := range f.Clusters {
		if c.GetName() == labels["cluster_name"] && c.GetLocation() == labels["location"] {
			c.Name = hostile
			c.SelfLink = "https://container.googleapis.com/v1/projects/" + labels["project_id"] + "/locations/" + c.GetLocation() + "/clusters/" + hostile
			renamed++
		}
	}
	if renamed != 1 {
		t.Fatalf("renamed %d clusters, want 1", renamed)
	}
	old := labels["cluster_name"]
	for _, e := range f.Events {
		if e.GetResource().GetLabels()["cluster_name"] == old {
			e.GetResource().GetLabels()["cluster_name"] = hostile
		}
	}
	want := scanFiles(t, f)
	l := startLive(t, f, gcpfake.Options{})
	got, err := l.scan(t.Context(), t, f, discovery.ModeAssetInventory)
	if err != nil {
		t.Fatal(err)
	}
	cat := embedded(t)
	since := f.Now.Add(-scanner.DefaultLookback)
	wantFilter := "(" + evidence.Filter(cat.Issue("DPV2-IPAM-LEAK").Symptom, since, f.Now) + ") OR (" +
		evidence.AgentFilter(cat.Issue("DPV2-NODEPORT-RANDOMFULLY").Kubernetes, since, f.Now) + ")"
	for _, filter := range l.srv.Filters() {
		if filter != wantFilter {
			t.Errorf("Logging filter = %s\nwant %s", filter, wantFilter)
		}
	}
	if diff := cmp.Diff(want.Findings, got.Findings); diff != "" {
		t.Errorf("findings (-offline +live):\n%s", diff)
	}
	observed := false
	for _, fd := range got.Findings {
		if fd.Cluster == hostile && fd.Status == scanner.Observed {
			observed = true
		}
	}
	if !observed {
		t.Errorf("the hostile-named cluster's events were not attributed to it")
	}
}

// A scope without clusters is a normal result: no error, zero clusters.
func TestEmptyScope(t *testing.T) {
	f := generate(t, 4, 10) // projects 5-9 have no clusters
	empty := f.Projects[len(f.Projects)-1].ID
	if len(f.ByProject[empty]) != 0 {
		t.Fatalf("project %s has clusters", empty)
	}
	l := startLive(t, f, gcpfake.Options{})
	for _, mode := range modes {
		res, err := scanner.Scan(t.Context(), scanner.Options{
			Catalog: embedded(t), Source: l.source(mode, scanner.Scope{Kind: "projects", ID: empty}, embedded(t)),
			Evidence: &evidence.Logging{Client: l.logging, Policy: fast}, Now: f.Now,
		})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if res.Summary.Clusters != 0 || len(res.Findings) != 0 || len(res.Errors) != 0 {
			t.Errorf("%s: summary %+v, errors %v; want an empty, clean scan", mode, res.Summary, res.Errors)
		}
	}
}

func TestCancel(t *testing.T) {
	f := generate(t, 200, 100)
	l := startLive(t, f, gcpfake.Options{Latency: 50 * time.Millisecond})
	for _, mode := range modes {
		ctx, cancel := context.WithTimeout(t.Context(), 120*time.Millisecond)
		_, err := l.scan(ctx, t, f, mode)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) && gcpclient.Code(err) != codes.DeadlineExceeded && gcpclient.Code(err) != codes.Canceled {
			t.Errorf("%s: error = %v, want the context's deadline", mode, err)
		}
	}
}

func hasProjects(f *fleetgen.Fleet, folder string) bool { return len(projectsUnder(f, folder)) > 0 }

// projectsUnder computes, from the fleet itself, the projects under a folder.
func projectsUnder(f *fleetgen.Fleet, folder string) map[string]bool {
	parents := map[string]string{}
	for _, fo := range f.Folders {
		parents[fo.Name] = fo.Parent
	}
	out := map[string]bool{}
	for _, p := range f.Projects {
		for anc := p.Parent; anc != ""; anc = parents[anc] {
			if anc == folder {
				out[p.ID] = true
				break
			}
		}
	}
	return out
}

// An API that dies mid-scan fails the scan, naming the API, in every
// discovery mode and for Logging: never a smaller fleet or AFFECTED in
// place of OBSERVED reported as a clean result.
func TestOutageFailsScan(t *testing.T) {
	f := generate(t, 200, 60)
	for _, tc := range []struct {
		mode, method string
		after        int // calls of method before the server stops
		api          string
	}{
		{discovery.ModeAssetInventory, "asset.ListAssets", 1, "Cloud Asset Inventory"},
		{discovery.ModeContainerAPI, "resourcemanager.ListProjects", 2, "Resource Manager"},
		{discovery.ModeContainerAPI, "container.ListClusters", 20, "Container API"},
		{discovery.ModeAssetInventory, "logging.ListLogEntries", 1, "Cloud Logging"},
	} {
		t.Run(tc.mode+" "+tc.method, func(t *testing.T) {
			var srv atomic.Pointer[gcpfake.Server]
			// The latency keeps the call in flight while the server stops.
			l := startLive(t, f, gcpfake.Options{Latency: 20 * time.Millisecond, OnCall: func(method string, n int) {
				if method == tc.method && n == tc.after {
					go srv.Load().Close() // not from the call itself: Close waits for its handler
				}
			}})
			srv.Store(l.srv)
			res, err := l.scan(t.Context(), t, f, tc.mode)
			if err == nil {
				t.Fatalf("scan succeeded with %d clusters, %d findings, %d errors; want the outage to fail it",
					res.Summary.Clusters, res.Summary.Findings, len(res.Errors))
			}
			if !strings.Contains(err.Error(), tc.api) {
				t.Errorf("error %q does not name %s", err, tc.api)
			}
			if c := gcpclient.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
				t.Errorf("error code = %v, want UNAVAILABLE or DEADLINE_EXCEEDED: %v", c, err)
			}
		})
	}
}
