package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/test/testkit"
)

var update = flag.Bool("update", false, "rewrite golden files")

const data = "../../../testdata/"

// demoArgs is what make demo scans: the real gcpdiag dumps and the bundled
// sample fleet, logs and kubectl dumps, as of a fixed time so the log
// window is stable.
func demoArgs(extra ...string) []string {
	args := []string{"scan",
		"--input", data + "gcpdiag/gke1-container-clusters.json",
		"--input", data + "gcpdiag/gke2-container-clusters.json",
		"--input", data + "gcpdiag/gke3-container-clusters.json",
		"--input", data + "demo/fleet.json",
		"--logs", data + "demo/logs.json",
		"--logs", data + "gcpdiag/gke1-logging-entries.json",
		"--kube-objects", data + "demo/kube",
		"--server-config", data + "demo/serverconfig",
		"--as-of", "2026-11-27T12:00:00Z", "--scan-id", "demo",
	}
	return append(args, extra...)
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIStdin(t, strings.NewReader(""), args...)
}

// runCLIStdin runs the CLI with stdin.
func runCLIStdin(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, stdin, &out, &errOut)
	return code, out.String(), errOut.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func TestScanGolden(t *testing.T) {
	for _, format := range []string{"table", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, demoArgs("--format", format)...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			golden(t, "demo."+format, stdout)
		})
	}
}

// Every NDJSON line is one finding with exactly the DESIGN.md field names.
func TestNDJSONFields(t *testing.T) {
	_, stdout, _ := runCLI(t, demoArgs("--format", "ndjson")...)
	want := []string{"catalog_version", "category", "cluster", "cluster_id", "component", "docs_url", "evidence", "finding_key",
		"fixed_in", "issue_id", "location", "node_pool", "organization_id", "project_id", "reason", "remediation",
		"scan_id", "scanned_at", "severity", "status", "title", "upgrade_to", "version"}
	wantEvidence := []string{"count", "first_seen", "last_seen", "nodes", "query", "sample", "source", "summary"}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	lines := 0
	for sc.Scan() {
		lines++
		var row map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("line %d is not a JSON object: %v", lines, err)
		}
		if diff := cmp.Diff(want, sortedKeys(row)); diff != "" {
			t.Fatalf("line %d fields (-want +got):\n%s", lines, diff)
		}
		var ev []map[string]json.RawMessage
		if err := json.Unmarshal(row["evidence"], &ev); err != nil || len(ev) == 0 {
			t.Fatalf("line %d: evidence %s: %v", lines, row["evidence"], err)
		}
		for _, e := range ev {
			if diff := cmp.Diff(wantEvidence, sortedKeys(e)); diff != "" {
				t.Fatalf("line %d evidence fields (-want +got):\n%s", lines, diff)
			}
		}
	}
	if lines != 84 {
		t.Errorf("findings = %d, want 84", lines)
	}
}

func TestScanJSONAndOutDir(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, demoArgs("--format", "json", "--out-dir", dir)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Summary struct {
			Clusters    int `json:"clusters"`
			DataplaneV2 int `json:"dataplane_v2_clusters"`
			Findings    int `json:"findings"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--format json is not JSON: %v", err)
	}
	if res.Summary.Clusters != 22 || res.Summary.DataplaneV2 != 11 || res.Summary.Findings != 84 {
		t.Errorf("summary = %+v, want 22 clusters, 11 Dataplane V2, 84 findings", res.Summary)
	}
	if want := "fleetscan: scan demo: 22 cluster(s) (11 Dataplane V2), 84 finding(s): 3 OBSERVED, 72 AFFECTED, 9 UNKNOWN, 0 error(s)\n"; !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr = %q, want prefix %q", stderr, want)
	}
	for table, lines := range map[string]int{"scans": 1, "clusters": 22, "findings": 84, "scan_errors": 0} {
		b, err := os.ReadFile(filepath.Join(dir, table+".ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for line := range strings.SplitSeq(strings.TrimSuffix(string(b), "\n"), "\n") {
			if line == "" {
				continue
			}
			got++
			if !json.Valid([]byte(line)) {
				t.Errorf("%s line %d is not JSON: %s", table, got, line)
			}
		}
		if got != lines {
			t.Errorf("%s.ndjson has %d rows, want %d", table, got, lines)
		}
	}
}

func TestFailOn(t *testing.T) {
	tests := []struct {
		sev      string
		wantCode int
		wantErr  string
	}{
		{"CRITICAL", exitOK, ""},
		{"high", exitFindings, "fleetscan: 60 finding(s) at or above HIGH (exit 3)\n"},
		{"MEDIUM", exitFindings, "fleetscan: 81 finding(s) at or above MEDIUM (exit 3)\n"},
		{"", exitOK, ""}, // --fail-on-error alone: the demo has no scan errors
	}
	for _, tc := range tests {
		t.Run(tc.sev, func(t *testing.T) {
			code, _, stderr := runCLI(t, demoArgs("--format", "ndjson", "--fail-on", tc.sev, "--fail-on-error")...)
			if code != tc.wantCode {
				t.Errorf("exit = %d, want %d", code, tc.wantCode)
			}
			if !strings.HasSuffix(stderr, tc.wantErr) {
				t.Errorf("stderr = %q, want suffix %q", stderr, tc.wantErr)
			}
		})
	}
}

// Every bad input exits 1 with an exact message, and prints no findings.
func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := data + "gcpdiag/gke3-container-clusters.json"
	invalid := write("invalid.json", `{"clusters": [`)
	shape := write("shape.json", `{"kind": "something else"}`)
	scalar := write("scalar.json", `42`)
	noSelfLink := write("noselflink.json", `[{"name": "c1", "location": "us-central1"}]`)
	badField := write("badfield.json", `[{"name": "c1", "currentMasterVersion": 5}]`)
	badLogs := write("badlogs.json", `{"items": []}`)
	badTS := write("badts.json", `[{"timestamp": "yesterday"}]`)
	empty := write("empty.json", "  \n")

	badCat := badCatalog(t, "id-mismatch")
	badServerConfig := filepath.Join(dir, "serverconfig")
	if err := os.MkdirAll(badServerConfig, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badServerConfig, "us-central1.json"), []byte("{\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no input", []string{"scan"}, "fleetscan: nothing to scan: give --input FILE (gcloud container clusters list --format=json) or --organization N, --folder N or --project ID\n"},
		{"missing file", []string{"scan", "--input", filepath.Join(dir, "nope.json")}, "fleetscan: cluster input: open " + filepath.Join(dir, "nope.json") + ": no such file or directory\n"},
		{"invalid JSON", []string{"scan", "--input", invalid}, "fleetscan: " + invalid + ":1:15: invalid JSON: unexpected end of JSON input\n"},
		{"empty file", []string{"scan", "--input", empty}, "fleetscan: " + empty + ": file is empty\n"},
		{"wrong shape object", []string{"scan", "--input", shape}, "fleetscan: " + shape + ": wrong shape: want GKE clusters or their Cloud Asset Inventory assets: a JSON array, {\"clusters\": [...]}, {\"assets\": [...]}, one object, or NDJSON (one object per line)\n"},
		{"wrong shape scalar", []string{"scan", "--input", scalar}, "fleetscan: " + scalar + ": wrong shape: want GKE clusters or their Cloud Asset Inventory assets: a JSON array, {\"clusters\": [...]}, {\"assets\": [...]}, one object, or NDJSON (one object per line)\n"},
		{"no project", []string{"scan", "--input", noSelfLink}, "fleetscan: " + noSelfLink + ":1:2: cluster c1: no project ID: selfLink \"\" is not .../projects/P/locations/L/clusters/N\n"},
		{"wrong field type", []string{"scan", "--input", badField}, "fleetscan: " + badField + ":1:41: not a Container API cluster: invalid value for string field currentMasterVersion: 5\n"},
		{"bad format", []string{"scan", "--input", good, "--format", "xml"}, "fleetscan: --format \"xml\" is not table, json or ndjson\n"},
		{"bad lookback", []string{"scan", "--input", good, "--lookback", "a week"}, "fleetscan: --lookback: invalid lookback \"a week\": want a positive duration such as 168h, 7d or 90m\n"},
		{"negative lookback", []string{"scan", "--input", good, "--lookback", "-1h"}, "fleetscan: --lookback: invalid lookback \"-1h\": want a positive duration such as 168h, 7d or 90m\n"},
		{"bad severity", []string{"scan", "--input", good, "--fail-on", "urgent"}, "fleetscan: --fail-on: unknown severity \"urgent\" (want one of CRITICAL, HIGH, MEDIUM, LOW, INFO)\n"},
		{"bad as-of", []string{"scan", "--input", good, "--as-of", "today"}, "fleetscan: --as-of \"today\" is not an RFC 3339 time such as 2026-11-27T12:00:00Z\n"},
		{"several problems at once", []string{"scan", "--format", "xml", "--fail-on", "urgent"},
			"fleetscan: nothing to scan: give --input FILE (gcloud container clusters list --format=json) or --organization N, --folder N or --project ID\n--format \"xml\" is not table, json or ndjson\n--fail-on: unknown severity \"urgent\" (want one of CRITICAL, HIGH, MEDIUM, LOW, INFO)\n"},
		{"log wrong shape", []string{"scan", "--input", good, "--logs", badLogs}, "fleetscan: " + badLogs + ": wrong shape: want a JSON array of log entries or {\"entries\": [...]}\n"},
		{"log bad timestamp", []string{"scan", "--input", good, "--logs", badTS}, "fleetscan: " + badTS + ": entry 0: timestamp \"yesterday\" is not RFC 3339\n"},
		{"missing catalog dir", []string{"scan", "--input", good, "--catalog", filepath.Join(dir, "none")}, "fleetscan: catalog directory: stat " + filepath.Join(dir, "none") + ": no such file or directory\n"},
		{"bad catalog dir", []string{"scan", "--input", good, "--catalog", badCat},
			"fleetscan: " + badCat + "/TEST-ISSUE.yaml: id OTHER-ISSUE does not match the file name TEST-ISSUE.yaml\n"},
		{"missing server config", []string{"scan", "--input", good, "--server-config", filepath.Join(dir, "none")},
			"fleetscan: server config: open " + filepath.Join(dir, "none") + ": no such file or directory\n"},
		{"bad server config", []string{"scan", "--input", good, "--server-config", badServerConfig},
			"fleetscan: " + filepath.Join(badServerConfig, "us-central1.json") + ":1:2: invalid JSON: unexpected end of JSON input\n"},
		{"files and scope", []string{"scan", "--input", good, "--project", "my-project"}, "fleetscan: --input and --project cannot be combined: scan files or a live scope\n"},
		{"two scopes", []string{"scan", "--organization", "123", "--folder", "456"}, "fleetscan: --folder and --organization: give one scope\n"},
		{"bad organization", []string{"scan", "--organization", "acme"}, "fleetscan: invalid scope \"organizations/acme\": organizations are named by number, e.g. organizations/123456789012\n"},
		{"bad folder", []string{"scan", "--folder", "0123"}, "fleetscan: invalid scope \"folders/0123\": folders are named by number, e.g. folders/123456789012\n"},
		{"bad project", []string{"scan", "--project", "My_Project"}, "fleetscan: invalid scope \"projects/My_Project\": \"My_Project\" is not a project ID (6-30 lowercase letters, digits or hyphens, starting with a letter)\n"},
		{"hostile project", []string{"scan", "--project", `p" OR "x`}, "fleetscan: invalid scope \"projects/p\\\" OR \\\"x\": \"p\\\" OR \\\"x\" is not a project ID (6-30 lowercase letters, digits or hyphens, starting with a letter)\n"},
		{"bad discovery", []string{"scan", "--project", "my-project", "--discovery", "cai"}, "fleetscan: --discovery \"cai\" is not asset-inventory or container-api\n"},
		{"bad endpoint", []string{"scan", "--project", "my-project", "--api-endpoint", "asset:8080"}, "fleetscan: --api-endpoint: endpoint \"asset:8080\" is not SERVICE=HOST:PORT\n"},
		{"unknown endpoint service", []string{"scan", "--project", "my-project", "--api-endpoint", "gke=127.0.0.1:1"}, "fleetscan: --api-endpoint: endpoint \"gke=127.0.0.1:1\": unknown service \"gke\" (want one of asset, container, resourcemanager, logging, bigquery, pubsub, storage)\n"},
		{"endpoint port 0", []string{"scan", "--project", "my-project", "--api-endpoint", "asset=127.0.0.1:0"}, "fleetscan: --api-endpoint: endpoint \"asset=127.0.0.1:0\": port \"0\" is not a number from 1 to 65535\n"},
		{"endpoint port too high", []string{"scan", "--project", "my-project", "--api-endpoint", "container=[::1]:65536"}, "fleetscan: --api-endpoint: endpoint \"container=[::1]:65536\": port \"65536\" is not a number from 1 to 65535\n"},
		{"endpoint port name", []string{"scan", "--project", "my-project", "--api-endpoint", "logging=localhost:https"}, "fleetscan: --api-endpoint: endpoint \"logging=localhost:https\": port \"https\" is not a number from 1 to 65535\n"},
		{"endpoint without port", []string{"scan", "--project", "my-project", "--api-endpoint", "asset=localhost"}, "fleetscan: --api-endpoint: endpoint \"asset=localhost\": \"localhost\" is not HOST:PORT\n"},
		{"bigquery without dataset", []string{"scan", "--input", good, "--bigquery", "my-project"}, "fleetscan: --bigquery: \"my-project\" is not PROJECT.DATASET\n"},
		{"bigquery bad project", []string{"scan", "--input", good, "--bigquery", "My_Proj.fleetscan"}, "fleetscan: --bigquery: \"My_Proj.fleetscan\": \"My_Proj\" is not a project ID\n"},
		{"bigquery bad dataset", []string{"scan", "--input", good, "--bigquery", "my-project.fleet-scan"}, "fleetscan: --bigquery: \"my-project.fleet-scan\": \"fleet-scan\" is not a dataset ID (letters, digits and underscores)\n"},
		{"bad concurrency", []string{"scan", "--project", "my-project", "--concurrency", "0"}, "fleetscan: --concurrency 0 is not between 1 and 256\n"},
		{"bad kubernetes source", []string{"scan", "--project", "my-project", "--kubernetes", "kubectl"}, "fleetscan: --kubernetes \"kubectl\" is not asset-inventory or api\n"},
		{"kubernetes with files", []string{"scan", "--input", good, "--kubernetes", "asset-inventory"}, "fleetscan: --kubernetes reads a live scope's objects: use --kube-objects DIR with --input\n"},
		{"kubernetes and kube objects", []string{"scan", "--project", "my-project", "--kubernetes", "asset-inventory", "--kube-objects", "kube"}, "fleetscan: --kubernetes and --kube-objects are two sources of the same objects: give one\n"},
		{"kube objects missing", []string{"scan", "--input", good, "--kube-objects", "no-such-dir"}, "fleetscan: kube objects: open no-such-dir: no such file or directory\n"},
		{"bad api timeout", []string{"scan", "--project", "my-project", "--api-timeout", "100ms"}, "fleetscan: --api-timeout 100ms is not between 1s and 5m\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitError {
				t.Errorf("exit = %d, want %d", code, exitError)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.HasPrefix(stderr, tc.want) {
				t.Errorf("stderr =\n%s\nwant prefix\n%s", stderr, tc.want)
			}
		})
	}
}

func TestScanEndpointEnvError(t *testing.T) {
	t.Setenv("FLEETSCAN_API_ENDPOINTS", "asset=127.0.0.1:1,bogus")
	code, _, stderr := runCLI(t, "scan", "--project", "my-project")
	want := "fleetscan: FLEETSCAN_API_ENDPOINTS: endpoint \"bogus\" is not SERVICE=HOST:PORT\n"
	if code != exitError || stderr != want {
		t.Errorf("exit %d, stderr %q; want %q", code, stderr, want)
	}
}

// catalog list groups by category with counts, and --category narrows it;
// scan --issues and --category narrow a scan, and name what they do not know.
func TestCatalogCategories(t *testing.T) {
	cat := testkit.Catalog(t)
	code, stdout, stderr := runCLI(t, "catalog", "list")
	if code != exitOK {
		t.Fatalf("catalog list exit %d: %s", code, stderr)
	}
	var heads []string
	for _, l := range strings.Split(stdout, "\n") {
		if l != "" && !strings.HasPrefix(l, " ") && strings.HasSuffix(l, ")") {
			heads = append(heads, l)
		}
	}
	var want []string
	for _, c := range catalog.Categories {
		n := 0
		for _, is := range cat.Issues {
			if is.Category == c {
				n++
			}
		}
		if n > 0 {
			want = append(want, fmt.Sprintf("%s (%d)", c, n))
		}
	}
	if diff := cmp.Diff(want, heads); diff != "" {
		t.Errorf("catalog list headings (-want +got):\n%s", diff)
	}

	code, stdout, _ = runCLI(t, "catalog", "list", "--category", "gpus AND accelerators")
	if code != exitOK || !strings.HasPrefix(stdout, "GPUs and accelerators (2)\n") ||
		!strings.Contains(stdout, "\n  GKE-A4X-EXEC-FORMAT-ERROR   HIGH      node_pool  container_api  1.33.2-gke.1377000..<1.33.4-gke.1036000") ||
		!strings.Contains(stdout, fmt.Sprintf("\n2 of %d issues, catalog version %s\n", len(cat.Issues), cat.Version)) {
		t.Errorf("catalog list --category: exit %d\n%s", code, stdout)
	}

	code, stdout, stderr = runCLI(t, demoArgs("--format", "ndjson", "--category", "Storage", "--issues", "dpv2-ipam-leak")...)
	if code != exitOK {
		t.Fatalf("scan --category: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stderr, fmt.Sprintf("fleetscan: checking 9 of the catalog's %d issues: DPV2-IPAM-LEAK, GKE-GCSFUSE-ARM64-64K-PAGE-EOF, ", len(cat.Issues))) {
		t.Errorf("stderr = %q, want the narrowing said first", stderr)
	}
	ids := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var f scanner.Finding
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatal(err)
		}
		ids[f.IssueID+" "+f.Category]++
	}
	if diff := cmp.Diff(map[string]int{"DPV2-IPAM-LEAK Networking": 8}, ids); diff != "" {
		t.Errorf("findings of scan --category Storage --issues DPV2-IPAM-LEAK (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--issues", "DPV2-IPAM-LEAK,GKE-NOPE"}, "fleetscan: --issues/--category: unknown issue \"GKE-NOPE\" (fleetscan catalog list shows the IDs)\n"},
		{[]string{"--category", "Stor"}, "fleetscan: --issues/--category: unknown category \"Stor\" (want one of \"Networking\", \"Nodes\", \"Upgrades\", \"Storage\", \"Security\", \"Operations\", \"Autoscaling\", \"Logging and monitoring\", \"GPUs and accelerators\", \"Version support\")\n"},
		{[]string{"--category", "Autoscaling"}, "fleetscan: --issues/--category: no issue of the catalog is in category Autoscaling\n"},
	} {
		code, _, stderr := runCLI(t, append([]string{"scan", "--input", "../../../testdata/demo/fleet.json"}, tc.args...)...)
		if code != exitError || stderr != tc.want {
			t.Errorf("%v: exit %d, stderr %q; want 1, %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestCatalogCommands(t *testing.T) {
	code, stdout, stderr := runCLI(t, "catalog", "list")
	if code != exitOK {
		t.Fatalf("catalog list exit %d: %s", code, stderr)
	}
	for _, id := range []string{"DPV2-IPAM-LEAK", "DPV2-NETPOL-CONNTRACK-SELF", "DPV2-HAIRPIN-CONNTRACK-LEAK",
		"DPV2-NODEPORT-RANDOMFULLY", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NETPOL-ENDPORT", "GKE-POD-IP-EXHAUSTION"} {
		if !strings.Contains(stdout, "\n  "+id+" ") {
			t.Errorf("catalog list does not list %s:\n%s", id, stdout)
		}
	}
	if !strings.Contains(stdout, "<1.22.17-gke.3100 <1.23.16-gke.200 <1.24.9-gke.3200 <1.25.6-gke.200") {
		t.Errorf("catalog list does not show the IPAM fixes:\n%s", stdout)
	}

	good := t.TempDir()
	ipam, err := os.ReadFile("../../catalog/issues/DPV2-IPAM-LEAK.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(good, "DPV2-IPAM-LEAK.yaml"), ipam, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLI(t, "catalog", "validate", good)
	if code != exitOK || !strings.HasPrefix(stdout, fmt.Sprintf("%s: valid; with the built-in issues the catalog has %d issues", good, len(testkit.Catalog(t).Issues))) {
		t.Errorf("validate good dir: exit %d, %q", code, stdout)
	}

	bad := badCatalog(t, "several-problems")
	code, _, stderr = runCLI(t, "catalog", "validate", bad)
	want := "fleetscan: " + bad + "/TEST-ISSUE.yaml: id OTHER-ISSUE does not match the file name TEST-ISSUE.yaml\n" +
		bad + "/TEST-ISSUE.yaml: severity \"urgent\" is not one of CRITICAL, HIGH, MEDIUM, LOW, INFO\n" +
		bad + "/TEST-ISSUE.yaml: affected[0]: fixed_in: not a GKE version: \"latest\" has no -gke.N build suffix (want MAJOR.MINOR.PATCH-gke.N, e.g. 1.28.3-gke.1090000)\n"
	if code != exitError || stderr != want {
		t.Errorf("validate bad dir: exit %d, stderr\n%s\nwant\n%s", code, stderr, want)
	}
	if code, _, stderr := runCLI(t, "catalog", "validate"); code != exitUsage || stderr != "fleetscan: catalog validate needs one directory\nRun 'fleetscan catalog validate --help' for usage.\n" {
		t.Errorf("validate without dir: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "catalog", "show"); code != exitUsage || stderr != "fleetscan: unknown catalog subcommand \"show\" (want list or validate)\nRun 'fleetscan catalog --help' for usage.\n" {
		t.Errorf("catalog show: exit %d, %q", code, stderr)
	}
}

// A user catalog that overrides an issue changes the scan: here it raises
// DPV2-IPAM-LEAK to CRITICAL, so its 8 findings trip --fail-on CRITICAL.
func TestScanWithCatalogOverride(t *testing.T) {
	dir := t.TempDir()
	ipam, err := os.ReadFile("../../catalog/issues/DPV2-IPAM-LEAK.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(ipam), "severity: HIGH", "severity: CRITICAL", 1)
	if err := os.WriteFile(filepath.Join(dir, "DPV2-IPAM-LEAK.yaml"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, demoArgs("--format", "ndjson", "--catalog", dir, "--fail-on", "CRITICAL")...)
	if code != exitFindings || !strings.HasSuffix(stderr, "fleetscan: 8 finding(s) at or above CRITICAL (exit 3)\n") {
		t.Errorf("exit %d, stderr %q; want 8 CRITICAL DPV2-IPAM-LEAK findings", code, stderr)
	}
}

// Help goes to stdout with exit 0, however it is asked for.
func TestHelp(t *testing.T) {
	for golden_, invocations := range map[string][][]string{
		"help.txt":                  {{"help"}, {"--help"}, {"-h"}, {"-help"}, {"help", "help"}, {"help", "--help"}},
		"help-scan.txt":             {{"scan", "--help"}, {"scan", "-h"}, {"help", "scan"}, {"scan", "--input", "x.json", "--help"}, {"scan", "--fromat", "-h"}},
		"help-catalog.txt":          {{"catalog", "-h"}, {"catalog", "--help"}, {"help", "catalog"}},
		"help-catalog-list.txt":     {{"catalog", "list", "--help"}, {"catalog", "list", "-h"}, {"help", "catalog", "list"}},
		"help-catalog-validate.txt": {{"catalog", "validate", "--help"}, {"help", "catalog", "validate"}, {"catalog", "validate", "dir", "-h"}},
		"help-version.txt":          {{"version", "--help"}, {"help", "version"}},
	} {
		for i, args := range invocations {
			code, stdout, stderr := runCLI(t, args...)
			if code != exitOK || stderr != "" {
				t.Errorf("%v: exit %d, stderr %q; want 0 and nothing", args, code, stderr)
			}
			if i == 0 {
				golden(t, golden_, stdout)
				for line := range strings.SplitSeq(stdout, "\n") {
					if len(line) > 80 {
						t.Errorf("%s: line over 80 columns: %q", golden_, line)
					}
				}
			} else if want, _ := os.ReadFile(filepath.Join("testdata", golden_)); stdout != string(want) {
				t.Errorf("%v: stdout differs from %s:\n%s", args, golden_, stdout)
			}
		}
	}
}

// Every scan flag is in the help as --flag under a heading, with a
// placeholder when it takes a value, within 80 columns.
func TestScanHelpFlags(t *testing.T) {
	var o scanOptions
	var help bytes.Buffer
	fs := scanFlags(&o, &help)
	fs.help(&help)
	groups := map[string]bool{}
	fs.fs.VisitAll(func(f *flag.Flag) {
		var meta flagMeta
		for _, m := range fs.flags {
			if m.name == f.Name {
				meta = m
			}
		}
		if meta.group == "" {
			t.Errorf("--%s has no help group", f.Name)
		}
		groups[meta.group] = true
		_, isBool := f.Value.(interface{ IsBoolFlag() bool })
		if (meta.arg == "") != isBool {
			t.Errorf("--%s: placeholder %q", f.Name, meta.arg)
		}
		if !strings.Contains(help.String(), "\n  --"+f.Name+" ") && !strings.Contains(help.String(), "\n  --"+f.Name+"\n") {
			t.Errorf("help has no line for --%s", f.Name)
		}
	})
	if diff := cmp.Diff(map[string]bool{"Input": true, "Live scans": true, "Output": true, "Catalog": true}, groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	for line := range strings.SplitSeq(help.String(), "\n") {
		if len(line) > 80 {
			t.Errorf("help line over 80 columns: %q", line)
		}
		if strings.HasPrefix(strings.TrimSpace(line), "-") && !strings.HasPrefix(strings.TrimSpace(line), "--") {
			t.Errorf("single-dash flag in help: %q", line)
		}
	}
}

// A command line that cannot be run exits 2 with the problem, a
// suggestion when one is near, and where the help is; stdout stays empty.
func TestUsageErrors(t *testing.T) {
	scanHint := "Run 'fleetscan scan --help' for usage.\n"
	topHint := "Run 'fleetscan --help' for usage.\n"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"scna"}, "fleetscan: unknown command \"scna\": did you mean \"scan\"?\n" + topHint},
		{[]string{"catalgo", "list"}, "fleetscan: unknown command \"catalgo\": did you mean \"catalog\"?\n" + topHint},
		{[]string{"frobnicate"}, "fleetscan: unknown command \"frobnicate\" (want scan, catalog, version or help)\n" + topHint},
		{[]string{"help", "scna"}, "fleetscan: unknown command \"scna\": did you mean \"scan\"?\n" + topHint},
		{[]string{"--verison"}, "fleetscan: unknown flag --verison: did you mean --version?\n" + topHint},
		{[]string{"--input", "x.json"}, "fleetscan: unknown flag --input: give a command first, e.g. fleetscan scan --input\n" + topHint},
		{[]string{"scan", "--fromat", "json"}, "fleetscan: unknown flag --fromat: did you mean --format?\n" + scanHint},
		{[]string{"scan", "-fromat=json"}, "fleetscan: unknown flag --fromat: did you mean --format?\n" + scanHint},
		{[]string{"scan", "--inptu", "x.json"}, "fleetscan: unknown flag --inptu: did you mean --input?\n" + scanHint},
		{[]string{"scan", "--org", "123"}, "fleetscan: unknown flag --org: did you mean --organization?\n" + scanHint},
		{[]string{"scan", "--xyzzy"}, "fleetscan: unknown flag --xyzzy\n" + scanHint},
		{[]string{"scan", "x.json"}, "fleetscan: scan takes no arguments, got \"x.json\" (use --input FILE)\n" + scanHint},
		{[]string{"scan", "--input"}, "fleetscan: flag --input needs a value\n" + scanHint},
		{[]string{"scan", "--input", "--format", "json"}, "fleetscan: flag --input needs a value\n" + scanHint},
		{[]string{"scan", "--concurrency", "many"}, "fleetscan: --concurrency \"many\" is not a whole number\n" + scanHint},
		{[]string{"scan", "--api-timeout", "soon"}, "fleetscan: --api-timeout \"soon\" is not a duration such as 30s or 2m\n" + scanHint},
		{[]string{"scan", "--no-logs=maybe"}, "fleetscan: --no-logs \"maybe\" is not true or false\n" + scanHint},
		{[]string{"scan", "---input", "x.json"}, "fleetscan: bad flag syntax: ---input\n" + scanHint},
		{[]string{"catalog"}, "fleetscan: catalog needs a subcommand: list or validate\nRun 'fleetscan catalog --help' for usage.\n"},
		{[]string{"catalog", "lsit"}, "fleetscan: unknown catalog subcommand \"lsit\": did you mean \"list\"?\nRun 'fleetscan catalog --help' for usage.\n"},
		{[]string{"catalog", "--catalog", "dir"}, "fleetscan: unknown flag --catalog: give a subcommand first, list or validate\nRun 'fleetscan catalog --help' for usage.\n"},
		{[]string{"catalog", "list", "--catalgo", "dir"}, "fleetscan: unknown flag --catalgo: did you mean --catalog?\nRun 'fleetscan catalog list --help' for usage.\n"},
		{[]string{"catalog", "list", "extra"}, "fleetscan: catalog list takes no arguments, got \"extra\"\nRun 'fleetscan catalog list --help' for usage.\n"},
		{[]string{"catalog", "validate", "a", "b"}, "fleetscan: catalog validate needs one directory\nRun 'fleetscan catalog validate --help' for usage.\n"},
		{[]string{"version", "extra"}, "fleetscan: version takes no arguments, got \"extra\"\nRun 'fleetscan version --help' for usage.\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitUsage || stdout != "" || stderr != tc.want {
				t.Errorf("exit %d, stdout %q, stderr\n%s\nwant exit 2, no stdout, stderr\n%s", code, stdout, stderr, tc.want)
			}
		})
	}
	// No command at all: the usage, on stderr.
	code, stdout, stderr := runCLI(t)
	if want, _ := os.ReadFile("testdata/help.txt"); code != exitUsage || stdout != "" || stderr != string(want) {
		t.Errorf("no command: exit %d, stdout %q, stderr\n%s", code, stdout, stderr)
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"format", "input", "logs", "lookback", "organization", "out-dir", "fail-on", "fail-on-error"}
	for in, want := range map[string]string{
		"fromat": "format", "formta": "format", "inptu": "input", "log": "logs", "lokback": "lookback",
		"org": "organization", "out": "out-dir", "fail-onerror": "fail-on-error", "fail": "", "xyz": "", "f": "",
	} {
		if got := suggest(in, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "abc", 3}, {"kitten", "sitting", 3}, {"fromat", "format", 2}, {"same", "same", 0}, {"é", "e", 1}} {
		if got := levenshtein(tc.a, tc.b); got != tc.d {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

// Flags and arguments in any order, --flag=value, one dash or two, and
// "--" ending the flags.
func TestParseFlags(t *testing.T) {
	var out bytes.Buffer
	fs := newFlagSet("test", &out, "")
	var s string
	var b bool
	var l listFlag
	fs.stringVar(&s, "name", "", "X", "")
	fs.boolVar(&b, "on", "")
	fs.listVar(&l, "file", "F", "")
	if err := fs.parse([]string{"a", "-name=v", "--on", "--file", "-", "b", "--file", "-x", "--", "--name", "c"}); err != nil {
		t.Fatal(err)
	}
	if s != "v" || !b || !slices.Equal(l, listFlag{"-", "-x"}) || !slices.Equal(fs.args, []string{"a", "b", "--name", "c"}) {
		t.Errorf("name %q, on %v, file %q, args %q", s, b, l, fs.args)
	}
	if !fs.isSet("on") || fs.isSet("other") {
		t.Errorf("isSet wrong")
	}
}

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/fleetscan/fleetscan", Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "533a9bc0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6"}, {Key: "vcs.modified", Value: "true"}}}
	want := "fleetscan v1.4.0\nrevision  533a9bc0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6 (modified)\ncatalog   0123456789ab\ngo        go1.26.1 linux/amd64\n"
	if got := versionText(bi, "0123456789ab", "go1.26.1 linux/amd64"); got != want {
		t.Errorf("versionText =\n%s\nwant\n%s", got, want)
	}
	want = "fleetscan (devel)\ncatalog   0123456789ab\ngo        go1.26.1 linux/amd64\n"
	for _, bi := range []*debug.BuildInfo{nil, {Main: debug.Module{Path: "github.com/fleetscan/fleetscan"}}, {Main: debug.Module{Version: "(devel)"}}} {
		if got := versionText(bi, "0123456789ab", "go1.26.1 linux/amd64"); got != want {
			t.Errorf("versionText(%v) =\n%s\nwant\n%s", bi, got, want)
		}
	}

	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, stderr := runCLI(t, args...)
		goLine := "go        " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
		if code != exitOK || stderr != "" || !strings.HasPrefix(stdout, "fleetscan ") ||
			!strings.HasSuffix(stdout, "catalog   "+cat.Version+"\n"+goLine) {
			t.Errorf("%v: exit %d, stderr %q, stdout\n%s", args, code, stderr, stdout)
		}
	}
}

// --input - and --logs - read stdin; a UTF-8 byte order mark at the start
// of a file or of stdin is skipped.
func TestStdinAndBOM(t *testing.T) {
	clusters := data + "demo/fleet.json"
	logs := data + "demo/logs.json"
	common := []string{"--format", "ndjson", "--as-of", "2026-11-27T12:00:00Z", "--scan-id", "stdin"}
	code, want, stderr := runCLI(t, append([]string{"scan", "--input", clusters, "--logs", logs}, common...)...)
	if code != exitOK || !strings.Contains(want, `"status":"OBSERVED"`) {
		t.Fatalf("files: exit %d, %s; want findings with log evidence", code, stderr)
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bom := func(b []byte) []byte { return append([]byte("\uFEFF"), b...) }
	dir := t.TempDir()
	bomClusters, bomLogs := filepath.Join(dir, "clusters.json"), filepath.Join(dir, "logs.json")
	os.WriteFile(bomClusters, bom(read(clusters)), 0o644)
	os.WriteFile(bomLogs, bom(read(logs)), 0o644)
	for name, tc := range map[string]struct {
		stdin []byte
		args  []string
	}{
		"clusters on stdin":          {read(clusters), []string{"--input", "-", "--logs", logs}},
		"logs on stdin":              {read(logs), []string{"--input", clusters, "--logs", "-"}},
		"files with a BOM":           {nil, []string{"--input", bomClusters, "--logs", bomLogs}},
		"stdin with a BOM":           {bom(read(clusters)), []string{"--input", "-", "--logs", bomLogs}},
		"logs on stdin with a BOM":   {bom(read(logs)), []string{"--input", bomClusters, "--logs", "-"}},
		"stdin among several inputs": {read(clusters), []string{"--input", data + "gcpdiag/gke1-container-clusters.json", "--input", "-", "--logs", logs}},
	} {
		t.Run(name, func(t *testing.T) {
			code, got, stderr := runCLIStdin(t, bytes.NewReader(tc.stdin), append(append([]string{"scan"}, tc.args...), common...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			want := want
			if name == "stdin among several inputs" {
				_, want, _ = runCLI(t, append([]string{"scan", "--input", data + "gcpdiag/gke1-container-clusters.json", "--input", clusters, "--logs", logs}, common...)...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ndjson (-files +%s):\n%s", name, diff)
			}
		})
	}
	// The scan record names stdin.
	_, js, _ := runCLIStdin(t, bytes.NewReader(read(clusters)), "scan", "--input", "-", "--input", data+"gcpdiag/gke1-container-clusters.json", "--format", "json")
	if want := `"scope": "files:stdin,` + data + `gcpdiag/gke1-container-clusters.json"`; !strings.Contains(js, want) {
		t.Errorf("--format json has no %s", want)
	}
	// On stdin, a bad input gets the message it gets as a file, naming stdin.
	for name, tc := range map[string]struct {
		content string
		flag    string
	}{
		"invalid JSON": {`{"clusters": [`, "--input"},
		"empty":        {"", "--input"},
		"bad logs":     {`{"items": []}`, "--logs"},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, "bad.json")
			os.WriteFile(file, []byte(tc.content), 0o644)
			args := []string{"scan", "--input", clusters}
			if tc.flag == "--input" {
				args = []string{"scan"}
			}
			_, _, asFile := runCLI(t, append(args, tc.flag, file)...)
			code, stdout, stderr := runCLIStdin(t, strings.NewReader(tc.content), append(args, tc.flag, "-")...)
			want := strings.ReplaceAll(asFile, file, "stdin")
			if code != exitError || stdout != "" || stderr != want || !strings.HasPrefix(want, "fleetscan: stdin") {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, want)
			}
		})
	}
	code, _, stderr = runCLIStdin(t, strings.NewReader("[]"), "scan", "--input", "-", "--logs", "-")
	if want := "fleetscan: - (stdin) is given 2 times to --input and --logs: stdin can be read once\n"; code != exitError || stderr != want {
		t.Errorf("stdin twice: exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
	}
}

// Ctrl-C while stdin is still open: the read stops, exit 130.
func TestInterruptedStdin(t *testing.T) {
	pr, pw := io.Pipe() // never written to nor closed
	defer pw.Close()
	for _, args := range [][]string{{"scan", "--input", "-"}, {"scan", "--input", data + "demo/fleet.json", "--logs", "-"}} {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		var out, errOut bytes.Buffer
		if code := run(ctx, args, pr, &out, &errOut); code != exitInterrupted || errOut.String() != "fleetscan: interrupted\n" {
			t.Errorf("%v: exit %d, stderr %q; want 130, interrupted", args, code, errOut.String())
		}
	}
}

// A cancelled context (Ctrl-C) ends the scan with exit 130.
func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, demoArgs("--format", "ndjson"), strings.NewReader(""), &out, &errOut)
	if code != exitInterrupted || out.Len() != 0 || errOut.String() != "fleetscan: interrupted\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 130, nothing, \"fleetscan: interrupted\"", code, out.String(), errOut.String())
	}
}

// The first SIGINT cancels main's context (and restores the default, so a
// second one would end the process).
func TestSignalContext(t *testing.T) {
	ctx, stop := signalContext()
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Skip(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGINT did not cancel the context")
	}
	if cause := context.Cause(ctx); cause == nil || !strings.Contains(cause.Error(), "interrupt") {
		t.Errorf("cause = %v", cause)
	}
}

// --out-dir is created, or the scan fails before it starts.
func TestOutDirCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for arg, want := range map[string]string{
		file:                       "fleetscan: --out-dir " + file + ": not a directory\n",
		filepath.Join(file, "sub"): "fleetscan: --out-dir " + filepath.Join(file, "sub") + ": mkdir " + file + ": not a directory\n",
	} {
		code, stdout, stderr := runCLI(t, demoArgs("--format", "ndjson", "--out-dir", arg)...)
		if code != exitError || stdout != "" || stderr != want {
			t.Errorf("--out-dir %s: exit %d, stdout %d bytes, stderr %q; want exit 1 and %q", arg, code, len(stdout), stderr, want)
		}
	}
	nested := filepath.Join(dir, "a", "b")
	code, _, stderr := runCLI(t, demoArgs("--format", "ndjson", "--out-dir", nested)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	entries, _ := os.ReadDir(nested)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"clusters.ndjson", "findings.ndjson", "scan_errors.ndjson", "scans.ndjson"}, names); diff != "" {
		t.Errorf("files in --out-dir (-want +got):\n%s", diff)
	}
}

// --format is case-insensitive, like --fail-on.
func TestFormatCase(t *testing.T) {
	_, want, _ := runCLI(t, demoArgs("--format", "ndjson")...)
	code, got, stderr := runCLI(t, demoArgs("--format", "NDJSON")...)
	if code != exitOK || got != want {
		t.Errorf("--format NDJSON: exit %d (%s), output differs from ndjson", code, stderr)
	}
	if code, stdout, _ := runCLI(t, demoArgs("--format", "Table")...); code != exitOK || !strings.HasPrefix(stdout, "fleetscan scan demo") {
		t.Errorf("--format Table: exit %d, %q", code, stdout[:min(len(stdout), 40)])
	}
}

// Offline, the live-only flags are errors naming them; the live-only
// entries of FLEETSCAN_API_ENDPOINTS are ignored, with a warning when they
// are bad.
func TestOfflineLiveSettings(t *testing.T) {
	good := data + "gcpdiag/gke3-container-clusters.json"
	code, _, stderr := runCLI(t, "scan", "--input", good, "--discovery", "container-api", "--no-logs", "--concurrency", "4", "--api-timeout", "5s")
	want := "fleetscan: --api-timeout applies to live scans only: it cannot be combined with --input\n" +
		"--concurrency applies to live scans only: it cannot be combined with --input\n" +
		"--discovery applies to live scans only: it cannot be combined with --input\n" +
		"--no-logs applies to live scans only: it cannot be combined with --input\n"
	if code != exitError || stderr != want {
		t.Errorf("exit %d, stderr\n%s\nwant exit 1 and\n%s", code, stderr, want)
	}

	for env, want := range map[string]string{
		"asset=127.0.0.1:1,bogus":  "fleetscan: warning: FLEETSCAN_API_ENDPOINTS: ignored, an --input scan calls no live API: endpoint \"bogus\" is not SERVICE=HOST:PORT\n",
		"logging=h:0,container=h:": "fleetscan: warning: FLEETSCAN_API_ENDPOINTS: ignored, an --input scan calls no live API: endpoint \"logging=h:0\": port \"0\" is not a number from 1 to 65535; endpoint \"container=h:\": \"h:\" is not HOST:PORT\n",
		"asset=127.0.0.1:1":        "",
	} {
		t.Setenv("FLEETSCAN_API_ENDPOINTS", env)
		code, stdout, stderr := runCLI(t, "scan", "--input", good, "--format", "ndjson", "--scan-id", "env")
		if code != exitOK || stdout == "" || !strings.HasPrefix(stderr, want+"fleetscan: scan env: ") {
			t.Errorf("%s: exit %d, stderr\n%s\nwant exit 0 and first\n%s", env, code, stderr, want)
		}
	}
	// The BigQuery entry is used offline: it must be good.
	t.Setenv("FLEETSCAN_API_ENDPOINTS", "bigquery=127.0.0.1:0")
	code, _, stderr = runCLI(t, "scan", "--input", good, "--bigquery", "my-project.fleetscan")
	if want := "fleetscan: FLEETSCAN_API_ENDPOINTS: endpoint \"bigquery=127.0.0.1:0\": port \"0\" is not a number from 1 to 65535\n"; code != exitError || stderr != want {
		t.Errorf("bad bigquery endpoint offline: exit %d, stderr %q; want %q", code, stderr, want)
	}
}

func TestNotFullyRead(t *testing.T) {
	errs := func(ids ...string) []scanner.ScanError {
		var out []scanner.ScanError
		for _, id := range ids {
			if strings.HasPrefix(id, "folders/") {
				out = append(out, scanner.ScanError{Resource: id})
			} else {
				out = append(out, scanner.ScanError{ProjectID: id, Resource: "projects/" + id})
			}
		}
		return out
	}
	for _, tc := range []struct {
		errs []scanner.ScanError
		want string
	}{
		{nil, ""},
		{errs("p2", "p1", "p2"), "p1, p2"},
		{errs("p7", "p6", "p5", "folders/9", "p4", "p3", "p2", "p1", "p1"), "folders/9, p1, p2, p3, p4 and 3 more"},
	} {
		if got := notFullyRead(tc.errs); got != tc.want {
			t.Errorf("notFullyRead = %q, want %q", got, tc.want)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// badCatalog is a copy of a bad-catalog case of scanner/catalog without its
// want.txt (a catalog folder holds issue files only).
func badCatalog(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../catalog/testdata/bad/"+name)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "want.txt")); err != nil {
		t.Fatal(err)
	}
	return dir
}
