package catalog

import (
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func embeddedSupport(t *testing.T) (*Issue, *Support) {
	t.Helper()
	cat, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	is := cat.EndOfSupport()
	if is == nil || is.Support == nil {
		t.Fatal("EndOfSupport() = nil, want GKE-END-OF-SUPPORT")
	}
	return is, is.Support
}

// The embedded schedule lists every minor from 1.24 to its newest one, with
// dates that only move forward.
func TestSupportSchedule(t *testing.T) {
	is, s := embeddedSupport(t)
	if is.ID != "GKE-END-OF-SUPPORT" || is.DecidedBy != ContainerAPI || is.Scope != ScopeNodePool || is.Severity != High {
		t.Errorf("EndOfSupport() = %s %s %s %s, want GKE-END-OF-SUPPORT container_api node_pool HIGH", is.ID, is.DecidedBy, is.Scope, is.Severity)
	}
	if s.Source == "" {
		t.Error("support.source is empty")
	}
	if s.WarnDays != 90 || s.Warn() != 90*24*time.Hour {
		t.Errorf("WarnDays = %d, Warn() = %v; want 90 days as DESIGN.md says", s.WarnDays, s.Warn())
	}
	oldest, newest := s.Range()
	if oldest != (Minor{1, 24}) {
		t.Errorf("oldest listed minor = %s, want 1.24", oldest)
	}
	if newest.Compare(Minor{1, 36}) < 0 {
		t.Errorf("newest listed minor = %s, want 1.36 or later", newest)
	}
	want := Minor{1, 24}
	var prev *SupportMinor
	var prevExtended *SupportMinor
	for i := range s.Minors {
		sm := &s.Minors[i]
		if sm.Line() != want {
			t.Fatalf("minors[%d] = %s, want %s: every minor from 1.24 up, in order", i, sm.Line(), want)
		}
		want.Minor++
		if sm.Line().String() != sm.Minor {
			t.Errorf("minors[%d]: minor %q is written %s", i, sm.Minor, sm.Line())
		}
		if sm.Standard().IsZero() {
			t.Errorf("%s: no end of standard support", sm.Minor)
		}
		if prev != nil && !sm.Standard().After(prev.Standard()) {
			t.Errorf("%s: end of standard support %s is not after %s's %s", sm.Minor, sm.EndOfStandard, prev.Minor, prev.EndOfStandard)
		}
		prev = sm
		if sm.Line().Compare(Minor{1, 27}) < 0 && sm.EndOfExtended != "" {
			t.Errorf("%s: end of extended support %s, but extended support starts with 1.27", sm.Minor, sm.EndOfExtended)
		}
		if sm.Extended().IsZero() {
			continue
		}
		if sm.Extended().Before(sm.Standard()) {
			t.Errorf("%s: end of extended support %s is before its end of standard support %s", sm.Minor, sm.EndOfExtended, sm.EndOfStandard)
		}
		if prevExtended != nil && !sm.Extended().After(prevExtended.Extended()) {
			t.Errorf("%s: end of extended support %s is not after %s's %s", sm.Minor, sm.EndOfExtended, prevExtended.Minor, prevExtended.EndOfExtended)
		}
		prevExtended = sm
	}
	if q := s.Lookup(Minor{1, 31}); q == nil || !q.Estimate || q.EndOfExtended != "2026-12-31" {
		t.Errorf("1.31 = %+v, want the 2026-Q4 estimate of its extended support as 2026-12-31, estimate: true", q)
	}
}

// EndOf on the day before, the day of and the day after each date of the
// embedded file, read back from the file's own strings: past exactly when
// !now.Before(end).
func TestSupportEndOf(t *testing.T) {
	_, s := embeddedSupport(t)
	day := 24 * time.Hour
	type check struct {
		name     string
		m        Minor
		extended bool
		date     string // from the file; the end is its UTC midnight
	}
	var checks []check
	for _, sm := range s.Minors {
		m, err := ParseMinor(sm.Minor)
		if err != nil {
			t.Fatal(err)
		}
		checks = append(checks, check{sm.Minor + " standard", m, false, sm.EndOfStandard})
		if sm.EndOfExtended != "" {
			checks = append(checks, check{sm.Minor + " extended", m, true, sm.EndOfExtended})
		} else {
			// No extended date: the end of standard support applies.
			checks = append(checks, check{sm.Minor + " extended falls back to standard", m, true, sm.EndOfStandard})
		}
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			want, err := time.Parse("2006-01-02", c.date)
			if err != nil {
				t.Fatal(err)
			}
			end, listing := s.EndOf(c.m, c.extended)
			if !end.Equal(want) || listing != Listed || end.Location() != time.UTC {
				t.Fatalf("EndOf(%s, %v) = %v, %v; want %v, Listed", c.m, c.extended, end, listing, want)
			}
			for _, tc := range []struct {
				name string
				now  time.Time
				past bool
			}{
				{"day before", want.Add(-day), false},
				{"last instant before", want.Add(-time.Nanosecond), false},
				{"day of, midnight", want, true},
				{"day of, noon in UTC-8", time.Date(want.Year(), want.Month(), want.Day(), 12, 0, 0, 0, time.FixedZone("PST", -8*3600)), true},
				{"day after", want.Add(day), true},
			} {
				if past := !tc.now.Before(end); past != tc.past {
					t.Errorf("%s (%v): past = %v, want %v", tc.name, tc.now, past, tc.past)
				}
			}
		})
	}

	oldest, newest := s.Range()
	for _, tc := range []struct {
		m    Minor
		want SupportListing
	}{
		{Minor{oldest.Major, oldest.Minor - 1}, OlderThanListed},
		{Minor{1, 0}, OlderThanListed},
		{Minor{0, 99}, OlderThanListed},
		{Minor{newest.Major, newest.Minor + 1}, NewerThanListed},
		{Minor{newest.Major + 1, 0}, NewerThanListed},
	} {
		for _, extended := range []bool{false, true} {
			if end, listing := s.EndOf(tc.m, extended); !end.IsZero() || listing != tc.want {
				t.Errorf("EndOf(%s, %v) = %v, %v; want the zero time, %v", tc.m, extended, end, listing, tc.want)
			}
		}
		if sm := s.Lookup(tc.m); sm != nil {
			t.Errorf("Lookup(%s) = %+v, want nil", tc.m, sm)
		}
	}
}

// A schedule of its own, so the extended fallback is tested whatever the
// embedded file lists.
func TestSupportEndOfFallback(t *testing.T) {
	is, err := Decode("TEST-EOS.yaml", []byte(`id: TEST-EOS
category: Version support
title: t
severity: HIGH
summary: s
scope: node_pool
decided_by: container_api
remediation: r
docs_url: https://example.com/docs
support:
  source: a test
  warn_days: 30
  minors:
    - minor: "1.40"
      end_of_standard: 2030-01-31
      end_of_extended: 2030-11-30
    - minor: "1.41"
      end_of_standard: 2030-05-31
      end_of_extended: ""
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate([]*Issue{is}); err != nil {
		t.Fatal(err)
	}
	s := is.Support
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		m        Minor
		extended bool
		want     time.Time
		listing  SupportListing
	}{
		{Minor{1, 40}, false, date(2030, 1, 31), Listed},
		{Minor{1, 40}, true, date(2030, 11, 30), Listed},
		{Minor{1, 41}, false, date(2030, 5, 31), Listed},
		{Minor{1, 41}, true, date(2030, 5, 31), Listed}, // no extended date: standard
		{Minor{1, 39}, true, time.Time{}, OlderThanListed},
		{Minor{1, 42}, false, time.Time{}, NewerThanListed},
	} {
		if end, listing := s.EndOf(tc.m, tc.extended); !end.Equal(tc.want) || listing != tc.listing {
			t.Errorf("EndOf(%s, %v) = %v, %v; want %v, %v", tc.m, tc.extended, end, listing, tc.want, tc.listing)
		}
	}
	if got := s.Lookup(Minor{1, 41}).Extended(); !got.IsZero() {
		t.Errorf("1.41 Extended() = %v, want the zero time (none listed)", got)
	}
	if s.Warn() != 30*24*time.Hour {
		t.Errorf("Warn() = %v, want 720h", s.Warn())
	}
	// Evaluate never decides an end-of-support issue: it needs the scan's time.
	if v := is.Evaluate(Subject{Version: "not a version"}); v.Outcome != NotAffected {
		t.Errorf("Evaluate = %+v, want NotAffected", v)
	}
	for l, want := range map[SupportListing]string{Listed: "listed", OlderThanListed: "older than listed", NewerThanListed: "newer than listed", 7: "SupportListing(7)"} {
		if l.String() != want {
			t.Errorf("SupportListing(%d).String() = %q, want %q", int(l), l.String(), want)
		}
	}
}

func TestEndOfSupportAbsent(t *testing.T) {
	cat, err := Load(fstest.MapFS{"DPV2-IPAM-LEAK.yaml": {Data: []byte(readIssue(t, "DPV2-IPAM-LEAK"))}})
	if err != nil {
		t.Fatal(err)
	}
	if is := cat.EndOfSupport(); is != nil {
		t.Errorf("EndOfSupport() = %s, want nil", is.ID)
	}
}

// --catalog DIR may replace the schedule (same ID) but not add a second one.
func TestSupportLoadDir(t *testing.T) {
	base, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	own := readIssue(t, "GKE-END-OF-SUPPORT")
	replaced := strings.Replace(own, "warn_days: 90", "warn_days: 30", 1)
	dir := t.TempDir()
	write(t, dir, "GKE-END-OF-SUPPORT.yaml", replaced)
	cat, err := LoadDir(dir, base)
	if err != nil {
		t.Fatalf("LoadDir replacing the schedule: %v", err)
	}
	if got := cat.EndOfSupport().Support.WarnDays; got != 30 {
		t.Errorf("replaced schedule warn_days = %d, want 30", got)
	}

	dir = t.TempDir()
	write(t, dir, "ACME-EOS.yaml", strings.Replace(own, "id: GKE-END-OF-SUPPORT", "id: ACME-EOS", 1))
	_, err = LoadDir(dir, base)
	want := "GKE-END-OF-SUPPORT.yaml: a support block is allowed in one issue only, and " + filepath.Join(dir, "ACME-EOS.yaml") + " has one too"
	if err == nil || err.Error() != want {
		t.Errorf("LoadDir adding a second schedule: error %v, want %s", err, want)
	}
}
