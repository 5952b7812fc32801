package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/fleetscan/fleetscan/test/bqfake"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
	"github.com/fleetscan/fleetscan/test/kubefake"
	"github.com/fleetscan/fleetscan/test/testkit"
)

func generate(t *testing.T, o fleetgen.Options) *fleetgen.Fleet {
	t.Helper()
	f, err := fleetgen.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// startFake serves fleet on the in-process GCP fakes until the test ends.
// serverConfigs writes the versions the fleet's locations offer as
// gcloud container get-server-config prints them, and returns the folder.
func serverConfigs(t *testing.T, fleet *fleetgen.Fleet) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "serverconfig")
	if err := fleet.WriteServerConfigs(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func startFake(t *testing.T, fleet *fleetgen.Fleet, opt gcpfake.Options) *gcpfake.Server {
	t.Helper()
	srv, err := gcpfake.Start(fleet, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// The CLI against a live scope, its clients pointed at the loopback fakes
// by --api-endpoint or FLEETSCAN_API_ENDPOINTS, prints the findings that the
// same fleet gives as files, with the organization filled in.
func TestLiveCLI(t *testing.T) {
	fleet := generate(t, fleetgen.Options{Clusters: 120, Projects: 30, Seed: 9})
	srv := startFake(t, fleet, gcpfake.Options{})
	clusters, logs, err := fleet.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"--format", "ndjson", "--as-of", fleet.Now.Format(time.RFC3339), "--scan-id", "cli"}
	code, offline, stderr := runCLI(t, append([]string{"scan", "--input", clusters, "--logs", logs, "--server-config", serverConfigs(t, fleet)}, common...)...)
	if code != exitOK {
		t.Fatalf("offline scan: exit %d: %s", code, stderr)
	}
	if !strings.Contains(offline, `"upgrade_to":"1.`) {
		t.Fatal("no finding of the offline scan has an offered upgrade target")
	}
	org := strings.TrimPrefix(fleet.Org, "organizations/")
	want := withOrg(t, offline, org)

	addr := srv.Addr()
	t.Run("asset-inventory via flags", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, append([]string{"scan", "--organization", org,
			"--api-endpoint", "asset=" + addr, "--api-endpoint", "container=" + addr, "--api-endpoint", "logging=" + addr}, common...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if diff := cmp.Diff(want, stdout); diff != "" {
			t.Errorf("live ndjson (-offline +live):\n%s", diff)
		}
	})
	t.Run("container-api via environment", func(t *testing.T) {
		t.Setenv("FLEETSCAN_API_ENDPOINTS", "container="+addr+",resourcemanager="+addr+",logging="+addr)
		code, stdout, stderr := runCLI(t, append([]string{"scan", "--organization", org, "--discovery", "container-api"}, common...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if diff := cmp.Diff(want, stdout); diff != "" {
			t.Errorf("live ndjson (-offline +live):\n%s", diff)
		}
		if !strings.Contains(stderr, "fleetscan: discover: 30/30 projects (100%)\n") {
			t.Errorf("stderr has no progress line for the 30 projects:\n%s", stderr)
		}
	})
	t.Run("no-logs", func(t *testing.T) {
		srv.ResetCounters()
		code, _, stderr := runCLI(t, append([]string{"scan", "--organization", org, "--no-logs", "--api-endpoint", "asset=" + addr, "--api-endpoint", "container=" + addr}, common...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if n := srv.Calls()["logging.ListLogEntries"]; n != 0 {
			t.Errorf("--no-logs made %d Logging calls", n)
		}
	})
}

// An API that dies mid-scan ends the CLI with exit 1 and an error naming
// the API, within --api-timeout, instead of a smaller fleet and exit 0.
func TestLiveCLIOutage(t *testing.T) {
	fleet := generate(t, fleetgen.Options{Clusters: 60, Projects: 20, Seed: 10})
	for _, tc := range []struct {
		method string
		args   []string
		want   string
	}{
		{"container.ListClusters", []string{"--discovery", "container-api", "--no-logs"}, "with the Container API: "},
		{"logging.ListLogEntries", nil, "with Cloud Logging: "},
	} {
		t.Run(tc.method, func(t *testing.T) {
			var srv atomic.Pointer[gcpfake.Server]
			s := startFake(t, fleet, gcpfake.Options{Latency: 20 * time.Millisecond, OnCall: func(method string, n int) {
				if method == tc.method && n == 1 {
					go srv.Load().Close()
				}
			}})
			srv.Store(s)
			a := s.Addr()
			t.Setenv("FLEETSCAN_API_ENDPOINTS", "asset="+a+",container="+a+",resourcemanager="+a+",logging="+a)
			args := append([]string{"scan", "--organization", strings.TrimPrefix(fleet.Org, "organizations/"), "--format", "ndjson", "--api-timeout", "2s"}, tc.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and an error containing %q", code, stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("a failed scan printed findings:\n%s", stdout)
			}
		})
	}
}

// withOrg sets organization_id on every NDJSON line, as a live organization
// scan records it.
func withOrg(t *testing.T, ndjson, org string) string {
	t.Helper()
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimSuffix(ndjson, "\n"), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		if row["organization_id"] != "" {
			t.Fatalf("offline row has organization_id %v", row["organization_id"])
		}
		line = strings.Replace(line, `"organization_id":""`, `"organization_id":"`+org+`"`, 1)
		b.WriteString(line + "\n")
	}
	return b.String()
}

// --bigquery through the bigquery endpoint override: the dataset, tables
// and views are created and the demo scan's rows land.
func TestBigQueryCLI(t *testing.T) {
	srv := bqfake.Start()
	t.Cleanup(srv.Close)
	t.Setenv("FLEETSCAN_API_ENDPOINTS", "bigquery="+strings.TrimPrefix(srv.URL(), "http://"))
	code, _, stderr := runCLI(t, demoArgs("--format", "ndjson", "--bigquery", "my-proj.fleetscan")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "fleetscan: wrote 84 finding(s), 22 cluster(s), 0 error(s) and the scan row to BigQuery my-proj.fleetscan in 3 request(s)\n") {
		t.Errorf("stderr = %s", stderr)
	}
	for table, want := range map[string]int{"findings": 84, "clusters": 22, "scans": 1} {
		if got := len(srv.Rows("my-proj", "fleetscan", table)); got != want {
			t.Errorf("%s rows = %d, want %d", table, got, want)
		}
	}
	if _, ok := srv.Table("my-proj", "fleetscan", "latest_findings"); !ok {
		t.Errorf("view latest_findings not created")
	}
}

// --kubernetes asset-inventory on a live scope decides the in-cluster
// checks as --kube-objects does on dumps of the same objects, and reports
// its calls by asset type.
func TestLiveCLIKubernetes(t *testing.T) {
	fleet := generate(t, fleetgen.Options{Clusters: 40, Projects: 8, Seed: 11, Kube: true})
	ks, err := kubefake.Start(fleet.Kube, kubefake.Options{Token: "ya29.cli"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	ks.Attach(fleet) // before the fleet is served or written
	srv := startFake(t, fleet, gcpfake.Options{})
	dir := t.TempDir()
	clusters, logs, err := fleet.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := fleet.WriteKubeDumps(dir + "/kube"); err != nil {
		t.Fatal(err)
	}
	common := []string{"--format", "ndjson", "--as-of", fleet.Now.Format(time.RFC3339), "--scan-id", "cli"}
	code, offline, stderr := runCLI(t, append([]string{"scan", "--input", clusters, "--logs", logs, "--kube-objects", dir + "/kube",
		"--server-config", serverConfigs(t, fleet)}, common...)...)
	if code != exitOK {
		t.Fatalf("offline scan: exit %d: %s", code, stderr)
	}
	if !strings.Contains(offline, `"source":"kubernetes_api"`) {
		t.Fatalf("the offline scan has no in-cluster finding")
	}
	org := strings.TrimPrefix(fleet.Org, "organizations/")
	a := srv.Addr()
	code, live, stderr := runCLI(t, append([]string{"scan", "--organization", org, "--kubernetes", "asset-inventory",
		"--api-endpoint", "asset=" + a, "--api-endpoint", "container=" + a, "--api-endpoint", "logging=" + a}, common...)...)
	if code != exitOK {
		t.Fatalf("live scan: exit %d: %s", code, stderr)
	}
	if diff := cmp.Diff(withOrg(t, offline, org), live); diff != "" {
		t.Errorf("live ndjson (-dumps +asset inventory):\n%s", diff)
	}
	if !strings.Contains(stderr, "fleetscan: Kubernetes objects (--kubernetes asset-inventory): calls by type: apps.k8s.io/DaemonSet=1 k8s.io/Service=1 ") {
		t.Errorf("stderr has no calls line:\n%s", stderr)
	}

	// Each cluster's API, with a token from Application Default Credentials.
	issued := testkit.ADC(t, "ya29.cli")
	code, live, stderr = runCLI(t, append([]string{"scan", "--organization", org, "--kubernetes", "api",
		"--api-endpoint", "asset=" + a, "--api-endpoint", "container=" + a, "--api-endpoint", "logging=" + a}, common...)...)
	if code != exitOK {
		t.Fatalf("live scan through the Kubernetes API: exit %d: %s", code, stderr)
	}
	if diff := cmp.Diff(withOrg(t, offline, org), live); diff != "" {
		t.Errorf("live ndjson (-dumps +kubernetes api):\n%s", diff)
	}
	if issued() == 0 {
		t.Errorf("no token was asked of Application Default Credentials")
	}
	if !strings.Contains(stderr, "fleetscan: Kubernetes objects (--kubernetes api): calls by type: daemonsets=") {
		t.Errorf("stderr has no calls line:\n%s", stderr)
	}
	if ks.TotalCalls() == 0 {
		t.Errorf("the Kubernetes API was not called")
	}
}

// Retries are visible on stderr: a line per retried call, at most one
// every 5 s, naming the method, the code and the try.
func TestLiveCLIRetryLines(t *testing.T) {
	fleet := generate(t, fleetgen.Options{Clusters: 40, Projects: 8, Seed: 12})
	// Seed 1 fails the first call, so the first retry is ListAssets'.
	srv := startFake(t, fleet, gcpfake.Options{TransientRate: 0.3, Seed: 1})
	a := srv.Addr()
	code, _, stderr := runCLI(t, "scan", "--organization", strings.TrimPrefix(fleet.Org, "organizations/"), "--no-logs", "--format", "ndjson",
		"--api-endpoint", "asset="+a, "--api-endpoint", "container="+a)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var retries []string
	for line := range strings.SplitSeq(stderr, "\n") {
		if strings.HasPrefix(line, "fleetscan: retrying ") {
			retries = append(retries, line)
		}
	}
	if want := "fleetscan: retrying ListAssets (UNAVAILABLE), attempt 2 of 9"; len(retries) == 0 || retries[0] != want {
		t.Errorf("retry lines %q, want first %q; stderr:\n%s", retries, want, stderr)
	}
	if srv.Calls()["asset.ListAssets"]+srv.Calls()["container.GetServerConfig"] < len(retries)+2 {
		t.Errorf("calls %v: fewer retries than lines", srv.Calls())
	}
	// At most one line every 5 s, however many retries: TestRetryReporter
	// checks that on a fake clock.
}

// An endpoint with nothing listening fails the scan within the connection
// bound (15 s; 1 s here), naming the endpoint, instead of retrying for the
// call's whole deadline.
func TestLiveCLIUnreachable(t *testing.T) {
	defer func(d time.Duration) { connectTimeout = d }(connectTimeout)
	connectTimeout = time.Second
	start := time.Now()
	code, stdout, stderr := runCLI(t, "scan", "--project", "my-project", "--no-logs",
		"--api-endpoint", "asset=127.0.0.1:1", "--api-endpoint", "container=127.0.0.1:1")
	elapsed := time.Since(start)
	want := "fleetscan: list clusters in projects/my-project with Cloud Asset Inventory: no connection to the asset endpoint 127.0.0.1:1 within 1s: " +
		"connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused\"\n"
	if code != exitError || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr\n%s\nwant exit 1 and\n%s", code, stdout, stderr, want)
	}
	if elapsed > 8*time.Second {
		t.Errorf("failed after %v, want about the 1s bound", elapsed)
	}
}

// --fail-on-error: a scan that could not read some projects prints its
// results, names them, and exits 4; without the flag it exits 0.
func TestLiveCLIFailOnError(t *testing.T) {
	fleet := generate(t, fleetgen.Options{Clusters: 60, Projects: 20, Seed: 13})
	ids := fleet.ProjectIDs()
	deny := map[string]codes.Code{}
	for _, p := range ids[:7] {
		deny[p] = codes.PermissionDenied
	}
	srv := startFake(t, fleet, gcpfake.Options{Deny: deny})
	a := srv.Addr()
	args := []string{"scan", "--organization", strings.TrimPrefix(fleet.Org, "organizations/"), "--discovery", "container-api", "--no-logs",
		"--format", "ndjson", "--scan-id", "errs", "--api-endpoint", "container=" + a, "--api-endpoint", "resourcemanager=" + a}
	notRead := strings.Join(ids[:5], ", ") + " and 2 more"

	code, stdout, stderr := runCLI(t, append(args, "--fail-on-error")...)
	if code != exitScanErrors || stdout == "" {
		t.Errorf("--fail-on-error: exit %d, %d bytes of findings; want 4 and the findings", code, len(stdout))
	}
	wantEnd := "; not fully read: " + notRead + "\n" +
		"fleetscan: the scan recorded 7 error(s); not fully read: " + notRead + " (exit 4)\n"
	if !strings.HasSuffix(stderr, wantEnd) || !strings.Contains(stderr, "fleetscan: scan errs: ") {
		t.Errorf("stderr:\n%s\nwant it to end with\n%s", stderr, wantEnd)
	}

	code, _, stderr = runCLI(t, args...)
	if code != exitOK || !strings.HasSuffix(stderr, "; not fully read: "+notRead+"\n") {
		t.Errorf("without --fail-on-error: exit %d, stderr\n%s", code, stderr)
	}

	// --fail-on keeps its exit 3 when both apply.
	code, _, stderr = runCLI(t, append(args, "--fail-on-error", "--fail-on", "LOW")...)
	if code != exitFindings || strings.Contains(stderr, "(exit 4)") {
		t.Errorf("--fail-on LOW --fail-on-error: exit %d, stderr\n%s", code, stderr)
	}
}

// Ctrl-C during a live scan: exit 130, no findings.
func TestLiveCLIInterrupted(t *testing.T) {
	fleet := generate(t, fleetgen.Options{Clusters: 40, Projects: 8, Seed: 14})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	srv := startFake(t, fleet, gcpfake.Options{Latency: 50 * time.Millisecond, OnCall: func(string, int) { cancel() }})
	a := srv.Addr()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"scan", "--organization", strings.TrimPrefix(fleet.Org, "organizations/"), "--no-logs", "--format", "ndjson",
		"--api-endpoint", "asset=" + a, "--api-endpoint", "container=" + a}, strings.NewReader(""), &out, &errOut)
	if code != exitInterrupted || out.Len() != 0 || !strings.HasSuffix(errOut.String(), "fleetscan: interrupted\n") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 130 and \"fleetscan: interrupted\"", code, out.String(), errOut.String())
	}
}
