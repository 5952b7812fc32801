package evidence

import (
	"context"
	"fmt"
	"math/bits"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	logging "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
)

// quick is the short test policy: outages end the scan in milliseconds.
var quick = gcpclient.Policy{Timeout: 2 * time.Second, Initial: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 3}

// stubLogging is a loopback Logging server whose answers the test decides;
// it records the resource names of every call (retries included).
type stubLogging struct {
	loggingpb.UnimplementedLoggingServiceV2Server
	answer func(ctx context.Context, req *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error)
	srv    *grpc.Server

	mu    sync.Mutex
	calls [][]string
}

func (s *stubLogging) ListLogEntries(ctx context.Context, req *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
	s.mu.Lock()
	s.calls = append(s.calls, slices.Clone(req.GetResourceNames()))
	s.mu.Unlock()
	return s.answer(ctx, req)
}

func (s *stubLogging) Calls() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// startStub serves answer on 127.0.0.1 and returns the real Logging client
// connected to it.
func startStub(t *testing.T, answer func(context.Context, *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error)) (*stubLogging, *logging.Client) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stubLogging{answer: answer, srv: grpc.NewServer()}
	loggingpb.RegisterLoggingServiceV2Server(s.srv, s)
	go func() { _ = s.srv.Serve(lis) }()
	t.Cleanup(s.srv.Stop)
	c, err := logging.NewClient(context.Background(),
		option.WithEndpoint(lis.Addr().String()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, c
}

// kubeletEvent is an IPAM event of cluster l/c-P of project P, reported
// by the kubelet as real FailedCreatePodSandBox events are.
func kubeletEvent(project string) *loggingpb.LogEntry {
	payload, err := structpb.NewStruct(map[string]any{
		"reason": "FailedCreatePodSandBox", "message": ipamMsg("10.0.0.1-10.0.0.62"), "count": 1,
		"metadata":           map[string]any{"uid": "uid-" + project},
		"source":             map[string]any{"component": "kubelet", "host": "node-" + project},
		"reportingComponent": "kubelet",
	})
	if err != nil {
		panic(err)
	}
	return &loggingpb.LogEntry{
		LogName:   "projects/" + project + "/logs/events",
		InsertId:  "i-" + project,
		Timestamp: timestamppb.New(day(22, 0)),
		Resource:  &monitoredres.MonitoredResource{Type: "k8s_pod", Labels: map[string]string{"project_id": project, "location": "l", "cluster_name": "c-" + project}},
		Payload:   &loggingpb.LogEntry_JsonPayload{JsonPayload: payload},
	}
}

// denyingAnswer denies a whole call that names any denied project (as the
// real API does) with code, and otherwise returns one kubelet event per
// project named.
func denyingAnswer(denied map[string]bool, code codes.Code) func(context.Context, *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
	return func(_ context.Context, req *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
		var out []*loggingpb.LogEntry
		for _, n := range req.GetResourceNames() {
			p := strings.TrimPrefix(n, "projects/")
			if denied[p] {
				return nil, status.Errorf(code, "The caller does not have permission to read the logs of %s", n)
			}
			out = append(out, kubeletEvent(p))
		}
		return &loggingpb.ListLogEntriesResponse{Entries: out}, nil
	}
}

func projectIDs(n int) []string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("proj-%03d", i)
	}
	return ps
}

func ipamQuery(t *testing.T, projects []string) scanner.EvidenceQuery {
	return scanner.EvidenceQuery{Projects: projects, Symptoms: []*catalog.Symptom{ipamSymptom(t)}, Since: since, Until: until}
}

// collect gathers the scan errors Observe reports.
type collect struct{ errs []scanner.ScanError }

func (c *collect) failed(e scanner.ScanError) { c.errs = append(c.errs, e) }

// An API that stays unavailable (or any error other than no access) after
// the policy's retries fails the evidence step with an error that names
// the API and keeps the gRPC code; nothing is recorded per project.
func TestLoggingOutageFailsObserve(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    codes.Code
		timeout time.Duration
		answer  func(context.Context, *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error)
		tries   int // calls the server sees
	}{
		{name: "unavailable", code: codes.Unavailable, tries: 4, answer: func(context.Context, *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
			return nil, status.Error(codes.Unavailable, "the service is currently unavailable")
		}},
		{name: "resource exhausted", code: codes.ResourceExhausted, tries: 4, answer: func(context.Context, *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
			return nil, status.Error(codes.ResourceExhausted, "quota exceeded for ReadRequestsPerMinutePerProject")
		}},
		{name: "internal", code: codes.Internal, tries: 1, answer: func(context.Context, *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
			return nil, status.Error(codes.Internal, "internal error")
		}},
		{name: "unauthenticated", code: codes.Unauthenticated, tries: 1, answer: func(context.Context, *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
			return nil, status.Error(codes.Unauthenticated, "request had invalid authentication credentials")
		}},
		{name: "our own per-call deadline", code: codes.DeadlineExceeded, timeout: 100 * time.Millisecond, answer: func(ctx context.Context, _ *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
			<-ctx.Done() // a server that never answers
			return nil, status.FromContextError(ctx.Err()).Err()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub, client := startStub(t, tc.answer)
			p := quick
			if tc.timeout > 0 {
				p.Timeout = tc.timeout
			}
			var c collect
			start := time.Now()
			obs, err := (&Logging{Client: client, Policy: p}).Observe(t.Context(), ipamQuery(t, projectIDs(100)), c.failed)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatalf("Observe() = %d observations, %d scan errors, nil error; want an error", len(obs), len(c.errs))
			}
			if obs != nil {
				t.Errorf("Observe() = %d observations with the error, want none", len(obs))
			}
			if got := gcpclient.Code(err); got != tc.code {
				t.Errorf("Code(Observe() error) = %v, want %v (error %v)", got, tc.code, err)
			}
			if !strings.HasPrefix(err.Error(), "list log entries of 100 project(s) with Cloud Logging: ") {
				t.Errorf("Observe() error = %q, want it to start with %q", err, "list log entries of 100 project(s) with Cloud Logging: ")
			}
			if len(c.errs) != 0 {
				t.Errorf("scan errors = %v, want none (an outage is not a per-project error)", c.errs)
			}
			if calls := len(stub.Calls()); tc.tries > 0 && calls != tc.tries {
				t.Errorf("server calls = %d, want %d (the first try and the policy's retries)", calls, tc.tries)
			}
			if elapsed > 5*time.Second {
				t.Errorf("Observe() took %v, want well under the policy's 2s timeout", elapsed)
			}
			t.Logf("error after %v: %v", elapsed, err)
		})
	}
}

// A server stopped in the middle of a scan fails it: no partial result.
// One batch at a time, so that the server stops between batches.
func TestLoggingServerStoppedMidScan(t *testing.T) {
	stub, client := startStub(t, denyingAnswer(nil, codes.PermissionDenied))
	var c collect
	l := &Logging{Client: client, Policy: quick, Concurrency: 1, Progress: func(calls int) {
		if calls == 2 { // after two good batches of three
			stub.srv.Stop()
		}
	}}
	obs, err := l.Observe(t.Context(), ipamQuery(t, projectIDs(250)), c.failed)
	if err == nil || obs != nil {
		t.Fatalf("Observe() = %d observations, error %v; want no observations and an error", len(obs), err)
	}
	if !strings.HasPrefix(err.Error(), "list log entries of 50 project(s) with Cloud Logging: ") || gcpclient.Code(err) != codes.Unavailable {
		t.Errorf("Observe() error = %v (code %v), want Cloud Logging … UNAVAILABLE", err, gcpclient.Code(err))
	}
	if len(c.errs) != 0 {
		t.Errorf("scan errors = %v, want none", c.errs)
	}
}

// fakeFleetLogs serves a generated fleet's events on test/gcpfake and
// returns a real Logging client on it and the IPAM query over the fleet.
func fakeFleetLogs(t *testing.T) (*fleetgen.Fleet, *gcpfake.Server, *logging.Client, scanner.EvidenceQuery) {
	t.Helper()
	f, err := fleetgen.Generate(fleetgen.Options{Clusters: 400, Projects: 40, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gcpfake.Start(f, gcpfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	client, err := logging.NewClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	q := ipamQuery(t, f.ProjectIDs())
	q.Since, q.Until = f.Now.Add(-168*time.Hour), f.Now
	return f, srv, client, q
}

// The same against the in-process fake of test/gcpfake, closed after its
// first page.
func TestLoggingFakeClosedMidScan(t *testing.T) {
	_, srv, client, q := fakeFleetLogs(t)
	l := &Logging{Client: client, Policy: quick, PageSize: 2, Progress: func(calls int) {
		if calls == 1 {
			srv.Close()
		}
	}}
	obs, err := l.Observe(t.Context(), q, func(e scanner.ScanError) { t.Errorf("scan error %+v, want none", e) })
	if err == nil || obs != nil || gcpclient.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), " with Cloud Logging: ") {
		t.Fatalf("Observe() = %d observations, error %v; want none and a Cloud Logging UNAVAILABLE error", len(obs), err)
	}
}

// The live source over the fake returns what the offline source returns
// over the same fleet's events: the filter (with its kubelet condition)
// selects in the fake what the aggregator would count.
func TestLoggingMatchesEntries(t *testing.T) {
	f, srv, client, q := fakeFleetLogs(t)
	var offline Entries
	for _, e := range f.Events {
		offline = append(offline, EntryFromProto(e))
	}
	want, err := offline.Observe(t.Context(), q, func(e scanner.ScanError) { t.Errorf("offline scan error %+v", e) })
	if err != nil || len(want) == 0 {
		t.Fatalf("offline Observe() = %d observations, %v", len(want), err)
	}
	got, err := (&Logging{Client: client, Policy: quick}).Observe(t.Context(), q, func(e scanner.ScanError) { t.Errorf("scan error %+v", e) })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("live (-offline +live):\n%s", diff)
	}
	if filters := srv.Filters(); len(filters) != 1 || filters[0] != Filter(q.Symptoms[0], q.Since, q.Until) {
		t.Errorf("filters sent = %q, want one: %q", filters, Filter(q.Symptoms[0], q.Since, q.Until))
	}
}

// isolationBound is the most calls that binary splitting can spend on a
// batch of n projects of which d are denied, the first call included:
// level k of the split has at most min(2^k, d) denied parts, each of more
// than one project at the first ceil(log2 n) levels, and each denied part
// costs the calls of its two halves.
func isolationBound(n, d int) int {
	levels := bits.Len(uint(n - 1)) // ceil(log2 n)
	calls := 1
	for k := range levels {
		calls += 2 * min(1<<k, d)
	}
	return calls
}

func TestIsolationBound(t *testing.T) {
	// 100 projects split over ceil(log2 100) = 7 levels: the first call,
	// 2·(1+2+4+8) for the four levels of fewer than 10 parts, and 2·10 for
	// each of the three below (parts of about 7, 4 and 2 projects).
	if got := isolationBound(100, 10); got != 91 {
		t.Errorf("isolationBound(100, 10) = %d, want 91", got)
	}
	if got := isolationBound(100, 100); got != 1+2+4+8+16+32+64+128 {
		t.Errorf("isolationBound(100, 100) = %d", got)
	}
}

// A batch of 100 with 10 denied projects: every one of the 90 others keeps
// its evidence, exactly the 10 are scan errors (once each, also with a
// second symptom), and the calls stay within binary splitting's bound.
func TestLoggingIsolatesDeniedProjects(t *testing.T) {
	projects := projectIDs(100)
	deniedIdx := []int{3, 11, 12, 27, 40, 41, 58, 66, 83, 99} // scattered, two pairs of neighbours
	for _, tc := range []struct {
		name     string
		denied   []int
		code     codes.Code
		symptoms int
	}{
		{name: "10 of 100 denied", denied: deniedIdx, code: codes.PermissionDenied, symptoms: 1},
		{name: "10 of 100 not found, two symptoms", denied: deniedIdx, code: codes.NotFound, symptoms: 2},
		{name: "1 of 100 denied", denied: []int{57}, code: codes.PermissionDenied, symptoms: 1},
		{name: "all 100 denied", denied: func() []int {
			var all []int
			for i := range 100 {
				all = append(all, i)
			}
			return all
		}(), code: codes.PermissionDenied, symptoms: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			denied := map[string]bool{}
			var wantDenied []string
			for _, i := range tc.denied {
				denied[projects[i]] = true
				wantDenied = append(wantDenied, projects[i])
			}
			stub, client := startStub(t, denyingAnswer(denied, tc.code))
			q := ipamQuery(t, projects)
			if tc.symptoms == 2 {
				// The same events match a second symptom, asked for in the same query.
				q.Symptoms = append(q.Symptoms, &catalog.Symptom{Reason: "FailedCreatePodSandBox", Message: "failed to allocate"})
			}
			var c collect
			var progress int
			l := &Logging{Client: client, Policy: quick, Progress: func(calls int) { progress = calls }}
			obs, err := l.Observe(t.Context(), q, c.failed)
			if err != nil {
				t.Fatalf("Observe() error: %v", err)
			}

			var gotDenied []string
			for _, e := range c.errs {
				if e.API != "logging" || e.Code != gcpclient.CodeName(status.Error(tc.code, "")) || e.Resource != "projects/"+e.ProjectID ||
					!strings.Contains(e.Message, "projects/"+e.ProjectID) {
					t.Errorf("scan error %+v, want %v on projects/%s", e, tc.code, e.ProjectID)
				}
				gotDenied = append(gotDenied, e.ProjectID)
			}
			if diff := cmp.Diff(wantDenied, gotDenied); diff != "" {
				t.Errorf("projects with scan errors (-want +got, each once):\n%s", diff)
			}

			var wantObs, gotObs []string
			for _, p := range projects {
				if !denied[p] {
					for _, s := range q.Symptoms {
						wantObs = append(wantObs, p+"/l/c-"+p+" "+s.Message)
					}
				}
			}
			for _, o := range obs {
				if o.Events != 1 || o.Evidence.Count != 1 {
					t.Errorf("observation %+v: want the project's one event", o)
				}
				gotObs = append(gotObs, o.Cluster.String()+" "+o.SymptomKey[strings.IndexByte(o.SymptomKey, 0)+1:])
			}
			slices.Sort(wantObs)
			slices.Sort(gotObs)
			if diff := cmp.Diff(wantObs, gotObs); diff != "" {
				t.Errorf("observations (-want +got):\n%s", diff)
			}

			calls := stub.Calls()
			if progress != len(calls) {
				t.Errorf("Progress saw %d calls, the server %d", progress, len(calls))
			}
			n, d := len(projects), len(tc.denied)
			bound := min(isolationBound(n, d), 2*n-1)
			t.Logf("%d projects, %d denied: %d ListLogEntries calls (bound %d, 2n-1 = %d)", n, d, len(calls), bound, 2*n-1)
			// Symptoms share one query: two cost no more calls than one.
			perSymptom := len(calls)
			if perSymptom > bound {
				t.Errorf("calls = %d, want at most %d", perSymptom, bound)
			}
		})
	}
}

// Batches read at once give what one at a time gives: the same scan
// errors in the same order and the same observations; and they do overlap.
func TestLoggingConcurrentBatches(t *testing.T) {
	projects := projectIDs(700)
	denied := map[string]bool{}
	for i := 7; i < len(projects); i += 37 {
		denied[projects[i]] = true
	}
	answer := denyingAnswer(denied, codes.PermissionDenied)
	var mu sync.Mutex
	inFlight, most := 0, 0
	_, client := startStub(t, func(ctx context.Context, req *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		time.Sleep(20 * time.Millisecond) // a real call's latency, so that batches overlap
		return answer(ctx, req)
	})
	q := ipamQuery(t, projects)
	observe := func(concurrency int) ([]scanner.Observation, []scanner.ScanError) {
		var c collect
		obs, err := (&Logging{Client: client, Policy: quick, Concurrency: concurrency}).Observe(t.Context(), q, c.failed)
		if err != nil {
			t.Fatalf("Observe() with concurrency %d: %v", concurrency, err)
		}
		return obs, c.errs
	}
	wantObs, wantErrs := observe(1)
	if most != 1 {
		t.Fatalf("concurrency 1: %d calls at once", most)
	}
	most = 0
	gotObs, gotErrs := observe(0) // the default
	if diff := cmp.Diff(wantErrs, gotErrs); diff != "" {
		t.Errorf("scan errors (-one at a time +at once):\n%s", diff)
	}
	if diff := cmp.Diff(wantObs, gotObs); diff != "" {
		t.Errorf("observations (-one at a time +at once):\n%s", diff)
	}
	if len(wantErrs) != len(denied) || len(wantObs) != len(projects)-len(denied) {
		t.Errorf("%d scan errors and %d observations, want %d and %d", len(wantErrs), len(wantObs), len(denied), len(projects)-len(denied))
	}
	if most < 2 || most > 8 {
		t.Errorf("default concurrency: at most %d calls at once, want 2 to 8", most)
	}
}

// Every call, isolation calls included, waits for the limiter: with a
// burst of 7 and no refill, the eighth call cannot start.
func TestLoggingPacedByLimiter(t *testing.T) {
	denied := map[string]bool{"proj-010": true, "proj-060": true}
	stub, client := startStub(t, denyingAnswer(denied, codes.PermissionDenied))
	p := quick
	p.Limiter = rate.NewLimiter(rate.Every(time.Hour), 7)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := (&Logging{Client: client, Policy: p}).Observe(ctx, ipamQuery(t, projectIDs(100)), func(scanner.ScanError) {})
	if err == nil {
		t.Fatal("Observe() error = nil, want the limiter to stop the eighth call")
	}
	if calls := len(stub.Calls()); calls != 7 {
		t.Errorf("server calls = %d, want 7 (the limiter's burst)", calls)
	}
	if gcpclient.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Observe() error = %v (code %v), want DEADLINE_EXCEEDED", err, gcpclient.Code(err))
	}
}

// Cancelling the caller's context returns its error as it is.
func TestLoggingCancelled(t *testing.T) {
	_, client := startStub(t, denyingAnswer(map[string]bool{"proj-001": true}, codes.PermissionDenied))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	l := &Logging{Client: client, Policy: quick, Progress: func(int) { cancel() }}
	obs, err := l.Observe(ctx, ipamQuery(t, projectIDs(100)), func(e scanner.ScanError) { t.Errorf("scan error %+v after cancel", e) })
	if err != context.Canceled || obs != nil {
		t.Errorf("Observe(cancelled) = %d observations, %v; want none and context.Canceled", len(obs), err)
	}
}
