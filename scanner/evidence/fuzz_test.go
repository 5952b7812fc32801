package evidence

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/test/testkit"
)

// FuzzParseLogEntries: ParseEntries never panics and gives the same result
// for the same input, and aggregating what it returns with the catalog's
// symptoms never panics and never counts below zero.
func FuzzParseLogEntries(f *testing.F) {
	for _, p := range []string{"../../testdata/demo/logs.json", "../../testdata/gcpdiag/gke1-logging-entries.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	const ipam = `{"insertId":"i1","timestamp":"2026-11-27T09:05:48.123Z","resource":{"type":"k8s_pod","labels":{"project_id":"proj-a","location":"us-central1","cluster_name":"c1"}},` +
		`"jsonPayload":{"reason":"FailedCreatePodSandBox","message":"failed to allocate for range 0: no IP addresses available in range set: 10.0.0.1-10.0.0.62","count":3,"metadata":{"uid":"u1"},"source":{"host":"node-1","component":"kubelet"}}}`
	for _, s := range []string{
		`[` + ipam + `]`,
		`{"entries":[` + ipam + `,` + ipam + `],"nextPageToken":"t"}`,
		`[{"timestamp":"2026-11-27T09:05:48+01:00","resource":{"type":"k8s_pod"},"jsonPayload":{"reason":"FailedCreatePodSandBox","message":"no IP addresses available in range set","count":-5,"reportingComponent":"kubelet"}}]`,
		`[{"timestamp":"2026-11-27T09:05:48Z","resource":{"type":"k8s_pod"},"jsonPayload":{"reason":"FailedCreatePodSandBox","message":"no IP addresses available in range set","count":7}}]`,
		`[{"timestamp":"2026-11-27T09:05:48Z","textPayload":"hello"}]`,
		`[{"timestamp":"yesterday"}]`,
		`{"nextPageToken":"t"}`,
		`{}`,
		`[]`,
		`{"entries":{}}`,
		`{"logs":[]}`,
		`[1,"x",null]`,
		`42`,
		`not json`,
		``,
	} {
		f.Add([]byte(s))
	}
	cat := testkit.Catalog(f)
	symptoms := cat.Symptoms()
	if len(symptoms) == 0 {
		f.Fatal("the embedded catalog has no symptoms")
	}
	// The whole range of RFC 3339 times, so that the window drops nothing
	// a file can hold.
	since := time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	query := func(s *catalog.Symptom) string { return Filter(s, since, until) }

	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseEntries("fuzz.json", data)
		if err != nil && got != nil {
			t.Fatalf("ParseEntries returned %d entries and error %v", len(got), err)
		}
		again, err2 := ParseEntries("fuzz.json", data)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("not deterministic: error %v, then %v", err, err2)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("not deterministic (-first +second):\n%s", diff)
		}
		agg := NewAggregator(symptoms, since, until)
		for _, e := range got {
			agg.Add(e)
		}
		if agg.Read != len(got) || agg.Matched < 0 {
			t.Fatalf("Read = %d, Matched = %d for %d entries", agg.Read, agg.Matched, len(got))
		}
		obs := agg.Observations(query)
		for _, o := range obs {
			if o.Events < 1 || o.Evidence.Count < 0 {
				t.Fatalf("observation %+v: want at least one event and a count >= 0", o)
			}
			if o.Evidence.Count < int64(o.Events) {
				t.Fatalf("observation %+v: count %d below its %d events", o, o.Evidence.Count, o.Events)
			}
		}
	})
}
