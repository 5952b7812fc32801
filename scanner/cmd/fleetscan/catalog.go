package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// loadCatalog returns the embedded catalog, with dir's issues added and
// overriding when dir is set.
func loadCatalog(dir string) (*catalog.Catalog, error) {
	base, err := catalog.Embedded()
	if err != nil {
		return nil, fmt.Errorf("embedded catalog: %w", err)
	}
	if dir == "" {
		return base, nil
	}
	return catalog.LoadDir(dir, base)
}

func runCatalog(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErrorf("catalog needs a subcommand: list or validate")
	}
	switch args[0] {
	case "list":
		fs := newFlagSet("catalog list", stderr, "fleetscan catalog list [--catalog DIR]")
		dir := fs.String("catalog", "", "add or override issues with the `DIR`ectory's YAML files")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		cat, err := loadCatalog(*dir)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSEVERITY\tSCOPE\tDECIDED BY\tAFFECTED\tTITLE")
		for _, is := range cat.Issues {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", is.ID, is.Severity, is.Scope, is.DecidedBy, affectedText(is), is.Title)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "\n%d issues, catalog version %s\n", len(cat.Issues), cat.Version)
		return nil
	case "validate":
		fs := newFlagSet("catalog validate", stderr, "fleetscan catalog validate DIR")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageErrorf("catalog validate needs one directory")
		}
		dir := fs.Arg(0)
		cat, err := loadCatalog(dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: valid; with the built-in issues the catalog has %d issues, version %s\n", dir, len(cat.Issues), cat.Version)
		return nil
	default:
		return usageErrorf("unknown catalog subcommand %q (want list or validate)", args[0])
	}
}

// affectedText summarises an issue's versions, e.g. "1.22<1.22.17-gke.3100 …".
func affectedText(is *catalog.Issue) string {
	if is.DecidedBy != catalog.ContainerAPI {
		return "-"
	}
	if is.Support != nil {
		oldest, newest := is.Support.Range()
		return fmt.Sprintf("end of support, schedule %s-%s", oldest, newest)
	}
	parts := make([]string, 0, len(is.Affected))
	for _, r := range is.Affected {
		if r.FixedIn != "" {
			parts = append(parts, "<"+r.FixedIn)
		} else {
			parts = append(parts, r.Minors)
		}
	}
	return strings.Join(parts, " ")
}
