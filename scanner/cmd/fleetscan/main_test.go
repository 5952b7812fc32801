package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, &out, &errOut)
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
	want := []string{"catalog_version", "cluster", "cluster_id", "component", "docs_url", "evidence", "finding_key",
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
	if lines != 78 {
		t.Errorf("findings = %d, want 78", lines)
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
	if res.Summary.Clusters != 22 || res.Summary.DataplaneV2 != 11 || res.Summary.Findings != 78 {
		t.Errorf("summary = %+v, want 22 clusters, 11 Dataplane V2, 78 findings", res.Summary)
	}
	if want := "fleetscan: scan demo: 22 cluster(s) (11 Dataplane V2), 78 finding(s): 3 OBSERVED, 71 AFFECTED, 4 UNKNOWN, 0 error(s)\n"; !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr = %q, want prefix %q", stderr, want)
	}
	for table, lines := range map[string]int{"scans": 1, "clusters": 22, "findings": 78, "scan_errors": 0} {
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
		{"MEDIUM", exitFindings, "fleetscan: 76 finding(s) at or above MEDIUM (exit 3)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.sev, func(t *testing.T) {
			code, _, stderr := runCLI(t, demoArgs("--format", "ndjson", "--fail-on", tc.sev)...)
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

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "fleetscan finds GKE clusters"},
		{"unknown command", []string{"scna"}, "fleetscan: unknown command \"scna\"\n\nfleetscan finds GKE clusters"},
		{"no input", []string{"scan"}, "fleetscan: nothing to scan: give --input FILE (gcloud container clusters list --format=json) or --organization N, --folder N or --project ID\n"},
		{"stray argument", []string{"scan", good}, "fleetscan: scan takes no arguments, got \"" + good + "\" (use --input FILE)\n\n"},
		{"missing file", []string{"scan", "--input", filepath.Join(dir, "nope.json")}, "fleetscan: cluster input: open " + filepath.Join(dir, "nope.json") + ": no such file or directory\n"},
		{"invalid JSON", []string{"scan", "--input", invalid}, "fleetscan: " + invalid + ": invalid JSON: unexpected end of JSON input at byte 14\n"},
		{"empty file", []string{"scan", "--input", empty}, "fleetscan: " + empty + ": file is empty\n"},
		{"wrong shape object", []string{"scan", "--input", shape}, "fleetscan: " + shape + ": wrong shape: want a JSON array of clusters, {\"clusters\": [...]} or one cluster object with a \"name\"\n"},
		{"wrong shape scalar", []string{"scan", "--input", scalar}, "fleetscan: " + scalar + ": wrong shape: want a JSON array of clusters, {\"clusters\": [...]} or one cluster object with a \"name\"\n"},
		{"no project", []string{"scan", "--input", noSelfLink}, "fleetscan: " + noSelfLink + ": cluster 0: cluster c1: no project ID: selfLink \"\" is not .../projects/P/locations/L/clusters/N\n"},
		{"wrong field type", []string{"scan", "--input", badField}, "fleetscan: " + badField + ": cluster 0: not a Container API cluster: (column 40): invalid value for string field currentMasterVersion: 5\n"},
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
		{"bad catalog dir", []string{"scan", "--input", good, "--catalog", "../../catalog/testdata/bad/id-mismatch"},
			"fleetscan: ../../catalog/testdata/bad/id-mismatch/TEST-ISSUE.yaml: id OTHER-ISSUE does not match the file name TEST-ISSUE.yaml\n"},
		{"unknown flag", []string{"scan", "--inptu", good}, "flag provided but not defined: -inptu\nUsage: fleetscan scan"},
		{"files and scope", []string{"scan", "--input", good, "--project", "my-project"}, "fleetscan: --input and --project cannot be combined: scan files or a live scope\n"},
		{"two scopes", []string{"scan", "--organization", "123", "--folder", "456"}, "fleetscan: --folder and --organization: give one scope\n"},
		{"bad organization", []string{"scan", "--organization", "acme"}, "fleetscan: invalid scope \"organizations/acme\": organizations are named by number, e.g. organizations/123456789012\n"},
		{"bad folder", []string{"scan", "--folder", "0123"}, "fleetscan: invalid scope \"folders/0123\": folders are named by number, e.g. folders/123456789012\n"},
		{"bad project", []string{"scan", "--project", "My_Project"}, "fleetscan: invalid scope \"projects/My_Project\": \"My_Project\" is not a project ID (6-30 lowercase letters, digits or hyphens, starting with a letter)\n"},
		{"hostile project", []string{"scan", "--project", `p" OR "x`}, "fleetscan: invalid scope \"projects/p\\\" OR \\\"x\": \"p\\\" OR \\\"x\" is not a project ID (6-30 lowercase letters, digits or hyphens, starting with a letter)\n"},
		{"bad discovery", []string{"scan", "--project", "my-project", "--discovery", "cai"}, "fleetscan: --discovery \"cai\" is not asset-inventory or container-api\n"},
		{"bad endpoint", []string{"scan", "--project", "my-project", "--api-endpoint", "asset:8080"}, "fleetscan: --api-endpoint: endpoint \"asset:8080\" is not SERVICE=HOST:PORT\n"},
		{"unknown endpoint service", []string{"scan", "--project", "my-project", "--api-endpoint", "gke=127.0.0.1:1"}, "fleetscan: --api-endpoint: endpoint \"gke=127.0.0.1:1\": unknown service \"gke\" (want one of asset, container, resourcemanager, logging, bigquery, pubsub, storage)\n"},
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

func TestCatalogCommands(t *testing.T) {
	code, stdout, stderr := runCLI(t, "catalog", "list")
	if code != exitOK {
		t.Fatalf("catalog list exit %d: %s", code, stderr)
	}
	for _, id := range []string{"DPV2-IPAM-LEAK", "DPV2-NETPOL-CONNTRACK-SELF", "DPV2-HAIRPIN-CONNTRACK-LEAK",
		"DPV2-NODEPORT-RANDOMFULLY", "DPV2-NODEPORT-EPHEMERAL", "DPV2-NETPOL-ENDPORT", "GKE-POD-IP-EXHAUSTION"} {
		if !strings.Contains(stdout, "\n"+id+" ") {
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
	if code != exitOK || !strings.HasPrefix(stdout, good+": valid; with the built-in issues the catalog has 8 issues") {
		t.Errorf("validate good dir: exit %d, %q", code, stdout)
	}

	bad := "../../catalog/testdata/bad/several-problems"
	code, _, stderr = runCLI(t, "catalog", "validate", bad)
	want := "fleetscan: " + bad + "/TEST-ISSUE.yaml: id OTHER-ISSUE does not match the file name TEST-ISSUE.yaml\n" +
		bad + "/TEST-ISSUE.yaml: severity \"urgent\" is not one of CRITICAL, HIGH, MEDIUM, LOW, INFO\n" +
		bad + "/TEST-ISSUE.yaml: affected[0]: fixed_in: not a GKE version: \"latest\" has no -gke.N build suffix (want MAJOR.MINOR.PATCH-gke.N, e.g. 1.28.3-gke.1090000)\n"
	if code != exitError || stderr != want {
		t.Errorf("validate bad dir: exit %d, stderr\n%s\nwant\n%s", code, stderr, want)
	}
	if code, _, stderr := runCLI(t, "catalog", "validate"); code != exitError || !strings.HasPrefix(stderr, "fleetscan: catalog validate needs one directory\n") {
		t.Errorf("validate without dir: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "catalog", "show"); code != exitError || !strings.HasPrefix(stderr, "fleetscan: unknown catalog subcommand \"show\" (want list or validate)\n") {
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

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"scan", "-h"}, {"help", "scan"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitOK || stdout+stderr == "" {
			t.Errorf("%v: exit %d, no usage printed", args, code)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
