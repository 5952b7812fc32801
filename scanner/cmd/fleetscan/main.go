// Command fleetscan finds the GKE clusters of a fleet that are exposed to
// known GKE issues (first: the Dataplane V2 known issues), proves the ones
// it can from Cloud Logging, and says what to upgrade to.
//
//	fleetscan scan --input clusters.json [--logs logs.json] [--format table|json|ndjson]
//	fleetscan catalog list|validate
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK       = 0 // the command ran; a scan may have findings
	exitError    = 1 // bad input, a failed read, or a failed write
	exitFindings = 3 // scan --fail-on: a finding at or above the severity
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `fleetscan finds GKE clusters exposed to known GKE issues.

Usage:
  fleetscan scan --input FILE... [--logs FILE...] [flags]   scan clusters from gcloud JSON dumps
  fleetscan scan --organization N | --folder N | --project ID [flags]
                                                             scan a live scope (Application Default Credentials)
  fleetscan catalog list [--catalog DIR]                     list the known issues
  fleetscan catalog validate DIR                             check a directory of issue files
  fleetscan help [COMMAND]

Run 'fleetscan scan -h' for the scan flags. Exit codes: 0 the command ran,
1 error, 3 a finding at or above --fail-on.
`

// usageError is an error whose message is followed by the usage text.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	var (
		code int
		err  error
	)
	switch args[0] {
	case "scan":
		code, err = runScan(ctx, args[1:], stdout, stderr)
	case "catalog":
		err = runCatalog(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run(ctx, []string{args[1], "-h"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = usageErrorf("unknown command %q", args[0])
	}
	var ue *usageError
	switch {
	case err == nil:
		return code
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "fleetscan: %v\n\n%s", ue, usage)
		return exitError
	default:
		fmt.Fprintf(stderr, "fleetscan: %v\n", err)
		return exitError
	}
}
