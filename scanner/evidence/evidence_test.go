package evidence

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/test/testkit"
)

const testdata = "../../testdata/"

// ipamSymptom is the symptom of DPV2-IPAM-LEAK from the embedded catalog.
func ipamSymptom(t *testing.T) *catalog.Symptom {
	t.Helper()
	is := testkit.Catalog(t).Issue("DPV2-IPAM-LEAK")
	if is == nil || is.Symptom == nil {
		t.Fatal("DPV2-IPAM-LEAK has no symptom in the embedded catalog")
	}
	return is.Symptom
}

// ipamKey is the IPAM symptom's Key.
const ipamKey = "FailedCreatePodSandBox\x00no IP addresses available in range set"

var errText = testkit.ErrText

func ptr(t time.Time) *time.Time { return &t }

func TestQuote(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain", in: "FailedCreatePodSandBox", want: `"FailedCreatePodSandBox"`},
		{name: "empty", in: "", want: `""`},
		{name: "double quote", in: `say "hi"`, want: `"say \"hi\""`},
		{name: "backslash", in: `C:\path\x`, want: `"C:\\path\\x"`},
		{name: "both", in: `a\"b`, want: `"a\\\"b"`},
		{name: "newline and tab stay raw", in: "line1\nline2\tend", want: "\"line1\nline2\tend\""},
		{name: "unicode stays raw", in: "pod 日本 é ✓", want: `"pod 日本 é ✓"`},
		{name: "single quote and colon untouched", in: `it's a:b`, want: `"it's a:b"`},
		{name: "invalid UTF-8 becomes U+FFFD", in: "a\xffb", want: "\"a\uFFFDb\""},
		{name: "hostile query injection stays one literal", in: `x" OR logName:"y`, want: `"x\" OR logName:\"y"`},
		{name: "escaped quote injection", in: `x\" OR "y`, want: `"x\\\" OR \"y"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Quote(tc.in); got != tc.want {
				t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	ipam := ipamSymptom(t)
	kolkata := time.FixedZone("IST", 5*3600+30*60)
	tests := []struct {
		name    string
		symptom *catalog.Symptom
		since   time.Time
		want    string
	}{
		{
			name:    "IPAM symptom, since in a non-UTC zone prints UTC",
			symptom: ipam,
			since:   time.Date(2026, 11, 20, 17, 30, 0, 0, kolkata),
			want:    `log_id("events") resource.type="k8s_pod" jsonPayload.reason="FailedCreatePodSandBox" jsonPayload.message:"no IP addresses available in range set" (jsonPayload.source.component="kubelet" OR jsonPayload.reportingComponent="kubelet") timestamp>="2026-11-20T12:00:00Z" timestamp<="2026-11-27T12:00:00Z"`,
		},
		{
			name:    "sub-second since is truncated to the second",
			symptom: ipam,
			since:   time.Date(2026, 11, 20, 12, 0, 0, 999999999, time.UTC),
			want:    `log_id("events") resource.type="k8s_pod" jsonPayload.reason="FailedCreatePodSandBox" jsonPayload.message:"no IP addresses available in range set" (jsonPayload.source.component="kubelet" OR jsonPayload.reportingComponent="kubelet") timestamp>="2026-11-20T12:00:00Z" timestamp<="2026-11-27T12:00:00Z"`,
		},
		{
			name:    "hostile strings stay single literals",
			symptom: &catalog.Symptom{Reason: `x" OR logName:"y`, Message: `a\" OR "b`},
			since:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			want:    `log_id("events") resource.type="k8s_pod" jsonPayload.reason="x\" OR logName:\"y" jsonPayload.message:"a\\\" OR \"b" (jsonPayload.source.component="kubelet" OR jsonPayload.reportingComponent="kubelet") timestamp>="2026-01-02T03:04:05Z" timestamp<="2026-01-09T03:04:05Z"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Filter(tc.symptom, tc.since, tc.since.Add(168*time.Hour)); got != tc.want {
				t.Errorf("Filter(%q, %v) =\n%s\nwant\n%s", tc.symptom.Reason, tc.since, got, tc.want)
			}
		})
	}
}

// podEvent is a realistic Kubernetes event LogEntry as Cloud Logging stores it.
const podEvent = `{
  "insertId": "0b6408263355c1",
  "jsonPayload": {
    "apiVersion": "v1",
    "count": 3,
    "eventTime": null,
    "firstTimestamp": "2026-11-27T09:01:12Z",
    "involvedObject": {
      "apiVersion": "v1",
      "kind": "Pod",
      "name": "cache-warmer-6b9f7c5d8-zx4kq",
      "namespace": "edge-cache",
      "uid": "50474c40-91f5-4a29-9fdf-8462ce2b56a1"
    },
    "kind": "Event",
    "lastTimestamp": "2026-11-27T09:05:48Z",
    "message": "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \"1b4f\": failed to allocate for range 0: no IP addresses available in range set: 10.92.7.65-10.92.7.126",
    "metadata": {
      "creationTimestamp": "2026-11-27T09:01:12Z",
      "managedFields": [],
      "name": "cache-warmer-6b9f7c5d8-zx4kq.b2bc89123aee8d9e",
      "namespace": "edge-cache",
      "resourceVersion": "69271857",
      "uid": "13c20128-d000-416e-a4d7-6f4768f9ae74"
    },
    "reason": "FailedCreatePodSandBox",
    "reportingComponent": "kubelet",
    "source": {
      "component": "kubelet",
      "host": "gke-edge-stg-1-default-pool-51d0b2f8-8kzm"
    },
    "type": "Warning"
  },
  "logName": "projects/acme-edge-stg/logs/events",
  "receiveTimestamp": "2026-11-27T09:05:48.812514273Z",
  "resource": {
    "labels": {
      "cluster_name": "edge-stg-1",
      "location": "us-west1",
      "namespace_name": "edge-cache",
      "pod_name": "cache-warmer-6b9f7c5d8-zx4kq",
      "project_id": "acme-edge-stg"
    },
    "type": "k8s_pod"
  },
  "severity": "WARNING",
  "timestamp": "2026-11-27T09:05:48.123456789Z"
}`

var podEventEntry = Entry{
	InsertID:           "0b6408263355c1",
	Timestamp:          time.Date(2026, 11, 27, 9, 5, 48, 123456789, time.UTC),
	ResourceType:       "k8s_pod",
	ProjectID:          "acme-edge-stg",
	Location:           "us-west1",
	Cluster:            "edge-stg-1",
	Reason:             "FailedCreatePodSandBox",
	Message:            `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "1b4f": failed to allocate for range 0: no IP addresses available in range set: 10.92.7.65-10.92.7.126`,
	UID:                "13c20128-d000-416e-a4d7-6f4768f9ae74",
	Node:               "gke-edge-stg-1-default-pool-51d0b2f8-8kzm",
	Count:              3,
	Component:          "kubelet",
	ReportingComponent: "kubelet",
}

// The API's LogEntry reads into the Entry that the file's JSON gives.
func TestEntryFromProto(t *testing.T) {
	var pb loggingpb.LogEntry
	if err := protojson.Unmarshal([]byte(podEvent), &pb); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(podEventEntry, EntryFromProto(&pb)); diff != "" {
		t.Errorf("EntryFromProto(podEvent) mismatch (-want +got):\n%s", diff)
	}
}

// auditEntry has no jsonPayload (a protoPayload instead) and an offset timestamp.
const auditEntry = `{"insertId": "a1", "timestamp": "2026-11-27T10:05:48+01:00",
  "protoPayload": {"methodName": "v1.compute.instances.insert", "status": {"message": "QUOTA_EXCEEDED"}},
  "resource": {"type": "gce_instance", "labels": {"project_id": "p", "zone": "europe-west4-a"}}}`

var auditEntryEntry = Entry{
	InsertID:     "a1",
	Timestamp:    time.Date(2026, 11, 27, 9, 5, 48, 0, time.UTC),
	ResourceType: "gce_instance",
	ProjectID:    "p",
}

func TestParseEntries(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Entry
	}{
		{name: "array", in: "[" + podEvent + ", " + auditEntry + "]", want: []Entry{podEventEntry, auditEntryEntry}},
		{name: "ListLogEntries response", in: `{"entries": [` + podEvent + ", " + auditEntry + `], "nextPageToken": "abc"}`, want: []Entry{podEventEntry, auditEntryEntry}},
		{name: "surrounding whitespace", in: "\n\t[" + podEvent + "]\n", want: []Entry{podEventEntry}},
		{name: "empty array", in: `[]`, want: []Entry{}},
		{name: "empty entries array", in: `{"entries": []}`, want: []Entry{}},
		{name: "empty ListLogEntries response", in: `{}`, want: nil},
		{name: "last page token only", in: `{"nextPageToken": "x"}`, want: nil},
		{name: "entries null", in: `{"entries": null}`, want: []Entry{}},
		{
			name: "null jsonPayload",
			in:   `[{"insertId": "n", "timestamp": "2026-01-01T00:00:00Z", "resource": {"type": "k8s_pod"}, "jsonPayload": null}]`,
			want: []Entry{{InsertID: "n", Timestamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ResourceType: "k8s_pod"}},
		},
		{
			name: "unknown fields are ignored",
			in:   `[{"insertId": "u", "timestamp": "2026-01-01T00:00:00Z", "futureField": {"x": 1}, "jsonPayload": {"reason": "R", "futurePayload": [1]}}]`,
			want: []Entry{{InsertID: "u", Timestamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Reason: "R"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEntries("logs.json", []byte(tc.in))
			if err != nil {
				t.Fatalf("ParseEntries(%s) error: %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseEntries(%s) mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

// The real gcpdiag logging dump holds audit entries of instance group
// managers: they parse, with no event fields.
func TestParseEntriesGcpdiag(t *testing.T) {
	data, err := os.ReadFile(testdata + "gcpdiag/gke1-logging-entries.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseEntries("gke1-logging-entries.json", data)
	if err != nil {
		t.Fatalf("ParseEntries(gke1-logging-entries.json) error: %v", err)
	}
	igm := func(id, ts, loc string) Entry {
		t.Helper()
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatal(err)
		}
		return Entry{InsertID: id, Timestamp: tm, ResourceType: "gce_instance_group_manager", ProjectID: "gcpdiag-gke1-aaaa", Location: loc}
	}
	want := []Entry{
		igm("-4pqrg9dartq", "2021-11-24T16:35:22.615295Z", "europe-west1-b"),
		igm("-nuwdobe1byj2", "2021-11-24T16:35:10.014049Z", "europe-west1-d"),
		igm("tf2uocd1kpc", "2021-11-24T16:35:08.922507Z", "europe-west1-c"),
		igm("tf2uocd1kou", "2021-11-24T16:34:38.479723Z", "europe-west1-c"),
		igm("-4pqrg9darqs", "2021-11-24T16:34:37.484721Z", "europe-west1-b"),
		igm("-31olexd4rpi", "2021-11-24T16:34:35.389660Z", "europe-west1-d"),
		igm("-tt9mudi768", "2021-11-24T16:29:21.943390Z", "europe-west4-a"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseEntries(gke1-logging-entries.json) mismatch (-want +got):\n%s", diff)
	}
}

func TestParseEntriesErrors(t *testing.T) {
	const shape = `logs.json: wrong shape: want a JSON array of log entries or {"entries": [...]}`
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "empty file", in: "", want: "logs.json: file is empty"},
		{name: "only whitespace", in: "\n \t", want: "logs.json: file is empty"},
		{name: "truncated array", in: `[{"insertId": "a"`, want: "logs.json:1:18: invalid JSON: unexpected end of JSON input"},
		{name: "truncated object", in: `{"entries": [`, want: "logs.json:1:14: invalid JSON: unexpected end of JSON input"},
		{name: "bad token", in: `[{"insertId" "a"}]`, want: "logs.json:1:14: invalid JSON: invalid character '\"' after object key"},
		{name: "invalid scalar", in: `tru`, want: "logs.json:1:4: invalid JSON: unexpected end of JSON input"},
		{name: "wrong shape object", in: `{"items": []}`, want: shape},
		{name: "number", in: `7`, want: shape},
		{name: "string", in: `"entries"`, want: shape},
		{name: "null", in: `null`, want: shape},
		{name: "entries is an object", in: `{"entries": {"insertId": "a"}}`, want: `logs.json:1:13: "entries" is not an array of log entries`},
		{name: "entries is a string", in: `{"entries": "x"}`, want: `logs.json:1:13: "entries" is not an array of log entries`},
		{name: "entry is a number", in: `[1]`, want: "logs.json: entry 0: not a log entry: json: cannot unmarshal number into Go value of type evidence.logEntry"},
		{name: "entry is a string", in: `{"entries": ["x"]}`, want: "logs.json: entry 0: not a log entry: json: cannot unmarshal string into Go value of type evidence.logEntry"},
		{
			name: "field of the wrong type",
			in:   `[{"timestamp": "2026-01-01T00:00:00Z", "jsonPayload": {"count": "3"}}]`,
			want: "logs.json: entry 0: not a log entry: json: cannot unmarshal string into Go struct field .jsonPayload.count of type int64",
		},
		{name: "bad timestamp", in: `[{"insertId": "a", "timestamp": "2026-11-27 09:05:48"}]`, want: `logs.json: entry 0: timestamp "2026-11-27 09:05:48" is not RFC 3339`},
		{name: "missing timestamp", in: `[{"insertId": "a"}]`, want: `logs.json: entry 0: timestamp "" is not RFC 3339`},
		{
			name: "every bad entry is reported",
			in:   `[1, {"timestamp": "2026-01-01T00:00:00Z"}, {"timestamp": "yesterday"}]`,
			want: "logs.json: entry 0: not a log entry: json: cannot unmarshal number into Go value of type evidence.logEntry\n" +
				`logs.json: entry 2: timestamp "yesterday" is not RFC 3339`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEntries("logs.json", []byte(tc.in))
			if errText(err) != tc.want {
				t.Errorf("ParseEntries(%s) error = %q, want %q", tc.in, errText(err), tc.want)
			}
			if got != nil {
				t.Errorf("ParseEntries(%s) = %v, want nil", tc.in, got)
			}
		})
	}
}

// A file that another flag takes gets one line naming that flag, whatever
// its size: real dumps of each kind.
func TestParseEntriesWrongFile(t *testing.T) {
	const clusters = ": this looks like GKE clusters (gcloud container clusters list output): pass it with --input, not --logs"
	for _, tc := range []struct{ file, want string }{
		{"gcpdiag/gke1-container-clusters.json", clusters}, // ListClustersResponse
		{"gcpdiag/gke2-container-clusters.json", clusters}, // gcloud container clusters list
		{"gcpdiag/gke3-container-clusters.json", clusters}, // describe
		{"demo/fleet.json", clusters},
		{"cli/asset-list.json", ": this looks like GKE cluster assets (gcloud asset list or export output): pass it with --input, not --logs"},
		{"cli/asset-export.ndjson", ": this looks like GKE cluster assets (gcloud asset list or export output): pass it with --input, not --logs"},
		{"forseti/cai-cluster-asset.ndjson", ": this looks like GKE cluster assets (gcloud asset list or export output): pass it with --input, not --logs"},
		{"cli/clusters.ndjson", clusters},
		{"demo/kube/gke_acme-data-dev_us-central1_data-etl.json", ": this looks like a kubectl dump: pass its folder with --kube-objects, not --logs"},
		{"serverconfig/gcpdiag/europe-west4.json", ": this looks like a GKE server config (gcloud container get-server-config output): pass its folder with --server-config, not --logs"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(testdata + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseEntries(tc.file, data)
			if errText(err) != tc.file+tc.want {
				t.Errorf("ParseEntries(%s) error = %q, want %q", tc.file, errText(err), tc.file+tc.want)
			}
			if got != nil {
				t.Errorf("ParseEntries(%s) = %d entries, want none", tc.file, len(got))
			}
		})
	}
}

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	missing := filepath.Join(dir, "missing.json")
	for name, content := range map[string]string{good: "[" + podEvent + "]", bad: `{"entries": 1}`} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		paths   []string
		want    []Entry
		wantErr string
	}{
		{name: "one file", paths: []string{good}, want: []Entry{podEventEntry}},
		{name: "files in order", paths: []string{good, good}, want: []Entry{podEventEntry, podEventEntry}},
		{
			name:    "missing and bad files are both reported",
			paths:   []string{missing, good, bad},
			want:    []Entry{podEventEntry},
			wantErr: "log input: open " + missing + ": no such file or directory\n" + bad + `:1:13: "entries" is not an array of log entries`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFiles(tc.paths)
			if errText(err) != tc.wantErr {
				t.Errorf("ReadFiles(%v) error = %q, want %q", tc.paths, errText(err), tc.wantErr)
			}
			if tc.wantErr != "" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("ReadFiles(%v) error = %v, want one wrapping fs.ErrNotExist", tc.paths, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ReadFiles(%v) mismatch (-want +got):\n%s", tc.paths, diff)
			}
		})
	}
}

// Aggregator tests run over one window; entries default to cluster p/l/c.
var (
	since = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	until = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	day   = func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	pclc  = scanner.ClusterKey{ProjectID: "p", Location: "l", Name: "c"}
)

// ipamMsg is an IPAM sandbox failure message for a range.
func ipamMsg(rng string) string {
	return `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "ab12": failed to allocate for range 0: no IP addresses available in range set: ` + rng
}

// ev is a matching IPAM event on cluster p/l/c.
func ev(insertID, uid string, ts time.Time, count int64, node, rng string) Entry {
	return Entry{
		InsertID: insertID, Timestamp: ts, ResourceType: "k8s_pod",
		ProjectID: "p", Location: "l", Cluster: "c",
		Reason: "FailedCreatePodSandBox", Message: ipamMsg(rng),
		UID: uid, Node: node, Count: count, Component: "kubelet",
	}
}

// with returns e changed by f.
func with(e Entry, f func(*Entry)) Entry {
	f(&e)
	return e
}

func TestAggregator(t *testing.T) {
	ipam := ipamSymptom(t)
	const r1, r2 = "10.0.0.1-10.0.0.62", "10.0.1.1-10.0.1.62"
	query := func(s *catalog.Symptom) string { return "query for " + s.Reason }
	obs := func(k scanner.ClusterKey, events int, e scanner.Evidence) scanner.Observation {
		e.Source, e.Query = "cloud_logging", "query for FailedCreatePodSandBox"
		return scanner.Observation{Cluster: k, SymptomKey: ipamKey, Events: events, Evidence: e}
	}
	tests := []struct {
		name        string
		entries     []Entry
		want        []scanner.Observation
		wantRead    int
		wantMatched int
	}{
		{
			name:     "no entries",
			want:     []scanner.Observation{},
			wantRead: 0,
		},
		{
			name:    "one event",
			entries: []Entry{ev("i1", "u1", day(21, 0), 1, "n1", r1)},
			want: []scanner.Observation{obs(pclc, 1, scanner.Evidence{
				Summary: "1 FailedCreatePodSandBox event(s) reported by kubelet on 1 node(s), range(s) " + r1,
				Count:   1, FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(21, 0)),
				Nodes: []string{"n1"}, Sample: ipamMsg(r1),
			})},
			wantRead: 1, wantMatched: 1,
		},
		{
			// u1 is written with count 1 then again with count 4: it is one
			// event of count 4; u0 sets FirstSeen.
			name: "same uid keeps the highest count",
			entries: []Entry{
				ev("i0", "u0", day(21, 0), 1, "n1", r1),
				ev("i1", "u1", day(22, 0), 1, "n1", r1),
				ev("i2", "u1", day(23, 0), 4, "n1", r1),
			},
			want: []scanner.Observation{obs(pclc, 2, scanner.Evidence{
				Summary: "5 FailedCreatePodSandBox event(s) from 2 event object(s) reported by kubelet on 1 node(s), range(s) " + r1,
				Count:   5, FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(23, 0)),
				Nodes: []string{"n1"}, Sample: ipamMsg(r1),
			})},
			wantRead: 3, wantMatched: 3,
		},
		{
			name: "same uid keeps the highest count when it comes first",
			entries: []Entry{
				ev("i2", "u1", day(23, 0), 4, "n1", r1),
				ev("i1", "u1", day(23, 0), 1, "n1", r2),
			},
			want: []scanner.Observation{obs(pclc, 1, scanner.Evidence{
				Summary: "4 FailedCreatePodSandBox event(s) from 1 event object(s) reported by kubelet on 1 node(s), range(s) " + r1,
				Count:   4, FirstSeen: ptr(day(23, 0)), LastSeen: ptr(day(23, 0)),
				Nodes: []string{"n1"}, Sample: ipamMsg(r1),
			})},
			wantRead: 2, wantMatched: 2,
		},
		{
			name: "first seen is the first entry of a deduplicated event",
			entries: []Entry{
				ev("i1", "u1", day(22, 0), 1, "n1", r1),
				ev("i2", "u1", day(23, 0), 4, "n1", r1),
			},
			want: []scanner.Observation{obs(pclc, 1, scanner.Evidence{
				Summary: "4 FailedCreatePodSandBox event(s) from 1 event object(s) reported by kubelet on 1 node(s), range(s) " + r1,
				Count:   4, FirstSeen: ptr(day(22, 0)), LastSeen: ptr(day(23, 0)),
				Nodes: []string{"n1"}, Sample: ipamMsg(r1),
			})},
			wantRead: 2, wantMatched: 2,
		},
		{
			name: "entries without uid are deduplicated by insertId",
			entries: []Entry{
				ev("i1", "", day(21, 0), 1, "n1", r1),
				ev("i1", "", day(21, 0), 1, "n1", r1),
				ev("i2", "", day(22, 0), 1, "n1", r1),
			},
			want: []scanner.Observation{obs(pclc, 2, scanner.Evidence{
				Summary: "2 FailedCreatePodSandBox event(s) reported by kubelet on 1 node(s), range(s) " + r1,
				Count:   2, FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(22, 0)),
				Nodes: []string{"n1"}, Sample: ipamMsg(r1),
			})},
			wantRead: 3, wantMatched: 3,
		},
		{
			name: "count 0 counts as 1",
			entries: []Entry{
				ev("i1", "u1", day(21, 0), 0, "n1", r1),
				ev("i2", "u2", day(22, 0), 0, "n1", r1),
				ev("i3", "u3", day(23, 0), 3, "n1", r1),
			},
			want: []scanner.Observation{obs(pclc, 3, scanner.Evidence{
				Summary: "5 FailedCreatePodSandBox event(s) from 3 event object(s) reported by kubelet on 1 node(s), range(s) " + r1,
				Count:   5, FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(23, 0)),
				Nodes: []string{"n1"}, Sample: ipamMsg(r1),
			})},
			wantRead: 3, wantMatched: 3,
		},
		{
			name: "window bounds are inclusive to the nanosecond",
			entries: []Entry{
				ev("i1", "u1", since.Add(-time.Nanosecond), 1, "n-early", r1),
				ev("i2", "u2", since, 1, "n1", r1),
				ev("i3", "u3", until, 1, "n2", r2),
				ev("i4", "u4", until.Add(time.Nanosecond), 1, "n-late", r2),
			},
			want: []scanner.Observation{obs(pclc, 2, scanner.Evidence{
				Summary: "2 FailedCreatePodSandBox event(s) reported by kubelet on 2 node(s), range(s) " + r1 + ", " + r2,
				Count:   2, FirstSeen: ptr(since), LastSeen: ptr(until),
				Nodes: []string{"n1", "n2"}, Sample: ipamMsg(r2),
			})},
			wantRead: 4, wantMatched: 2,
		},
		{
			name: "other resource type, reason or message is ignored",
			entries: []Entry{
				with(ev("i1", "u1", day(21, 0), 1, "n1", r1), func(e *Entry) { e.ResourceType = "k8s_node" }),
				with(ev("i2", "u2", day(21, 0), 1, "n1", r1), func(e *Entry) { e.ResourceType = "" }),
				with(ev("i3", "u3", day(21, 0), 1, "n1", r1), func(e *Entry) { e.Reason = "FailedScheduling" }),
				with(ev("i4", "u4", day(21, 0), 1, "n1", r1), func(e *Entry) { e.Reason = "failedcreatepodsandbox" }),
				with(ev("i5", "u5", day(21, 0), 1, "n1", r1), func(e *Entry) { e.Message = "Failed to create pod sandbox: network is not ready" }),
				with(ev("i6", "u6", day(21, 0), 1, "n1", r1), func(e *Entry) { e.Message = "No IP addresses available in range set: " + r1 }),
			},
			want:     []scanner.Observation{},
			wantRead: 6, wantMatched: 0,
		},
		{
			name: "nodes are sorted and distinct, empty node left out",
			entries: []Entry{
				ev("i1", "u1", day(21, 0), 1, "node-b", r1),
				ev("i2", "u2", day(22, 0), 1, "node-a", r1),
				ev("i3", "u3", day(23, 0), 1, "node-b", r1),
				ev("i4", "u4", day(24, 0), 1, "", r1),
			},
			want: []scanner.Observation{obs(pclc, 4, scanner.Evidence{
				Summary: "4 FailedCreatePodSandBox event(s) reported by kubelet on 2 node(s), range(s) " + r1,
				Count:   4, FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(24, 0)),
				Nodes: []string{"node-a", "node-b"}, Sample: ipamMsg(r1),
			})},
			wantRead: 4, wantMatched: 4,
		},
		{
			name: "sample is the newest message, ranges sorted and distinct",
			entries: []Entry{
				ev("i1", "u1", day(21, 0), 1, "n1", r2),
				ev("i2", "u2", day(25, 0), 1, "n1", "10.9.0.1-10.9.0.30"),
				ev("i3", "u3", day(23, 0), 1, "n1", r1),
				ev("i4", "u4", day(22, 0), 1, "n1", r2),
			},
			want: []scanner.Observation{obs(pclc, 4, scanner.Evidence{
				Summary: "4 FailedCreatePodSandBox event(s) reported by kubelet on 1 node(s), range(s) " + r1 + ", " + r2 + ", 10.9.0.1-10.9.0.30",
				Count:   4, FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(25, 0)),
				Nodes: []string{"n1"}, Sample: ipamMsg("10.9.0.1-10.9.0.30"),
			})},
			wantRead: 4, wantMatched: 4,
		},
		{
			name: "message without a range has no range detail",
			entries: []Entry{
				with(ev("i1", "u1", day(21, 0), 2, "n1", ""), func(e *Entry) { e.Message = "no IP addresses available in range set" }),
			},
			want: []scanner.Observation{obs(pclc, 1, scanner.Evidence{
				Summary: "2 FailedCreatePodSandBox event(s) from 1 event object(s) reported by kubelet on 1 node(s)",
				Count:   2, FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(21, 0)),
				Nodes: []string{"n1"}, Sample: "no IP addresses available in range set",
			})},
			wantRead: 1, wantMatched: 1,
		},
		{
			name: "same-name clusters in different locations stay separate",
			entries: []Entry{
				with(ev("i1", "u1", day(21, 0), 1, "n1", r1), func(e *Entry) { e.Location = "us-central1-a" }),
				with(ev("i2", "u2", day(22, 0), 2, "n2", r2), func(e *Entry) { e.Location = "us-central1" }),
				// the same uid in another cluster is another event
				with(ev("i3", "u2", day(23, 0), 1, "n3", r1), func(e *Entry) { e.Location = "us-central1-a" }),
			},
			want: []scanner.Observation{
				// Sorted field by field: location "us-central1" before "us-central1-a".
				obs(scanner.ClusterKey{ProjectID: "p", Location: "us-central1", Name: "c"}, 1, scanner.Evidence{
					Summary: "2 FailedCreatePodSandBox event(s) from 1 event object(s) reported by kubelet on 1 node(s), range(s) " + r2,
					Count:   2, FirstSeen: ptr(day(22, 0)), LastSeen: ptr(day(22, 0)),
					Nodes: []string{"n2"}, Sample: ipamMsg(r2),
				}),
				obs(scanner.ClusterKey{ProjectID: "p", Location: "us-central1-a", Name: "c"}, 2, scanner.Evidence{
					Summary: "2 FailedCreatePodSandBox event(s) reported by kubelet on 2 node(s), range(s) " + r1,
					Count:   2, FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(23, 0)),
					Nodes: []string{"n1", "n3"}, Sample: ipamMsg(r1),
				}),
			},
			wantRead: 3, wantMatched: 3,
		},
		{
			name: "observations sorted by project, location and name",
			entries: []Entry{
				with(ev("i1", "u1", day(21, 0), 1, "n1", r1), func(e *Entry) { e.ProjectID = "b" }),
				with(ev("i2", "u2", day(21, 0), 1, "n1", r1), func(e *Entry) { e.ProjectID = "a"; e.Cluster = "z" }),
				with(ev("i3", "u3", day(21, 0), 1, "n1", r1), func(e *Entry) { e.ProjectID = "a"; e.Cluster = "y" }),
			},
			want: []scanner.Observation{
				obs(scanner.ClusterKey{ProjectID: "a", Location: "l", Name: "y"}, 1, scanner.Evidence{
					Summary: "1 FailedCreatePodSandBox event(s) reported by kubelet on 1 node(s), range(s) " + r1,
					Count:   1, FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(21, 0)), Nodes: []string{"n1"}, Sample: ipamMsg(r1),
				}),
				obs(scanner.ClusterKey{ProjectID: "a", Location: "l", Name: "z"}, 1, scanner.Evidence{
					Summary: "1 FailedCreatePodSandBox event(s) reported by kubelet on 1 node(s), range(s) " + r1,
					Count:   1, FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(21, 0)), Nodes: []string{"n1"}, Sample: ipamMsg(r1),
				}),
				obs(scanner.ClusterKey{ProjectID: "b", Location: "l", Name: "c"}, 1, scanner.Evidence{
					Summary: "1 FailedCreatePodSandBox event(s) reported by kubelet on 1 node(s), range(s) " + r1,
					Count:   1, FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(21, 0)), Nodes: []string{"n1"}, Sample: ipamMsg(r1),
				}),
			},
			wantRead: 3, wantMatched: 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator([]*catalog.Symptom{ipam}, since, until)
			for _, e := range tc.entries {
				a.Add(e)
			}
			got := a.Observations(query)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Observations() mismatch (-want +got):\n%s", diff)
			}
			if a.Read != tc.wantRead || a.Matched != tc.wantMatched {
				t.Errorf("Read, Matched = %d, %d, want %d, %d", a.Read, a.Matched, tc.wantRead, tc.wantMatched)
			}
		})
	}
}

// Only events reported by the kubelet count: anyone who can create Events
// in a cluster could otherwise forge the symptom. Either component field
// will do (core/v1 events set source.component, events.k8s.io/v1 ones
// reportingComponent; the kubelet sets both).
func TestAggregatorReporter(t *testing.T) {
	ipam := ipamSymptom(t)
	const r1 = "10.0.0.1-10.0.0.62"
	reported := func(insertID, component, reporting string) Entry {
		return with(ev(insertID, "u-"+insertID, day(21, 0), 1, "n-"+insertID, r1), func(e *Entry) {
			e.Component, e.ReportingComponent = component, reporting
		})
	}
	for _, tc := range []struct {
		name      string
		entry     Entry
		counted   bool
		untrusted int
	}{
		{name: "source.component kubelet", entry: reported("a", "kubelet", ""), counted: true},
		{name: "reportingComponent kubelet", entry: reported("b", "", "kubelet"), counted: true},
		{name: "both kubelet", entry: reported("c", "kubelet", "kubelet"), counted: true},
		{name: "component attacker", entry: reported("d", "attacker", ""), untrusted: 1},
		{name: "reportingComponent attacker", entry: reported("e", "", "attacker"), untrusted: 1},
		{name: "no component", entry: reported("f", "", ""), untrusted: 1},
		{name: "attacker next to a kubelet look-alike", entry: reported("g", "kubelet2", "Kubelet"), untrusted: 1},
		{name: "not a symptom, not counted as untrusted", entry: with(reported("h", "attacker", ""), func(e *Entry) { e.Reason = "Scheduled" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator([]*catalog.Symptom{ipam}, since, until)
			a.Add(tc.entry)
			got := a.Observations(func(*catalog.Symptom) string { return "" })
			if counted := len(got) == 1; counted != tc.counted {
				t.Errorf("entry %+v counted = %v, want %v", tc.entry, counted, tc.counted)
			}
			if tc.counted {
				if want := "1 FailedCreatePodSandBox event(s) reported by kubelet on 1 node(s), range(s) " + r1; got[0].Evidence.Summary != want {
					t.Errorf("Evidence.Summary = %q, want %q", got[0].Evidence.Summary, want)
				}
			}
			if a.Untrusted != tc.untrusted {
				t.Errorf("Untrusted = %d, want %d", a.Untrusted, tc.untrusted)
			}
			if wantMatched := map[bool]int{true: 1}[tc.counted]; a.Matched != wantMatched || a.Read != 1 {
				t.Errorf("Read, Matched = %d, %d, want 1, %d", a.Read, a.Matched, wantMatched)
			}
		})
	}
	// A forged event among real ones changes nothing of the evidence.
	a := NewAggregator([]*catalog.Symptom{ipam}, since, until)
	a.Add(reported("k", "kubelet", "kubelet"))
	a.Add(with(reported("x", "attacker", ""), func(e *Entry) { e.Count = 1000; e.Timestamp = day(26, 0) }))
	got := a.Observations(func(*catalog.Symptom) string { return "" })
	if len(got) != 1 || got[0].Evidence.Count != 1 || !cmp.Equal(got[0].Evidence.Nodes, []string{"n-k"}) || !got[0].Evidence.LastSeen.Equal(day(21, 0)) {
		t.Errorf("Observations() = %+v, want only the kubelet's event", got)
	}
}

// More than 20 nodes: the list keeps the first 20 in order, the summary
// counts them all.
func TestAggregatorNodeLimit(t *testing.T) {
	a := NewAggregator([]*catalog.Symptom{ipamSymptom(t)}, since, until)
	var wantNodes []string
	for i := range 25 {
		node := fmt.Sprintf("node-%02d", i)
		if i < 20 {
			wantNodes = append(wantNodes, node)
		}
		a.Add(ev(fmt.Sprint("i", i), fmt.Sprint("u", i), day(21, i%24), 1, node, "10.0.0.1-10.0.0.62"))
	}
	got := a.Observations(func(*catalog.Symptom) string { return "" })
	if len(got) != 1 {
		t.Fatalf("Observations() = %d observations, want 1", len(got))
	}
	if diff := cmp.Diff(wantNodes, got[0].Evidence.Nodes); diff != "" {
		t.Errorf("Evidence.Nodes mismatch (-want +got):\n%s", diff)
	}
	if want := "25 FailedCreatePodSandBox event(s) reported by kubelet on 25 node(s), range(s) 10.0.0.1-10.0.0.62"; got[0].Evidence.Summary != want {
		t.Errorf("Evidence.Summary = %q, want %q", got[0].Evidence.Summary, want)
	}
}

// Two symptoms in one cluster give two observations, sorted by symptom key;
// an entry matching both counts in both.
func TestAggregatorSymptoms(t *testing.T) {
	ipam := ipamSymptom(t)
	other := &catalog.Symptom{Reason: "FailedCreatePodSandBox", Message: "failed to allocate"}
	a := NewAggregator([]*catalog.Symptom{ipam, other}, since, until)
	e := ev("i1", "u1", day(21, 0), 2, "n1", "10.0.0.1-10.0.0.62")
	a.Add(e)
	got := a.Observations(func(s *catalog.Symptom) string { return s.Message })
	evidence := func(query string, summary string) scanner.Evidence {
		return scanner.Evidence{
			Source: "cloud_logging", Summary: summary, Count: 2,
			FirstSeen: ptr(day(21, 0)), LastSeen: ptr(day(21, 0)), Nodes: []string{"n1"}, Sample: e.Message, Query: query,
		}
	}
	want := []scanner.Observation{
		{Cluster: pclc, SymptomKey: "FailedCreatePodSandBox\x00failed to allocate", Events: 1,
			Evidence: evidence("failed to allocate", "2 FailedCreatePodSandBox event(s) from 1 event object(s) reported by kubelet on 1 node(s)")},
		{Cluster: pclc, SymptomKey: ipamKey, Events: 1,
			Evidence: evidence("no IP addresses available in range set", "2 FailedCreatePodSandBox event(s) from 1 event object(s) reported by kubelet on 1 node(s), range(s) 10.0.0.1-10.0.0.62")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Observations() mismatch (-want +got):\n%s", diff)
	}
	if a.Read != 1 || a.Matched != 2 {
		t.Errorf("Read, Matched = %d, %d, want 1, 2", a.Read, a.Matched)
	}
}

// FirstSeen and LastSeen are in UTC whatever the entries' zone.
func TestAggregatorTimesUTC(t *testing.T) {
	a := NewAggregator([]*catalog.Symptom{ipamSymptom(t)}, since, until)
	zone := time.FixedZone("X", -7*3600)
	a.Add(ev("i1", "u1", day(21, 0).In(zone), 1, "n1", "10.0.0.1-10.0.0.62"))
	got := a.Observations(func(*catalog.Symptom) string { return "" })
	if len(got) != 1 {
		t.Fatalf("Observations() = %d observations, want 1", len(got))
	}
	for name, tm := range map[string]*time.Time{"FirstSeen": got[0].Evidence.FirstSeen, "LastSeen": got[0].Evidence.LastSeen} {
		if tm == nil || tm.Location() != time.UTC || !tm.Equal(day(21, 0)) {
			t.Errorf("Evidence.%s = %v, want %v in UTC", name, tm, day(21, 0))
		}
	}
}

// Events at the same time without uid: the sample must not depend on map
// iteration order, or reproducible runs differ.
func TestAggregatorSampleDeterministic(t *testing.T) {
	ipam := ipamSymptom(t)
	first := ""
	for i := range 50 {
		a := NewAggregator([]*catalog.Symptom{ipam}, since, until)
		a.Add(ev("i1", "", day(21, 0), 1, "n1", "10.0.0.1-10.0.0.62"))
		a.Add(ev("i2", "", day(21, 0), 1, "n1", "10.0.1.1-10.0.1.62"))
		got := a.Observations(func(*catalog.Symptom) string { return "" })
		if len(got) != 1 {
			t.Fatalf("Observations() = %d observations, want 1", len(got))
		}
		if i == 0 {
			first = got[0].Evidence.Sample
		} else if got[0].Evidence.Sample != first {
			t.Fatalf("run %d: Evidence.Sample = %q, want %q as in run 0", i, got[0].Evidence.Sample, first)
		}
	}
}

func TestEntriesObserveDemo(t *testing.T) {
	ipam := ipamSymptom(t)
	data, err := os.ReadFile(testdata + "demo/logs.json")
	if err != nil {
		t.Fatal(err)
	}
	es, err := ParseEntries("logs.json", data)
	if err != nil {
		t.Fatalf("ParseEntries(demo/logs.json) error: %v", err)
	}
	q := scanner.EvidenceQuery{
		Projects: []string{"acme-edge-stg", "acme-payments-prod"},
		Symptoms: []*catalog.Symptom{ipam},
		Since:    since,
		Until:    until,
	}
	got, err := Entries(es).Observe(t.Context(), q, func(e scanner.ScanError) { t.Errorf("Observe called failed(%v)", e) })
	if err != nil {
		t.Fatalf("Entries.Observe() error: %v", err)
	}
	const query = `log_id("events") resource.type="k8s_pod" jsonPayload.reason="FailedCreatePodSandBox" jsonPayload.message:"no IP addresses available in range set" (jsonPayload.source.component="kubelet" OR jsonPayload.reportingComponent="kubelet") timestamp>="2026-11-20T12:00:00Z" timestamp<="2026-11-27T12:00:00Z"`
	at := func(s string) *time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &tm
	}
	sample := func(sandbox, rng string) string {
		return `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "` + sandbox +
			`": failed to allocate for range 0: no IP addresses available in range set: ` + rng
	}
	// Derived by hand (jq) from demo/logs.json: pay-prod-1 has five
	// matching entries in the window, two of them of one uid (count 1 at
	// 03:14:07, count 4 at 03:19:52), and one more on 2026-11-10 outside it.
	want := []scanner.Observation{
		{
			Cluster:    scanner.ClusterKey{ProjectID: "acme-edge-stg", Location: "us-west1", Name: "edge-stg-1"},
			SymptomKey: ipamKey,
			Events:     3,
			Evidence: scanner.Evidence{
				Source:    "cloud_logging",
				Summary:   "5 FailedCreatePodSandBox event(s) from 3 event object(s) reported by kubelet on 2 node(s), range(s) 10.92.3.1-10.92.3.62, 10.92.7.65-10.92.7.126",
				Count:     5,
				FirstSeen: at("2026-11-22T16:41:27Z"),
				LastSeen:  at("2026-11-27T09:05:48Z"),
				Nodes:     []string{"gke-edge-stg-1-default-pool-51d0b2f8-8kzm", "gke-edge-stg-1-proxy-pool-c41e9a07-t5rn"},
				Sample:    sample("1b4f632e3597bfda16303b42fa11488698478e1969e1ea0832aff46039dafd83", "10.92.7.65-10.92.7.126"),
				Query:     query,
			},
		},
		{
			Cluster:    scanner.ClusterKey{ProjectID: "acme-payments-prod", Location: "europe-west1", Name: "old-cluster"},
			SymptomKey: ipamKey,
			Events:     2,
			Evidence: scanner.Evidence{
				Source:    "cloud_logging",
				Summary:   "3 FailedCreatePodSandBox event(s) from 2 event object(s) reported by kubelet on 1 node(s), range(s) 10.8.2.1-10.8.2.254",
				Count:     3,
				FirstSeen: at("2026-11-21T05:47:33Z"),
				LastSeen:  at("2026-11-21T05:49:15Z"),
				Nodes:     []string{"gke-old-cluster-default-pool-9e3f7a21-wd8s"},
				Sample:    sample("91e3514af5e52ca0972dd8ab1f823a4f67a2bcce53b472ffa24c5078018ccd1d", "10.8.2.1-10.8.2.254"),
				Query:     query,
			},
		},
		{
			Cluster:    scanner.ClusterKey{ProjectID: "acme-payments-prod", Location: "us-central1", Name: "pay-prod-1"},
			SymptomKey: ipamKey,
			Events:     4,
			Evidence: scanner.Evidence{
				Source:    "cloud_logging",
				Summary:   "8 FailedCreatePodSandBox event(s) from 4 event object(s) reported by kubelet on 3 node(s), range(s) 10.60.28.1-10.60.28.254, 10.60.31.1-10.60.31.254, 10.60.40.1-10.60.40.254",
				Count:     8,
				FirstSeen: at("2026-11-24T03:14:07Z"),
				LastSeen:  at("2026-11-26T00:00:12Z"),
				Nodes: []string{
					"gke-pay-prod-1-batch-pool-3b7d90e1-h2lc",
					"gke-pay-prod-1-default-pool-8f2a1c3e-q9m4",
					"gke-pay-prod-1-default-pool-8f2a1c3e-x7k2",
				},
				Sample: sample("ba43a028db51dbb2e5222214bb2dcf31553741bd72eda46dd620552b5fc499ed", "10.60.40.1-10.60.40.254"),
				Query:  query,
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Entries(demo/logs.json).Observe() mismatch (-want +got):\n%s", diff)
	}
}

func TestEntriesObserveCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	q := scanner.EvidenceQuery{Symptoms: []*catalog.Symptom{ipamSymptom(t)}, Since: since, Until: until}
	_, err := Entries{ev("i1", "u1", day(21, 0), 1, "n1", "10.0.0.1-10.0.0.62")}.Observe(ctx, q, func(scanner.ScanError) {})
	if err != context.Canceled {
		t.Errorf("Entries.Observe(cancelled) error = %v, want %v", err, context.Canceled)
	}
}
