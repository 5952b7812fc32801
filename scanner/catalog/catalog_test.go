package catalog

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the want files of testdata/bad")

// The real embedded catalog must load with no problem and hold the eight
// issue IDs that reports and alert filters depend on.
func TestEmbeddedCatalog(t *testing.T) {
	cat, err := Embedded()
	if err != nil {
		t.Fatalf("Embedded() error:\n%v", err)
	}
	type entry struct {
		Scope     Scope
		DecidedBy Source
		Compares  Component
		Severity  Severity
	}
	got := map[string]entry{}
	for _, is := range cat.Issues {
		got[is.ID] = entry{is.Scope, is.DecidedBy, is.Compares, is.Severity}
	}
	want := map[string]entry{
		"DPV2-IPAM-LEAK":              {ScopeNodePool, ContainerAPI, NodePool, High},
		"DPV2-NETPOL-CONNTRACK-SELF":  {ScopeCluster, ContainerAPI, ControlPlane, Medium},
		"DPV2-HAIRPIN-CONNTRACK-LEAK": {ScopeCluster, ContainerAPI, ControlPlane, Medium},
		"DPV2-NODEPORT-RANDOMFULLY":   {ScopeCluster, KubernetesAPI, "", Medium},
		"DPV2-NODEPORT-EPHEMERAL":     {ScopeCluster, KubernetesAPI, "", Low},
		"DPV2-NETPOL-ENDPORT":         {ScopeCluster, KubernetesAPI, "", Medium},
		"GKE-POD-IP-EXHAUSTION":       {ScopeCluster, CloudLogging, "", High},
		"GKE-END-OF-SUPPORT":          {ScopeNodePool, ContainerAPI, "", High},
	}
	// DESIGN.md's issue IDs are stable: each is there, as it was.
	for id, w := range want {
		if g, ok := got[id]; !ok || g != w {
			t.Errorf("%s: %+v, want %+v", id, g, w)
		}
	}
	// Every other entry comes from GKE's documents: it quotes its source
	// and says when it was read.
	for _, is := range cat.Issues {
		if _, contract := want[is.ID]; !contract && (is.Source == nil || is.Source.Quote == "") {
			t.Errorf("%s: no source quote", is.ID)
		}
	}
	if n := len(cat.Issues) - len(want); n < 15 {
		t.Errorf("%d entries beyond the Dataplane V2 ones, want at least 15", n)
	}
	if len(cat.Version) != 12 {
		t.Errorf("Version = %q, want 12 hex digits", cat.Version)
	}
	for _, is := range cat.Issues {
		if !strings.HasPrefix(is.ID, "DPV2-") {
			continue
		}
		if is.Conditions.DataplaneV2 == nil || !*is.Conditions.DataplaneV2 {
			if is.DecidedBy != CloudLogging && is.Support == nil {
				t.Errorf("%s: a Dataplane V2 known issue must require dataplane_v2: true", is.ID)
			}
		}
	}
	if s := cat.Issue("DPV2-IPAM-LEAK").Symptom; s == nil || s.Key() != cat.Issue("GKE-POD-IP-EXHAUSTION").Symptom.Key() {
		t.Errorf("DPV2-IPAM-LEAK and GKE-POD-IP-EXHAUSTION must share the IPAM symptom")
	}
}

// Each directory of testdata/bad breaks one rule; want.txt is the exact
// message (regenerate with go test -update after checking the change). The
// case is loaded from a copy without its want.txt, which a catalog folder
// must not hold.
func TestBadCatalogs(t *testing.T) {
	dirs, err := filepath.Glob("testdata/bad/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no testdata/bad cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tmp := t.TempDir()
			if err := os.CopyFS(tmp, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(tmp, "want.txt")); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			_, err := LoadDir(tmp, nil)
			if err == nil {
				t.Fatalf("LoadDir(%s) succeeded, want an error", dir)
			}
			got := strings.ReplaceAll(err.Error(), tmp+string(filepath.Separator), "")
			got = strings.ReplaceAll(got, tmp, "DIR")
			wantFile := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(wantFile, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("missing %s (run go test -update): %v", wantFile, err)
			}
			if diff := cmp.Diff(strings.TrimSuffix(string(want), "\n"), got); diff != "" {
				t.Errorf("LoadDir(%s) error (-want +got):\n%s", dir, diff)
			}
		})
	}
}

func TestLoadDirOverridesAndAdds(t *testing.T) {
	base, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	override := strings.Replace(readIssue(t, "DPV2-IPAM-LEAK"), "severity: HIGH", "severity: CRITICAL", 1)
	write(t, dir, "DPV2-IPAM-LEAK.yaml", override)
	added := strings.NewReplacer("id: DPV2-NETPOL-ENDPORT", "id: ACME-CUSTOM-CHECK").Replace(readIssue(t, "DPV2-NETPOL-ENDPORT"))
	write(t, dir, "ACME-CUSTOM-CHECK.yaml", added)

	cat, err := LoadDir(dir, base)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if got := len(cat.Issues); got != len(base.Issues)+1 {
		t.Errorf("issues = %d, want %d", got, len(base.Issues)+1)
	}
	if got := cat.Issue("DPV2-IPAM-LEAK").Severity; got != Critical {
		t.Errorf("overridden severity = %s, want CRITICAL", got)
	}
	if cat.Issue("ACME-CUSTOM-CHECK") == nil {
		t.Errorf("added issue ACME-CUSTOM-CHECK missing")
	}
	if cat.Version == base.Version {
		t.Errorf("catalog version did not change with the override: %s", cat.Version)
	}
}

// LoadDirReport lists the files read and the IDs they add and replace;
// hidden entries and a README are ignored, and a trailing "---" is allowed.
func TestLoadDirReport(t *testing.T) {
	base, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write(t, dir, "DPV2-IPAM-LEAK.yaml", readIssue(t, "DPV2-IPAM-LEAK")+"---\n# the end\n")
	write(t, dir, "ACME-CUSTOM-CHECK.yaml", strings.Replace(readIssue(t, "DPV2-NETPOL-ENDPORT"), "id: DPV2-NETPOL-ENDPORT", "id: ACME-CUSTOM-CHECK", 1))
	write(t, dir, "ACME-OTHER-CHECK.yaml", strings.Replace(readIssue(t, "DPV2-NETPOL-ENDPORT"), "id: DPV2-NETPOL-ENDPORT", "id: ACME-OTHER-CHECK", 1))
	write(t, dir, "GKE-END-OF-SUPPORT.yaml", "---\n"+readIssue(t, "GKE-END-OF-SUPPORT")+"---\n---\n")
	write(t, dir, "README", "Our own issues.\n")
	write(t, dir, ".gitkeep", "")
	write(t, dir, ".DRAFT-ISSUE.yaml", "not: an issue\n")
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, ".git"), "config", "[core]\n")

	cat, rep, err := LoadDirReport(dir, base)
	if err != nil {
		t.Fatalf("LoadDirReport: %v", err)
	}
	want := Report{
		Files:    []string{"ACME-CUSTOM-CHECK.yaml", "ACME-OTHER-CHECK.yaml", "DPV2-IPAM-LEAK.yaml", "GKE-END-OF-SUPPORT.yaml"},
		Added:    []string{"ACME-CUSTOM-CHECK", "ACME-OTHER-CHECK"},
		Replaced: []string{"DPV2-IPAM-LEAK", "GKE-END-OF-SUPPORT"},
	}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if got := len(cat.Issues); got != len(base.Issues)+2 {
		t.Errorf("issues = %d, want %d", got, len(base.Issues)+2)
	}

	_, rep, err = LoadDirReport(dir, nil)
	if err != nil {
		t.Fatalf("LoadDirReport without base: %v", err)
	}
	want = Report{Files: want.Files, Added: []string{"ACME-CUSTOM-CHECK", "ACME-OTHER-CHECK", "DPV2-IPAM-LEAK", "GKE-END-OF-SUPPORT"}}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report without base (-want +got):\n%s", diff)
	}

	write(t, dir, "notes.txt", "")
	cat, rep, err = LoadDirReport(dir, base)
	if err == nil || cat != nil || !cmp.Equal(rep, Report{}) {
		t.Errorf("LoadDirReport with notes.txt = %v, %+v, %v; want nil, an empty report and an error", cat, rep, err)
	}
}

// The entries of a catalog folder: issue files, ignored ones and the rest.
func TestFolderEntry(t *testing.T) {
	const other = "not a .yaml file: the catalog folder holds only issue files (ISSUE-ID.yaml), besides a README or README.md and hidden files"
	const subfolder = "a subfolder: issue files in subfolders are not read; put every ISSUE-ID.yaml in the catalog folder itself"
	for _, tc := range []struct {
		name    string
		dir     bool
		issue   bool
		problem string
	}{
		{"ACME-CHECK.yaml", false, true, ""},
		{"acme_check.yaml", false, true, ""}, // Validate reports the ID
		{"README", false, false, ""},
		{"README.md", false, false, ""},
		{"Readme.MD", false, false, ""},
		{".gitkeep", false, false, ""},
		{".ACME-CHECK.yaml", false, false, ""},
		{".git", true, false, ""},
		{"ACME-CHECK.yml", false, false, "not a .yaml file: rename it to ACME-CHECK.yaml"},
		{"ACME-CHECK.YML", false, false, "not a .yaml file: rename it to ACME-CHECK.yaml"},
		{"ACME-CHECK.YAML", false, false, "not a .yaml file: rename it to ACME-CHECK.yaml"},
		{"ACME-CHECK.yaml~", false, false, other},
		{"ACME-CHECK", false, false, other},
		{"README.txt", false, false, other},
		{"notes.txt", false, false, other},
		{"team-a", true, false, subfolder},
		{"ACME-CHECK.yaml", true, false, subfolder},
		{"README", true, false, subfolder},
	} {
		issue, problem := folderEntry(tc.name, tc.dir)
		if issue != tc.issue || problem != tc.problem {
			t.Errorf("folderEntry(%q, dir %v) = %v, %q; want %v, %q", tc.name, tc.dir, issue, problem, tc.issue, tc.problem)
		}
	}
}

// A file holds one YAML document; empty documents after it are allowed.
func TestDecodeDocuments(t *testing.T) {
	issue := "id: TEST-ISSUE\ntitle: A test issue\n"
	for _, tc := range []struct{ data, want string }{
		{issue, ""},
		{"---\n" + issue, ""},
		{issue + "---\n", ""},
		{issue + "--- # end\n", ""},
		{issue + "---\n# end\n\n", ""},
		{issue + "---\n---\n", ""},
		{issue + "...\n", ""},
		{issue + "---\n" + issue, "X.yaml: line 3: a second YAML document: one issue per file"},
		{issue + "---\n---\n# next\n" + issue, "X.yaml: line 4: a second YAML document: one issue per file"},
		{"---\n---\n" + issue, "X.yaml: line 2: a second YAML document: one issue per file"},
		{issue + "--- []\n", "X.yaml: line 3: a second YAML document: one issue per file"},
		{issue + "---\n~\n", "X.yaml: line 3: a second YAML document: one issue per file"},
		{issue + "--- &a\n", "X.yaml: line 3: a second YAML document: one issue per file"},
		{issue + "---\n[\n", "X.yaml: line 4: did not find expected node content"},
		{"idd: TEST-ISSUE\n---\n" + issue, "X.yaml: line 1: unknown field \"idd\" in issue\nX.yaml: line 2: a second YAML document: one issue per file"},
		{"[\n---\n" + issue, "X.yaml: line 1: did not find expected node content"},
	} {
		_, err := Decode("X.yaml", []byte(tc.data))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Decode(%q) error:\n%s\nwant:\n%s", tc.data, got, tc.want)
		}
	}
}

func TestLoadDirErrors(t *testing.T) {
	if _, err := LoadDir("testdata/no-such-dir", nil); err == nil || err.Error() != "catalog directory: stat testdata/no-such-dir: no such file or directory" {
		t.Errorf("missing dir error = %v", err)
	}
	if _, err := LoadDir("catalog.go", nil); err == nil || err.Error() != "catalog directory: catalog.go is not a directory" {
		t.Errorf("file instead of dir error = %v", err)
	}
	empty := t.TempDir()
	if _, err := LoadDir(empty, nil); err == nil || err.Error() != "catalog directory "+empty+" has no .yaml files" {
		t.Errorf("empty dir error = %v", err)
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]Severity{"high": High, " CRITICAL ": Critical, "Info": Info} {
		if got, err := ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	_, err := ParseSeverity("urgent")
	if want := `unknown severity "urgent" (want one of CRITICAL, HIGH, MEDIUM, LOW, INFO)`; err == nil || err.Error() != want {
		t.Errorf("ParseSeverity(urgent) error = %v, want %s", err, want)
	}
	if !(Critical.Rank() > High.Rank() && High.Rank() > Medium.Rank() && Medium.Rank() > Low.Rank() && Low.Rank() > Info.Rank()) {
		t.Errorf("severity ranks are not ordered")
	}
}

func readIssue(t *testing.T, id string) string {
	t.Helper()
	b, err := embedded.ReadFile("issues/" + id + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The Kubernetes API checks are data: each rule's parameters as the
// Dataplane V2 page states them.
func TestEmbeddedKubernetesChecks(t *testing.T) {
	cat, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	check := func(id string) *KubernetesCheck {
		is := cat.Issue(id)
		if is == nil || is.Kubernetes == nil {
			t.Fatalf("%s has no kubernetes check", id)
		}
		return is.Kubernetes
	}
	rf := check("DPV2-NODEPORT-RANDOMFULLY")
	from, flag, toPorts := rf.Versions()
	if lo, hi := rf.Ports(); rf.Rule != RuleIPMasqRandomFully || rf.Image != "ip-masq-agent" ||
		from != (Minor{2, 10}) || flag != (Minor{2, 11}) || toPorts != (Minor{2, 12}) || lo != 30000 || hi != 32767 {
		t.Errorf("DPV2-NODEPORT-RANDOMFULLY check = %+v", rf)
	}
	ep := check("DPV2-NODEPORT-EPHEMERAL")
	if lo, hi := ep.Ports(); ep.Rule != RuleEphemeralPortRange || ep.Sysctl != "net.ipv4.ip_local_port_range" || lo != 30000 || hi != 32767 {
		t.Errorf("DPV2-NODEPORT-EPHEMERAL check = %+v", ep)
	}
	if np := check("DPV2-NETPOL-ENDPORT"); np.Rule != RuleNetworkPolicyEndPort {
		t.Errorf("DPV2-NETPOL-ENDPORT check = %+v", np)
	}
	var rules []string
	for _, k := range cat.KubernetesChecks() {
		rules = append(rules, k.Rule)
	}
	if want := []string{RuleNetworkPolicyEndPort, RuleEphemeralPortRange, RuleIPMasqRandomFully}; !slices.Equal(rules, want) {
		t.Errorf("KubernetesChecks rules = %v, want %v (catalog order)", rules, want)
	}
	// DPV2-IPAM-LEAK and GKE-POD-IP-EXHAUSTION share one symptom: one query.
	if s := cat.Symptoms(); len(s) != 1 || s[0].Reason != "FailedCreatePodSandBox" {
		t.Errorf("Symptoms = %+v, want the one IPAM symptom", s)
	}
}

func TestParseLocalPortRange(t *testing.T) {
	for _, tc := range []struct {
		value  string
		lo, hi int
		ok     bool
	}{
		{"30000 60999", 30000, 60999, true},
		{"30000\t60999", 30000, 60999, true},
		{" 1024   65535\n", 1024, 65535, true},
		{"30000-60999", 0, 0, false},
		{"30000", 0, 0, false},
		{"30000 60999 1", 0, 0, false},
		{"60999 30000", 0, 0, false},
		{"1024 65536", 0, 0, false},
		{"$LOW $HIGH", 0, 0, false},
		{"", 0, 0, false},
	} {
		lo, hi, ok := ParseLocalPortRange(tc.value)
		if lo != tc.lo || hi != tc.hi || ok != tc.ok {
			t.Errorf("ParseLocalPortRange(%q) = %d, %d, %v; want %d, %d, %v", tc.value, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}
