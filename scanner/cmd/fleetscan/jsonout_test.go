package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscan/fleetscan/scanner"
)

// writeJSON writes what the Encoder wrote of the whole scan, byte for
// byte: for the demo scan, with empty and nil lists, and with text the
// Encoder would escape as HTML.
func TestWriteJSONIsTheEncoders(t *testing.T) {
	demo, stdout := demoResult(t)
	html := demo
	html.Findings = append([]scanner.Finding{{Reason: `<b>"a" & 'b'</b> é \u2028`, Evidence: []scanner.Evidence{}}}, demo.Findings[:1]...)
	html.Clusters = demo.Clusters[:1]
	for name, res := range map[string]scanner.Result{
		"demo":        demo,
		"empty lists": {Findings: []scanner.Finding{}, Clusters: []scanner.ClusterRecord{}, Errors: []scanner.ScanError{}},
		"nil lists":   {},
		"html":        html,
	} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(&res); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := writeJSON(&got, &res); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: writeJSON differs from the Encoder:\n got %.600s\nwant %.600s", name, got.Bytes(), want.Bytes())
		}
	}
	if demo.Findings[0].FindingKey == "" || !bytes.Contains([]byte(stdout), []byte(demo.Findings[0].FindingKey)) {
		t.Error("the demo's JSON lacks its first finding's key")
	}
}

// demoResult is the demo scan, read back from the CLI's --format json.
func demoResult(t *testing.T) (res scanner.Result, stdout string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, demoArgs("--format", "json")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 84 || len(res.Clusters) != 22 {
		t.Fatalf("demo scan read back with %d findings and %d clusters", len(res.Findings), len(res.Clusters))
	}
	return res, stdout
}

// A write error is returned, not lost in the buffer.
func TestWriteJSONError(t *testing.T) {
	res := scanner.Result{Findings: make([]scanner.Finding, 2000)}
	if err := writeJSON(failingWriter{}, &res); !errors.Is(err, errWrite) {
		t.Errorf("writeJSON to a failing writer: %v, want %v", err, errWrite)
	}
}

var errWrite = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

// writeNDJSON writes the lines the Encoder wrote, in order, for fewer
// findings than a block, exactly a block and many blocks; and a write
// error or an element that does not encode stops it with that error.
func TestWriteNDJSONIsTheEncoders(t *testing.T) {
	demo, _ := demoResult(t)
	var many []scanner.Finding
	for i := 0; len(many) < 3*ndjsonBlock+7; i++ {
		f := demo.Findings[i%len(demo.Findings)]
		f.Cluster += fmt.Sprint("-", i) // every line its own
		many = append(many, f)
	}
	for _, fs := range [][]scanner.Finding{nil, demo.Findings, many[:ndjsonBlock], many} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		for _, f := range fs {
			if err := enc.Encode(f); err != nil {
				t.Fatal(err)
			}
		}
		var got bytes.Buffer
		if err := writeNDJSON(&got, fs); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%d findings: writeNDJSON differs from the Encoder", len(fs))
		}
	}
	if err := writeNDJSON(failingWriter{}, many); !errors.Is(err, errWrite) {
		t.Errorf("writeNDJSON to a failing writer: %v, want %v", err, errWrite)
	}
	bad := slices.Clone(many)
	bad[2*ndjsonBlock+1].ScannedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // not RFC 3339
	var out bytes.Buffer
	err := writeNDJSON(&out, bad)
	if err == nil || !strings.Contains(err.Error(), "year outside of range [0,9999]") {
		t.Errorf("writeNDJSON of a finding that does not encode: %v", err)
	}
	if lines := bytes.Count(out.Bytes(), []byte("\n")); lines != 2*ndjsonBlock {
		t.Errorf("%d lines written before the bad block, want the %d of the blocks before it", lines, 2*ndjsonBlock)
	}
}
