package scanner_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/test/testkit"
)

func TestFilePosition(t *testing.T) {
	f := &scanner.File{Name: "in.json", Data: []byte("ab\n\ncafé x\n")}
	for _, tc := range []struct {
		off       int
		line, col int
	}{
		{0, 1, 1}, {1, 1, 2}, {2, 1, 3}, // the newline ends line 1
		{3, 2, 1},
		{4, 3, 1},
		{9, 3, 5},  // the space after "café": é is one character of two bytes
		{10, 3, 6}, // x
		{12, 4, 1}, // the end of the file, after its last newline
		{-1, 1, 1}, // clamped
		{99, 4, 1}, // clamped
		{5, 3, 2},  // a
		{11, 3, 7}, // the last newline
	} {
		line, col := f.Position(tc.off)
		if line != tc.line || col != tc.col {
			t.Errorf("Position(%d) = %d:%d, want %d:%d", tc.off, line, col, tc.line, tc.col)
		}
	}
	if got := f.At(10); got != "in.json:3:6" {
		t.Errorf("At(10) = %q, want in.json:3:6", got)
	}
	if got := f.Line(10); got != "in.json:3" {
		t.Errorf("Line(10) = %q, want in.json:3", got)
	}
	if got := f.Errorf(10, "bad %s", "x").Error(); got != "in.json:3:6: bad x" {
		t.Errorf("Errorf = %q, want in.json:3:6: bad x", got)
	}
}

// Values reads one JSON value, or several in a row; each value's offset is
// where its text starts in the file.
func TestFileValues(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"one object", "  {\"a\": 1}\n", []string{`{"a": 1}`}},
		{"one array", "[1,\n 2]", []string{"[1,\n 2]"}},
		{"NDJSON", "{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}\n", []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}},
		{"CRLF NDJSON", "{\"a\":1}\r\n{\"b\":2}\r\n", []string{`{"a":1}`, `{"b":2}`}},
		{"jq's pretty stream", "{\n  \"a\": 1\n}\n{\n  \"b\": 2\n}\n", []string{"{\n  \"a\": 1\n}", "{\n  \"b\": 2\n}"}},
		{"arrays in a row", "[1]\n[2]", []string{"[1]", "[2]"}},
		{"a scalar after an object", "{\"a\":1}\n{\"b\":2} 3", []string{`{"a":1}`, `{"b":2}`, "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &scanner.File{Name: "in.json", Data: []byte(tc.in)}
			vs, err := f.Values()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				got = append(got, string(v.Raw))
				if !bytes.HasPrefix(f.Data[v.Offset:], v.Raw) {
					t.Errorf("value %s at offset %d: the file has %q there", v.Raw, v.Offset, f.Data[v.Offset:])
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Values() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFileValuesErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "in.json: file is empty"},
		{"white space", " \r\n\t", "in.json: file is empty"},
		{"truncated after a newline", "{\"a\": [\n\n", "in.json:1:8: invalid JSON: unexpected end of JSON input"},
		{"truncated literal", "[tru\n", "in.json:1:5: invalid JSON: unexpected end of JSON input"},
		{"truncated string", `["abc`, "in.json:1:6: invalid JSON: unexpected end of JSON input"},
		{"bad character on line 3", "{\n  \"a\": 1,\n  \"b\": x\n}", "in.json:3:8: invalid JSON: invalid character 'x' looking for beginning of value"},
		{"bad last character", `[1,}`, "in.json:1:4: invalid JSON: invalid character '}' looking for beginning of value"},
		{"a column counts characters", `["é", x]`, "in.json:1:7: invalid JSON: invalid character 'x' looking for beginning of value"},
		{"garbage after one value", `{"a": 1} x`, "in.json:1:10: invalid JSON: invalid character 'x' after top-level value"},
		{"bad NDJSON line", "{\"a\":1}\n{\"b\":2}\n{\"c\":,}\n{\"d\":4}\n", "in.json:3:6: invalid JSON: invalid character ',' looking for beginning of value"},
		{"truncated NDJSON", "{\"a\":1}\n{\"b\":2}\n{\"c\":\n", "in.json:3:6: invalid JSON: unexpected end of JSON input"},
		{"garbage in NDJSON", "{\"a\":1}\n{\"b\":2}\nx\n", "in.json:3:1: invalid JSON: invalid character 'x' looking for beginning of value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &scanner.File{Name: "in.json", Data: []byte(tc.in)}
			vs, err := f.Values()
			if testkit.ErrText(err) != tc.want {
				t.Errorf("Values(%q) error = %q, want %q", tc.in, testkit.ErrText(err), tc.want)
			}
			if vs != nil {
				t.Errorf("Values(%q) = %v, want nil", tc.in, vs)
			}
			var se *json.SyntaxError
			if strings.Contains(tc.want, "invalid character") && !errors.As(err, &se) {
				t.Errorf("Values(%q) error %v does not wrap a *json.SyntaxError", tc.in, err)
			}
		})
	}
}

// Elements and Members give each value the offset of its text in the file.
func TestElementsMembers(t *testing.T) {
	data := []byte("  {\"clusters\": [\n    {\"name\": \"a\", \"n\": [1, 2]},\n    \"x\",\n    null\n  ],\n  \"k\\u0065y\": 3}\n")
	f := &scanner.File{Name: "in.json", Data: data}
	v, err := f.Value()
	if err != nil {
		t.Fatal(err)
	}
	m, ok := scanner.Members(v)
	if !ok || len(m) != 2 {
		t.Fatalf("Members() = %v, %v, want clusters and key", m, ok)
	}
	check := func(v scanner.Value, want string) {
		t.Helper()
		if string(v.Raw) != want || !bytes.HasPrefix(data[v.Offset:], v.Raw) {
			t.Errorf("value %s at %d, want %s at its place (the file has %q there)", v.Raw, v.Offset, want, data[v.Offset:])
		}
	}
	check(m["key"], "3")
	es, ok := scanner.Elements(m["clusters"])
	if !ok || len(es) != 3 {
		t.Fatalf("Elements() = %v, %v, want 3", es, ok)
	}
	check(es[0], `{"name": "a", "n": [1, 2]}`)
	check(es[1], `"x"`)
	check(es[2], "null")
	if at := f.At(es[1].Offset); at != "in.json:3:5" {
		t.Errorf("At(element 1) = %s, want in.json:3:5", at)
	}
	inner, _ := scanner.Members(es[0])
	check(inner["n"], "[1, 2]")
	if at := f.At(inner["n"].Offset); at != "in.json:2:24" {
		t.Errorf("At(n) = %s, want in.json:2:24", at)
	}
	if _, ok := scanner.Elements(es[0]); ok {
		t.Error("Elements(object) ok, want false")
	}
	if _, ok := scanner.Members(es[1]); ok {
		t.Error("Members(string) ok, want false")
	}
	if es[1].Text() != "x" || es[0].Text() != "" || !es[2].IsNull() || es[1].IsNull() {
		t.Error("Text/IsNull wrong")
	}
}

func TestSplitList(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		items    int
		rest     []string
		want     string
	}{
		{name: "array", in: `[{"a": 1}, 2]`, items: 2},
		{name: "list response", in: `{"entries": [1, 2, 3], "nextPageToken": "t"}`, items: 3},
		{name: "list null", in: `{"entries": null}`},
		{name: "other object", in: `{"a": 1, "b": 2}`, rest: []string{"a", "b"}},
		{name: "list not an array", in: "{\n  \"entries\": {}\n}", want: `in.json:2:14: "entries" is not an array of things`},
		{name: "scalar", in: `3`, want: "in.json: wrong shape"},
		{name: "two values", in: "{\"entries\": []}\n{\"entries\": []}", want: "in.json:2:1: invalid JSON: invalid character '{' after top-level value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, rest, err := scanner.SplitList("in.json", []byte(tc.in), "entries", "things")
			if testkit.ErrText(err) != tc.want {
				t.Fatalf("SplitList(%s) error = %q, want %q", tc.in, testkit.ErrText(err), tc.want)
			}
			if len(items) != tc.items || len(rest) != len(tc.rest) {
				t.Errorf("SplitList(%s) = %d items, rest %v; want %d, %v", tc.in, len(items), rest, tc.items, tc.rest)
			}
			for _, k := range tc.rest {
				if _, ok := rest[k]; !ok {
					t.Errorf("SplitList(%s) rest has no %q", tc.in, k)
				}
			}
		})
	}
	if _, _, err := scanner.SplitList("in.json", []byte("7"), "entries", "things"); !errors.Is(err, scanner.ErrListShape) {
		t.Errorf("SplitList(7) error = %v, want ErrListShape", err)
	}
}

func TestKindOf(t *testing.T) {
	read := func(p string) string {
		data, err := os.ReadFile("../testdata/" + p)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	for _, tc := range []struct {
		name, in string
		want     scanner.Kind
	}{
		{"gcloud container clusters list", read("gcpdiag/gke2-container-clusters.json"), scanner.KindClusters},
		{"ListClustersResponse", read("gcpdiag/gke1-container-clusters.json"), scanner.KindClusters},
		{"describe", read("gcpdiag/gke3-container-clusters.json"), scanner.KindClusters},
		{"gcloud asset list", read("cli/asset-list.json"), scanner.KindClusterAssets},
		{"asset export line", strings.SplitN(read("forseti/cai-cluster-asset.ndjson"), "\n", 2)[0], scanner.KindClusterAssets},
		{"other assets", read("cli/asset-list-instances.json"), scanner.KindAssets},
		{"ListAssetsResponse", read("cli/asset-list-response.json"), scanner.KindAssets},
		{"gcloud logging read", read("demo/logs.json"), scanner.KindLogEntries},
		{"ListLogEntries", read("gcpdiag/gke1-logging-entries.json"), scanner.KindLogEntries},
		{"kubectl get -o json", read("demo/kube/gke_acme-data-dev_us-central1_data-etl.json"), scanner.KindKubernetes},
		{"server config", read("serverconfig/gcpdiag/europe-west4.json"), scanner.KindServerConfig},
		{"other object", `{"items": []}`, scanner.KindUnknown},
		{"empty array", `[]`, scanner.KindUnknown},
		{"scalar", `"x"`, scanner.KindUnknown},
		{"invalid", `{`, scanner.KindUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := scanner.KindOf(json.RawMessage(tc.in)); got != tc.want {
				t.Errorf("KindOf() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWrongFlag(t *testing.T) {
	for _, tc := range []struct {
		kind       scanner.Kind
		flag, want string
	}{
		{scanner.KindLogEntries, "--input", "f.json: this looks like Cloud Logging entries (gcloud logging read output): pass it with --logs, not --input"},
		{scanner.KindKubernetes, "--input", "f.json: this looks like a kubectl dump: pass its folder with --kube-objects, not --input"},
		{scanner.KindServerConfig, "--logs", "f.json: this looks like a GKE server config (gcloud container get-server-config output): pass its folder with --server-config, not --logs"},
		{scanner.KindClusters, "--logs", "f.json: this looks like GKE clusters (gcloud container clusters list output): pass it with --input, not --logs"},
		{scanner.KindClusterAssets, "--logs", "f.json: this looks like GKE cluster assets (gcloud asset list or export output): pass it with --input, not --logs"},
		{scanner.KindClusters, "--input", ""},
		{scanner.KindAssets, "--logs", ""},
		{scanner.KindUnknown, "--logs", ""},
	} {
		if got := testkit.ErrText(tc.kind.WrongFlag("f.json", tc.flag)); got != tc.want {
			t.Errorf("%v.WrongFlag(%s) = %q, want %q", tc.kind, tc.flag, got, tc.want)
		}
	}
}
