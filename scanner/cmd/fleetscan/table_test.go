package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/test/testkit"
)

// Every line of the demo's table fits 120 columns, notes sit under their
// rows, and the demo ends with how to scan one's own clusters.
func TestTableFits(t *testing.T) {
	code, stdout, stderr := runCLI(t, demoArgs()...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for i, l := range strings.Split(stdout, "\n") {
		if n := utf8.RuneCountInString(l); n > width {
			t.Errorf("line %d has %d columns: %s", i+1, n, l)
		}
	}
	if !strings.Contains(stdout, "  UNKNOWN   europe-west4    data-etl        default-pool  1.24 → ?") ||
		!strings.Contains(stdout, "1.24 → ?                             -\n    ↳ Node pool default-pool (COS_CONTAINERD) reports version \"1.24\"") {
		t.Errorf("the UNKNOWN row's note is not under it:\n%s", stdout)
	}
	if !strings.HasSuffix(stdout, "  fleetscan scan --input clusters.json\n") {
		t.Errorf("the demo does not end with the next step:\n%s", stdout[max(0, len(stdout)-400):])
	}
	if strings.Contains(stdout, "\x1b[") {
		t.Error("colour codes in output that is not a terminal")
	}
}

// On a terminal, severities and statuses are coloured; NO_COLOR and a
// file turn it off.
func TestTableColour(t *testing.T) {
	res := &scanner.Result{ScanID: "s", Scope: "files:x.json", Summary: scanner.Summary{Clusters: 1, Findings: 1},
		Clusters: []scanner.ClusterRecord{{Cluster: scanner.Cluster{ProjectID: "p", Location: "l", Name: "c"}}},
		Findings: []scanner.Finding{{ProjectID: "p", Location: "l", Cluster: "c", IssueID: "DPV2-NETPOL-CONNTRACK-SELF",
			Title: "t", Severity: "HIGH", Status: scanner.Affected, Component: "control_plane", Version: "1.27.1-gke.1"}}}
	var b bytes.Buffer
	if err := writeTableColor(&b, res, testkit.Catalog(t), true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\x1b[31mHIGH\x1b[0m  DPV2-NETPOL-CONNTRACK-SELF  t (1 AFFECTED)") ||
		!strings.Contains(b.String(), "  \x1b[33mAFFECTED\x1b[0m  l         c        -          1.27.1-gke.1") {
		t.Errorf("coloured table:\n%q", b.String())
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if colorFor(f) || colorFor(&b) {
		t.Error("a file or a buffer is coloured")
	}
	for _, tc := range []struct {
		terminal bool
		env      map[string]string
		want     bool
	}{
		{true, nil, true},
		{true, map[string]string{"TERM": "xterm-256color"}, true},
		{true, map[string]string{"NO_COLOR": "1"}, false},
		{true, map[string]string{"TERM": "dumb"}, false},
		{false, nil, false},
	} {
		if got := colorTerminal(tc.terminal, func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("colour on a terminal %t with %v = %t, want %t", tc.terminal, tc.env, got, tc.want)
		}
	}
}

// Without --logs the summary says which issues the logs decide were not
// checked, not "0 symptom events".
func TestTableLogsNotChecked(t *testing.T) {
	code, stdout, stderr := runCLI(t, "scan", "--input", data+"demo/fleet.json", "--as-of", "2026-11-27T12:00:00Z")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "  Not checked         logs (no --logs given): GKE-POD-IP-EXHAUSTION\n  Log evidence        not checked\n") {
		t.Errorf("summary:\n%s", stdout[strings.Index(stdout, "Summary"):])
	}
}
