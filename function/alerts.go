package function

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	storagev1 "google.golang.org/api/storage/v1"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
)

// Transitions of a finding between two scans of the same project.
const (
	TransitionNew      = "NEW"      // not in the previous scan
	TransitionChanged  = "CHANGED"  // status or severity differs
	TransitionResolved = "RESOLVED" // in the previous scan, gone now
)

// Alert is one transition of one finding.
type Alert struct {
	Transition string          `json:"transition"`
	Finding    scanner.Finding `json:"finding"`
}

// Message is the alert as subscribers get it: data is the finding JSON with
// "transition" added; the attributes let a subscription filter on it, the
// location ones named as in GKE's own cluster notifications.
func (a Alert) Message() *pubsub.Message {
	f := a.Finding
	data, _ := json.Marshal(struct {
		scanner.Finding
		Transition string `json:"transition"`
	}{f, a.Transition}) // a Finding always marshals
	return &pubsub.Message{Data: data, Attributes: map[string]string{
		"transition":       a.Transition,
		"issue_id":         f.IssueID,
		"category":         f.Category,
		"severity":         f.Severity,
		"status":           string(f.Status),
		"project_id":       f.ProjectID,
		"cluster_location": f.Location,
		"cluster_name":     f.Cluster,
		"finding_key":      f.FindingKey,
		"scan_id":          f.ScanID,
	}}
}

// Transitions compares a project's findings of the previous scan with the
// current ones, by finding_key. The result is sorted by finding key.
func Transitions(prev, cur map[string]scanner.Finding) []Alert {
	var out []Alert
	for k, f := range cur {
		p, ok := prev[k]
		switch {
		case !ok:
			out = append(out, Alert{TransitionNew, f})
		case p.Status != f.Status || p.Severity != f.Severity:
			out = append(out, Alert{TransitionChanged, f})
		}
	}
	for k, p := range prev {
		if _, ok := cur[k]; !ok {
			out = append(out, Alert{TransitionResolved, p})
		}
	}
	slices.SortFunc(out, func(a, b Alert) int {
		return cmp.Or(cmp.Compare(a.Finding.FindingKey, b.Finding.FindingKey), cmp.Compare(a.Transition, b.Transition))
	})
	return out
}

// scan publishes a scan's transitions, project by project, and returns
// their counts by transition. The projects are those the scan decides
// (alertProjects). A project whose outbox another delivery is publishing is
// left for a redelivery: after the other projects, scan returns errClaimed
// (joined) for it. A dry run logs what it would publish.
func (a *alerter) scan(ctx context.Context, log *slog.Logger, j job, res *scanner.Result) (map[string]int, error) {
	projects, err := a.alertProjects(ctx, j, res)
	if err != nil {
		return nil, err
	}
	byProject := map[string]map[string]scanner.Finding{}
	for _, fd := range res.Findings {
		if byProject[fd.ProjectID] == nil {
			byProject[fd.ProjectID] = map[string]scanner.Finding{}
		}
		byProject[fd.ProjectID][fd.FindingKey] = fd
	}
	counts := map[string]int{}
	owner := newOwner()
	var claimed []error
	for _, p := range projects {
		alerts, err := a.project(ctx, j.scope, p, byProject[p], j.scanID, j.started, owner, j.dryRun)
		if errors.Is(err, errClaimed) {
			claimed = append(claimed, err) // the other projects' alerts go out now
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, al := range alerts {
			counts[al.Transition]++
			if j.dryRun {
				log.Info("dry run: would alert", "transition", al.Transition, "issue_id", al.Finding.IssueID, "project_id", p,
					"cluster", al.Finding.Cluster, "node_pool", al.Finding.NodePool, "status", string(al.Finding.Status))
			}
		}
	}
	if len(claimed) > 0 {
		return counts, fmt.Errorf("alerts of %d project(s) not published yet: %w", len(claimed), errors.Join(claimed...))
	}
	return counts, nil
}

// alertProjects are the projects whose transitions a scan decides: the
// shard's projects, or, for a whole scope, those with clusters now and
// those with alert state from before (their clusters may be gone); of
// those, only the ones the scan read completely (Result.Complete), so a
// project under a folder that could not be listed keeps its state.
func (a *alerter) alertProjects(ctx context.Context, j job, res *scanner.Result) ([]string, error) {
	set := map[string]bool{}
	for _, p := range j.projects {
		set[p] = true
	}
	if j.projects == nil {
		for _, cl := range res.Clusters {
			set[cl.ProjectID] = true
		}
		known, err := a.projectsWithState(ctx, j.scope)
		if err != nil {
			return nil, fmt.Errorf("alert state: %w", err)
		}
		for _, p := range known {
			set[p] = true
		}
	}
	var out []string
	for _, p := range slices.Sorted(maps.Keys(set)) {
		if res.Complete(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// newOwner names one delivery in the claims it writes.
func newOwner() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// projectState is one object of the alert state: a project's findings as
// of the last scan that changed them, the alerts not yet confirmed
// published (an outbox), and who is publishing them (a claim).
type projectState struct {
	ScanID    string                     `json:"scan_id"`
	ScannedAt time.Time                  `json:"scanned_at"`
	Findings  map[string]scanner.Finding `json:"findings"`
	Outbox    []Alert                    `json:"outbox,omitempty"`
	Claim     *claim                     `json:"claim,omitempty"`
}

// claim is a delivery's lease on publishing the outbox. It is written with
// the same generation precondition as the rest of the state, so only one
// delivery holds a live claim; one that finds another's live claim backs
// off (Pub/Sub redelivers later), and an expired claim (its holder died)
// is taken over.
type claim struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

// alerter keeps the alert state in Cloud Storage, one object per scope and
// project written with generation preconditions, so concurrent shards and
// instances never lose an update, and publishes transitions.
type alerter struct {
	bucket *stateBucket
	pub    *pubsub.Publisher
	log    *slog.Logger
	now    func() time.Time
	// lease is how long a claim lasts: longer than publishTimeout, so a
	// claim never expires while its holder can still be publishing.
	lease          time.Duration
	publishTimeout time.Duration
}

// Defaults of the alerter's lease and publish deadline.
const (
	defaultLease          = 2 * time.Minute
	defaultPublishTimeout = time.Minute
)

// stateBucket is the bucket of the alert state, through the Cloud Storage
// JSON API (the REST client: the Cloud Storage client library would bring
// gRPC DirectPath and xDS into the binary for three calls).
type stateBucket struct {
	objects *storagev1.ObjectsService
	name    string
	policy  gcpclient.Policy
}

// newStateBucket opens the bucket name through the storage endpoint of ep
// (Cloud Storage itself without an override), its calls retried with policy.
func newStateBucket(ctx context.Context, ep gcpclient.Endpoints, name string, policy gcpclient.Policy) (*stateBucket, error) {
	// The scopes of the Cloud Storage client library; options given win.
	opts := append([]option.ClientOption{option.WithScopes(storagev1.DevstorageFullControlScope, storagev1.CloudPlatformScope)},
		ep.RESTOptions("storage", "/storage/v1/")...)
	svc, err := storagev1.NewService(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return &stateBucket{objects: svc.Objects, name: name, policy: policy}, nil
}

// do runs one call on the bucket, retried as every REST call is: transient
// HTTP errors with the policy's backoff and attempts. The reads and the
// listing are idempotent, and every write carries a generation
// precondition, so each may be retried.
func (b *stateBucket) do(ctx context.Context, call func(context.Context) error) error {
	return b.policy.Do(ctx, gcpclient.TransientHTTP, call)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkCRC32C checks a whole object's download against the CRC32C that
// Cloud Storage sends in X-Goog-Hash, as the Cloud Storage client library
// does (not for content decompressed on the way: the hash is of the
// compressed bytes).
func checkCRC32C(res *http.Response, b []byte) error {
	if res.Uncompressed || (res.Header.Get("X-Goog-Stored-Content-Encoding") == "gzip" && res.Header.Get("Content-Encoding") != "gzip") {
		return nil
	}
	for _, spec := range res.Header.Values("X-Goog-Hash") {
		for v := range strings.SplitSeq(spec, ",") {
			enc, ok := strings.CutPrefix(strings.TrimSpace(v), "crc32c=")
			if !ok {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(enc)
			if err != nil || len(raw) != 4 {
				return nil // not a CRC32C: nothing to check against
			}
			want := binary.BigEndian.Uint32(raw)
			if got := crc32.Checksum(b, castagnoli); got != want {
				return fmt.Errorf("bad CRC32C on read: got %d, want %d", got, want)
			}
			return nil
		}
	}
	return nil
}

// statePrefix is the folder of a scope's alert state objects.
func statePrefix(scope scanner.Scope) string {
	return "alert-state/" + scope.Kind + "/" + scope.ID + "/"
}

func stateObject(scope scanner.Scope, project string) string {
	return statePrefix(scope) + project + ".json"
}

// projectsWithState lists the projects that have alert state in scope.
func (a *alerter) projectsWithState(ctx context.Context, scope scanner.Scope) ([]string, error) {
	prefix := statePrefix(scope)
	var out []string
	for token := ""; ; {
		var page *storagev1.Objects
		err := a.bucket.do(ctx, func(ctx context.Context) error {
			var err error
			page, err = a.bucket.objects.List(a.bucket.name).Prefix(prefix).PageToken(token).
				Fields("nextPageToken", "items(name)").Context(ctx).Do()
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list alert state: %w", err)
		}
		for _, o := range page.Items {
			p, ok := strings.CutSuffix(strings.TrimPrefix(o.Name, prefix), ".json")
			if ok && !strings.Contains(p, "/") {
				out = append(out, p)
			}
		}
		if token = page.NextPageToken; token == "" {
			return out, nil
		}
	}
}

var (
	// errConflict: the object changed since it was read.
	errConflict = errors.New("alert state changed concurrently")
	// errClaimed: another delivery is publishing this project's alerts.
	errClaimed = errors.New("another delivery is publishing these alerts")
)

func (a *alerter) read(ctx context.Context, name string) (projectState, int64, error) {
	var (
		b   []byte
		gen int64
	)
	// One call: the media download carries the object's generation in a
	// header. Reading the body is part of the try, so a download cut short
	// is tried again.
	err := a.bucket.do(ctx, func(ctx context.Context) error {
		res, err := a.bucket.objects.Get(a.bucket.name, name).Context(ctx).Download()
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if gen, err = strconv.ParseInt(res.Header.Get("X-Goog-Generation"), 10, 64); err != nil || gen <= 0 {
			return fmt.Errorf("no object generation in the response (X-Goog-Generation %q)", res.Header.Get("X-Goog-Generation"))
		}
		if b, err = io.ReadAll(res.Body); err != nil {
			return err
		}
		return checkCRC32C(res, b)
	})
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusNotFound {
		return projectState{}, 0, nil
	}
	if err != nil {
		return projectState{}, 0, fmt.Errorf("read %s: %w", name, err)
	}
	var st projectState
	if err := json.Unmarshal(b, &st); err != nil {
		// A damaged object must not stop alerts forever: start over.
		a.log.Warn("alert state unreadable; starting over", "object", name, "error", err.Error())
		return projectState{}, gen, nil
	}
	return st, gen, nil
}

// write stores st if the object is still at generation gen (0: absent).
func (a *alerter) write(ctx context.Context, name string, st projectState, gen int64) (int64, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return 0, err
	}
	var obj *storagev1.Object
	// The precondition makes a retry safe: a try that landed although its
	// answer was lost fails the next one with 412, a conflict that project
	// resolves by reading the state again.
	err = a.bucket.do(ctx, func(ctx context.Context) error {
		var err error
		obj, err = a.bucket.objects.Insert(a.bucket.name, &storagev1.Object{Name: name, ContentType: "application/json"}).
			IfGenerationMatch(gen). // 0: the object must not exist
			Media(bytes.NewReader(b), googleapi.EnableAutoChecksum()).
			Fields("generation").Context(ctx).Do()
		return err
	})
	if err != nil {
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed {
			return 0, errConflict
		}
		return 0, fmt.Errorf("write %s: %w", name, err)
	}
	return obj.Generation, nil
}

// project applies one project's current findings. It computes the
// transitions against the stored state and stores the new state with the
// transitions in its outbox and its own claim, in one conditional write;
// then it publishes the outbox and clears outbox and claim.
//
// A redelivered scan finds its own scan_id stored and publishes only what
// is still in the outbox, and only if no other delivery holds a live claim
// (then errClaimed: retry later), so subscribers get each transition once.
// An older scan that arrives late changes nothing. A newer scan keeps an
// older scan's unpublished alerts in the outbox, ahead of its own.
func (a *alerter) project(ctx context.Context, scope scanner.Scope, project string, cur map[string]scanner.Finding, scanID string, scannedAt time.Time, owner string, dryRun bool) ([]Alert, error) {
	name := stateObject(scope, project)
	for range 5 {
		st, gen, err := a.read(ctx, name)
		if err != nil {
			return nil, err
		}
		now := a.now()
		claimedByOther := st.Claim != nil && st.Claim.Owner != owner && st.Claim.Expires.After(now) && len(st.Outbox) > 0
		var fresh []Alert // this scan's transitions
		switch {
		case st.ScanID == scanID:
			if len(st.Outbox) == 0 {
				return nil, nil // published already
			}
		case st.ScannedAt.After(scannedAt):
			a.log.Info("older scan; alert state kept", "project_id", project, "scan_id", scanID, "state_scan_id", st.ScanID)
			return nil, nil
		default:
			fresh = Transitions(st.Findings, cur)
			if dryRun || (len(fresh) == 0 && len(st.Outbox) == 0) {
				return fresh, nil
			}
			if claimedByOther {
				break // the outbox is being published: come back after it
			}
			st = projectState{ScanID: scanID, ScannedAt: scannedAt, Findings: cur, Outbox: append(st.Outbox, fresh...)}
		}
		if dryRun {
			return nil, nil
		}
		if claimedByOther {
			return nil, fmt.Errorf("%s: %w until %s", name, errClaimed, st.Claim.Expires.UTC().Format(time.RFC3339))
		}
		if st.Claim != nil && st.Claim.Owner != owner {
			a.log.Warn("expired alert claim taken over", "project_id", project, "scan_id", scanID, "previous_owner", st.Claim.Owner)
		}
		st.Claim = &claim{Owner: owner, Expires: now.Add(a.lease)}
		gen, err = a.write(ctx, name, st, gen)
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := a.publish(ctx, st.Outbox); err != nil {
			return nil, err // the claim expires; a redelivery publishes the outbox
		}
		out := st.Outbox
		st.Outbox, st.Claim = nil, nil
		if _, err := a.write(ctx, name, st, gen); err != nil {
			// The alerts are out; a stale outbox only risks a repeat once the claim expires.
			a.log.Warn("alert outbox not cleared", "project_id", project, "error", err.Error())
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: %w five times", name, errConflict)
}

func (a *alerter) publish(ctx context.Context, alerts []Alert) error {
	ctx, cancel := context.WithTimeout(ctx, a.publishTimeout)
	defer cancel()
	results := make([]*pubsub.PublishResult, len(alerts))
	for i, al := range alerts {
		results[i] = a.pub.Publish(ctx, al.Message())
	}
	var errs []error
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("publish alerts: %w", err)
	}
	return nil
}
