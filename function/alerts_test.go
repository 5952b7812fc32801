package function

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pubsubpb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
)

// alertRig is an alerter on a fake Cloud Storage bucket and a pstest
// topic, with a subscription that reads what it published. The bucket's
// client is the function's, its endpoint a proxy in front of the fake that
// records the requests and can fail them.
type alertRig struct {
	t      *testing.T
	gcs    *fakestorage.Server
	proxy  *gcsProxy
	bucket *stateBucket
	ps     *pubsub.Client
	now    time.Time
	scope  scanner.Scope
}

// rigPolicy retries as the function does, with short pauses.
var rigPolicy = gcpclient.Policy{Timeout: 10 * time.Second, Initial: time.Millisecond, Max: 10 * time.Millisecond, Attempts: 3}

// gcsProxy forwards to the fake Cloud Storage server, recording each
// request as "METHOD PATH".
type gcsProxy struct {
	mu       sync.Mutex
	requests []string
	// fail, when set, decides a request's fate: 0 forwards it; a status
	// answers it with that status, without forwarding it unless landed
	// (then the fake handles it and its answer is replaced).
	fail func(r *http.Request) (status int, landed bool)
	// pageSize, when set, makes listings page by that many objects.
	pageSize int
}

func newGCSProxy(t *testing.T, target string) (*gcsProxy, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &gcsProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.Method+" "+r.URL.Path)
		fail, pageSize := p.fail, p.pageSize
		p.mu.Unlock()
		if pageSize > 0 && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/o") {
			q := r.URL.Query()
			q.Set("maxResults", fmt.Sprint(pageSize))
			r.URL.RawQuery = q.Encode()
		}
		status, landed := 0, false
		if fail != nil {
			status, landed = fail(r)
		}
		if status == 0 {
			rp.ServeHTTP(w, r)
			return
		}
		if landed {
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"code":%d,"message":"injected by the test"}}`, status)
	}))
	t.Cleanup(srv.Close)
	return p, strings.TrimPrefix(srv.URL, "http://")
}

// seen returns the requests so far and forgets them.
func (p *gcsProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.requests
	p.requests = nil
	return out
}

func (p *gcsProxy) failWith(f func(r *http.Request) (int, bool)) {
	p.mu.Lock()
	p.fail = f
	p.mu.Unlock()
}

const (
	rigTopic = "projects/host-proj/topics/alerts"
	rigSub   = "projects/host-proj/subscriptions/reader"
)

func newAlertRig(t *testing.T) *alertRig {
	t.Helper()
	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	t.Cleanup(func() { srv.Close() })
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pubsub.NewClient(t.Context(), "host-proj", option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	ctx := context.Background()
	if _, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: rigTopic}); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: rigSub, Topic: rigTopic}); err != nil {
		t.Fatal(err)
	}
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gcs.Stop)
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "state"})
	proxy, hostport := newGCSProxy(t, gcs.URL())
	// As the function makes its client, with the endpoint override
	// FLEETSCAN_API_ENDPOINTS=storage=HOST:PORT gives.
	bucket, err := newStateBucket(ctx, gcpclient.Endpoints{"storage": hostport}, "state", rigPolicy)
	if err != nil {
		t.Fatal(err)
	}
	return &alertRig{t: t, gcs: gcs, proxy: proxy, bucket: bucket, ps: ps, now: time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC),
		scope: scanner.Scope{Kind: "organizations", ID: "123"}}
}

// alerter returns a new alerter, as a new instance would have.
func (r *alertRig) alerter() *alerter {
	return &alerter{bucket: r.bucket, pub: r.ps.Publisher(rigTopic),
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: func() time.Time { return r.now },
		lease: defaultLease, publishTimeout: 10 * time.Second}
}

// published pulls what the alerter published (pstest keeps it), as
// "TRANSITION finding_key scan_id" lines, sorted.
func (r *alertRig) published() []string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 10*time.Second)
	defer cancel()
	resp, err := r.ps.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: rigSub, MaxMessages: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	var out, acks []string
	for _, m := range resp.GetReceivedMessages() {
		a := m.GetMessage().GetAttributes()
		out = append(out, a["transition"]+" "+a["finding_key"]+" "+a["scan_id"])
		acks = append(acks, m.GetAckId())
	}
	if len(acks) > 0 {
		if err := r.ps.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: rigSub, AckIds: acks}); err != nil {
			r.t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

func (r *alertRig) state(project string) (projectState, int64) {
	r.t.Helper()
	st, gen, err := r.alerter().read(r.t.Context(), stateObject(r.scope, project))
	if err != nil {
		r.t.Fatal(err)
	}
	return st, gen
}

func (r *alertRig) put(project string, st projectState) {
	r.t.Helper()
	_, gen := r.state(project)
	if _, err := r.alerter().write(r.t.Context(), stateObject(r.scope, project), st, gen); err != nil {
		r.t.Fatal(err)
	}
}

func finding(key, scanID string, status scanner.Status) scanner.Finding {
	return scanner.Finding{FindingKey: key, ScanID: scanID, ProjectID: "proj-a", IssueID: "DPV2-IPAM-LEAK", Severity: "HIGH", Status: status}
}

func findings(fs ...scanner.Finding) map[string]scanner.Finding {
	out := map[string]scanner.Finding{}
	for _, f := range fs {
		out[f.FindingKey] = f
	}
	return out
}

// Objects of other scopes, and objects that are not a project's state, are
// not projects of this scope; the listing names each project once.
func TestProjectsWithState(t *testing.T) {
	r := newAlertRig(t)
	for _, name := range []string{
		"alert-state/organizations/123/proj-a.json",
		"alert-state/organizations/123/proj-b.json",
		"alert-state/organizations/1234/proj-c.json",
		"alert-state/folders/123/proj-d.json",
		"alert-state/organizations/123/sub/proj-e.json",
		"alert-state/organizations/123/notes.txt",
	} {
		r.gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "state", Name: name}, Content: []byte("{}")})
	}
	got, err := r.alerter().projectsWithState(t.Context(), r.scope)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"proj-a", "proj-b"}, got); diff != "" {
		t.Errorf("projects with state (-want +got):\n%s", diff)
	}

	// Two objects a page: every page is read.
	r.proxy.seen()
	r.proxy.mu.Lock()
	r.proxy.pageSize = 2
	r.proxy.mu.Unlock()
	got, err = r.alerter().projectsWithState(t.Context(), r.scope)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"proj-a", "proj-b"}, got); diff != "" {
		t.Errorf("projects with state, paged (-want +got):\n%s", diff)
	}
	// proj-a, proj-b; sub/proj-e, notes.txt; none left.
	if n := len(r.proxy.seen()); n < 2 {
		t.Errorf("paged listing made %d requests, want one per page", n)
	}
}

// The state objects and their generations: a missing object is generation
// 0; each write is conditional on the generation read, so a write at a
// stale generation, or a create of an object that exists, is errConflict
// and changes nothing. Uploads go to the JSON API's upload path of the
// endpoint given.
func TestStateGenerations(t *testing.T) {
	r := newAlertRig(t)
	a := r.alerter()
	name := stateObject(r.scope, "proj-a")
	st, gen, err := a.read(t.Context(), name)
	if err != nil || gen != 0 || st.ScanID != "" || st.Findings != nil {
		t.Fatalf("read of a missing object = %+v, %d, %v; want the empty state at generation 0", st, gen, err)
	}
	s1 := projectState{ScanID: "s1", ScannedAt: r.now, Findings: findings(finding("k1", "s1", scanner.Affected))}
	g1, err := a.write(t.Context(), name, s1, 0)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := r.gcs.GetObject("state", name)
	if err != nil {
		t.Fatal(err)
	}
	if g1 == 0 || g1 != obj.Generation || obj.ContentType != "application/json" {
		t.Errorf("write returned generation %d; the object is generation %d, content type %q: want equal, application/json", g1, obj.Generation, obj.ContentType)
	}
	if got := r.proxy.seen(); !slices.Contains(got, "POST /upload/storage/v1/b/state/o") {
		t.Errorf("requests %q: want the upload at POST /upload/storage/v1/b/state/o", got)
	}
	st, gen, err = a.read(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if gen != g1 || st.ScanID != "s1" || !st.ScannedAt.Equal(r.now) || len(st.Findings) != 1 {
		t.Errorf("read = %+v at generation %d; want s1 at generation %d", st, gen, g1)
	}

	if _, err := a.write(t.Context(), name, projectState{ScanID: "create"}, 0); !errors.Is(err, errConflict) {
		t.Errorf("create of an existing object: error = %v, want errConflict", err)
	}
	g2, err := a.write(t.Context(), name, projectState{ScanID: "s2"}, g1)
	if err != nil {
		t.Fatal(err)
	}
	if g2 == g1 {
		t.Errorf("a write kept generation %d", g1)
	}
	if _, err := a.write(t.Context(), name, projectState{ScanID: "stale"}, g1); !errors.Is(err, errConflict) {
		t.Errorf("write at stale generation %d (object at %d): error = %v, want errConflict", g1, g2, err)
	}
	if st, gen := r.state("proj-a"); st.ScanID != "s2" || gen != g2 {
		t.Errorf("after the conflicts: %q at generation %d, want s2 at %d", st.ScanID, gen, g2)
	}

	// Unreadable JSON: the state starts over at the object's generation.
	r.gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "state", Name: name}, Content: []byte("{not json")})
	obj, err = r.gcs.GetObject("state", name)
	if err != nil {
		t.Fatal(err)
	}
	st, gen, err = a.read(t.Context(), name)
	if err != nil || gen != obj.Generation || gen == 0 || st.ScanID != "" {
		t.Errorf("read of unreadable JSON = %+v, %d, %v; want the empty state at generation %d", st, gen, err, obj.Generation)
	}
	if _, err := a.write(t.Context(), name, projectState{ScanID: "s3"}, gen); err != nil {
		t.Errorf("write over unreadable JSON at its generation: %v", err)
	}
}

// Transient errors are retried with the policy; others are not, and come
// back wrapped as before.
func TestStateRetries(t *testing.T) {
	r := newAlertRig(t)
	a := r.alerter()
	name := stateObject(r.scope, "proj-a")
	// The first two tries of every call fail with 503.
	var mu sync.Mutex
	tries := map[string]int{}
	r.proxy.failWith(func(req *http.Request) (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		tries[req.Method+" "+req.URL.Path]++
		if tries[req.Method+" "+req.URL.Path] <= 2 {
			return http.StatusServiceUnavailable, false
		}
		return 0, false
	})
	gen, err := a.write(t.Context(), name, projectState{ScanID: "s1"}, 0)
	if err != nil {
		t.Fatalf("write through two 503s: %v", err)
	}
	if st, g, err := a.read(t.Context(), name); err != nil || g != gen || st.ScanID != "s1" {
		t.Errorf("read through two 503s = %q at %d, %v; want s1 at %d", st.ScanID, g, err, gen)
	}
	if got, err := a.projectsWithState(t.Context(), r.scope); err != nil || len(got) != 1 {
		t.Errorf("listing through two 503s = %v, %v", got, err)
	}
	if n := tries["POST /upload/storage/v1/b/state/o"]; n != 3 {
		t.Errorf("upload tried %d times, want 3", n)
	}

	// A call that fails more often than the policy retries: the last error.
	r.proxy.failWith(func(*http.Request) (int, bool) { return http.StatusServiceUnavailable, false })
	r.proxy.seen()
	_, err = a.write(t.Context(), name, projectState{ScanID: "s2"}, gen)
	if err == nil || !strings.HasPrefix(err.Error(), "write "+name+": ") || !gcpclient.TransientHTTP(err) {
		t.Errorf("write that always fails: error = %v, want the 503 as write %s: ...", err, name)
	}
	if n := len(r.proxy.seen()); n != rigPolicy.Attempts+1 {
		t.Errorf("write that always fails: %d tries, want %d", n, rigPolicy.Attempts+1)
	}
	_, _, err = a.read(t.Context(), name)
	if err == nil || !strings.HasPrefix(err.Error(), "read "+name+": ") {
		t.Errorf("read that always fails: error = %v, want read %s: ...", err, name)
	}

	// Not transient: no retry.
	r.proxy.failWith(func(*http.Request) (int, bool) { return http.StatusForbidden, false })
	r.proxy.seen()
	if _, _, err := a.read(t.Context(), name); err == nil || !strings.HasPrefix(err.Error(), "read "+name+": ") {
		t.Errorf("read answered 403: error = %v", err)
	}
	if n := len(r.proxy.seen()); n != 1 {
		t.Errorf("read answered 403 tried %d times, want once", n)
	}
}

// A write whose answer is lost although it landed is retried, and the
// retry finds its own write: 412, a conflict. project reads the state again,
// finds its own claim and carries on: the alerts go out once.
func TestLostWriteAnswer(t *testing.T) {
	r := newAlertRig(t)
	a := r.alerter()
	name := stateObject(r.scope, "proj-a")
	var mu sync.Mutex
	lost := 0
	r.proxy.failWith(func(req *http.Request) (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if req.Method == http.MethodPost && lost == 0 {
			lost++
			return http.StatusBadGateway, true // the write lands, its answer is a 502
		}
		return 0, false
	})
	gen, err := a.write(t.Context(), name, projectState{ScanID: "s0"}, 0)
	if !errors.Is(err, errConflict) || gen != 0 {
		t.Fatalf("retried write that had landed = %d, %v; want errConflict", gen, err)
	}
	if st, _ := r.state("proj-a"); st.ScanID != "s0" {
		t.Fatalf("state after the lost answer = %q, want s0 (the write landed)", st.ScanID)
	}

	mu.Lock()
	lost = 0 // the claim's write, next
	mu.Unlock()
	cur := findings(finding("k1", "s1", scanner.Affected), finding("k2", "s1", scanner.Observed))
	alerts, err := a.project(t.Context(), r.scope, "proj-a", cur, "s1", r.now, "me", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 2 {
		t.Errorf("project() = %d alerts, want 2", len(alerts))
	}
	if mu.Lock(); lost != 1 {
		t.Errorf("%d answers lost, want the claim's", lost)
	}
	mu.Unlock()
	if diff := cmp.Diff([]string{"NEW k1 s1", "NEW k2 s1"}, r.published()); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	if st, _ := r.state("proj-a"); len(st.Outbox) != 0 || st.Claim != nil || st.ScanID != "s1" {
		t.Errorf("final state = %+v", st)
	}
}

// A live claim of another delivery on an outbox: nothing is published and
// the delivery gets errClaimed (Pub/Sub redelivers it later); once the
// claim expires, the next delivery takes it over and publishes the outbox
// once.
func TestClaim(t *testing.T) {
	r := newAlertRig(t)
	a1, a2 := finding("k1", "s1", scanner.Affected), finding("k2", "s1", scanner.Observed)
	r.put("proj-a", projectState{ScanID: "s1", ScannedAt: r.now, Findings: findings(a1, a2),
		Outbox: []Alert{{TransitionNew, a1}, {TransitionNew, a2}}, Claim: &claim{Owner: "other", Expires: r.now.Add(time.Minute)}})

	_, err := r.alerter().project(t.Context(), r.scope, "proj-a", findings(a1, a2), "s1", r.now, "me", false)
	if !errors.Is(err, errClaimed) {
		t.Fatalf("project() with another's live claim: error = %v, want errClaimed", err)
	}
	want := "alert-state/organizations/123/proj-a.json: another delivery is publishing these alerts until 2026-11-30T06:01:00Z"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if got := r.published(); len(got) != 0 {
		t.Errorf("published %v under another's claim", got)
	}

	r.now = r.now.Add(time.Minute + time.Second) // the claim's holder died
	alerts, err := r.alerter().project(t.Context(), r.scope, "proj-a", findings(a1, a2), "s1", r.now, "me", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 2 {
		t.Errorf("took over %d alerts, want 2", len(alerts))
	}
	if diff := cmp.Diff([]string{"NEW k1 s1", "NEW k2 s1"}, r.published()); diff != "" {
		t.Errorf("published after take-over (-want +got):\n%s", diff)
	}
	st, _ := r.state("proj-a")
	if len(st.Outbox) != 0 || st.Claim != nil || st.ScanID != "s1" || len(st.Findings) != 2 {
		t.Errorf("state after publishing = %+v, want s1's findings, no outbox, no claim", st)
	}
	// A third delivery finds nothing left to publish.
	if alerts, err := r.alerter().project(t.Context(), r.scope, "proj-a", findings(a1, a2), "s1", r.now, "late", false); err != nil || len(alerts) != 0 {
		t.Errorf("late redelivery = %d alerts, %v; want none", len(alerts), err)
	}
	if got := r.published(); len(got) != 0 {
		t.Errorf("late redelivery published %v", got)
	}
}

// A newer scan that finds an older scan's outbox unpublished (its claim
// expired) publishes it with its own transitions instead of dropping it;
// while the older claim is live it waits.
func TestNewerScanKeepsOutbox(t *testing.T) {
	r := newAlertRig(t)
	a1 := finding("k1", "s1", scanner.Affected)
	r.put("proj-a", projectState{ScanID: "s1", ScannedAt: r.now, Findings: findings(a1),
		Outbox: []Alert{{TransitionNew, a1}}, Claim: &claim{Owner: "dead", Expires: r.now.Add(time.Minute)}})
	later := r.now.Add(24 * time.Hour)
	b1, b2 := finding("k1", "s2", scanner.Observed), finding("k2", "s2", scanner.Affected)
	if _, err := r.alerter().project(t.Context(), r.scope, "proj-a", findings(b1, b2), "s2", later, "me", false); !errors.Is(err, errClaimed) {
		t.Fatalf("newer scan under a live claim: error = %v, want errClaimed", err)
	}
	r.now = r.now.Add(2 * time.Minute)
	if _, err := r.alerter().project(t.Context(), r.scope, "proj-a", findings(b1, b2), "s2", later, "me", false); err != nil {
		t.Fatal(err)
	}
	want := []string{"CHANGED k1 s2", "NEW k1 s1", "NEW k2 s2"}
	if diff := cmp.Diff(want, r.published()); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
}

// Ten deliveries of one scan on ten instances at once, each retrying
// while another holds the claim, as Pub/Sub would: every transition is
// published exactly once.
func TestConcurrentDeliveriesPublishOnce(t *testing.T) {
	for _, n := range []int{3, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := newAlertRig(t)
			old := findings(finding("gone", "s0", scanner.Affected), finding("k1", "s0", scanner.Affected))
			r.put("proj-a", projectState{ScanID: "s0", ScannedAt: r.now.Add(-24 * time.Hour), Findings: old})
			cur := findings(finding("k1", "s1", scanner.Observed), finding("k2", "s1", scanner.Affected), finding("k3", "s1", scanner.Unknown))
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					a := r.alerter()
					for {
						_, err := a.project(ctx, r.scope, "proj-a", cur, "s1", r.now, fmt.Sprint("delivery-", i), false)
						if !errors.Is(err, errClaimed) {
							errs[i] = err
							return
						}
						select { // Pub/Sub's retry backoff, shortened
						case <-ctx.Done():
							errs[i] = ctx.Err()
							return
						case <-time.After(5 * time.Millisecond):
						}
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			want := []string{"CHANGED k1 s1", "NEW k2 s1", "NEW k3 s1", "RESOLVED gone s0"}
			if diff := cmp.Diff(want, r.published()); diff != "" {
				t.Errorf("published by %d concurrent deliveries (-want +got):\n%s", n, diff)
			}
			if st, _ := r.state("proj-a"); len(st.Outbox) != 0 || st.Claim != nil || st.ScanID != "s1" {
				t.Errorf("final state = %+v", st)
			}
		})
	}
}
