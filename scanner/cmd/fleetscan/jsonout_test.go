package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/fleetscan/fleetscan/scanner"
)

// writeJSON writes what the Encoder wrote of the whole scan, byte for
// byte: for the demo scan, with empty and nil lists, and with text the
// Encoder would escape as HTML.
func TestWriteJSONIsTheEncoders(t *testing.T) {
	code, stdout, stderr := runCLI(t, demoArgs("--format", "json")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var demo scanner.Result
	if err := json.Unmarshal([]byte(stdout), &demo); err != nil {
		t.Fatal(err)
	}
	if len(demo.Findings) != 84 || len(demo.Clusters) != 22 {
		t.Fatalf("demo scan read back with %d findings and %d clusters", len(demo.Findings), len(demo.Clusters))
	}
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
