// Package catalog holds fleetscan's catalog of known GKE issues: one YAML
// file per issue, embedded in the binary, decoded strictly and validated as a
// whole. It also owns the GKE version type and evaluates an issue's version
// and configuration conditions against one subject (a node pool or a
// cluster). It imports nothing else from this repository.
package catalog

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed issues/*.yaml
var embedded embed.FS

// Severity ranks an issue. Its values are the BigQuery and alert values.
type Severity string

const (
	Critical Severity = "CRITICAL"
	High     Severity = "HIGH"
	Medium   Severity = "MEDIUM"
	Low      Severity = "LOW"
	Info     Severity = "INFO"
)

// Severities lists the severities from the most to the least severe.
var Severities = []Severity{Critical, High, Medium, Low, Info}

// Rank is 0 for INFO up to 4 for CRITICAL, and -1 for an unknown severity.
func (s Severity) Rank() int {
	i := slices.Index(Severities, s)
	if i < 0 {
		return -1
	}
	return len(Severities) - 1 - i
}

// ParseSeverity accepts a severity name in any case.
func ParseSeverity(s string) (Severity, error) {
	sev := Severity(strings.ToUpper(strings.TrimSpace(s)))
	if sev.Rank() < 0 {
		return "", fmt.Errorf("unknown severity %q (want one of %s)", s, joinSeverities())
	}
	return sev, nil
}

func joinSeverities() string {
	names := make([]string, len(Severities))
	for i, s := range Severities {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// Scope says what one finding of an issue is about.
type Scope string

const (
	ScopeCluster  Scope = "cluster"
	ScopeNodePool Scope = "node_pool"
)

// Source says what decides an issue; it is also the evidence source name.
type Source string

const (
	ContainerAPI  Source = "container_api"  // versions and configuration
	KubernetesAPI Source = "kubernetes_api" // in-cluster objects
	CloudLogging  Source = "cloud_logging"  // a symptom in the logs
)

// Component names the version an issue compares.
type Component string

const (
	ControlPlane Component = "control_plane" // currentMasterVersion
	NodePool     Component = "node_pool"     // nodePools[].version; without pools currentNodeVersion, then currentMasterVersion
)

// Issue is one catalog entry. Field names are the YAML keys.
type Issue struct {
	ID string `yaml:"id"`
	// Category groups issues as GKE's known-issues page does (Categories).
	Category   Category   `yaml:"category"`
	Title      string     `yaml:"title"`
	Severity   Severity   `yaml:"severity"`
	Summary    string     `yaml:"summary"`
	Scope      Scope      `yaml:"scope"`
	DecidedBy  Source     `yaml:"decided_by"`
	Compares   Component  `yaml:"compares"`
	Conditions Conditions `yaml:"conditions"`
	Affected   []Range    `yaml:"affected"`
	Checks     string     `yaml:"checks"`
	// Kubernetes is the check of an issue decided by kubernetes_api.
	Kubernetes  *KubernetesCheck `yaml:"kubernetes"`
	Symptom     *Symptom         `yaml:"symptom"`
	Remediation string           `yaml:"remediation"`
	DocsURL     string           `yaml:"docs_url"`
	References  []string         `yaml:"references"`
	// Support is the end-of-support schedule of the one issue that has it
	// (GKE-END-OF-SUPPORT), decided by container_api.
	Support *Support `yaml:"support"`
	// Source is where the affected versions were read, in the source's
	// own words.
	Source *SourceNote `yaml:"source"`
	// Examples, required with conditions.cel, are a cluster for which the
	// condition holds and one for which it does not; validation proves both,
	// and the catalog's tests derive their boundary cases from them.
	Examples *Examples `yaml:"examples"`

	file string        // the file it was read from, for messages
	cel  *celCondition // Conditions.CEL compiled, by Validate
	// minors is the per-minor table of the affected ranges: bit m is set
	// when minor 1.m is in one (all of 1.0-1.63; wide is set when a range
	// reaches outside them, and Covers then reads the ranges).
	minors uint64
	wide   bool
}

// Covers reports whether version v's minor is in one of the issue's
// affected ranges: when it is not, no condition needs reading, since v is
// not affected. It is a table lookup for every minor of Kubernetes 1.
func (is *Issue) Covers(v Version) bool { return is.CoversMinor(v.MinorLine()) }

// CoversMinor is Covers of any version of minor m.
func (is *Issue) CoversMinor(m Minor) bool {
	if m.Major == 1 && m.Minor >= 0 && m.Minor < 64 && !is.wide {
		return is.minors>>m.Minor&1 == 1
	}
	return is.rangeOf(m) >= 0
}

// Examples are Container API cluster objects in their JSON field names,
// written as YAML, with only the fields that matter: every section a
// cluster always has (addonsConfig, networkConfig, …; a node pool's config
// and management) is added empty where missing. For an issue of scope
// node_pool, the condition is evaluated on the first of nodePools.
type Examples struct {
	Holds map[string]any `yaml:"holds"`
	Fails map[string]any `yaml:"fails"`
}

// SourceNote quotes the text an issue's versions come from.
type SourceNote struct {
	ReadOn string `yaml:"read_on"` // the day the source was read, YYYY-MM-DD
	Quote  string `yaml:"quote"`   // its version text, verbatim (translated only when the copy read was not in English, and then said so)
}

// Category is an issue's group: one of Categories.
type Category string

// Categories are the groups of GKE's known-issues page and release notes
// that the catalog uses, in the order lists show them.
var Categories = []Category{"Networking", "Nodes", "Upgrades", "Storage", "Security", "Operations", "Autoscaling",
	"Logging and monitoring", "GPUs and accelerators", "Version support"}

// ParseCategory returns the category named s, compared case-insensitively.
func ParseCategory(s string) (Category, error) {
	for _, c := range Categories {
		if strings.EqualFold(string(c), strings.TrimSpace(s)) {
			return c, nil
		}
	}
	return "", fmt.Errorf("unknown category %q (want one of %s)", s, joinCategories())
}

func joinCategories() string {
	s := make([]string, len(Categories))
	for i, c := range Categories {
		s[i] = strconv.Quote(string(c))
	}
	return strings.Join(s, ", ")
}

// Conditions on a subject's configuration. Unset conditions always hold.
type Conditions struct {
	// DataplaneV2 requires networkConfig.datapathProvider to be (true) or
	// not to be (false) ADVANCED_DATAPATH.
	DataplaneV2 *bool `yaml:"dataplane_v2"`
	// Autopilot requires autopilot.enabled to be true or false.
	Autopilot *bool `yaml:"autopilot"`
	// ImageFamilies lists the node image families affected.
	ImageFamilies []ImageFamily `yaml:"image_families"`
	// CEL is a condition over any field of the Container API objects
	// (CELExpr); it holds together with the short forms above.
	CEL CELExpr `yaml:"cel"`
}

// Range is one affected stretch of minors: "1.27", "1.22-1.25" or "<=1.26".
// On a single-minor range only: FixedIn, the first fixed version; From,
// the first affected one (the source says the issue came with a patch);
// Through, the last affected one (the source gives a closed span of
// patches, "X to Y", and no fix), instead of FixedIn.
type Range struct {
	Minors  string `yaml:"minors"`
	From    string `yaml:"from"`
	Through string `yaml:"through"`
	FixedIn string `yaml:"fixed_in"`

	from, to Minor   // inclusive; from is the zero Minor for "<=X"
	first    Version // zero when the whole minor is affected up to the fix
	last     Version // zero unless Through is set
	fixed    Version // zero when no fix is documented
}

// Symptom is a Kubernetes event (log_id "events", resource type k8s_pod)
// that shows an issue is happening.
type Symptom struct {
	// Reason is the event's reason, matched exactly.
	Reason string `yaml:"reason"`
	// Message is a stable substring of the event's message.
	Message string `yaml:"message"`
	// Detail is an optional regular expression whose match in a message is
	// reported as evidence detail (e.g. the exhausted IP range).
	Detail string `yaml:"detail"`
	// UnlessAffected, for an issue decided by cloud_logging, names the issue
	// that explains the symptom better when the cluster is affected by it.
	UnlessAffected string `yaml:"unless_affected"`

	detail *regexp.Regexp
}

// DetailPattern returns the compiled Detail, or nil.
func (s *Symptom) DetailPattern() *regexp.Regexp { return s.detail }

// Key identifies the symptom's log query; issues with the same key share it.
func (s *Symptom) Key() string { return s.Reason + "\x00" + s.Message }

// Catalog is a validated set of issues sorted by ID.
type Catalog struct {
	Issues  []*Issue
	Version string // content hash of the entries, recorded with every finding
	byID    map[string]*Issue
	// celCluster and celPool count the compiled conditions per scope;
	// celIssues are the issues with one.
	celCluster, celPool int
	celIssues           []*Issue
	versions            *versionIndex // which issues a version can be affected by
}

// Issue returns the issue with the given ID, or nil.
func (c *Catalog) Issue(id string) *Issue { return c.byID[id] }

// Symptoms lists the issues' symptoms, one per distinct Key, in catalog
// order: what a scan asks Cloud Logging for.
func (c *Catalog) Symptoms() []*Symptom {
	var out []*Symptom
	seen := map[string]bool{}
	for _, is := range c.Issues {
		if s := is.Symptom; s != nil && !seen[s.Key()] {
			seen[s.Key()] = true
			out = append(out, s)
		}
	}
	return out
}

// KubernetesChecks lists the checks of the issues decided by
// kubernetes_api, in catalog order.
func (c *Catalog) KubernetesChecks() []*KubernetesCheck {
	var out []*KubernetesCheck
	for _, is := range c.Issues {
		if is.Kubernetes != nil {
			out = append(out, is.Kubernetes)
		}
	}
	return out
}

// Embedded returns the catalog built into the binary.
func Embedded() (*Catalog, error) {
	sub, err := fs.Sub(embedded, "issues")
	if err != nil {
		return nil, err
	}
	return Load(sub)
}

// LoadDir reads and validates a catalog folder (see LoadDirReport); with
// base, the folder's issues are added to base's and replace those with the
// same ID.
func LoadDir(dir string, base *Catalog) (*Catalog, error) {
	cat, _, err := LoadDirReport(dir, base)
	return cat, err
}

// Report says what LoadDirReport read from a catalog folder.
type Report struct {
	// Files are the issue files read, as names in the folder, sorted.
	Files []string
	// Added are the IDs of the folder's issues that base does not have
	// (all of them without base), sorted.
	Added []string
	// Replaced are the IDs of base's issues that the folder replaces, sorted.
	Replaced []string
}

// LoadDirReport reads and validates a catalog folder, like LoadDir, and
// reports which files it read and which issues they add or replace; the
// Report is empty when there is an error.
//
// A catalog folder holds issue files, ISSUE-ID.yaml, each one YAML document
// (an empty document after a trailing "---" is allowed). Hidden files and
// folders (a name starting with "."), a README and a README.md are ignored;
// every other file, and every subfolder, is an error, since the issues it
// may hold would not be read.
func LoadDirReport(dir string, base *Catalog) (*Catalog, Report, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, Report{}, fmt.Errorf("catalog directory: %w", err)
	}
	if !info.IsDir() {
		return nil, Report{}, fmt.Errorf("catalog directory: %s is not a directory", dir)
	}
	issues, raw, err := decodeAll(os.DirFS(dir), dir)
	if err != nil {
		return nil, Report{}, err
	}
	if len(issues) == 0 {
		return nil, Report{}, fmt.Errorf("catalog directory %s has no .yaml files", dir)
	}
	var rep Report
	for _, is := range issues {
		rep.Files = append(rep.Files, path.Base(is.file))
		if base != nil && base.Issue(is.ID) != nil {
			rep.Replaced = append(rep.Replaced, is.ID)
		} else {
			rep.Added = append(rep.Added, is.ID)
		}
	}
	if base != nil {
		issues, raw = merge(base, issues, raw)
	}
	cat, err := build(issues, raw)
	if err != nil {
		return nil, Report{}, err
	}
	slices.Sort(rep.Files)
	slices.Sort(rep.Added)
	slices.Sort(rep.Replaced)
	return cat, rep, nil
}

// Load reads and validates the issue files at the root of fsys, with the
// rules of a catalog folder (see LoadDirReport).
func Load(fsys fs.FS) (*Catalog, error) {
	issues, raw, err := decodeAll(fsys, "")
	if err != nil {
		return nil, err
	}
	return build(issues, raw)
}

func merge(base *Catalog, add []*Issue, raw map[*Issue][]byte) ([]*Issue, map[*Issue][]byte) {
	replaced := map[string]bool{}
	for _, is := range add {
		replaced[is.ID] = true
	}
	out := slices.Clone(add)
	for _, is := range base.Issues {
		if !replaced[is.ID] {
			out = append(out, is)
			raw[is] = []byte(is.ID + "@" + base.Version)
		}
	}
	return out, raw
}

func build(issues []*Issue, raw map[*Issue][]byte) (*Catalog, error) {
	// Each catalog has its own copies: validation prepares them (ranges,
	// compiled conditions, their indexes), and a base catalog's stay as
	// they were.
	for i, is := range issues {
		cp := *is
		cp.Affected = slices.Clone(is.Affected)
		issues[i] = &cp
		raw[&cp] = raw[is]
	}
	if err := Validate(issues); err != nil {
		return nil, err
	}
	slices.SortFunc(issues, func(a, b *Issue) int { return strings.Compare(a.ID, b.ID) })
	h := sha256.New()
	byID := make(map[string]*Issue, len(issues))
	for _, is := range issues {
		byID[is.ID] = is
		h.Write(raw[is])
		h.Write([]byte{0})
	}
	c := &Catalog{Issues: issues, Version: hex.EncodeToString(h.Sum(nil))[:12], byID: byID}
	c.indexCEL()
	c.indexVersions()
	return c, nil
}

// decodeAll decodes every .yaml file of fsys strictly and reports every
// file's problems at once, with those of the entries that are not issue
// files. dir only prefixes file names in messages.
func decodeAll(fsys fs.FS, dir string) ([]*Issue, map[*Issue][]byte, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, nil, err
	}
	var issues []*Issue
	raw := map[*Issue][]byte{}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		issue, problem := folderEntry(name, e.IsDir())
		if problem != "" {
			errs = append(errs, fmt.Errorf("%s: %s", path.Join(dir, name), problem))
		}
		if !issue {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		is, err := Decode(path.Join(dir, name), data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		issues = append(issues, is)
		raw[is] = data
	}
	return issues, raw, errors.Join(errs...)
}

// folderEntry says whether the entry name of a catalog folder is an issue
// file (NAME.yaml), or why the folder must not hold it; an entry that is
// neither is ignored: a hidden one (a name starting with "."), a README or a
// README.md (in any case).
func folderEntry(name string, isDir bool) (issue bool, problem string) {
	ext := path.Ext(name)
	switch {
	case strings.HasPrefix(name, "."):
		return false, ""
	case isDir:
		return false, "a subfolder: issue files in subfolders are not read; put every ISSUE-ID.yaml in the catalog folder itself"
	case ext == ".yaml":
		return true, ""
	case strings.EqualFold(name, "README"), strings.EqualFold(name, "README.md"):
		return false, ""
	case strings.EqualFold(ext, ".yaml"), strings.EqualFold(ext, ".yml"):
		return false, "not a .yaml file: rename it to " + strings.TrimSuffix(name, ext) + ".yaml"
	}
	return false, "not a .yaml file: the catalog folder holds only issue files (ISSUE-ID.yaml), besides a README or README.md and hidden files"
}

// yamlFieldErr matches the yaml package's message for an unknown key.
var yamlFieldErr = regexp.MustCompile(`^line (\d+): field (\S+) not found in type catalog\.(\w+)$`)

var yamlSections = map[string]string{"Issue": "issue", "Conditions": "conditions", "Range": "affected range", "Symptom": "symptom",
	"KubernetesCheck": "kubernetes", "Support": "support", "SupportMinor": "support.minors entry"}

// Decode decodes one issue file strictly: unknown keys are errors, and so is
// a second YAML document with content (one issue per file). file is the name
// used in messages and compared with the issue's ID by Validate.
func Decode(file string, data []byte) (*Issue, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var is Issue
	if err := dec.Decode(&is); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: file is empty", file)
		}
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		errs := make([]error, 0, len(te.Errors))
		for _, e := range te.Errors {
			if m := yamlFieldErr.FindStringSubmatch(e); m != nil {
				e = fmt.Sprintf("line %s: unknown field %q in %s", m[1], m[2], yamlSections[m[3]])
			}
			errs = append(errs, fmt.Errorf("%s: %s", file, e))
		}
		return nil, errors.Join(append(errs, nextDocument(file, dec))...)
	}
	if err := nextDocument(file, dec); err != nil {
		return nil, err
	}
	is.file = file
	return &is, nil
}

// nextDocument returns an error when dec, after the issue's document, has
// another one with content. Empty documents (a trailing "---", maybe with
// comments) hold nothing that would be lost, and are allowed.
func nextDocument(file string, dec *yaml.Decoder) error {
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if !emptyDocument(&doc) {
			return fmt.Errorf("%s: line %d: a second YAML document: one issue per file", file, doc.Line)
		}
	}
}

// emptyDocument reports whether doc has no content: an implicit null, not
// written as "~", "null" or with a tag or an anchor.
func emptyDocument(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	n := doc.Content[0]
	return len(doc.Content) == 1 && n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && n.Style == 0 && n.Anchor == ""
}

// Span is the range's first and last minor (first is the zero Minor for
// "<=X"), and its first affected, last affected and first fixed versions
// (zero when the range gives none). Only a validated range has them.
func (r Range) Span() (first, last Minor, from, through, fixed Version) {
	return r.from, r.to, r.first, r.last, r.fixed
}

// Narrow returns the catalog with only the issues named by ids (case
// insensitive) and those of the categories given; both empty keep every
// issue. An unknown ID or category is an error naming the known ones.
// The narrowed catalog keeps the version of the whole: its entries are
// the same, a scan only asks fewer of them.
func (c *Catalog) Narrow(ids []string, categories []string) (*Catalog, error) {
	if len(ids) == 0 && len(categories) == 0 {
		return c, nil
	}
	keepID := map[string]bool{}
	var errs []error
	for _, id := range ids {
		is := c.byID[strings.ToUpper(strings.TrimSpace(id))]
		if is == nil {
			errs = append(errs, fmt.Errorf("unknown issue %q (fleetscan catalog list shows the IDs)", id))
			continue
		}
		keepID[is.ID] = true
	}
	keepCat := map[Category]bool{}
	for _, s := range categories {
		cat, err := ParseCategory(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keepCat[cat] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := &Catalog{Version: c.Version, byID: map[string]*Issue{}, celCluster: c.celCluster, celPool: c.celPool}
	for _, is := range c.Issues {
		if keepID[is.ID] || keepCat[is.Category] {
			out.Issues = append(out.Issues, is)
			out.byID[is.ID] = is
			if is.cel != nil {
				out.celIssues = append(out.celIssues, is)
			}
		}
	}
	if len(out.Issues) == 0 { // only categories without issues were named
		return nil, fmt.Errorf("no issue of the catalog is in category %s", strings.Join(categories, " or "))
	}
	out.indexVersions()
	return out, nil
}
