package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a GKE version, MAJOR.MINOR.PATCH-gke.N, compared numerically on
// all four parts. It is not semver: 1.28.10-gke.1000 is newer than
// 1.28.3-gke.1090000, and the gke.N build number is part of the order.
type Version struct {
	Major, Minor, Patch, Build int
}

// ErrVersion is wrapped by every version parsing error.
var ErrVersion = errors.New("not a GKE version")

// maxPart bounds each numeric part so that parsing never overflows and a
// typo such as a pasted timestamp is reported instead of compared.
const maxPart = 1<<31 - 1

// ParseVersion parses "MAJOR.MINOR.PATCH-gke.N" with an optional leading
// "v" (as Kubernetes objects print it). Aliases that only requests accept,
// such as "latest", "1.29" or "1.29.1", are errors.
func ParseVersion(s string) (Version, error) {
	if v, ok := parseVersion(s); ok {
		return v, nil
	}
	return Version{}, versionError(s)
}

// parseVersion is ParseVersion without the error: it reads s once and
// never allocates, so a caller can parse every subject's version once and
// cheaply. It accepts what the error messages of versionError describe:
// three dot-separated numbers, "-gke.", a number, each a part (parsePart).
func parseVersion(s string) (Version, bool) {
	rest := strings.TrimPrefix(s, "v")
	var n [4]int
	for i := range n {
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		v, ok := parsePart(rest[:j])
		if !ok {
			return Version{}, false
		}
		n[i], rest = v, rest[j:]
		switch {
		case i < 2 && strings.HasPrefix(rest, "."):
			rest = rest[1:]
		case i == 2 && strings.HasPrefix(rest, "-gke."):
			rest = rest[len("-gke."):]
		case i == 3 && rest == "":
		default:
			return Version{}, false
		}
	}
	return Version{n[0], n[1], n[2], n[3]}, true
}

// versionError says why s, which parseVersion rejected, is not a version.
func versionError(s string) error {
	fail := func(why string) error {
		return fmt.Errorf("%w: %q %s (want MAJOR.MINOR.PATCH-gke.N, e.g. 1.28.3-gke.1090000)", ErrVersion, s, why)
	}
	if s == "" {
		return fail("is empty")
	}
	rest := strings.TrimPrefix(s, "v")
	core, build, ok := strings.Cut(rest, "-gke.")
	if !ok {
		return fail("has no -gke.N build suffix")
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return fail("does not have three dot-separated numbers before -gke")
	}
	for _, p := range append(parts, build) {
		if _, ok := parsePart(p); !ok {
			return fail(fmt.Sprintf("has a bad number %q", p))
		}
	}
	return fail("is not a GKE version") // not reached: parseVersion accepts the rest
}

// parsePart accepts 1 to 10 ASCII digits (no sign, no spaces) up to maxPart.
func parsePart(p string) (int, bool) {
	if p == "" || len(p) > 10 {
		return 0, false
	}
	var v int64 // 10 digits cannot overflow it
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return 0, false
		}
		v = v*10 + int64(p[i]-'0')
	}
	if v > maxPart {
		return 0, false
	}
	return int(v), true
}

// MustParseVersion is ParseVersion for constants in tests and examples; it
// panics on error.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
func (v Version) Compare(w Version) int {
	if c := cmp.Compare(v.Major, w.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Minor, w.Minor); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Patch, w.Patch); c != 0 {
		return c
	}
	return cmp.Compare(v.Build, w.Build)
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool { return v.Compare(w) < 0 }

// MinorLine returns the version's minor line, e.g. 1.28.
func (v Version) MinorLine() Minor { return Minor{v.Major, v.Minor} }

// IsZero reports whether v is the zero Version (never a parsed one's value
// in practice, since GKE has no 0.0.0-gke.0).
func (v Version) IsZero() bool { return v == Version{} }

func (v Version) String() string { return string(v.appendTo(make([]byte, 0, 24))) }

// appendTo appends v.String() to b.
func (v Version) appendTo(b []byte) []byte {
	b = strconv.AppendInt(b, int64(v.Major), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(v.Minor), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(v.Patch), 10)
	b = append(b, "-gke."...)
	return strconv.AppendInt(b, int64(v.Build), 10)
}

// Minor is a Kubernetes minor line such as 1.28.
type Minor struct {
	Major, Minor int
}

// ParseMinor parses "MAJOR.MINOR", e.g. "1.28".
func ParseMinor(s string) (Minor, error) {
	maj, mi, ok := strings.Cut(s, ".")
	a, okA := parsePart(maj)
	b, okB := parsePart(mi)
	if !ok || !okA || !okB {
		return Minor{}, fmt.Errorf("not a minor version: %q (want MAJOR.MINOR, e.g. 1.28)", s)
	}
	return Minor{a, b}, nil
}

// Compare returns -1, 0 or +1 as m is older than, equal to or newer than n.
func (m Minor) Compare(n Minor) int {
	if c := cmp.Compare(m.Major, n.Major); c != 0 {
		return c
	}
	return cmp.Compare(m.Minor, n.Minor)
}

func (m Minor) String() string { return strconv.Itoa(m.Major) + "." + strconv.Itoa(m.Minor) }

// appendTo appends m.String() to b.
func (m Minor) appendTo(b []byte) []byte {
	b = strconv.AppendInt(b, int64(m.Major), 10)
	b = append(b, '.')
	return strconv.AppendInt(b, int64(m.Minor), 10)
}
