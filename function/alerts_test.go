package function

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pubsubpb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fleetscan/fleetscan/scanner"
)

// alertRig is an alerter on a fake Cloud Storage bucket and a pstest
// topic, with a subscription that reads what it published.
type alertRig struct {
	t      *testing.T
	gcs    *fakestorage.Server
	bucket *storage.BucketHandle
	ps     *pubsub.Client
	now    time.Time
	scope  scanner.Scope
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
	// As the function makes its client: the JSON API for reads and writes.
	sc, err := storage.NewClient(ctx, option.WithEndpoint(gcs.URL()+"/storage/v1/"), option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return &alertRig{t: t, gcs: gcs, bucket: sc.Bucket("state"), ps: ps, now: time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC),
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
