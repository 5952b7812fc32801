// Command fleetscan finds the GKE clusters of a fleet that are exposed to
// known GKE issues (first: the Dataplane V2 known issues), proves the ones
// it can from Cloud Logging, and says what to upgrade to.
//
//	fleetscan scan --input clusters.json [--logs logs.json] [--format table|json|ndjson]
//	fleetscan catalog list|validate
//	fleetscan version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// Exit codes.
const (
	exitOK          = 0   // the command ran; a scan may have findings
	exitError       = 1   // bad input, a failed read, call or write
	exitUsage       = 1   // the command line cannot be run as given: an error, as DESIGN.md's CLI contract says (0 ran, 1 error)
	exitFindings    = 3   // scan --fail-on: a finding at or above the severity
	exitScanErrors  = 4   // scan --fail-on-error: the scan recorded errors
	exitInterrupted = 130 // Ctrl-C (or SIGTERM): 128 + SIGINT
)

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext is cancelled by the first Ctrl-C or SIGTERM; a second one
// ends the process at once, as without fleetscan's handling.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

const exitCodesHelp = `Exit codes:
  0    the command ran (a scan may have findings)
  1    error: unknown command or flag, a flag without its value, a missing
       or extra argument; unreadable or malformed input, a flag value or
       catalog that is not valid, an API or a write that failed
  3    scan --fail-on: a finding at or above the severity
  4    scan --fail-on-error: the scan recorded errors (part of the scope not
       read)
  130  interrupted (Ctrl-C or SIGTERM)
`

// commands are fleetscan's commands, for help and suggestions.
var commands = [][2]string{
	{"scan", "scan clusters: from gcloud JSON dumps (--input) or a live organization, folder or project"},
	{"catalog list", "list the known issues"},
	{"catalog validate", "check a directory of issue files"},
	{"version", "print the fleetscan, catalog and Go versions"},
	{"help [COMMAND]", "print a command's help"},
}

func writeUsage(w io.Writer) {
	fmt.Fprint(w, `fleetscan finds GKE clusters exposed to known GKE issues.

Usage:
  fleetscan COMMAND [flags]

Commands:
`)
	commandRows(w, commands)
	fmt.Fprint(w, `
Examples:
  fleetscan scan --input clusters.json --logs logs.json
  gcloud container clusters list --format=json | fleetscan scan --input -
  fleetscan scan --organization 123456789012 --format ndjson > findings.ndjson

Run 'fleetscan help COMMAND' (or 'fleetscan COMMAND --help') for its flags.

`, exitCodesHelp)
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	code, err := dispatch(ctx, args, stdin, stdout, stderr)
	var ue *usageError
	switch {
	case err == nil:
		return code
	case errors.Is(err, errHelp):
		return exitOK
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "fleetscan: interrupted")
		return exitInterrupted
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "fleetscan: %v\n%s\n", ue, ue.hint())
		return exitUsage
	default:
		fmt.Fprintf(stderr, "fleetscan: %v\n", err)
		return exitError
	}
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 {
		writeUsage(stderr)
		return exitUsage, nil
	}
	switch cmd := args[0]; {
	case cmd == "scan":
		return runScan(ctx, args[1:], stdin, stdout, stderr)
	case cmd == "catalog":
		return exitOK, runCatalog(args[1:], stdout)
	case cmd == "version" || cmd == "--version" || cmd == "-version":
		return exitOK, runVersion(args[1:], stdout)
	case cmd == "help" || isHelpFlag(cmd):
		if len(args) == 1 || isHelpFlag(args[1]) || args[1] == "help" {
			writeUsage(stdout)
			return exitOK, nil
		}
		// help CMD [SUBCMD] is CMD [SUBCMD] --help.
		return dispatch(ctx, append(slices.Clone(args[1:]), "--help"), stdin, stdout, stderr)
	case strings.HasPrefix(cmd, "-") && len(cmd) > 1:
		name, _, _ := strings.Cut(strings.TrimLeft(cmd, "-"), "=")
		if s := suggest(name, []string{"help", "version"}); s != "" {
			return 0, usageErrorf("", "unknown flag --%s: did you mean --%s?", name, s)
		}
		return 0, usageErrorf("", "unknown flag --%s: give a command first, e.g. fleetscan scan --%s", name, name)
	default:
		if s := suggest(cmd, []string{"scan", "catalog", "version", "help"}); s != "" {
			return 0, usageErrorf("", "unknown command %q: did you mean %q?", cmd, s)
		}
		return 0, usageErrorf("", "unknown command %q (want scan, catalog, version or help)", cmd)
	}
}

func runVersion(args []string, stdout io.Writer) error {
	fs := newFlagSet("version", stdout, "Prints the version of fleetscan (its module version, and the VCS revision it was built from when known), of the built-in catalog and of Go.", "version")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := noArgs("version", fs.args); err != nil {
		return err
	}
	cat, err := catalog.Embedded()
	if err != nil {
		return fmt.Errorf("embedded catalog: %w", err)
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprint(stdout, versionText(bi, cat.Version, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH))
	return nil
}

// versionText is the version command's output: the main module's version
// ("(devel)" when not built from a tagged module) and the VCS revision
// stamped by go build, the embedded catalog's version, and Go's.
func versionText(bi *debug.BuildInfo, catalogVersion, goVersion string) string {
	version := "(devel)"
	var revision, modified string
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "fleetscan %s\n", version)
	if revision != "" {
		if modified == "true" {
			revision += " (modified)"
		}
		fmt.Fprintf(&b, "revision  %s\n", revision)
	}
	fmt.Fprintf(&b, "catalog   %s\n", catalogVersion)
	fmt.Fprintf(&b, "go        %s\n", goVersion)
	return b.String()
}
