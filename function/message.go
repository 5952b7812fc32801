package function

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/fleetscan/fleetscan/scanner"
)

// MessagePublishedType is the CloudEvent type Eventarc delivers Pub/Sub
// messages with.
const MessagePublishedType = "google.cloud.pubsub.topic.v1.messagePublished"

// pubsubEnvelope is the data of a messagePublished CloudEvent.
type pubsubEnvelope struct {
	Message struct {
		Data        []byte            `json:"data"` // base64 in JSON
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		PublishTime time.Time         `json:"publishTime"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// Request is what Cloud Scheduler publishes: {"scope": …, "lookback": …,
// "dry_run": …}; an empty body means the configured default scope.
type Request struct {
	Scope    string `json:"scope,omitempty"`
	Lookback string `json:"lookback,omitempty"`
	DryRun   bool   `json:"dry_run,omitempty"`
}

// Shard is what a fanned-out scan publishes for each part of the scope.
type Shard struct {
	ScanID   string    `json:"scan_id"`
	Scope    string    `json:"scope"`
	Projects []string  `json:"projects"`
	Shard    int       `json:"shard"`
	Shards   int       `json:"shards"`
	Lookback string    `json:"lookback,omitempty"`
	DryRun   bool      `json:"dry_run,omitempty"`
	Started  time.Time `json:"started_at"`
}

// work is a decoded, validated message: a request or a shard.
type work struct {
	scope    scanner.Scope
	lookback time.Duration
	dryRun   bool
	shard    *Shard // nil for a request
}

// errBadMessage marks a message that will never succeed: acknowledge it.
var errBadMessage = errors.New("bad message")

func badf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errBadMessage}, a...)...)
}

// decode reads a messagePublished event into work. Every problem is a bad
// message.
func decode(e event.Event, cfg Config) (work, error) {
	if e.Type() != MessagePublishedType {
		return work{}, badf("event type %q is not %s", e.Type(), MessagePublishedType)
	}
	var env pubsubEnvelope
	if err := json.Unmarshal(e.Data(), &env); err != nil {
		return work{}, badf("event data is not a Pub/Sub message: %v", err)
	}
	body := bytes.TrimSpace(env.Message.Data)
	w := work{scope: cfg.Scope, lookback: cfg.Lookback}
	if len(body) == 0 {
		if w.scope == (scanner.Scope{}) {
			return work{}, badf("empty request and no default scope (%s)", EnvScope)
		}
		return w, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return work{}, badf("message is not a JSON object: %v", err)
	}
	if _, ok := probe["projects"]; ok {
		return decodeShard(body, w)
	}
	var r Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return work{}, badf("request: %v (want {\"scope\": \"organizations/N\", \"lookback\": \"168h\", \"dry_run\": false})", err)
	}
	return w.apply(r.Scope, r.Lookback, r.DryRun)
}

func decodeShard(body []byte, w work) (work, error) {
	var s Shard
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return work{}, badf("shard: %v", err)
	}
	var errs []error
	if s.ScanID == "" {
		errs = append(errs, errors.New("shard has no scan_id"))
	}
	if s.Shards < 1 || s.Shard < 0 || s.Shard >= s.Shards {
		errs = append(errs, fmt.Errorf("shard %d of %d is out of range", s.Shard, s.Shards))
	}
	if len(s.Projects) == 0 {
		errs = append(errs, errors.New("shard lists no projects"))
	}
	for _, p := range s.Projects {
		if !scanner.ValidProjectID(p) {
			errs = append(errs, fmt.Errorf("shard project %q is not a project ID", p))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return work{}, badf("%v", err)
	}
	w, err := w.apply(s.Scope, s.Lookback, s.DryRun)
	if err != nil {
		return work{}, err
	}
	w.shard = &s
	return w, nil
}

func (w work) apply(scope, lookback string, dryRun bool) (work, error) {
	if scope != "" {
		s, err := scanner.ParseScope(scope)
		if err != nil {
			return work{}, badf("%v", err)
		}
		w.scope = s
	}
	if w.scope == (scanner.Scope{}) {
		return work{}, badf("request names no scope and there is no default scope (%s)", EnvScope)
	}
	if lookback != "" {
		d, err := scanner.ParseLookback(lookback)
		if err != nil {
			return work{}, badf("%v", err)
		}
		w.lookback = d
	}
	w.dryRun = dryRun
	return w, nil
}
