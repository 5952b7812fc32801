package schema

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/fleetscan/fleetscan/scanner"
)

// datasetID is BigQuery's format of a dataset ID: letters, digits and
// underscores, at most 1,024 of them.
var datasetID = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// ParseDataset splits PROJECT.DATASET (the project may be domain-scoped:
// example.com:proj.dataset) and checks both names against GCP's formats.
// The names go into the views' SQL, so nothing else may pass: no quote,
// backtick or space can reach a query.
func ParseDataset(s string) (project, dataset string, err error) {
	i := strings.LastIndex(s, ".")
	if i < 0 {
		return "", "", fmt.Errorf("%q is not PROJECT.DATASET", s)
	}
	project, dataset = s[:i], s[i+1:]
	if err := checkNames(project, dataset); err != nil {
		return "", "", fmt.Errorf("%q: %w", s, err)
	}
	return project, dataset, nil
}

func checkNames(project, dataset string) error {
	if !scanner.ValidProjectID(project) {
		return fmt.Errorf("%q is not a project ID", project)
	}
	if !datasetID.MatchString(dataset) || len(dataset) > 1024 {
		return fmt.Errorf("%q is not a dataset ID (letters, digits and underscores)", dataset)
	}
	return nil
}
