package catalog

import (
	"fmt"
	"slices"
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

// Holds evaluates the issue's configuration conditions only.
func (is *Issue) Holds(s Subject) (Outcome, string) {
	c := is.Conditions
	var undecided string
	if c.DataplaneV2 != nil {
		dpv2, known := dataplaneV2(s.Datapath)
		switch {
		case s.NoNetworkConfig:
			undecided = "has no networkConfig in the input (a trimmed dump?), so whether it runs Dataplane V2 is not known"
		case !known:
			undecided = fmt.Sprintf("reports networkConfig.datapathProvider %q, which fleetscan does not know", s.Datapath)
		case dpv2 != *c.DataplaneV2:
			return NotAffected, ""
		}
	}
	if c.Autopilot != nil && *c.Autopilot != s.Autopilot {
		return NotAffected, ""
	}
	if len(c.ImageFamilies) > 0 {
		fam := FamilyOf(s.ImageType)
		switch {
		case fam == "" && undecided != "":
			// already undecided
		case fam == "" && s.ImageType == "":
			undecided = "does not report its node image type"
		case fam == "":
			undecided = fmt.Sprintf("uses node image type %q, which fleetscan does not know", s.ImageType)
		case !slices.Contains(c.ImageFamilies, fam):
			return NotAffected, ""
		}
	}
	if undecided != "" {
		return Undecided, undecided
	}
	return Affected, ""
}

// Evaluate decides a container_api issue for one subject: every condition
// must hold and the version must be in an affected range below its fix.
// A configuration that rules the issue out wins over an unparseable
// version; otherwise anything undecidable is Undecided, never a pass.
// An issue with a support block is NotAffected here: its end of support
// depends on the scan's time (Support.EndOf).
func (is *Issue) Evaluate(s Subject) Verdict {
	if is.Support != nil {
		return Verdict{}
	}
	cond, why := is.Holds(s)
	if cond == NotAffected {
		return Verdict{}
	}
	v, err := ParseVersion(s.Version)
	if err != nil {
		if s.Version == "" {
			return Verdict{Outcome: Undecided, Reason: "does not report its version"}
		}
		return Verdict{Outcome: Undecided, Reason: fmt.Sprintf("reports version %q, which is not a GKE version", s.Version)}
	}
	affected, fixedIn, upgradeTo := is.FixFor(v)
	if !affected {
		return Verdict{}
	}
	out := Verdict{Outcome: Affected, FixedIn: fixedIn}
	// Concatenation, not fmt: this runs for every finding of a fleet.
	switch {
	case fixedIn != "":
		out.Reason = "runs " + v.String() + ", below " + fixedIn + ", the first fixed version on " + v.MinorLine().String()
	case upgradeTo != "":
		out.Reason = "runs " + v.String() + "; no fix is documented on " + v.MinorLine().String() + ", the first fixed version is " + upgradeTo
	default:
		out.Reason = "runs " + v.String() + "; no fixed version is documented"
	}
	if cond == Undecided {
		out.Outcome = Undecided
		out.Reason = out.Reason + ", an affected version, but " + why
	}
	return out
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
