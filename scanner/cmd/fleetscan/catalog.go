package main

import (
	"cmp"
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

// catalogCommands are catalog's subcommands, for help and suggestions.
var catalogCommands = [][2]string{
	{"list", "list the known issues"},
	{"validate", "check a directory of issue files"},
}

func runCatalog(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageErrorf("catalog", "catalog needs a subcommand: list or validate")
	}
	switch sub := args[0]; {
	case isHelpFlag(sub):
		fmt.Fprint(stdout, "Usage:\n  fleetscan catalog list [--catalog DIR]\n  fleetscan catalog validate DIR\n\n"+
			"The catalog of known issues: built in, and extended or overridden from a\ndirectory of issue files (--catalog DIR).\n\nCommands:\n")
		commandRows(stdout, catalogCommands)
		fmt.Fprint(stdout, "\nRun 'fleetscan catalog COMMAND --help' for a command's flags.\n")
		return errHelp
	case sub == "list":
		fs := newFlagSet("catalog list", stdout, "Lists the known issues by category, with counts: ID, severity, scope, what decides them, the affected versions and the title, then the catalog version.", "catalog list [--catalog DIR] [--category NAME]")
		fs.group("Catalog")
		var dir string
		var categories listFlag
		fs.stringVar(&dir, "catalog", "", "DIR", "add issues, or replace built-in ones with the same ID, from DIR/*.yaml")
		fs.listVar(&categories, "category", "NAME", "list only this category's issues (repeatable)")
		if err := fs.parse(args[1:]); err != nil {
			return err
		}
		if err := noArgs("catalog list", fs.args); err != nil {
			return err
		}
		cat, err := loadCatalog(dir)
		if err != nil {
			return err
		}
		whole := len(cat.Issues)
		if cat, err = cat.Narrow(nil, categories); err != nil {
			return fmt.Errorf("--category: %w", err)
		}
		listCatalog(stdout, cat)
		if len(cat.Issues) < whole {
			fmt.Fprintf(stdout, "\n%d of %d issues, catalog version %s\n", len(cat.Issues), whole, cat.Version)
		} else {
			fmt.Fprintf(stdout, "\n%d issues, catalog version %s\n", len(cat.Issues), cat.Version)
		}
		return nil
	case sub == "validate":
		fs := newFlagSet("catalog validate", stdout, "Checks the issue files DIR/*.yaml as --catalog DIR loads them, with the built-in issues, and reports every problem at once.", "catalog validate DIR")
		if err := fs.parse(args[1:]); err != nil {
			return err
		}
		if len(fs.args) != 1 {
			return usageErrorf("catalog validate", "catalog validate needs one directory")
		}
		dir := fs.args[0]
		base, err := catalog.Embedded()
		if err != nil {
			return fmt.Errorf("embedded catalog: %w", err)
		}
		cat, rep, err := catalog.LoadDirReport(dir, base)
		if err != nil {
			return err
		}
		list := func(s []string) string {
			if len(s) == 0 {
				return "none"
			}
			return strings.Join(s, ", ")
		}
		fmt.Fprintf(stdout, "%s: valid; with the built-in issues the catalog has %d issues, version %s\n", dir, len(cat.Issues), cat.Version)
		fmt.Fprintf(stdout, "  files (%d): %s\n", len(rep.Files), list(rep.Files))
		fmt.Fprintf(stdout, "  added (%d): %s\n", len(rep.Added), list(rep.Added))
		fmt.Fprintf(stdout, "  replaced built-in (%d): %s\n", len(rep.Replaced), list(rep.Replaced))
		return nil
	case strings.HasPrefix(sub, "-") && len(sub) > 1:
		name, _, _ := strings.Cut(strings.TrimLeft(sub, "-"), "=")
		return usageErrorf("catalog", "unknown flag --%s: give a subcommand first, list or validate", name)
	default:
		if s := suggest(sub, []string{"list", "validate"}); s != "" {
			return usageErrorf("catalog", "unknown catalog subcommand %q: did you mean %q?", sub, s)
		}
		return usageErrorf("catalog", "unknown catalog subcommand %q (want list or validate)", sub)
	}
}

// listCatalog prints the issues grouped by category, in the order of
// catalog.Categories, each group headed by its name and count.
func listCatalog(w io.Writer, cat *catalog.Catalog) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	first := true
	for _, c := range catalog.Categories {
		var group []*catalog.Issue
		for _, is := range cat.Issues {
			if is.Category == c {
				group = append(group, is)
			}
		}
		if len(group) == 0 {
			continue
		}
		if !first {
			fmt.Fprintln(tw)
		}
		first = false
		fmt.Fprintf(tw, "%s (%d)\n", c, len(group))
		fmt.Fprintln(tw, "  ID\tSEVERITY\tSCOPE\tDECIDED BY\tAFFECTED\tTITLE")
		for _, is := range group {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", is.ID, is.Severity, is.Scope, is.DecidedBy, affectedText(is), is.Title)
		}
	}
	tw.Flush()
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
		switch {
		case r.From != "" && r.FixedIn != "":
			parts = append(parts, r.From+"..<"+r.FixedIn)
		case r.Through != "":
			parts = append(parts, cmp.Or(r.From, r.Minors)+".."+r.Through)
		case r.From != "":
			parts = append(parts, ">="+r.From)
		case r.FixedIn != "":
			parts = append(parts, "<"+r.FixedIn)
		default:
			parts = append(parts, r.Minors)
		}
	}
	return strings.Join(parts, " ")
}
