package catalog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Support is an issue's end-of-support schedule (issue GKE-END-OF-SUPPORT):
// the last day of support of each GKE minor version, as the GKE release
// schedule gives it. An issue with a support block is decided by
// container_api on the control plane and on each node pool, and has no
// affected ranges, conditions, compares, kubernetes check or symptom.
type Support struct {
	// Source quotes where the dates come from and when they were read.
	Source string `yaml:"source"`
	// WarnDays is how long before the end of support a minor is reported
	// as nearing it (MEDIUM); from the end itself it is past (the issue's
	// severity).
	WarnDays int `yaml:"warn_days"`
	// Minors lists every minor from the oldest to the newest listed, in
	// ascending order with no gaps.
	Minors []SupportMinor `yaml:"minors"`
}

// SupportMinor is one minor's end of support.
type SupportMinor struct {
	Minor string `yaml:"minor"` // "1.30"
	// EndOfStandard is the end of standard support, YYYY-MM-DD.
	EndOfStandard string `yaml:"end_of_standard"`
	// EndOfExtended is the end of extended support (the EXTENDED release
	// channel), YYYY-MM-DD, or "" when the schedule gives none.
	EndOfExtended string `yaml:"end_of_extended"`
	// Estimate marks a minor one of whose dates the schedule gives only as
	// a quarter ("2026-Q4"); the file then has the quarter's last day.
	Estimate bool `yaml:"estimate"`

	// parsed by Validate
	minor              Minor
	standard, extended time.Time // extended is zero when none is listed
}

// Line returns the minor, parsed.
func (sm *SupportMinor) Line() Minor { return sm.minor }

// Standard returns the end of standard support: UTC midnight at the start
// of the day EndOfStandard gives.
func (sm *SupportMinor) Standard() time.Time { return sm.standard }

// Extended returns the end of extended support, like Standard, or the zero
// time when the schedule lists none.
func (sm *SupportMinor) Extended() time.Time { return sm.extended }

// SupportListing says whether a minor is in the schedule.
type SupportListing int

const (
	// Listed: the minor is in the schedule.
	Listed SupportListing = iota
	// OlderThanListed: the minor is older than the oldest listed one.
	OlderThanListed
	// NewerThanListed: the minor is newer than the newest listed one.
	NewerThanListed
)

func (l SupportListing) String() string {
	switch l {
	case Listed:
		return "listed"
	case OlderThanListed:
		return "older than listed"
	case NewerThanListed:
		return "newer than listed"
	}
	return "SupportListing(" + strconv.Itoa(int(l)) + ")"
}

// EndOf returns the end of support of minor m: the end of standard support,
// or with extended (a cluster on the EXTENDED release channel) the end of
// extended support. The end is UTC midnight at the start of the day the
// schedule gives, so support is over at now exactly when !now.Before(end):
// on that day itself it is past. The caller compares, and warns too: the
// end is near while now is before it and end.Sub(now) <= Warn().
//
// listing is Listed when m is in the schedule. With extended, a listed
// minor without an end of extended support (before 1.27 there is none, and
// for the newest minors the schedule may not give it yet) returns its end
// of standard support; SupportMinor.Extended tells the two apart. A minor
// older than the oldest listed returns the zero time and OlderThanListed;
// one newer than the newest listed, the zero time and NewerThanListed.
//
// Only a validated Support (of a loaded catalog) has parsed dates.
func (s *Support) EndOf(m Minor, extended bool) (end time.Time, listing SupportListing) {
	sm, listing := s.lookup(m)
	if sm == nil {
		return time.Time{}, listing
	}
	if extended && !sm.extended.IsZero() {
		return sm.extended, Listed
	}
	return sm.standard, Listed
}

// Lookup returns minor m's entry, or nil when m is not listed.
func (s *Support) Lookup(m Minor) *SupportMinor {
	sm, _ := s.lookup(m)
	return sm
}

func (s *Support) lookup(m Minor) (*SupportMinor, SupportListing) {
	if len(s.Minors) == 0 {
		return nil, NewerThanListed
	}
	if m.Compare(s.Minors[0].minor) < 0 {
		return nil, OlderThanListed
	}
	for i := range s.Minors {
		if s.Minors[i].minor == m {
			return &s.Minors[i], Listed
		}
	}
	return nil, NewerThanListed
}

// Range returns the oldest and the newest listed minors.
func (s *Support) Range() (oldest, newest Minor) {
	if len(s.Minors) == 0 {
		return Minor{}, Minor{}
	}
	return s.Minors[0].minor, s.Minors[len(s.Minors)-1].minor
}

// Warn is WarnDays as a duration.
func (s *Support) Warn() time.Duration {
	return time.Duration(s.WarnDays) * 24 * time.Hour
}

// EndOfSupport returns the issue with a support block, or nil. Validation
// allows at most one.
func (c *Catalog) EndOfSupport() *Issue {
	for _, is := range c.Issues {
		if is.Support != nil {
			return is
		}
	}
	return nil
}

// parseDate reads YYYY-MM-DD as UTC midnight; time.Parse rejects impossible
// days such as 2025-02-30.
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (want YYYY-MM-DD, e.g. 2026-04-11)", s)
	}
	return t, nil
}

// validate parses the schedule in place and checks it.
func (s *Support) validate() []string {
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if strings.TrimSpace(s.Source) == "" {
		bad("support.source is missing: quote the schedule the dates come from and when it was read")
	}
	if s.WarnDays < 1 || s.WarnDays > 365 {
		bad("support.warn_days %d is not between 1 and 365", s.WarnDays)
	}
	if len(s.Minors) == 0 {
		bad("support.minors lists no minor versions")
	}
	prev := -1 // index of the last minor that parsed
	for i := range s.Minors {
		sm := &s.Minors[i]
		at := fmt.Sprintf("support.minors[%d]", i)
		var err error
		if sm.minor, err = ParseMinor(sm.Minor); err != nil {
			if sm.Minor == "" {
				bad("%s: minor is missing", at)
			} else {
				bad("%s: %v", at, err)
			}
		} else {
			at += " (" + sm.Minor + ")"
			if prev >= 0 {
				q := s.Minors[prev].minor
				next := Minor{q.Major, q.Minor + 1}
				switch c := sm.minor.Compare(q); {
				case c == 0:
					bad("%s: minor %s is listed twice (also support.minors[%d])", at, sm.minor, prev)
				case c < 0:
					bad("%s: minor %s comes after %s; list minors in ascending order", at, sm.minor, q)
				case sm.minor != next:
					bad("%s: minor %s follows %s, so %s is missing; list every minor with no gaps", at, sm.minor, q, next)
				}
			}
			prev = i
		}
		sm.standard, sm.extended = time.Time{}, time.Time{}
		if sm.EndOfStandard == "" {
			bad("%s: end_of_standard is missing", at)
		} else if sm.standard, err = parseDate(sm.EndOfStandard); err != nil {
			bad("%s: end_of_standard %v", at, err)
		}
		if sm.EndOfExtended != "" {
			if sm.extended, err = parseDate(sm.EndOfExtended); err != nil {
				bad("%s: end_of_extended %v", at, err)
			} else if !sm.standard.IsZero() && sm.extended.Before(sm.standard) {
				bad("%s: end_of_extended %s is before end_of_standard %s", at, sm.EndOfExtended, sm.EndOfStandard)
			}
		}
	}
	return p
}
