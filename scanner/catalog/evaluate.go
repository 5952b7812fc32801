package catalog

import (
	"slices"
	"strconv"
	"strings"
)

// ImageFamily groups node image types by what matters to known issues.
type ImageFamily string

const (
	LinuxContainerd ImageFamily = "linux_containerd" // COS_CONTAINERD, UBUNTU_CONTAINERD
	LinuxDocker     ImageFamily = "linux_docker"     // COS, UBUNTU (unsupported from 1.24)
	Windows         ImageFamily = "windows"          // WINDOWS_LTSC(_CONTAINERD), WINDOWS_SAC(_CONTAINERD)
	Custom          ImageFamily = "custom"           // CUSTOM
)

var imageFamilies = []ImageFamily{LinuxContainerd, LinuxDocker, Windows, Custom}

func joinFamilies() string {
	s := make([]string, len(imageFamilies))
	for i, f := range imageFamilies {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// FamilyOf returns the family of a node image type, compared
// case-insensitively, or "" when the type is empty or not known.
func FamilyOf(imageType string) ImageFamily {
	switch strings.ToUpper(imageType) {
	case "COS_CONTAINERD", "UBUNTU_CONTAINERD":
		return LinuxContainerd
	case "COS", "UBUNTU":
		return LinuxDocker
	case "WINDOWS_LTSC_CONTAINERD", "WINDOWS_SAC_CONTAINERD", "WINDOWS_LTSC", "WINDOWS_SAC":
		return Windows
	case "CUSTOM":
		return Custom
	}
	return ""
}

// Subject is what one issue is evaluated against: a node pool, or a
// cluster's control plane or nodes.
type Subject struct {
	Version   string // as the API reports it; parsed here
	Datapath  string // networkConfig.datapathProvider; "" when absent (legacy)
	Autopilot bool
	ImageType string // node image type; "" when not reported
	// NoNetworkConfig: the cluster object has no networkConfig at all (a
	// dump trimmed by --format="json(…)"), so its dataplane is not known.
	NoNetworkConfig bool
	// Fact is what the issue's conditions.cel gave for the subject
	// (Facts.For); unused for an issue without one.
	Fact Fact
}

// dataplaneV2 decides whether a datapathProvider value is Dataplane V2;
// known is false for a value fleetscan does not know.
func dataplaneV2(datapath string) (dpv2, known bool) {
	switch datapath {
	case "ADVANCED_DATAPATH":
		return true, true
	case "", "LEGACY_DATAPATH", "DATAPATH_PROVIDER_UNSPECIFIED":
		return false, true
	}
	return false, false
}

// Outcome of evaluating an issue against a subject.
type Outcome int

const (
	NotAffected Outcome = iota
	Affected
	Undecided // a condition or the version could not be decided
)

// Verdict is the result of Evaluate. Reason and the versions are set only
// when the outcome is Affected or Undecided.
type Verdict struct {
	Outcome Outcome
	// FixedIn is the first fixed version on the subject's minor, "" when
	// none is documented.
	FixedIn string
	// Reason completes a sentence that starts with the subject, e.g.
	// "runs 1.24.9-gke.100, below 1.24.9-gke.3200, the first fix on 1.24".
	Reason string
}

// undecided says why a configuration condition could not be decided. Its
// text (appendTo) is written only for a finding, so that deciding an issue
// that turns out not to affect a subject never allocates.
type undecided uint8

const (
	decided          undecided = iota
	noNetworkConfig            // NoNetworkConfig and a dataplane_v2 condition
	unknownDatapath            // a datapathProvider fleetscan does not know
	noImageType                // no node image type, and an image_families condition
	unknownImageType           // a node image type fleetscan does not know
	celUndecided               // conditions.cel is FactUndecided: Fact.Why says why
	celUnevaluated             // conditions.cel was not evaluated: no Container API object
)

// appendTo appends the reason, which completes a sentence about s.
func (u undecided) appendTo(b []byte, s *Subject) []byte {
	switch u {
	case noNetworkConfig:
		return append(b, "has no networkConfig in the input (a trimmed dump?), so whether it runs Dataplane V2 is not known"...)
	case unknownDatapath:
		b = append(b, "reports networkConfig.datapathProvider "...)
		b = strconv.AppendQuote(b, s.Datapath)
		return append(b, ", which fleetscan does not know"...)
	case noImageType:
		return append(b, "does not report its node image type"...)
	case unknownImageType:
		b = append(b, "uses node image type "...)
		b = strconv.AppendQuote(b, s.ImageType)
		return append(b, ", which fleetscan does not know"...)
	case celUndecided:
		return append(b, s.Fact.Why...)
	case celUnevaluated:
		return append(b, "has no Container API object read for it, which the issue's condition needs"...)
	}
	return b
}

// Holds evaluates the issue's configuration conditions only. The reason is
// set when the outcome is Undecided.
func (is *Issue) Holds(s Subject) (Outcome, string) {
	out, why := is.holds(&s)
	if why == decided {
		return out, ""
	}
	return out, string(why.appendTo(nil, &s))
}

// HoldsOutcome is Holds without the reason; it never allocates.
func (is *Issue) HoldsOutcome(s Subject) Outcome {
	out, _ := is.holds(&s)
	return out
}

// holds is Holds with the reason left unwritten: decided unless the
// outcome is Undecided.
func (is *Issue) holds(s *Subject) (Outcome, undecided) {
	c := &is.Conditions
	why := decided
	if c.DataplaneV2 != nil {
		dpv2, known := dataplaneV2(s.Datapath)
		switch {
		case s.NoNetworkConfig:
			why = noNetworkConfig
		case !known:
			why = unknownDatapath
		case dpv2 != *c.DataplaneV2:
			return NotAffected, decided
		}
	}
	if c.Autopilot != nil && *c.Autopilot != s.Autopilot {
		return NotAffected, decided
	}
	if len(c.ImageFamilies) > 0 {
		fam := FamilyOf(s.ImageType)
		switch {
		case fam == "" && why != decided:
			// already undecided
		case fam == "" && s.ImageType == "":
			why = noImageType
		case fam == "":
			why = unknownImageType
		case !slices.Contains(c.ImageFamilies, fam):
			return NotAffected, decided
		}
	}
	if is.cel != nil {
		switch s.Fact.State {
		case FactFalse:
			return NotAffected, decided
		case FactUndecided:
			if why == decided {
				why = celUndecided
			}
		case FactUnevaluated:
			if why == decided {
				why = celUnevaluated
			}
		}
	}
	if why != decided {
		return Undecided, why
	}
	return Affected, decided
}

// Evaluate decides a container_api issue for one subject: every condition
// must hold and the version must be in an affected range below its fix.
// A configuration that rules the issue out wins over an unparseable
// version; otherwise anything undecidable is Undecided, never a pass.
// An issue with a support block is NotAffected here: its end of support
// depends on the scan's time (Support.EndOf).
func (is *Issue) Evaluate(s Subject) Verdict {
	v, err := ParseVersion(s.Version)
	d := is.Decide(s, v, err == nil)
	if d.Outcome == NotAffected {
		return Verdict{}
	}
	return Verdict{Outcome: d.Outcome, FixedIn: d.FixedIn, Reason: string(d.AppendReason(nil))}
}

// Decision is Evaluate's verdict with its reason left unwritten, so that a
// caller deciding many issues for many subjects allocates only for the
// findings: Decide never allocates, AppendReason writes the reason.
type Decision struct {
	Outcome Outcome
	// FixedIn is the first fixed version on the subject's minor, "" when
	// none is documented (or the version does not parse).
	FixedIn string

	subject   Subject
	version   Version
	parsed    bool      // subject.Version parsed as version
	upgradeTo string    // FixedIn, or the first fix on a later minor
	cond      undecided // why the conditions are undecided, if they are
}

// Decide is Evaluate for a version parsed once by the caller: v is
// s.Version parsed with ParseVersion, and parsed is false when that failed.
// It never allocates.
func (is *Issue) Decide(s Subject, v Version, parsed bool) Decision {
	if is.Support != nil {
		return Decision{}
	}
	// Most subjects run a minor the issue does not list: decided before
	// any condition is read.
	if parsed && !is.Covers(v) {
		return Decision{}
	}
	cond, why := is.holds(&s)
	if cond == NotAffected {
		return Decision{}
	}
	if !parsed {
		return Decision{Outcome: Undecided, subject: s}
	}
	affected, fixedIn, upgradeTo := is.FixFor(v)
	if !affected {
		return Decision{}
	}
	return Decision{Outcome: cond, FixedIn: fixedIn, subject: s, version: v, parsed: true, upgradeTo: upgradeTo, cond: why}
}

// AppendReason appends what Verdict.Reason says: it completes a sentence
// that starts with the subject. It appends nothing when d is NotAffected.
func (d *Decision) AppendReason(b []byte) []byte {
	switch {
	case d.Outcome == NotAffected:
		return b
	case !d.parsed && d.subject.Version == "":
		return append(b, "does not report its version"...)
	case !d.parsed:
		b = append(b, "reports version "...)
		b = strconv.AppendQuote(b, d.subject.Version)
		return append(b, ", which is not a GKE version"...)
	}
	b = append(b, "runs "...)
	b = d.version.appendTo(b)
	switch {
	case d.FixedIn != "":
		b = append(b, ", below "...)
		b = append(b, d.FixedIn...)
		b = append(b, ", the first fixed version on "...)
		b = d.version.MinorLine().appendTo(b)
	case d.upgradeTo != "":
		b = append(b, "; no fix is documented on "...)
		b = d.version.MinorLine().appendTo(b)
		b = append(b, ", the first fixed version is "...)
		b = append(b, d.upgradeTo...)
	default:
		b = append(b, "; no fixed version is documented"...)
	}
	if d.cond != decided {
		b = append(b, ", an affected version, but "...)
		b = d.cond.appendTo(b, &d.subject)
	}
	return b
}

// FixFor reports whether version v is in an affected range below its fix,
// the first fixed version on v's minor ("" when none is documented) and the
// version to upgrade to: that fix, or the first fix on a later minor.
func (is *Issue) FixFor(v Version) (affected bool, fixedIn, upgradeTo string) {
	i := is.rangeOf(v.MinorLine())
	if i < 0 {
		return false, "", ""
	}
	r := is.Affected[i]
	if !r.first.IsZero() && v.Less(r.first) || !r.last.IsZero() && r.last.Less(v) {
		return false, "", "" // before the patch that brought the issue, or after its last
	}
	if !r.fixed.IsZero() {
		return v.Less(r.fixed), r.FixedIn, r.FixedIn
	}
	return true, "", is.firstFixAfter(i)
}

func (is *Issue) rangeOf(m Minor) int {
	for i, r := range is.Affected {
		if m.Compare(r.from) >= 0 && m.Compare(r.to) <= 0 {
			return i
		}
	}
	return -1
}

func (is *Issue) firstFixAfter(i int) string {
	for _, r := range is.Affected[i+1:] {
		if r.FixedIn != "" {
			return r.FixedIn
		}
	}
	return ""
}
