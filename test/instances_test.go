package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"

	"github.com/fleetscan/fleetscan/function"
	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/test/gcpfake"
)

// instance is the function in this process with its own clients, as one
// Cloud Functions instance is; several of them are several instances.
type instance struct {
	fn   *function.Function
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// instances starts n instances with env (from startGCP).
func instances(n int, env []string) []*instance {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	out := make([]*instance, n)
	for i := range out {
		logs := &lockedBuffer{}
		out[i] = &instance{fn: function.New(func(k string) string { return vars[k] }, logs), logs: logs}
	}
	return out
}

func logsOf(in []*instance) string {
	var b strings.Builder
	for i, x := range in {
		fmt.Fprintf(&b, "--- instance %d\n%s", i, x.logs.String())
	}
	return b.String()
}

// messageEvent is the CloudEvent Eventarc delivers for a Pub/Sub message.
func messageEvent(id string, published time.Time, data []byte) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("//pubsub.googleapis.com/" + requestTopic)
	e.SetType(function.MessagePublishedType)
	e.SetTime(published)
	body, _ := json.Marshal(map[string]any{
		"message":      map[string]any{"data": data, "messageId": id, "publishTime": published.UTC().Format(time.RFC3339Nano)},
		"subscription": requestSub,
	})
	e.SetData("application/json", body) // a JSON body always sets
	return e
}

// delivery is one event to deliver, and how many of its tries failed
// before one succeeded.
type delivery struct {
	e        event.Event
	failures int
	err      error // the last error, when no try succeeded before the deadline
}

// deliverAll delivers every event at once, spread over the instances, and
// retries a failed one after a short pause (Pub/Sub's backoff, shortened)
// until it succeeds or ctx ends, as Pub/Sub would redeliver it.
func deliverAll(ctx context.Context, in []*instance, events []event.Event) []*delivery {
	ds := make([]*delivery, len(events))
	var wg sync.WaitGroup
	for i, e := range events {
		d := &delivery{e: e}
		ds[i] = d
		wg.Go(func() {
			for try := 0; ; try++ {
				err := in[(i+try)%len(in)].fn.ScanFleet(ctx, d.e)
				if err == nil {
					d.err = nil
					return
				}
				d.failures++
				d.err = err
				select {
				case <-ctx.Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	wg.Wait()
	return ds
}

// alertCounts counts the alerts by finding_key, transition and scan_id.
func alertCounts(ms []*pubsub.Message) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[m.Attributes["finding_key"]+" "+m.Attributes["transition"]+" "+m.Attributes["scan_id"]]++
	}
	return out
}

// once reports the keys of counts that are not exactly 1.
func notOnce(counts map[string]int) []string {
	var out []string
	for k, n := range counts {
		if n != 1 {
			out = append(out, fmt.Sprintf("%s ×%d", k, n))
		}
	}
	slices.Sort(out)
	return out
}

func failedDeliveries(ds []*delivery) error {
	var errs []error
	for _, d := range ds {
		if d.err != nil {
			errs = append(errs, fmt.Errorf("delivery %s: %w", d.e.ID(), d.err))
		}
	}
	return errors.Join(errs...)
}

// eventNow is a request event published now, with the default scope.
func eventNow(id string) event.Event { return messageEvent(id, time.Now(), nil) }

// withDeadline is the test's context, ended well before the test's own
// deadline so that a stuck delivery fails the test instead of hanging it.
func withDeadline(t *testing.T) context.Context {
	t.Helper()
	d := 4 * time.Minute
	if dl, ok := t.Deadline(); ok {
		d = min(d, time.Until(dl)*3/4)
	}
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// alertsOnce drains the alerts and checks that each transition was
// published exactly once (by finding_key, transition and scan_id) and
// that they are want ("TRANSITION finding_key", sorted).
func (s *stack) alertsOnce(t *testing.T, want []string) map[string]int {
	t.Helper()
	counts := alertCounts(s.alerts())
	if bad := notOnce(counts); len(bad) > 0 {
		t.Errorf("transitions not published exactly once: %v", bad)
	}
	if diff := cmp.Diff(want, transitionSet(counts)); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
	return counts
}

// transitionSet is what a subscriber saw: "TRANSITION finding_key", sorted.
func transitionSet(counts map[string]int) []string {
	var out []string
	for k := range counts {
		f := strings.Fields(k)
		out = append(out, f[1]+" "+f[0])
	}
	slices.Sort(out)
	return out
}

// Several deliveries of one request at once, spread over three instances:
// each transition is published exactly once (counted by finding_key,
// transition and scan_id), and every delivery ends in success.
func TestConcurrentRedelivery(t *testing.T) {
	endToEnd(t)
	for _, n := range []int{3, 10} {
		t.Run(fmt.Sprint(n, " deliveries"), func(t *testing.T) {
			f := liveFleet(t, 80, 16, 21)
			want := scanFiles(t, f)
			s := newStack(t, "")
			in := instances(3, s.startGCP(f, gcpfake.Options{}, "FLEETSCAN_SHARD_SIZE=0"))
			ds := deliverAll(withDeadline(t), in, slices.Repeat([]event.Event{eventNow("request-1")}, n))
			if err := failedDeliveries(ds); err != nil {
				t.Fatalf("%v\n%s", err, logsOf(in))
			}
			counts := s.alertsOnce(t, expectedTransitions(nil, want.Findings))
			retried := 0
			for _, d := range ds {
				retried += d.failures
			}
			t.Logf("%d deliveries of one request on 3 instances: %d alerts for %d findings, %d tries backed off from a live claim",
				n, len(counts), len(want.Findings), retried)
		})
	}
}

// Shards of one scan whose project lists overlap, each delivered three
// times at once: every transition once, and every project's alert state
// holds the scan's findings with no outbox and no claim left.
func TestConcurrentOverlappingShards(t *testing.T) {
	endToEnd(t)
	f := liveFleet(t, 80, 16, 22)
	want := scanFiles(t, f)
	ids := f.ProjectIDs()
	s := newStack(t, "")
	in := instances(3, s.startGCP(f, gcpfake.Options{}, "FLEETSCAN_SHARD_SIZE=0"))
	started := time.Now().UTC().Truncate(time.Second)
	parts := [][]string{ids[0:8], ids[4:12], ids[8:16]}
	var events []event.Event
	for i, p := range parts {
		data, err := json.Marshal(function.Shard{ScanID: "overlap", Scope: f.Org, Projects: p, Shard: i, Shards: len(parts), Started: started})
		if err != nil {
			t.Fatal(err)
		}
		for r := range 3 {
			events = append(events, messageEvent(fmt.Sprintf("shard-%d-%d", i, r), started, data))
		}
	}
	ds := deliverAll(withDeadline(t), in, events)
	if err := failedDeliveries(ds); err != nil {
		t.Fatalf("%v\n%s", err, logsOf(in))
	}
	s.alertsOnce(t, expectedTransitions(nil, want.Findings))
	byProject := map[string][]string{}
	for _, fd := range want.Findings {
		byProject[fd.ProjectID] = append(byProject[fd.ProjectID], fd.FindingKey)
	}
	scope, _ := scanner.ParseScope(f.Org)
	for _, p := range ids {
		st := s.alertState(scope, p)
		if len(byProject[p]) == 0 && st == nil {
			continue // never had a finding: no state needed
		}
		if st == nil {
			t.Errorf("project %s: no alert state", p)
			continue
		}
		if st.ScanID != "overlap" || len(st.Outbox) != 0 || st.Claim != nil {
			t.Errorf("project %s: state scan %q, outbox %d, claim %v; want scan overlap, no outbox, no claim", p, st.ScanID, len(st.Outbox), st.Claim)
		}
		got := slices.Sorted(maps.Keys(st.Findings))
		if diff := cmp.Diff(slices.Sorted(slices.Values(byProject[p])), got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("project %s: stored findings (-want +got):\n%s", p, diff)
		}
	}
}

// storedState is the part of an alert state object the tests read.
type storedState struct {
	ScanID   string                     `json:"scan_id"`
	Findings map[string]json.RawMessage `json:"findings"`
	Outbox   []json.RawMessage          `json:"outbox"`
	Claim    *struct {
		Owner string `json:"owner"`
	} `json:"claim"`
}

// alertState reads a project's alert state object; nil when absent.
func (s *stack) alertState(scope scanner.Scope, project string) *storedState {
	s.t.Helper()
	o, err := s.gcs.GetObject(bucket, "alert-state/"+scope.Kind+"/"+scope.ID+"/"+project+".json")
	if err != nil {
		return nil
	}
	var st storedState
	if err := json.Unmarshal(o.Content, &st); err != nil {
		s.t.Fatalf("alert state of %s: %v", project, err)
	}
	return &st
}

// A project whose clusters are all gone gets RESOLVED for each of its
// findings, once, in both discovery modes; a redelivery adds nothing.
func TestProjectEmptiedResolvesOnce(t *testing.T) {
	endToEnd(t)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			f1 := liveFleet(t, 80, 16, 23)
			want1 := scanFiles(t, f1)
			perProject := map[string]int{}
			for _, fd := range want1.Findings {
				perProject[fd.ProjectID]++
			}
			victim := ""
			for _, p := range f1.ProjectIDs() {
				if perProject[p] > perProject[victim] {
					victim = p
				}
			}
			s := newStack(t, "")
			env := []string{"FLEETSCAN_SHARD_SIZE=0", "FLEETSCAN_DISCOVERY=" + mode}
			ctx := withDeadline(t)
			in := instances(1, s.startGCP(f1, gcpfake.Options{}, env...))
			if err := failedDeliveries(deliverAll(ctx, in, []event.Event{eventNow("scan-1")})); err != nil {
				t.Fatalf("%v\n%s", err, logsOf(in))
			}
			if n := len(s.alerts()); n != len(want1.Findings) {
				t.Fatalf("first scan: %d alerts, want %d", n, len(want1.Findings))
			}

			f2 := liveFleet(t, 80, 16, 23)
			f2.Now, f2.Events = f1.Now, f1.Events
			f2.Clusters = slices.DeleteFunc(f2.Clusters, func(c *containerpb.Cluster) bool { return slices.Contains(f2.ByProject[victim], c) })
			f2.ByProject[victim] = nil
			want2 := scanFiles(t, f2)
			in = instances(2, s.startGCP(f2, gcpfake.Options{}, env...))
			e := eventNow("scan-2")
			if err := failedDeliveries(deliverAll(ctx, in, []event.Event{e, e})); err != nil {
				t.Fatalf("%v\n%s", err, logsOf(in))
			}
			counts := s.alertsOnce(t, expectedTransitions(want1.Findings, want2.Findings))
			if len(counts) != perProject[victim] {
				t.Errorf("%d transitions, want the %d RESOLVED of %s", len(counts), perProject[victim], victim)
			}
		})
	}
}

// A project that a scan cannot read completely keeps its alert state: no
// RESOLVED for the projects under a folder that cannot be listed
// (container-api), no CHANGED for a project whose logs cannot be read
// (asset-inventory, OBSERVED would fall back to AFFECTED).
func TestIncompleteProjectKeepsState(t *testing.T) {
	endToEnd(t)
	f := liveFleet(t, 80, 16, 24)
	want := scanFiles(t, f)
	folder := ""
	for _, fo := range f.Folders {
		if fo.Parent == f.Org && len(projectsUnder(f, fo.Name)) > 0 {
			folder = fo.Name
			break
		}
	}
	observed := ""
	for _, fd := range want.Findings {
		if fd.Status == scanner.Observed {
			observed = fd.ProjectID
			break
		}
	}
	if folder == "" || observed == "" {
		t.Fatalf("fleet lacks a top-level folder with projects (%q) or an OBSERVED finding (%q)", folder, observed)
	}
	for _, tc := range []struct {
		mode, denied string
	}{
		{discovery.ModeContainerAPI, folder},
		{discovery.ModeAssetInventory, observed},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s := newStack(t, "")
			env := []string{"FLEETSCAN_SHARD_SIZE=0", "FLEETSCAN_DISCOVERY=" + tc.mode}
			ctx := withDeadline(t)
			in := instances(1, s.startGCP(f, gcpfake.Options{}, env...))
			if err := failedDeliveries(deliverAll(ctx, in, []event.Event{eventNow("scan-1")})); err != nil {
				t.Fatalf("%v\n%s", err, logsOf(in))
			}
			if n := len(s.alerts()); n != len(want.Findings) {
				t.Fatalf("first scan: %d alerts, want %d", n, len(want.Findings))
			}
			in = instances(1, s.startGCP(f, gcpfake.Options{Deny: map[string]codes.Code{tc.denied: codes.PermissionDenied}}, env...))
			if err := failedDeliveries(deliverAll(ctx, in, []event.Event{eventNow("scan-2")})); err != nil {
				t.Fatalf("%v\n%s", err, logsOf(in))
			}
			if got := transitionsOf(s.alerts()); len(got) != 0 {
				t.Errorf("the same fleet with %s denied published %v; want nothing", tc.denied, got)
			}
			if !strings.Contains(logsOf(in), `"projects_failed":`) {
				t.Errorf("scan log has no projects_failed:\n%s", logsOf(in))
			}
		})
	}
}

// An API that dies mid-scan fails the delivery (Pub/Sub redelivers it)
// and writes no COMPLETE row and no alert, so the views keep showing the
// last good scan.
func TestFunctionOutageFailsDelivery(t *testing.T) {
	endToEnd(t)
	f := liveFleet(t, 80, 16, 25)
	for _, tc := range []struct{ mode, method, api string }{
		{discovery.ModeContainerAPI, "container.ListClusters", "Container API"},
		{discovery.ModeAssetInventory, "logging.ListLogEntries", "Cloud Logging"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			s := newStack(t, "")
			var srv atomic.Pointer[gcpfake.Server]
			// The latency keeps the first call in flight while the server stops.
			env := s.startGCP(f, gcpfake.Options{Latency: 50 * time.Millisecond, OnCall: func(method string, n int) {
				if method == tc.method && n == 1 {
					go srv.Load().Close()
				}
			}}, "FLEETSCAN_SHARD_SIZE=0", "FLEETSCAN_DISCOVERY="+tc.mode, "FLEETSCAN_API_TIMEOUT=2s")
			srv.Store(s.gcp)
			in := instances(1, env)
			err := in[0].fn.ScanFleet(withDeadline(t), eventNow("outage"))
			if err == nil || !strings.Contains(err.Error(), tc.api) {
				t.Fatalf("ScanFleet() error = %v, want one naming %s\n%s", err, tc.api, logsOf(in))
			}
			for _, r := range s.bq.Rows(gcpProject, bqDataset, "scans") {
				t.Errorf("scans row written: %v", r)
			}
			if n := len(s.bq.Rows(gcpProject, bqDataset, "findings")); n != 0 {
				t.Errorf("%d findings rows written", n)
			}
			if a := s.alerts(); len(a) != 0 {
				t.Errorf("%d alerts published", len(a))
			}
			if !strings.Contains(logsOf(in), "scan failed; Pub/Sub will redeliver") {
				t.Errorf("no redelivery log line:\n%s", logsOf(in))
			}
		})
	}
}

// A shard whose started_at is outside [now - max event age, now + skew] is
// acknowledged with a log line, not scanned: it would write rows dated
// then and order alert state by a forged time.
func TestShardStartedAtChecked(t *testing.T) {
	f := liveFleet(t, 10, 4, 26)
	s := newStack(t, "")
	in := instances(1, s.startGCP(f, gcpfake.Options{}, "FLEETSCAN_SHARD_SIZE=0"))
	for _, started := range []time.Time{time.Now().Add(-13 * time.Hour), time.Now().Add(time.Hour)} {
		data, _ := json.Marshal(function.Shard{ScanID: "s", Scope: f.Org, Projects: f.ProjectIDs()[:1], Shard: 0, Shards: 1, Started: started.UTC()})
		if err := in[0].fn.ScanFleet(withDeadline(t), messageEvent("shard", time.Now(), data)); err != nil {
			t.Errorf("started_at %s: ScanFleet() = %v, want nil (acknowledged)", started, err)
		}
	}
	lines := 0
	for _, l := range strings.Split(in[0].logs.String(), "\n") {
		if strings.Contains(l, `"message":"message acknowledged without scanning"`) && strings.Contains(l, "is not within 12h0m0s before now") {
			lines++
		}
	}
	if lines != 2 {
		t.Errorf("%d acknowledgement log lines, want 2:\n%s", lines, in[0].logs.String())
	}
	if s.gcp.TotalCalls() != 0 || len(s.bq.Rows(gcpProject, bqDataset, "scans")) != 0 {
		t.Errorf("a rejected shard was scanned: %d API calls", s.gcp.TotalCalls())
	}
}
