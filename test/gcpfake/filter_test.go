package gcpfake

import (
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestParseFilterErrors(t *testing.T) {
	for _, tc := range []struct{ filter, err string }{
		{`resource.type="a" AND resource.type="b"`, `bare word "AND" at offset 18 is not supported (no AND, NOT or global restrictions): ` + subset},
		{`NOT resource.type="a"`, `bare word "NOT" at offset 0 is not supported (no AND, NOT or global restrictions): ` + subset},
		{`"hello"`, `global restriction "hello" at offset 0 is not supported: ` + subset},
		{`(resource.type="a" AND resource.type="b")`, `bare word "AND" at offset 19 is not supported (no AND, NOT or global restrictions): ` + subset},
		{`resource.type="a" resource.type="b" OR resource.type="c"`, `OR at offset 36 follows terms joined by AND: ` + mixed},
		{`resource.type="a" OR resource.type="b" resource.type="c"`, `terms joined by whitespace (AND) at offset 39 follow terms joined by OR: ` + mixed},
		{`(resource.type="a" OR (resource.type="b" resource.type="c" OR resource.type="d"))`, `OR at offset 59 follows terms joined by AND: ` + mixed},
		{`(resource.type="a" OR resource.type="b"`, `unclosed parenthesis at offset 0`},
		{`(resource.type="a" OR`, `unclosed parenthesis at offset 0`},
		{`(resource.type="a" OR )`, `OR at offset 19 has no term after it`},
		{`resource.type="a" OR`, `OR at offset 18 has no term after it`},
		{`(OR resource.type="a")`, `bare word "OR" at offset 1 is not supported (no AND, NOT or global restrictions): ` + subset},
		{`(resource.type="a" ORresource.type="b")`, `field ORresource.type at offset 19 is not supported: gcpfake knows only log_id(), resource.type, resource.labels.KEY, jsonPayload.FIELD, textPayload and timestamp`},
		{`()`, `empty parentheses at offset 0`},
		{`resource.type="a")`, `unmatched ')' at offset 17`},
		{`(resource.type="a")resource.type="b"`, `want whitespace between terms at offset 19, found "resource.type=\"b\""`},
		{`resource.type="a" )`, `unmatched ')' at offset 18`},
		{`-resource.type="a"`, `negation at offset 0 is not supported: ` + subset},
		{`resource.type=a`, `the value of resource.type= at offset 14 must be a double-quoted string`},
		{`resource.type!="a"`, `operator != on resource.type at offset 0 is not supported: ` + subset},
		{`jsonPayload.reason=~"a"`, `operator =~ on jsonPayload.reason at offset 0 is not supported: ` + subset},
		{`timestamp="2026-01-01T00:00:00Z"`, `operator = on timestamp at offset 0 is not supported: ` + subset},
		{`jsonPayload.a.b=~"x"`, `operator =~ on jsonPayload.a.b at offset 0 is not supported: ` + subset},
		{`labels.a="x"`, `field labels.a at offset 0 is not supported: gcpfake knows only log_id(), resource.type, resource.labels.KEY, jsonPayload.FIELD, textPayload and timestamp`},
		{`logName:"x"`, `field logName at offset 0 is not supported: gcpfake knows only log_id(), resource.type, resource.labels.KEY, jsonPayload.FIELD, textPayload and timestamp`},
		{`resource.type="a"resource.type="b"`, `want whitespace between terms at offset 17, found "resource.type=\"b\""`},
		{`resource.type="a\nb"`, `unsupported escape \n at offset 16 (gcpfake supports only \\ and \")`},
		{`resource.type="a\`, `unterminated string starting at offset 14`},
		{`resource.type="a`, `unterminated string starting at offset 14`},
		{`resource.="a"`, `malformed field name "resource." at offset 0`},
		{`search("a")`, `function search at offset 0 is not supported: ` + subset},
		{`log_id(events)`, `log_id at offset 0 takes one double-quoted string`},
		{`log_id("events"`, `log_id at offset 0 takes one double-quoted string and a closing parenthesis`},
		{`resource.type`, `bare word "resource.type" at offset 0 is not supported (no AND, NOT or global restrictions): ` + subset},
		{`timestamp>="2026-13-01"`, `timestamp "2026-13-01" at offset 0 is not RFC 3339`},
		{`resource.type="a" ; x`, `unexpected ';' at offset 18: ` + subset},
	} {
		_, err := parseFilter(tc.filter)
		if err == nil || err.Error() != tc.err {
			t.Errorf("parseFilter(%s) error = %v, want %s", tc.filter, err, tc.err)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	payload, _ := structpb.NewStruct(map[string]any{"reason": `Say "hi"`, "message": `C:\dir Failed`, "count": 2,
		"source": map[string]any{"component": "kubelet", "host": "n1"}, "reportingComponent": ""})
	e := &loggingpb.LogEntry{
		LogName:   "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
		Resource:  &monitoredres.MonitoredResource{Type: "k8s_pod", Labels: map[string]string{"cluster_name": "c1"}},
		Timestamp: timestamppb.New(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)),
		Payload:   &loggingpb.LogEntry_JsonPayload{JsonPayload: payload},
	}
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{``, true},
		{"  \n ", true},
		{`log_id("cloudaudit.googleapis.com/activity")`, true},
		{`log_id( "cloudaudit.googleapis.com/activity" )`, true},
		{`log_id("activity")`, false},
		{`resource.type="k8s_pod"`, true},
		{`resource.type="k8s_container" OR resource.type="k8s_pod"`, true},
		{`resource.type="k8s_container" OR resource.type="k8s_node"`, false},
		{`(resource.type="k8s_container" resource.labels.cluster_name="c1") OR (resource.type="k8s_pod" resource.labels.cluster_name="c1")`, true},
		{`(resource.type="k8s_container" resource.labels.cluster_name="c1") OR (resource.type="k8s_pod" resource.labels.cluster_name="c2")`, false},
		{`(resource.type="k8s_pod" (resource.labels.cluster_name="c2" OR (resource.labels.cluster_name="c1"))) OR (resource.type="x")`, true},
		{`(resource.type="k8s_pod" resource.labels.cluster_name="c1")`, true},
		{`resource.type="K8S_POD"`, false},
		{`resource.labels.cluster_name="c1"`, true},
		{`resource.labels.cluster_name="c"`, false},
		{`resource.labels.nope=""`, false},
		{`jsonPayload.reason="Say \"hi\""`, true},
		{`jsonPayload.reason="Say \"hi"`, false},
		{`jsonPayload.message="C:\\dir Failed"`, true},
		{`jsonPayload.message:"c:\\DIR"`, true},
		{`jsonPayload.message:"\\\\"`, false},
		{`jsonPayload.count="2"`, false},
		{`jsonPayload.count:"2"`, false},
		{`timestamp>="2026-11-20T10:00:00Z" timestamp<="2026-11-20T10:00:00Z"`, true},
		{`timestamp>"2026-11-20T10:00:00Z"`, false},
		{`timestamp<"2026-11-20T10:00:00Z"`, false},
		{`timestamp>"2026-11-20T09:59:59.999Z" timestamp<"2026-11-20T11:00:00+01:00"`, false},
		{`timestamp>"2026-11-20T09:59:59.999Z" timestamp < "2026-11-20T11:00:01+01:00"`, true},
		{`resource.type = "k8s_pod"	jsonPayload.reason : "SAY"`, true},
		// Nested jsonPayload fields.
		{`jsonPayload.source.component="kubelet"`, true},
		{`jsonPayload.source.component="attacker"`, false},
		{`jsonPayload.source.host:"N"`, true},
		{`jsonPayload.source.nope="kubelet"`, false},
		{`jsonPayload.reason.x="Say \"hi\""`, false},
		{`jsonPayload.nope.component="kubelet"`, false},
		{`jsonPayload.source="kubelet"`, false},
		{`jsonPayload.reportingComponent=""`, true},
		// A parenthesized OR matches when any of its terms does.
		{`(resource.type="a")`, false},
		{`(resource.type="k8s_pod")`, true},
		{`(jsonPayload.source.component="kubelet" OR jsonPayload.reportingComponent="kubelet")`, true},
		{`(jsonPayload.source.component="attacker" OR jsonPayload.reportingComponent="kubelet")`, false},
		{`(jsonPayload.source.component="attacker" OR jsonPayload.reportingComponent="")`, true},
		{`( resource.type="x"  OR	resource.type="y" OR log_id("cloudaudit.googleapis.com/activity") )`, true},
		{`resource.type="k8s_pod" (resource.type="x" OR resource.type="y")`, false},
		{`(resource.type="x" OR resource.type="k8s_pod") (jsonPayload.source.component="kubelet" OR jsonPayload.count="2") timestamp>="2026-11-20T10:00:00Z"`, true},
	} {
		f, err := parseFilter(tc.filter)
		if err != nil {
			t.Errorf("parseFilter(%s): %v", tc.filter, err)
			continue
		}
		if got := f.match(e); got != tc.want {
			t.Errorf("filter %s matched %v, want %v", tc.filter, got, tc.want)
		}
	}
}

// textPayload terms, as the scanner's ip-masq-agent query uses them: "="
// is exact, ":" a case-insensitive substring, and an entry whose payload
// is not text matches neither.
func TestFilterTextPayload(t *testing.T) {
	line := &loggingpb.LogEntry{
		Resource: &monitoredres.MonitoredResource{Type: "k8s_container", Labels: map[string]string{"container_name": "ip-masq-agent"}},
		Payload:  &loggingpb.LogEntry_TextPayload{TextPayload: `I0315 08:00:01.123500       1 flags.go:64] FLAG: --random-fully="true"`},
	}
	payload, _ := structpb.NewStruct(map[string]any{"message": `FLAG: --random-fully="true"`})
	event := &loggingpb.LogEntry{
		Resource: &monitoredres.MonitoredResource{Type: "k8s_container", Labels: map[string]string{"container_name": "ip-masq-agent"}},
		Payload:  &loggingpb.LogEntry_JsonPayload{JsonPayload: payload},
	}
	const agent = `resource.type="k8s_container" resource.labels.container_name="ip-masq-agent" ` +
		`(textPayload:"ip-masq-agent version:" OR textPayload:"FLAG: --random-fully=" OR textPayload:"FLAG: --to-ports=")`
	for _, tc := range []struct {
		filter      string
		line, event bool
	}{
		{agent, true, false},
		{`textPayload:"FLAG: --random-fully="`, true, false},
		{`textPayload:"flag: --RANDOM-FULLY="`, true, false},
		{`textPayload:"FLAG: --to-ports="`, false, false},
		{`textPayload="FLAG: --random-fully=\"true\""`, false, false},
		{`textPayload="I0315 08:00:01.123500       1 flags.go:64] FLAG: --random-fully=\"true\""`, true, false},
		{`textPayload=""`, false, false},
		{`textPayload:""`, true, false},
		{`resource.labels.container_name="ip-masq"`, false, false},
		{`resource.labels.container_name="ip-masq-agent" (textPayload:"version:" OR textPayload:"--to-ports=")`, false, false},
	} {
		f, err := parseFilter(tc.filter)
		if err != nil {
			t.Errorf("parseFilter(%s): %v", tc.filter, err)
			continue
		}
		if got := f.match(line); got != tc.line {
			t.Errorf("filter %s on the text line matched %v, want %v", tc.filter, got, tc.line)
		}
		if got := f.match(event); got != tc.event {
			t.Errorf("filter %s on a JSON entry matched %v, want %v", tc.filter, got, tc.event)
		}
	}
	for _, tc := range []struct{ filter, err string }{
		{`textPayload=~"FLAG"`, `operator =~ on textPayload at offset 0 is not supported: ` + subset},
		{`textPayload:FLAG`, `the value of textPayload: at offset 12 must be a double-quoted string`},
	} {
		if _, err := parseFilter(tc.filter); err == nil || err.Error() != tc.err {
			t.Errorf("parseFilter(%s) error = %v, want %s", tc.filter, err, tc.err)
		}
	}
}
