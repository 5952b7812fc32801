package catalog

import (
	"errors"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want Version
	}{
		{"1.27.3-gke.100", Version{1, 27, 3, 100}},
		{"1.29.1-gke.1589017", Version{1, 29, 1, 1589017}},
		{"v1.28.3-gke.1090000", Version{1, 28, 3, 1090000}},
		{"1.22.17-gke.3100", Version{1, 22, 17, 3100}},
		{"1.7.11-gke.1", Version{1, 7, 11, 1}},
		{"2.0.0-gke.0", Version{2, 0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseVersion(tc.in)
			if err != nil {
				t.Fatalf("ParseVersion(%q) error: %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseVersion(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if tc.in[0] != 'v' && got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestParseVersionErrors(t *testing.T) {
	const want = " (want MAJOR.MINOR.PATCH-gke.N, e.g. 1.28.3-gke.1090000)"
	tests := []struct{ in, msg string }{
		{"", `not a GKE version: "" is empty`},
		{"latest", `not a GKE version: "latest" has no -gke.N build suffix`},
		{"-", `not a GKE version: "-" has no -gke.N build suffix`},
		{"1.29", `not a GKE version: "1.29" has no -gke.N build suffix`},
		{"1.29.1", `not a GKE version: "1.29.1" has no -gke.N build suffix`},
		{"1.29-gke.100", `not a GKE version: "1.29-gke.100" does not have three dot-separated numbers before -gke`},
		{"1.29.1.4-gke.100", `not a GKE version: "1.29.1.4-gke.100" does not have three dot-separated numbers before -gke`},
		{"1.29.x-gke.100", `not a GKE version: "1.29.x-gke.100" has a bad number "x"`},
		{"1.29.1-gke.", `not a GKE version: "1.29.1-gke." has a bad number ""`},
		{"1.29.1-gke.-5", `not a GKE version: "1.29.1-gke.-5" has a bad number "-5"`},
		{"1.29.1-gke.+5", `not a GKE version: "1.29.1-gke.+5" has a bad number "+5"`},
		{" 1.29.1-gke.5", `not a GKE version: " 1.29.1-gke.5" has a bad number " 1"`},
		{"1.29.1-gke.99999999999", `not a GKE version: "1.29.1-gke.99999999999" has a bad number "99999999999"`},
		{"1.29.1-gke.2147483648", `not a GKE version: "1.29.1-gke.2147483648" has a bad number "2147483648"`},
		{"vv1.29.1-gke.5", `not a GKE version: "vv1.29.1-gke.5" has a bad number "v1"`},
		{"1.29.1-gke.5-extra", `not a GKE version: "1.29.1-gke.5-extra" has a bad number "5-extra"`},
		{"1.29.1-eks.5", `not a GKE version: "1.29.1-eks.5" has no -gke.N build suffix`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseVersion(tc.in)
			if err == nil {
				t.Fatalf("ParseVersion(%q) succeeded, want error", tc.in)
			}
			if got := err.Error(); got != tc.msg+want {
				t.Errorf("ParseVersion(%q) error = %q, want %q", tc.in, got, tc.msg+want)
			}
			if !errors.Is(err, ErrVersion) {
				t.Errorf("ParseVersion(%q) error does not wrap ErrVersion", tc.in)
			}
		})
	}
}

// Every boundary that the catalog's fixed versions create, both sides.
func TestCompareBoundaries(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.22.17-gke.3099", "1.22.17-gke.3100", -1},
		{"1.22.17-gke.3100", "1.22.17-gke.3100", 0},
		{"1.22.17-gke.3101", "1.22.17-gke.3100", 1},
		{"1.23.16-gke.199", "1.23.16-gke.200", -1},
		{"1.24.9-gke.3199", "1.24.9-gke.3200", -1},
		{"1.25.6-gke.199", "1.25.6-gke.200", -1},
		{"1.28.3-gke.1089999", "1.28.3-gke.1090000", -1},
		{"1.27.11-gke.1096999", "1.27.11-gke.1097000", -1},
		// numeric, not lexical, on every part
		{"1.28.10-gke.1000", "1.28.3-gke.1090000", 1},
		{"1.28.3-gke.1090000", "1.28.10-gke.1000", -1},
		{"1.9.0-gke.1", "1.10.0-gke.1", -1},
		{"1.27.11-gke.999", "1.27.11-gke.1000", -1},
		{"2.0.0-gke.0", "1.99.99-gke.9999999", 1},
		{"v1.28.3-gke.1090000", "1.28.3-gke.1090000", 0},
		// the build number counts even when it is larger on the older patch
		{"1.28.2-gke.9999999", "1.28.3-gke.1", -1},
	}
	for _, tc := range tests {
		t.Run(tc.a+"_vs_"+tc.b, func(t *testing.T) {
			a, b := MustParseVersion(tc.a), MustParseVersion(tc.b)
			if got := a.Compare(b); got != tc.want {
				t.Errorf("Compare(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
			if got := b.Compare(a); got != -tc.want {
				t.Errorf("Compare(%s, %s) = %d, want %d", tc.b, tc.a, got, -tc.want)
			}
			if got := a.Less(b); got != (tc.want < 0) {
				t.Errorf("Less(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want < 0)
			}
		})
	}
}

func TestParseMinor(t *testing.T) {
	if got, err := ParseMinor("1.28"); err != nil || got != (Minor{1, 28}) {
		t.Errorf("ParseMinor(1.28) = %v, %v", got, err)
	}
	for _, in := range []string{"", "1", "1.", "1.28.3", "a.b", "1.-2"} {
		if _, err := ParseMinor(in); err == nil {
			t.Errorf("ParseMinor(%q) succeeded, want error", in)
		}
	}
}

// FuzzParseVersion: parsing never panics, a parsed version round-trips, and
// Compare is a total order (antisymmetric, transitive, consistent with ==).
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.28.3-gke.1090000", "v1.22.17-gke.3100", "1.28.10-gke.1000", "latest", "1.29", "", "1.2.3-gke.", "9.9.9-gke.2147483647"} {
		f.Add(s, "1.28.3-gke.1090000", "1.27.11-gke.1097000")
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		va, errA := ParseVersion(a)
		vb, errB := ParseVersion(b)
		vc, errC := ParseVersion(c)
		if errA == nil {
			again, err := ParseVersion(va.String())
			if err != nil || again != va {
				t.Fatalf("round trip of %q: %v, %v", a, again, err)
			}
		}
		if errA != nil || errB != nil {
			return
		}
		ab, ba := va.Compare(vb), vb.Compare(va)
		if ab != -ba {
			t.Fatalf("Compare not antisymmetric: %v %v: %d %d", va, vb, ab, ba)
		}
		if (ab == 0) != (va == vb) {
			t.Fatalf("Compare(%v, %v) = %d but equality is %v", va, vb, ab, va == vb)
		}
		if errC != nil {
			return
		}
		if ab <= 0 && vb.Compare(vc) <= 0 && va.Compare(vc) > 0 {
			t.Fatalf("Compare not transitive: %v <= %v <= %v but %v > %v", va, vb, vc, va, vc)
		}
	})
}
