package function

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/fleetscan/fleetscan/scanner"
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

// projectState is one object of the alert state: a project's findings as
// of the last scan that changed them, and the alerts of that scan until
// they are confirmed published (an outbox).
type projectState struct {
	ScanID    string                     `json:"scan_id"`
	ScannedAt time.Time                  `json:"scanned_at"`
	Findings  map[string]scanner.Finding `json:"findings"`
	Outbox    []Alert                    `json:"outbox,omitempty"`
}

// alerter keeps the alert state in Cloud Storage, one object per scope and
// project written with generation preconditions, so concurrent shards and
// instances never lose an update, and publishes transitions.
type alerter struct {
	bucket *storage.BucketHandle
	pub    *pubsub.Publisher
	log    *slog.Logger
}

func stateObject(scope scanner.Scope, project string) string {
	return "alert-state/" + scope.Kind + "/" + scope.ID + "/" + project + ".json"
}

// errConflict: the object changed since it was read.
var errConflict = errors.New("alert state changed concurrently")

func (a *alerter) read(ctx context.Context, name string) (projectState, int64, error) {
	r, err := a.bucket.Object(name).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return projectState{}, 0, nil
	}
	if err != nil {
		return projectState{}, 0, fmt.Errorf("read %s: %w", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return projectState{}, 0, fmt.Errorf("read %s: %w", name, err)
	}
	var st projectState
	if err := json.Unmarshal(b, &st); err != nil {
		// A damaged object must not stop alerts forever: start over.
		a.log.Warn("alert state unreadable; starting over", "object", name, "error", err.Error())
		return projectState{}, r.Attrs.Generation, nil
	}
	return st, r.Attrs.Generation, nil
}

// write stores st if the object is still at generation gen (0: absent).
func (a *alerter) write(ctx context.Context, name string, st projectState, gen int64) (int64, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return 0, err
	}
	obj := a.bucket.Object(name)
	if gen == 0 {
		obj = obj.If(storage.Conditions{DoesNotExist: true})
	} else {
		obj = obj.If(storage.Conditions{GenerationMatch: gen})
	}
	w := obj.NewWriter(ctx)
	w.ContentType = "application/json"
	if _, err := io.Copy(w, bytes.NewReader(b)); err != nil {
		w.Close()
		return 0, err
	}
	if err := w.Close(); err != nil {
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed {
			return 0, errConflict
		}
		return 0, fmt.Errorf("write %s: %w", name, err)
	}
	return w.Attrs().Generation, nil
}

// project applies one project's current findings: it computes the
// transitions against the stored state, stores the new state with the
// transitions as its outbox, publishes them, then clears the outbox. A
// redelivered scan finds its own scan_id stored and publishes only what is
// still in the outbox, so subscribers get no duplicates; an older scan that
// arrives late changes nothing.
func (a *alerter) project(ctx context.Context, scope scanner.Scope, project string, cur map[string]scanner.Finding, scanID string, scannedAt time.Time, dryRun bool) ([]Alert, error) {
	name := stateObject(scope, project)
	for range 5 {
		st, gen, err := a.read(ctx, name)
		if err != nil {
			return nil, err
		}
		var alerts []Alert
		switch {
		case st.ScanID == scanID:
			alerts = st.Outbox
		case st.ScannedAt.After(scannedAt):
			a.log.Info("older scan; alert state kept", "project_id", project, "scan_id", scanID, "state_scan_id", st.ScanID)
			return nil, nil
		default:
			alerts = Transitions(st.Findings, cur)
			if len(alerts) == 0 || dryRun {
				return alerts, nil
			}
			st = projectState{ScanID: scanID, ScannedAt: scannedAt, Findings: cur, Outbox: alerts}
			gen, err = a.write(ctx, name, st, gen)
			if errors.Is(err, errConflict) {
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		if len(alerts) == 0 || dryRun {
			return nil, nil
		}
		if err := a.publish(ctx, alerts); err != nil {
			return nil, err
		}
		st.Outbox = nil
		if _, err := a.write(ctx, name, st, gen); err != nil && !errors.Is(err, errConflict) {
			// The alerts are out; a stale outbox only risks a repeat on redelivery.
			a.log.Warn("alert outbox not cleared", "project_id", project, "error", err.Error())
		}
		return alerts, nil
	}
	return nil, fmt.Errorf("%s: %w five times", name, errConflict)
}

func (a *alerter) publish(ctx context.Context, alerts []Alert) error {
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
