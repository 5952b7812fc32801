package function

import (
	"errors"
	"testing"

	"github.com/fleetscan/fleetscan/scanner"
)

// FuzzDecode fuzzes the Pub/Sub message data of a messagePublished event:
// decode never panics, every error is a bad message (acknowledged, not
// retried), and every success is work that can run: a scope, a positive
// lookback and, for a shard, a shard number in range and valid project IDs.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"",
		"{}",
		`{"scope":"folders/456","lookback":"24h","dry_run":true}`,
		`{"scope":"projects/proj-aaaa","lookback":"7d"}`,
		`{"scan_id":"s1","scope":"organizations/123","projects":["proj-aaaa"],"shard":1,"shards":2}`,
		`{"scan_id":"s1","scope":"organizations/123","projects":["example.com:proj-bbbb"],"shard":0,"shards":1,"lookback":"90m","started_at":"2026-11-27T06:00:00Z"}`,
		`{"scan_id":"s1","projects":[],"shard":2,"shards":2}`,
		`{"scope":"organizations/acme"}`,
		`{"lookback":"-1h"}`,
		`{"scope":"organizations/1","scop":"x"}`,
		`{"scope":`,
		"scan it",
		"null",
		"[]",
	} {
		f.Add([]byte(s))
	}
	withDefault, err := LoadConfig(func(k string) string {
		return map[string]string{
			EnvBigQuery:     "my-proj.fleetscan",
			EnvRequestTopic: "projects/my-proj/topics/fleetscan-requests",
			EnvAlertTopic:   "projects/my-proj/topics/fleetscan-alerts",
			EnvStateBucket:  "my-proj-fleetscan-state",
			EnvScope:        "organizations/123",
		}[k]
	})
	if err != nil {
		f.Fatal(err)
	}
	noDefault := withDefault
	noDefault.Scope = scanner.Scope{}

	f.Fuzz(func(t *testing.T, data []byte) {
		e := pubsubEvent(t, string(data))
		for _, cfg := range []Config{withDefault, noDefault} {
			w, err := decode(e, cfg)
			if err != nil {
				if !errors.Is(err, errBadMessage) {
					t.Fatalf("decode error does not wrap errBadMessage: %v", err)
				}
				continue
			}
			if w.scope == (scanner.Scope{}) {
				t.Fatalf("decoded work has no scope: %+v", w)
			}
			if w.lookback <= 0 {
				t.Fatalf("decoded work has lookback %v", w.lookback)
			}
			s := w.shard
			if s == nil {
				continue
			}
			if s.Shard < 0 || s.Shard >= s.Shards {
				t.Fatalf("decoded shard %d of %d", s.Shard, s.Shards)
			}
			if len(s.Projects) == 0 {
				t.Fatal("decoded shard lists no projects")
			}
			for _, p := range s.Projects {
				if !scanner.ValidProjectID(p) {
					t.Fatalf("decoded shard project %q is not a project ID", p)
				}
			}
		}
	})
}
