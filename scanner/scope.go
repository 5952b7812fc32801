package scanner

import (
	"fmt"
	"regexp"
	"strings"
)

// Scope is what a scan covers: organizations/N, folders/N or projects/ID.
type Scope struct {
	Kind string // organizations, folders or projects
	ID   string // the number, or the project ID
}

var (
	numericID = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
	// projectID follows Resource Manager: 6 to 30 lowercase letters, digits
	// or hyphens, starting with a letter and not ending with a hyphen.
	projectID = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// domain is the domain of a domain-scoped project ID (G Suite era):
	// lower-case DNS labels.
	domain = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
)

// ValidProjectID reports whether s is a well-formed project ID. Domain-scoped
// IDs ("example.com:proj") are accepted too.
func ValidProjectID(s string) bool {
	if d, id, ok := strings.Cut(s, ":"); ok {
		return domain.MatchString(d) && projectID.MatchString(id)
	}
	return projectID.MatchString(s)
}

// ParseScope parses and checks a scope name.
func ParseScope(s string) (Scope, error) {
	kind, id, ok := strings.Cut(s, "/")
	switch {
	case !ok:
	case kind == "organizations" || kind == "folders":
		if numericID.MatchString(id) {
			return Scope{kind, id}, nil
		}
		return Scope{}, fmt.Errorf("invalid scope %q: %s are named by number, e.g. %s/123456789012", s, kind, kind)
	case kind == "projects":
		if ValidProjectID(id) {
			return Scope{kind, id}, nil
		}
		return Scope{}, fmt.Errorf("invalid scope %q: %q is not a project ID (6-30 lowercase letters, digits or hyphens, starting with a letter)", s, id)
	}
	return Scope{}, fmt.Errorf("invalid scope %q: want organizations/N, folders/N or projects/ID", s)
}

func (s Scope) String() string { return s.Kind + "/" + s.ID }

// OrganizationID is the organization's number when the scope is one, else "".
func (s Scope) OrganizationID() string {
	if s.Kind == "organizations" {
		return s.ID
	}
	return ""
}
