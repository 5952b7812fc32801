package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fleetscan/fleetscan/scanner"
)

// encoded is v as an Encoder with SetEscapeHTML(false) writes it.
func encoded(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// oddStrings are texts at each of encoding/json's escapes.
var oddStrings = []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\b\f\x00\x01\x1f\x7f",
	"<html> & 'ampersand'", "é ü 日本 🙂", "bad \xff\xfe utf-8 \xc3", "line\u2028para\u2029sep", "\u00a0\u200b",
	strings.Repeat("long ", 100)}

func TestAppendFindingIsTheEncoders(t *testing.T) {
	first := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.FixedZone("x", -7*3600))
	last := time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)
	var findings []scanner.Finding
	for i, s := range oddStrings {
		f := scanner.Finding{ScanID: s, ScannedAt: last, FindingKey: s, OrganizationID: s, ProjectID: s, Location: s,
			Cluster: s, ClusterID: s, NodePool: s, IssueID: s, Title: s, Severity: s, Status: scanner.Status(s),
			Component: s, Version: s, FixedIn: s, Reason: s, Remediation: s, DocsURL: s, CatalogVersion: s,
			UpgradeTo: s, Category: s}
		switch i % 4 {
		case 0: // no evidence
		case 1:
			f.Evidence = []scanner.Evidence{}
		case 2:
			f.Evidence = []scanner.Evidence{{Source: s, Summary: s, Count: -3, Nodes: []string{}, Sample: s, Query: s}}
		case 3:
			f.Evidence = []scanner.Evidence{{Source: s, Count: 1 << 40, FirstSeen: &first, LastSeen: &last, Nodes: []string{s, "n2"}},
				{Summary: s}}
		}
		findings = append(findings, f)
	}
	findings = append(findings, scanner.Finding{}) // zero time, nulls
	for _, f := range findings {
		got, err := appendFinding(nil, &f)
		if err != nil {
			t.Fatalf("%q: %v", f.ScanID, err)
		}
		if want := encoded(t, &f); !bytes.Equal(got, want) {
			t.Errorf("appendFinding differs from the Encoder:\n got %s\nwant %s", got, want)
		}
	}
	bad := scanner.Finding{Evidence: []scanner.Evidence{{FirstSeen: new(time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC))}}}
	if _, err := appendFinding(nil, &bad); err == nil || !strings.Contains(err.Error(), "year outside of range [0,9999]") {
		t.Errorf("evidence of year -1: %v", err)
	}
}
