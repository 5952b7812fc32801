package main

// Flag parsing shared by the commands.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}

// errHelp: -h was asked for and the usage printed; exit 0.
var errHelp = flag.ErrHelp

// errFlags: the flag package already printed the problem and the usage.
var errFlags = errors.New("invalid flags (see above)")

// newFlagSet is a command's flag set: errors and -h print to stderr with
// the synopsis.
func newFlagSet(name string, stderr io.Writer, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; a flag error has already been printed with the usage.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case err == flag.ErrHelp:
		return errHelp
	default:
		return fmt.Errorf("%s: %w", fs.Name(), errFlags)
	}
}
