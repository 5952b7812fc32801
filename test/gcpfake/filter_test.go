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
		{`resource.type="a" AND resource.type="b"`, `bare word "AND" at offset 18 is not supported (no AND, NOT, global restrictions, or OR outside parentheses): ` + subset},
		{`NOT resource.type="a"`, `bare word "NOT" at offset 0 is not supported (no AND, NOT, global restrictions, or OR outside parentheses): ` + subset},
		{`"hello"`, `global restriction "hello" at offset 0 is not supported: ` + subset},
		{`resource.type="a" OR resource.type="b"`, `bare word "OR" at offset 18 is not supported (no AND, NOT, global restrictions, or OR outside parentheses): ` + subset},
		{`(resource.type="a" resource.type="b")`, `want OR or ')' at offset 19, found "resource.type=\"b\")": inside parentheses gcpfake supports only terms joined by OR`},
		{`(resource.type="a" AND resource.type="b")`, `want OR or ')' at offset 19, found "AND resource.type=\"b…": inside parentheses gcpfake supports only terms joined by OR`},
		{`(resource.type="a" OR (resource.type="b"))`, `nested parenthesis at offset 22 is not supported: ` + subset},
		{`(resource.type="a" OR resource.type="b"`, `unclosed parenthesis at offset 0`},
		{`(resource.type="a" OR`, `unclosed parenthesis at offset 0`},
		{`(resource.type="a" OR )`, `unmatched ')' at offset 22`},
		{`(OR resource.type="a")`, `bare word "OR" at offset 1 is not supported (no AND, NOT, global restrictions, or OR outside parentheses): ` + subset},
		{`(resource.type="a" ORresource.type="b")`, `want OR or ')' at offset 19, found "ORresource.type=\"b\")": inside parentheses gcpfake supports only terms joined by OR`},
		{`()`, `empty parentheses at offset 0`},
		{`resource.type="a")`, `want whitespace between terms at offset 17, found ")"`},
		{`resource.type="a" )`, `unmatched ')' at offset 18`},
		{`-resource.type="a"`, `negation at offset 0 is not supported: ` + subset},
		{`resource.type=a`, `the value of resource.type= at offset 14 must be a double-quoted string`},
		{`resource.type!="a"`, `operator != on resource.type at offset 0 is not supported: ` + subset},
		{`jsonPayload.reason=~"a"`, `operator =~ on jsonPayload.reason at offset 0 is not supported: ` + subset},
		{`timestamp="2026-01-01T00:00:00Z"`, `operator = on timestamp at offset 0 is not supported: ` + subset},
		{`jsonPayload.a.b=~"x"`, `operator =~ on jsonPayload.a.b at offset 0 is not supported: ` + subset},
		{`labels.a="x"`, `field labels.a at offset 0 is not supported: gcpfake knows only log_id(), resource.type, resource.labels.KEY, jsonPayload.FIELD and timestamp`},
		{`logName:"x"`, `field logName at offset 0 is not supported: gcpfake knows only log_id(), resource.type, resource.labels.KEY, jsonPayload.FIELD and timestamp`},
		{`resource.type="a"resource.type="b"`, `want whitespace between terms at offset 17, found "resource.type=\"b\""`},
		{`resource.type="a\nb"`, `unsupported escape \n at offset 16 (gcpfake supports only \\ and \")`},
		{`resource.type="a\`, `unterminated string starting at offset 14`},
		{`resource.type="a`, `unterminated string starting at offset 14`},
		{`resource.="a"`, `malformed field name "resource." at offset 0`},
		{`search("a")`, `function search at offset 0 is not supported: ` + subset},
		{`log_id(events)`, `log_id at offset 0 takes one double-quoted string`},
		{`log_id("events"`, `log_id at offset 0 takes one double-quoted string and a closing parenthesis`},
		{`resource.type`, `bare word "resource.type" at offset 0 is not supported (no AND, NOT, global restrictions, or OR outside parentheses): ` + subset},
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
