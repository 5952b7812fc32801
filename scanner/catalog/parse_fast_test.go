package catalog

import (
	"strconv"
	"strings"
	"testing"
)

// referenceParseVersion is ParseVersion as it was before parseVersion
// read the string in one pass: split on "-gke." and ".", then parsePart.
func referenceParseVersion(s string) (Version, bool) {
	core, build, ok := strings.Cut(strings.TrimPrefix(s, "v"), "-gke.")
	if !ok {
		return Version{}, false
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return Version{}, false
	}
	var n [4]int
	for i, p := range append(parts, build) {
		if n[i], ok = parsePart(p); !ok {
			return Version{}, false
		}
	}
	return Version{n[0], n[1], n[2], n[3]}, true
}

// referenceParsePart is parsePart with strconv.
func referenceParsePart(p string) (int, bool) {
	if p == "" || len(p) > 10 || strings.TrimLeft(p, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.ParseInt(p, 10, 64)
	if err != nil || v > maxPart {
		return 0, false
	}
	return int(v), true
}

var parseCases = []string{
	"1.28.3-gke.1090000", "v1.22.17-gke.3100", "1.28.10-gke.1000", "latest", "1.29", "1.29.1", "", "v", "vv1.2.3-gke.4",
	"1.2.3-gke.", "9.9.9-gke.2147483647", "9.9.9-gke.2147483648", "1.2.3-gke.4-gke.5", "1.2.3.-gke.4", "1.2.3.4-gke.5",
	"1..3-gke.4", ".1.2.3-gke.4", "1.2.3-gke.4 ", " 1.2.3-gke.4", "1.2.3-gke.+4", "1.2.-3-gke.4", "01.002.3-gke.0000000004",
	"12345678901.2.3-gke.4", "1.2.3-GKE.4", "1.2.3_gke.4", "1.2.3-gke4", "1.2.3-gke.4.5", "1.2.3-gke.4\x00",
}

func TestParseVersionMatchesReference(t *testing.T) {
	for _, s := range parseCases {
		checkParse(t, s)
	}
}

func FuzzParseVersionReference(f *testing.F) {
	for _, s := range parseCases {
		f.Add(s)
	}
	f.Fuzz(checkParse)
}

func checkParse(t *testing.T, s string) {
	want, wantOK := referenceParseVersion(s)
	got, err := ParseVersion(s)
	if (err == nil) != wantOK || got != want {
		t.Fatalf("ParseVersion(%q) = %v, %v; the reference gives %v, %v", s, got, err, want, wantOK)
	}
	if err != nil && !strings.Contains(err.Error(), strconv.Quote(s)) {
		t.Fatalf("ParseVersion(%q) error %q does not quote the input", s, err)
	}
	gotP, okP := parsePart(s)
	wantP, wantPOK := referenceParsePart(s)
	if gotP != wantP || okP != wantPOK {
		t.Fatalf("parsePart(%q) = %d, %v; the reference gives %d, %v", s, gotP, okP, wantP, wantPOK)
	}
}
