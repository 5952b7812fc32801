package main

// The offline inputs as the CLI reads them: discovery.Files and
// evidence.ReadFiles, plus "-" for stdin and a UTF-8 byte order mark at the
// start of a file (as Windows editors and PowerShell's Out-File write it).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/evidence"
)

// stdinPath is the --input or --logs value that reads stdin.
const stdinPath = "-"

// utf8BOM is the UTF-8 byte order mark.
var utf8BOM = []byte("\uFEFF")

// readInput reads an input file, or stdin for "-", without a leading BOM.
// name is what messages call it: the path, or "stdin".
// Reading stdin stops when ctx ends (Ctrl-C on a pipe that stays open).
func readInput(ctx context.Context, path string, stdin io.Reader) (name string, data []byte, err error) {
	if path == stdinPath {
		if stdin == nil {
			return "stdin", nil, errors.New("read stdin: no stdin")
		}
		type result struct {
			data []byte
			err  error
		}
		done := make(chan result, 1)
		go func() {
			b, err := io.ReadAll(stdin)
			done <- result{b, err}
		}()
		select {
		case <-ctx.Done():
			return "stdin", nil, ctx.Err()
		case r := <-done:
			if r.err != nil {
				return "stdin", nil, fmt.Errorf("read stdin: %w", r.err)
			}
			return "stdin", bytes.TrimPrefix(r.data, utf8BOM), nil
		}
	}
	data, err = os.ReadFile(path)
	return path, bytes.TrimPrefix(data, utf8BOM), err
}

// inputFiles is discovery.Files over readInput, so that "-" reads stdin
// and a read of stdin stops with the scan's context.
type inputFiles struct {
	paths []string
	stdin io.Reader
}

func (f inputFiles) Discover(ctx context.Context, found func(scanner.Cluster), failed func(scanner.ScanError)) (scanner.Coverage, error) {
	files := discovery.Files{Paths: f.paths, Read: func(p string) (string, []byte, error) { return readInput(ctx, p, f.stdin) }}
	return files.Discover(ctx, found, failed)
}

// readLogFiles is evidence.ReadFiles over readInput.
func readLogFiles(ctx context.Context, paths []string, stdin io.Reader) ([]evidence.Entry, error) {
	var all []evidence.Entry
	var errs []error
	for _, p := range paths {
		name, data, err := readInput(ctx, p, stdin)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("log input: %w", err))
			continue
		}
		es, err := evidence.ParseEntries(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, es...)
	}
	return all, errors.Join(errs...)
}
