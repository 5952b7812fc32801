package main

// Flag parsing and help shared by the commands: GNU-style --flags (one dash
// is accepted too), flags and arguments in any order, help on stdout, and
// usage errors that name the flag and suggest the one meant.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Get() any       { return []string(*l) }
func (l *listFlag) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}

// errHelp: help was asked for and printed on stdout; exit 0.
var errHelp = flag.ErrHelp

// usageError is a command line that cannot be run as given (exit 2): an
// unknown command or flag, a flag without its value, a missing or extra
// argument. cmd is the command whose help the message points to.
type usageError struct{ msg, cmd string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(cmd, format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...), cmd: cmd}
}

// hint is the line after a usage error.
func (e *usageError) hint() string {
	if e.cmd == "" {
		return "Run 'fleetscan --help' for usage."
	}
	return fmt.Sprintf("Run 'fleetscan %s --help' for usage.", e.cmd)
}

// flagSet is a command's flags, kept in the groups its help shows.
type flagSet struct {
	fs     *flag.FlagSet
	cmd    string   // "scan", "catalog list"
	usage  []string // synopsis lines, without "fleetscan "
	about  string   // what the command does
	footer string
	stdout io.Writer

	flags   []flagMeta // in definition order
	section string     // the group of the flags defined next
	args    []string   // the arguments left after parse
}

type flagMeta struct {
	name, arg, group string
}

func newFlagSet(cmd string, stdout io.Writer, about string, usage ...string) *flagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{fs: fs, cmd: cmd, usage: usage, about: about, stdout: stdout}
}

// group starts the help heading of the flags defined next.
func (f *flagSet) group(title string) { f.section = title }

func (f *flagSet) add(name, arg string) {
	f.flags = append(f.flags, flagMeta{name: name, arg: arg, group: f.section})
}

func (f *flagSet) stringVar(p *string, name, value, arg, usage string) {
	f.fs.StringVar(p, name, value, usage)
	f.add(name, arg)
}

func (f *flagSet) intVar(p *int, name string, value int, arg, usage string) {
	f.fs.IntVar(p, name, value, usage)
	f.add(name, arg)
}

func (f *flagSet) boolVar(p *bool, name, usage string) {
	f.fs.BoolVar(p, name, false, usage)
	f.add(name, "")
}

func (f *flagSet) durationVar(p *time.Duration, name string, value time.Duration, arg, usage string) {
	f.fs.DurationVar(p, name, value, usage)
	f.add(name, arg)
}

func (f *flagSet) listVar(p *listFlag, name, arg, usage string) {
	f.fs.Var(p, name, usage)
	f.add(name, arg)
}

// isSet reports whether the command line gave the flag.
func (f *flagSet) isSet(name string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

func isHelpFlag(a string) bool {
	switch a {
	case "-h", "--h", "-help", "--help":
		return true
	}
	return false
}

// parse reads args: flags (--name VALUE, --name=VALUE, one dash or two)
// anywhere before a "--", the rest into f.args. -h or --help anywhere
// prints the help on stdout and returns errHelp. Any other problem is a
// *usageError.
func (f *flagSet) parse(args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelpFlag(a) {
			f.help(f.stdout)
			return errHelp
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			f.args = append(f.args, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' { // "-" is an argument: stdin
			f.args = append(f.args, a)
			continue
		}
		name := strings.TrimPrefix(a[1:], "-")
		if name == "" || name[0] == '-' || name[0] == '=' {
			return usageErrorf(f.cmd, "bad flag syntax: %s", a)
		}
		name, value, hasValue := strings.Cut(name, "=")
		fl := f.fs.Lookup(name)
		if fl == nil {
			return f.unknownFlag(name)
		}
		if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 == len(args) || (strings.HasPrefix(args[i+1], "--") && len(args[i+1]) > 2) {
				return usageErrorf(f.cmd, "flag --%s needs a value", name)
			}
			i++
			value = args[i]
		}
		if err := f.fs.Set(name, value); err != nil {
			return usageErrorf(f.cmd, "%s", valueError(fl, value, err))
		}
	}
	return nil
}

// valueError says why a flag's value does not parse as its type.
func valueError(fl *flag.Flag, value string, err error) string {
	switch fl.Value.(flag.Getter).Get().(type) {
	case bool:
		return fmt.Sprintf("--%s %q is not true or false", fl.Name, value)
	case int:
		return fmt.Sprintf("--%s %q is not a whole number", fl.Name, value)
	case time.Duration:
		return fmt.Sprintf("--%s %q is not a duration such as 30s or 2m", fl.Name, value)
	}
	return fmt.Sprintf("--%s %q: %v", fl.Name, value, err)
}

func (f *flagSet) unknownFlag(name string) error {
	names := []string{"help"}
	for _, m := range f.flags {
		names = append(names, m.name)
	}
	if s := suggest(name, names); s != "" {
		return usageErrorf(f.cmd, "unknown flag --%s: did you mean --%s?", name, s)
	}
	return usageErrorf(f.cmd, "unknown flag --%s", name)
}

// suggest returns the candidate closest to s within an edit distance of 2
// (the first such, in order), else the one candidate that s is a prefix of
// (--org for --organization), else "".
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := levenshtein(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	var prefixed []string
	for _, c := range candidates {
		if len(s) >= 2 && strings.HasPrefix(c, s) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

// levenshtein is the edit distance between a and b in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Help layout: 80 columns, flag descriptions from column 30.
const (
	helpWidth = 80
	helpCol   = 30
)

// help prints the command's usage, what it does, its flags by group with
// their defaults, and the footer.
func (f *flagSet) help(w io.Writer) {
	fmt.Fprintln(w, "Usage:")
	for _, u := range f.usage {
		fmt.Fprintf(w, "  fleetscan %s\n", u)
	}
	if f.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.Join(wrapWords(f.about, helpWidth), "\n"))
	}
	group := "\x00"
	for _, m := range f.flags {
		if m.group != group {
			group = m.group
			fmt.Fprintf(w, "\n%s:\n", group)
		}
		fl := f.fs.Lookup(m.name)
		left := "--" + m.name
		if m.arg != "" {
			left += " " + m.arg
		}
		usage := fl.Usage
		if d := defaultText(fl); d != "" {
			usage += " (default " + d + ")"
		}
		writeRow(w, "  "+left, usage)
	}
	if f.footer != "" {
		fmt.Fprintf(w, "\n%s", f.footer)
	}
}

// defaultText is a flag's default as help shows it, "" for none.
func defaultText(fl *flag.Flag) string {
	switch fl.Value.(flag.Getter).Get().(type) {
	case bool, []string:
		return ""
	case time.Duration:
		d, _ := time.ParseDuration(fl.DefValue)
		if d%time.Second == 0 && d < 10*time.Minute {
			return fmt.Sprintf("%ds", int(d/time.Second))
		}
		return fl.DefValue
	}
	if fl.DefValue == "0" {
		return ""
	}
	return fl.DefValue
}

// writeRow prints left and then text wrapped from helpCol, on the same
// line when left leaves room.
func writeRow(w io.Writer, left, text string) {
	lines := wrapWords(text, helpWidth-helpCol)
	pad := strings.Repeat(" ", helpCol)
	if len(left)+2 <= helpCol {
		fmt.Fprintf(w, "%-*s%s\n", helpCol, left, lines[0])
		lines = lines[1:]
	} else {
		fmt.Fprintln(w, left)
	}
	for _, l := range lines {
		fmt.Fprintf(w, "%s%s\n", pad, l)
	}
}

// wrapWords breaks text into lines of at most width bytes, at spaces.
func wrapWords(text string, width int) []string {
	var lines []string
	line := ""
	for word := range strings.FieldsSeq(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	return append(lines, line)
}

// commandRows prints commands and their summaries in two columns.
func commandRows(w io.Writer, rows [][2]string) {
	const col = 20
	for _, r := range rows {
		lines := wrapWords(r[1], helpWidth-col)
		fmt.Fprintf(w, "  %-*s%s\n", col-2, r[0], lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", col), l)
		}
	}
}

// noArgs is the usage error of a command given arguments it does not take.
func noArgs(cmd string, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return usageErrorf(cmd, "%s takes no arguments, got %q", cmd, args[0])
}
