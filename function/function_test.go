package function

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	"github.com/fleetscan/fleetscan/scanner"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var goodEnv = map[string]string{
	EnvBigQuery:     "my-proj.fleetscan",
	EnvRequestTopic: "projects/my-proj/topics/fleetscan-requests",
	EnvAlertTopic:   "projects/my-proj/topics/fleetscan-alerts",
	EnvStateBucket:  "my-proj-fleetscan-state",
	EnvScope:        "organizations/123",
}

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig(env(goodEnv))
	if err != nil {
		t.Fatal(err)
	}
	if c.Scope.String() != "organizations/123" || c.ShardSize != 500 || c.Lookback != 168*time.Hour || c.Discovery != "asset-inventory" || c.MaxEventAge != 12*time.Hour || c.BigQueryLocation != "US" {
		t.Errorf("defaults = %+v", c)
	}
	_, err = LoadConfig(env(map[string]string{
		EnvScope: "org/1", EnvBigQuery: "fleetscan", EnvRequestTopic: "fleetscan-requests", EnvStateBucket: "Bad_Bucket",
		EnvDiscovery: "cai", EnvLookback: "week", EnvShardSize: "-1", EnvMaxEventAge: "0s", EnvAPITimeout: "10ms", EnvKubernetes: "kubectl", EnvEndpoints: "asset",
	}))
	want := `FLEETSCAN_SCOPE: invalid scope "org/1": want organizations/N, folders/N or projects/ID
FLEETSCAN_BIGQUERY: "fleetscan" is not PROJECT.DATASET
FLEETSCAN_REQUEST_TOPIC: "fleetscan-requests" is not projects/PROJECT/topics/TOPIC
FLEETSCAN_ALERT_TOPIC: is required: projects/PROJECT/topics/TOPIC
FLEETSCAN_STATE_BUCKET: "Bad_Bucket" is not a bucket name
FLEETSCAN_DISCOVERY: "cai" is not asset-inventory or container-api
FLEETSCAN_LOOKBACK: invalid lookback "week": want a positive duration such as 168h, 7d or 90m
FLEETSCAN_SHARD_SIZE: "-1" is not a number of projects from 0 (never fan out) to 10000
FLEETSCAN_MAX_EVENT_AGE: "0s" is not a positive duration such as 12h
FLEETSCAN_API_TIMEOUT: "10ms" is not a duration from 1s to 5m such as 60s
FLEETSCAN_KUBERNETES: "kubectl" is not asset-inventory or api (or empty: in-cluster checks off)
FLEETSCAN_API_ENDPOINTS: endpoint "asset" is not SERVICE=HOST:PORT`
	if err == nil || err.Error() != want {
		t.Errorf("LoadConfig errors =\n%v\nwant\n%s", err, want)
	}
}

func pubsubEvent(t *testing.T, data string) event.Event {
	t.Helper()
	e := event.New()
	e.SetID("m-1")
	e.SetSource("//pubsub.googleapis.com/projects/my-proj/topics/fleetscan-requests")
	e.SetType(MessagePublishedType)
	e.SetTime(time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC))
	body, _ := json.Marshal(map[string]any{"message": map[string]any{"data": []byte(data), "messageId": "m-1"}, "subscription": "projects/my-proj/subscriptions/s"})
	if err := e.SetData("application/json", body); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDecode(t *testing.T) {
	cfg, _ := LoadConfig(env(goodEnv))
	noDefault := cfg
	noDefault.Scope = scanner.Scope{}
	tests := []struct {
		name, data string
		cfg        Config
		want       string // the work's scope/lookback/dry-run/shard, or the error
	}{
		{"empty body: default scope", "", cfg, "organizations/123 168h0m0s false"},
		{"request", `{"scope":"folders/456","lookback":"24h","dry_run":true}`, cfg, "folders/456 24h0m0s true"},
		{"shard", `{"scan_id":"s1","scope":"organizations/123","projects":["proj-aaaa"],"shard":1,"shards":2}`, cfg, "organizations/123 168h0m0s false shard 1/2"},
		{"empty body without default", "", noDefault, "bad message: empty request and no default scope (FLEETSCAN_SCOPE)"},
		{"not JSON", "scan it", cfg, "bad message: message is not a JSON object: invalid character 's' looking for beginning of value"},
		{"unknown field", `{"scope":"organizations/1","scop":"x"}`, cfg, `bad message: request: json: unknown field "scop" (want {"scope": "organizations/N", "lookback": "168h", "dry_run": false})`},
		{"bad scope", `{"scope":"organizations/acme"}`, cfg, `bad message: invalid scope "organizations/acme": organizations are named by number, e.g. organizations/123456789012`},
		{"bad lookback", `{"lookback":"forever"}`, cfg, `bad message: invalid lookback "forever": want a positive duration such as 168h, 7d or 90m`},
		{"bad shard", `{"scan_id":"","projects":["Bad Project"],"shard":3,"shards":2}`, cfg,
			"bad message: shard has no scan_id\nshard 3 of 2 is out of range\nshard project \"Bad Project\" is not a project ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := decode(pubsubEvent(t, tc.data), tc.cfg)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = w.scope.String() + " " + w.lookback.String() + " " + map[bool]string{true: "true", false: "false"}[w.dryRun]
				if w.shard != nil {
					got += " shard " + string(rune('0'+w.shard.Shard)) + "/" + string(rune('0'+w.shard.Shards))
				}
			}
			if got != tc.want {
				t.Errorf("decode(%q) = %q, want %q", tc.data, got, tc.want)
			}
		})
	}
	e := pubsubEvent(t, "")
	e.SetType("google.cloud.storage.object.v1.finalized")
	if _, err := decode(e, cfg); err == nil || err.Error() != `bad message: event type "google.cloud.storage.object.v1.finalized" is not google.cloud.pubsub.topic.v1.messagePublished` {
		t.Errorf("wrong type error = %v", err)
	}
}

func TestTransitions(t *testing.T) {
	f := func(key string, status scanner.Status, sev string) scanner.Finding {
		return scanner.Finding{FindingKey: key, Status: status, Severity: sev}
	}
	prev := map[string]scanner.Finding{
		"same": f("same", scanner.Affected, "HIGH"), "status": f("status", scanner.Affected, "HIGH"),
		"severity": f("severity", scanner.Affected, "HIGH"), "gone": f("gone", scanner.Unknown, "LOW"),
	}
	cur := map[string]scanner.Finding{
		"same": f("same", scanner.Affected, "HIGH"), "status": f("status", scanner.Observed, "HIGH"),
		"severity": f("severity", scanner.Affected, "CRITICAL"), "new": f("new", scanner.Affected, "MEDIUM"),
	}
	var got []string
	for _, a := range Transitions(prev, cur) {
		got = append(got, a.Transition+" "+a.Finding.FindingKey)
	}
	want := []string{"RESOLVED gone", "NEW new", "CHANGED severity", "CHANGED status"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Transitions (-want +got):\n%s", diff)
	}
	if n := len(Transitions(nil, nil)); n != 0 {
		t.Errorf("no findings before or after: %d alerts", n)
	}
}

func TestAlertMessage(t *testing.T) {
	a := Alert{TransitionNew, scanner.Finding{FindingKey: "k", IssueID: "DPV2-IPAM-LEAK", Severity: "HIGH", Status: scanner.Observed,
		ProjectID: "p", Location: "us-central1", Cluster: "c1", ScanID: "s", Category: "Networking"}}
	m := a.Message()
	want := map[string]string{"transition": "NEW", "issue_id": "DPV2-IPAM-LEAK", "category": "Networking", "severity": "HIGH", "status": "OBSERVED",
		"project_id": "p", "cluster_location": "us-central1", "cluster_name": "c1", "finding_key": "k", "scan_id": "s"}
	if diff := cmp.Diff(want, m.Attributes); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	var data map[string]any
	if err := json.Unmarshal(m.Data, &data); err != nil || data["transition"] != "NEW" || data["finding_key"] != "k" || data["issue_id"] != "DPV2-IPAM-LEAK" {
		t.Errorf("data = %s (%v), want the finding JSON plus transition", m.Data, err)
	}
}

func TestLoggerFields(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf).Warn("stale event dropped", "scan_id", "s1")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["severity"] != "WARNING" || line["message"] != "stale event dropped" || line["scan_id"] != "s1" || line["timestamp"] == nil {
		t.Errorf("log line = %s, want Cloud Logging's severity, message and timestamp fields", buf.String())
	}
	e := pubsubEvent(t, "")
	e.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if got := traceOf(e, env(goodEnv)); got != "projects/my-proj/traces/4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("traceOf = %q", got)
	}
}

// A configuration error is logged with every problem and the event is kept
// for redelivery (an error), not acknowledged.
func TestScanFleetConfigError(t *testing.T) {
	var buf bytes.Buffer
	f := New(env(map[string]string{}), &buf)
	err := f.ScanFleet(t.Context(), pubsubEvent(t, ""))
	if err == nil || !strings.HasPrefix(err.Error(), "invalid configuration: FLEETSCAN_BIGQUERY: is required") {
		t.Errorf("error = %v", err)
	}
	if !strings.Contains(buf.String(), `"severity":"ERROR"`) || !strings.Contains(buf.String(), "FLEETSCAN_STATE_BUCKET: is required") {
		t.Errorf("log = %s", buf.String())
	}
}

// Stale and malformed events are acknowledged (nil) with one log line,
// before any client is created.
func TestScanFleetAcknowledges(t *testing.T) {
	var buf bytes.Buffer
	f := New(env(goodEnv), &buf)
	f.now = func() time.Time { return time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC) } // a day after the event
	if err := f.ScanFleet(t.Context(), pubsubEvent(t, "")); err != nil {
		t.Errorf("stale event: %v", err)
	}
	f.now = func() time.Time { return time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC) }
	if err := f.ScanFleet(t.Context(), pubsubEvent(t, "{not json")); err != nil {
		t.Errorf("malformed event: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "stale event dropped") || !strings.Contains(lines[1], "message acknowledged without scanning") {
		t.Errorf("log lines = %q", lines)
	}
	if f.clients != nil {
		t.Errorf("clients were created for events that needed none")
	}
}
