package catalog

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEvaluateBoundaries(t *testing.T) {
	cat, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	dpv2 := func(v string) Subject {
		return Subject{Version: v, Datapath: "ADVANCED_DATAPATH", ImageType: "COS_CONTAINERD"}
	}
	tests := []struct {
		issue, name string
		s           Subject
		want        Verdict
	}{
		// DPV2-IPAM-LEAK: 1.22-1.25, each below its own fix, containerd only.
		{"DPV2-IPAM-LEAK", "1.21 is below the range", dpv2("1.21.14-gke.100"), Verdict{}},
		{"DPV2-IPAM-LEAK", "1.22 one build below the fix", dpv2("1.22.17-gke.3099"),
			Verdict{Affected, "1.22.17-gke.3100", "runs 1.22.17-gke.3099, below 1.22.17-gke.3100, the first fixed version on 1.22"}},
		{"DPV2-IPAM-LEAK", "1.22 at the fix", dpv2("1.22.17-gke.3100"), Verdict{}},
		{"DPV2-IPAM-LEAK", "1.23 one build below", dpv2("1.23.16-gke.199"),
			Verdict{Affected, "1.23.16-gke.200", "runs 1.23.16-gke.199, below 1.23.16-gke.200, the first fixed version on 1.23"}},
		{"DPV2-IPAM-LEAK", "1.23 at the fix", dpv2("1.23.16-gke.200"), Verdict{}},
		{"DPV2-IPAM-LEAK", "1.24 below", dpv2("1.24.9-gke.3199"),
			Verdict{Affected, "1.24.9-gke.3200", "runs 1.24.9-gke.3199, below 1.24.9-gke.3200, the first fixed version on 1.24"}},
		{"DPV2-IPAM-LEAK", "1.24 later patch, small build", dpv2("1.24.10-gke.100"), Verdict{}},
		{"DPV2-IPAM-LEAK", "1.25 below", dpv2("v1.25.6-gke.199"),
			Verdict{Affected, "1.25.6-gke.200", "runs 1.25.6-gke.199, below 1.25.6-gke.200, the first fixed version on 1.25"}},
		{"DPV2-IPAM-LEAK", "1.25 at the fix", dpv2("1.25.6-gke.200"), Verdict{}},
		{"DPV2-IPAM-LEAK", "1.26 is above the range", dpv2("1.26.1-gke.1"), Verdict{}},
		{"DPV2-IPAM-LEAK", "legacy dataplane", Subject{Version: "1.24.1-gke.1", ImageType: "COS_CONTAINERD"}, Verdict{}},
		{"DPV2-IPAM-LEAK", "Ubuntu containerd, case-insensitive", Subject{Version: "1.24.1-gke.1", Datapath: "ADVANCED_DATAPATH", ImageType: "ubuntu_containerd"},
			Verdict{Affected, "1.24.9-gke.3200", "runs 1.24.1-gke.1, below 1.24.9-gke.3200, the first fixed version on 1.24"}},
		{"DPV2-IPAM-LEAK", "Windows containerd", Subject{Version: "1.24.1-gke.1", Datapath: "ADVANCED_DATAPATH", ImageType: "WINDOWS_LTSC_CONTAINERD"}, Verdict{}},
		{"DPV2-IPAM-LEAK", "Docker COS", Subject{Version: "1.22.1-gke.1", Datapath: "ADVANCED_DATAPATH", ImageType: "COS"}, Verdict{}},
		{"DPV2-IPAM-LEAK", "no image type", Subject{Version: "1.24.1-gke.1", Datapath: "ADVANCED_DATAPATH"},
			Verdict{Undecided, "1.24.9-gke.3200", "runs 1.24.1-gke.1, below 1.24.9-gke.3200, the first fixed version on 1.24, an affected version, but does not report its node image type"}},
		{"DPV2-IPAM-LEAK", "unknown image type", Subject{Version: "1.24.1-gke.1", Datapath: "ADVANCED_DATAPATH", ImageType: "FANCY_OS"},
			Verdict{Undecided, "1.24.9-gke.3200", `runs 1.24.1-gke.1, below 1.24.9-gke.3200, the first fixed version on 1.24, an affected version, but uses node image type "FANCY_OS", which fleetscan does not know`}},
		{"DPV2-IPAM-LEAK", "no image type but not affected version", Subject{Version: "1.30.1-gke.1", Datapath: "ADVANCED_DATAPATH"}, Verdict{}},
		{"DPV2-IPAM-LEAK", "alias version", dpv2("1.24"), Verdict{Outcome: Undecided, Reason: `reports version "1.24", which is not a GKE version`}},
		{"DPV2-IPAM-LEAK", "empty version", dpv2(""), Verdict{Outcome: Undecided, Reason: "does not report its version"}},
		{"DPV2-IPAM-LEAK", "bad version on legacy dataplane is a pass", Subject{Version: "latest", ImageType: "COS_CONTAINERD"}, Verdict{}},
		{"DPV2-IPAM-LEAK", "bad version on Windows is a pass", Subject{Version: "latest", Datapath: "ADVANCED_DATAPATH", ImageType: "WINDOWS_SAC"}, Verdict{}},

		// DPV2-NETPOL-CONNTRACK-SELF: everything below 1.28.3-gke.1090000.
		{"DPV2-NETPOL-CONNTRACK-SELF", "1.28 one below", dpv2("1.28.3-gke.1089999"),
			Verdict{Affected, "1.28.3-gke.1090000", "runs 1.28.3-gke.1089999, below 1.28.3-gke.1090000, the first fixed version on 1.28"}},
		{"DPV2-NETPOL-CONNTRACK-SELF", "1.28 at the fix", dpv2("1.28.3-gke.1090000"), Verdict{}},
		{"DPV2-NETPOL-CONNTRACK-SELF", "1.28.10 is newer than 1.28.3", dpv2("1.28.10-gke.1000"), Verdict{}},
		{"DPV2-NETPOL-CONNTRACK-SELF", "1.27 has no fix", dpv2("1.27.11-gke.1097000"),
			Verdict{Affected, "", "runs 1.27.11-gke.1097000; no fix is documented on 1.27, the first fixed version is 1.28.3-gke.1090000"}},
		{"DPV2-NETPOL-CONNTRACK-SELF", "1.29", dpv2("1.29.1-gke.1589017"), Verdict{}},

		// DPV2-HAIRPIN-CONNTRACK-LEAK: 1.26 and older, 1.27 and 1.28 below their fixes.
		{"DPV2-HAIRPIN-CONNTRACK-LEAK", "1.26", dpv2("1.26.15-gke.9999999"),
			Verdict{Affected, "", "runs 1.26.15-gke.9999999; no fix is documented on 1.26, the first fixed version is 1.27.11-gke.1097000"}},
		{"DPV2-HAIRPIN-CONNTRACK-LEAK", "1.27 one below", dpv2("1.27.11-gke.1096999"),
			Verdict{Affected, "1.27.11-gke.1097000", "runs 1.27.11-gke.1096999, below 1.27.11-gke.1097000, the first fixed version on 1.27"}},
		{"DPV2-HAIRPIN-CONNTRACK-LEAK", "1.27 at the fix", dpv2("1.27.11-gke.1097000"), Verdict{}},
		{"DPV2-HAIRPIN-CONNTRACK-LEAK", "1.28 one below", dpv2("1.28.3-gke.1089999"),
			Verdict{Affected, "1.28.3-gke.1090000", "runs 1.28.3-gke.1089999, below 1.28.3-gke.1090000, the first fixed version on 1.28"}},
		{"DPV2-HAIRPIN-CONNTRACK-LEAK", "1.28 at the fix", dpv2("1.28.3-gke.1090000"), Verdict{}},
		{"DPV2-HAIRPIN-CONNTRACK-LEAK", "legacy", Subject{Version: "1.20.1-gke.1"}, Verdict{}},
		{"DPV2-HAIRPIN-CONNTRACK-LEAK", "LEGACY_DATAPATH", Subject{Version: "1.20.1-gke.1", Datapath: "LEGACY_DATAPATH"}, Verdict{}},
		{"DPV2-HAIRPIN-CONNTRACK-LEAK", "unknown datapath is undecided, not legacy", Subject{Version: "1.26.1-gke.1", Datapath: "FUTURE_DATAPATH"},
			Verdict{Undecided, "", `runs 1.26.1-gke.1; no fix is documented on 1.26, the first fixed version is 1.27.11-gke.1097000, an affected version, but reports networkConfig.datapathProvider "FUTURE_DATAPATH", which fleetscan does not know`}},
		{"DPV2-HAIRPIN-CONNTRACK-LEAK", "unknown datapath, fixed version", Subject{Version: "1.30.1-gke.1", Datapath: "FUTURE_DATAPATH"}, Verdict{}},
		{"DPV2-IPAM-LEAK", "unknown datapath and Windows image", Subject{Version: "1.24.1-gke.1", Datapath: "7", ImageType: "WINDOWS_SAC"}, Verdict{}},
	}
	for _, tc := range tests {
		t.Run(tc.issue+"/"+tc.name, func(t *testing.T) {
			got := cat.Issue(tc.issue).Evaluate(tc.s)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Evaluate(%+v) (-want +got):\n%s", tc.s, diff)
			}
		})
	}
}

func TestFamilyOf(t *testing.T) {
	for in, want := range map[string]ImageFamily{
		"COS_CONTAINERD": LinuxContainerd, "cos_containerd": LinuxContainerd, "UBUNTU_CONTAINERD": LinuxContainerd,
		"COS": LinuxDocker, "UBUNTU": LinuxDocker, "WINDOWS_LTSC_CONTAINERD": Windows, "WINDOWS_SAC_CONTAINERD": Windows,
		"WINDOWS_LTSC": Windows, "WINDOWS_SAC": Windows, "CUSTOM": Custom, "": "", "COS_CONTAINERD_NEXT": "",
	} {
		if got := FamilyOf(in); got != want {
			t.Errorf("FamilyOf(%q) = %q, want %q", in, got, want)
		}
	}
}
