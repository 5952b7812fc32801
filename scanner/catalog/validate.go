package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

var idPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$`)

// Validate checks issues one by one and as a set, and returns every problem
// at once. It also prepares the parsed ranges and patterns that evaluation
// uses, so only validated issues can be evaluated.
func Validate(issues []*Issue) error {
	var errs []error
	seen := map[string]string{}
	support := "" // label of the first issue with a support block
	for _, is := range issues {
		for _, e := range is.validate() {
			errs = append(errs, fmt.Errorf("%s: %s", is.label(), e))
		}
		if is.Support != nil {
			if support != "" {
				errs = append(errs, fmt.Errorf("%s: a support block is allowed in one issue only, and %s has one too", is.label(), support))
			} else {
				support = is.label()
			}
		}
		if is.ID == "" {
			continue
		}
		if prev, ok := seen[is.ID]; ok {
			errs = append(errs, fmt.Errorf("%s: duplicate id %s (also in %s)", is.label(), is.ID, prev))
			continue
		}
		seen[is.ID] = is.label()
	}
	for _, is := range issues {
		if is.Symptom == nil || is.Symptom.UnlessAffected == "" {
			continue
		}
		if _, ok := seen[is.Symptom.UnlessAffected]; !ok {
			errs = append(errs, fmt.Errorf("%s: symptom.unless_affected names unknown issue %s", is.label(), is.Symptom.UnlessAffected))
		}
	}
	return errors.Join(errs...)
}

func (is *Issue) label() string {
	if is.file != "" {
		return is.file
	}
	return is.ID
}

func (is *Issue) validate() []string {
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }

	switch {
	case is.ID == "":
		bad("id is missing")
	case !idPattern.MatchString(is.ID):
		bad("id %q is not UPPER-CASE words joined by hyphens", is.ID)
	case is.file != "" && strings.TrimSuffix(path.Base(is.file), ".yaml") != is.ID:
		bad("id %s does not match the file name %s", is.ID, path.Base(is.file))
	}
	if strings.TrimSpace(is.Title) == "" {
		bad("title is missing")
	}
	switch {
	case is.Category == "":
		bad("category is missing (one of %s)", joinCategories())
	case !slices.Contains(Categories, is.Category):
		bad("category %q is not one of %s", is.Category, joinCategories())
	}
	if n := is.Source; n != nil {
		if _, err := time.Parse(time.DateOnly, n.ReadOn); err != nil {
			bad("source.read_on %q is not a date (YYYY-MM-DD): the day the source was read", n.ReadOn)
		}
		if strings.TrimSpace(n.Quote) == "" {
			bad("source.quote is missing: the source's own text giving the versions")
		}
	}
	// Validating again (a catalog's issues) compiles again and keeps the
	// catalog's numbering of the condition.
	prev := is.cel
	is.cel = nil
	if strings.TrimSpace(is.Conditions.CEL.Text) != "" {
		p = append(p, is.compileCEL()...)
	}
	if is.Examples != nil && is.cel == nil && strings.TrimSpace(is.Conditions.CEL.Text) == "" {
		bad("examples are only for an issue with conditions.cel")
	}
	if prev != nil && is.cel != nil && prev.pool == is.cel.pool {
		is.cel.index = prev.index
	}
	if is.Severity.Rank() < 0 {
		bad("severity %q is not one of %s", is.Severity, joinSeverities())
	}
	if strings.TrimSpace(is.Summary) == "" {
		bad("summary is missing")
	}
	if is.Scope != ScopeCluster && is.Scope != ScopeNodePool {
		bad("scope %q is not cluster or node_pool", is.Scope)
	}
	if strings.TrimSpace(is.Remediation) == "" {
		bad("remediation is missing")
	}
	if u, err := url.Parse(is.DocsURL); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("docs_url %q is not an https URL", is.DocsURL)
	}
	for _, f := range is.Conditions.ImageFamilies {
		if !slices.Contains(imageFamilies, f) {
			bad("conditions.image_families: unknown family %q (want one of %s)", f, joinFamilies())
		}
	}

	switch is.DecidedBy {
	case ContainerAPI:
		if is.Support != nil {
			p = append(p, is.validateSupport()...)
			break
		}
		switch is.Compares {
		case ControlPlane:
			if is.Scope != ScopeCluster {
				bad("compares control_plane needs scope cluster")
			}
		case NodePool:
			if is.Scope != ScopeNodePool {
				bad("compares node_pool needs scope node_pool")
			}
		default:
			bad("compares %q is not control_plane or node_pool", is.Compares)
		}
		if len(is.Affected) == 0 {
			bad("affected lists no minor versions")
		}
		if len(is.Conditions.ImageFamilies) > 0 && is.Compares != NodePool {
			bad("conditions.image_families needs compares node_pool")
		}
	case KubernetesAPI:
		if strings.TrimSpace(is.Checks) == "" {
			bad("checks is missing: say what the Kubernetes API check looks for")
		}
		if is.Kubernetes == nil {
			bad("kubernetes is missing: an issue decided by kubernetes_api names its rule (one of %s)", strings.Join(rules, ", "))
		} else {
			p = append(p, is.Kubernetes.validate()...)
		}
	case CloudLogging:
		if is.Symptom == nil {
			bad("symptom is missing: an issue decided by cloud_logging needs one")
		}
	default:
		bad("decided_by %q is not container_api, kubernetes_api or cloud_logging", is.DecidedBy)
	}
	if is.DecidedBy != ContainerAPI && is.Support != nil {
		bad("support is only for issues decided by container_api")
		p = append(p, is.Support.validate()...)
	}
	if is.DecidedBy != KubernetesAPI && is.Kubernetes != nil {
		bad("kubernetes is only for issues decided by kubernetes_api")
	}
	if is.DecidedBy != ContainerAPI {
		if is.Compares != "" {
			bad("compares is only for issues decided by container_api")
		}
		if len(is.Affected) > 0 {
			bad("affected is only for issues decided by container_api")
		}
	}
	p = append(p, validateRanges(is.Affected)...)
	is.minors, is.wide = minorTable(is.Affected)
	if is.cel != nil {
		is.cel.maxMinor = Minor{}
		for _, r := range is.Affected {
			if is.cel.maxMinor.Compare(r.to) < 0 {
				is.cel.maxMinor = r.to
			}
		}
	}
	if s := is.Symptom; s != nil {
		if s.Reason == "" {
			bad("symptom.reason is missing")
		}
		if strings.TrimSpace(s.Message) == "" {
			bad("symptom.message is missing")
		}
		if s.Detail != "" {
			re, err := regexp.Compile(s.Detail)
			if err != nil {
				bad("symptom.detail is not a regular expression: %v", err)
			}
			s.detail = re
		}
		if s.UnlessAffected != "" && is.DecidedBy != CloudLogging {
			bad("symptom.unless_affected is only for issues decided by cloud_logging")
		}
		if s.UnlessAffected == is.ID && is.ID != "" {
			bad("symptom.unless_affected names the issue itself")
		}
	}
	return p
}

// validateSupport checks an end-of-support issue decided by container_api:
// findings on the control plane and on each node pool (scope node_pool),
// decided by the minor and the scan's time alone.
func (is *Issue) validateSupport() []string {
	var p []string
	if is.Scope == ScopeCluster { // other values are reported as unknown scopes
		p = append(p, "support needs scope node_pool (findings on the control plane and on each node pool), not cluster")
	}
	notWith := func(field string) {
		p = append(p, field+" is not allowed with support: the end of support depends on the minor version alone")
	}
	if is.Compares != "" {
		notWith("compares")
	}
	if len(is.Affected) > 0 {
		notWith("affected")
	}
	if c := is.Conditions; c.DataplaneV2 != nil || c.Autopilot != nil || len(c.ImageFamilies) > 0 || c.CEL.Text != "" {
		notWith("conditions")
	}
	// kubernetes is rejected for every issue not decided by kubernetes_api.
	if is.Symptom != nil {
		notWith("symptom")
	}
	return append(p, is.Support.validate()...)
}

// validateRanges parses every range in place and checks that they are in
// ascending order without overlap.
func validateRanges(rs []Range) []string {
	var p []string
	prev := -1
	for i := range rs {
		r := &rs[i]
		at := fmt.Sprintf("affected[%d]", i)
		if err := r.parse(); err != nil {
			p = append(p, fmt.Sprintf("%s: %v", at, err))
			continue
		}
		if prev >= 0 {
			q := rs[prev]
			switch {
			case r.from.Compare(q.to) <= 0 && r.to.Compare(q.from) >= 0:
				p = append(p, fmt.Sprintf("%s: minors %s overlap affected[%d] minors %s", at, r.Minors, prev, q.Minors))
			case r.from.Compare(q.to) < 0:
				p = append(p, fmt.Sprintf("%s: minors %s come before affected[%d] minors %s; list ranges in ascending order", at, r.Minors, prev, q.Minors))
			}
		}
		prev = i
	}
	return p
}

// minorTable is Issue.minors for validated ranges.
func minorTable(rs []Range) (table uint64, wide bool) {
	for _, r := range rs {
		if r.to.Major == 0 { // did not parse
			continue
		}
		if r.to.Major != 1 || r.from.Major > 1 || r.to.Minor >= 64 {
			return 0, true
		}
		lo := 0
		if r.from.Major == 1 {
			lo = r.from.Minor
		}
		for m := lo; m <= r.to.Minor; m++ {
			table |= 1 << m
		}
	}
	return table, false
}

func (r *Range) parse() error {
	s := strings.TrimSpace(r.Minors)
	var err error
	switch {
	case s == "":
		return errors.New("minors is missing")
	case strings.HasPrefix(s, "<="):
		r.from = Minor{}
		r.to, err = ParseMinor(strings.TrimSpace(s[2:]))
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		if r.from, err = ParseMinor(strings.TrimSpace(a)); err == nil {
			r.to, err = ParseMinor(strings.TrimSpace(b))
		}
		if err == nil && r.to.Compare(r.from) < 0 {
			err = fmt.Errorf("minors %s end before they start", s)
		}
	default:
		r.from, err = ParseMinor(s)
		r.to = r.from
	}
	if err != nil {
		return err
	}
	if r.From != "" {
		if r.from != r.to {
			return fmt.Errorf("from needs a single minor, not %s", s)
		}
		if r.first, err = ParseVersion(r.From); err != nil {
			return fmt.Errorf("from: %v", err)
		}
		if r.first.MinorLine() != r.from {
			return fmt.Errorf("from %s is not on minor %s", r.From, r.from)
		}
	}
	if r.Through != "" {
		switch {
		case r.from != r.to:
			return fmt.Errorf("through needs a single minor, not %s", s)
		case r.FixedIn != "":
			return errors.New("through and fixed_in together: give the first fixed version (fixed_in) or the last affected one (through)")
		}
		if r.last, err = ParseVersion(r.Through); err != nil {
			return fmt.Errorf("through: %v", err)
		}
		if r.last.MinorLine() != r.from {
			return fmt.Errorf("through %s is not on minor %s", r.Through, r.from)
		}
		if r.From != "" && r.last.Less(r.first) {
			return fmt.Errorf("through %s is below from %s", r.Through, r.From)
		}
	}
	if r.FixedIn == "" {
		return nil
	}
	if r.from != r.to {
		return fmt.Errorf("fixed_in needs a single minor, not %s", s)
	}
	if r.fixed, err = ParseVersion(r.FixedIn); err != nil {
		return fmt.Errorf("fixed_in: %v", err)
	}
	if r.fixed.MinorLine() != r.from {
		return fmt.Errorf("fixed_in %s is not on minor %s", r.FixedIn, r.from)
	}
	if r.From != "" && !r.first.Less(r.fixed) {
		return fmt.Errorf("from %s is not below fixed_in %s", r.From, r.FixedIn)
	}
	return nil
}
