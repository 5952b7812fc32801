package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/fleetscan/fleetscan/scanner"
)

// writeJSON writes res as an Encoder with SetEscapeHTML(false) and a
// two-space indent writes it, but one element of its clusters and findings
// at a time: the encoder holds the whole document twice over (compact,
// then indented), 600 MB for the 96 MB of a 10,000-cluster scan.
func writeJSON(w io.Writer, res *scanner.Result) error {
	rest := *res
	rest.Clusters, rest.Findings = nil, nil // written below, where their nulls are
	var head bytes.Buffer
	if err := indented(&head, "", &rest); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	doc := head.Bytes()
	for _, field := range []struct {
		key  string
		list func(*bufio.Writer) error
	}{
		{"clusters", func(bw *bufio.Writer) error { return writeList(bw, res.Clusters) }},
		{"findings", func(bw *bufio.Writer) error { return writeList(bw, res.Findings) }},
	} {
		null := []byte("\n  \"" + field.key + "\": null")
		before, after, ok := bytes.Cut(doc, null)
		if !ok {
			return fmt.Errorf("write json: no %s field", field.key) // a Result without the field
		}
		bw.Write(before)
		bw.WriteString("\n  \"" + field.key + "\": ")
		if err := field.list(bw); err != nil {
			return err
		}
		doc = after
	}
	bw.Write(doc)
	bw.WriteByte('\n')
	return bw.Flush()
}

// writeList writes s as the array of a top-level field: [] when empty,
// else each element on its own lines, indented under the field.
func writeList[E any](bw *bufio.Writer, s []E) error {
	if s == nil {
		_, err := bw.WriteString("null")
		return err
	}
	if len(s) == 0 {
		_, err := bw.WriteString("[]")
		return err
	}
	bw.WriteString("[\n    ")
	var buf bytes.Buffer
	for i := range s {
		if i > 0 {
			bw.WriteString(",\n    ")
		}
		buf.Reset()
		if err := indented(&buf, "    ", &s[i]); err != nil {
			return err
		}
		bw.Write(buf.Bytes())
	}
	_, err := bw.WriteString("\n  ]")
	return err
}

// indented writes v as the CLI's JSON does, each line after the first
// prefixed, without the Encoder's final newline.
func indented(buf *bytes.Buffer, prefix string, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1)
	return nil
}

// ndjsonBlock is how many lines writeNDJSON encodes at a time: about 400 KB.
const ndjsonBlock = 256

// writeNDJSON writes each finding of s on its own line, as an Encoder
// with SetEscapeHTML(false) writes it (appendFinding), the blocks of lines
// encoded on every core and written in order: encoding is most of the
// CLI's time after a large scan. At most GOMAXPROCS+1 blocks are held,
// encoded and not yet written, each in a buffer used again.
func writeNDJSON(w io.Writer, s []scanner.Finding) error {
	n := (len(s) + ndjsonBlock - 1) / ndjsonBlock
	type block struct {
		lines *bytes.Buffer
		err   error
	}
	done := make([]chan block, n)
	for i := range done {
		done[i] = make(chan block, 1)
	}
	free := make(chan *bytes.Buffer, runtime.GOMAXPROCS(0)+1) // the buffers not held
	for range cap(free) {
		free <- new(bytes.Buffer)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for b := range n {
			var buf *bytes.Buffer
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			go func() {
				buf.Reset()
				lines := buf.AvailableBuffer() // the buffer's own array, from its start
				var err error
				for i := b * ndjsonBlock; i < min(len(s), (b+1)*ndjsonBlock) && err == nil; i++ {
					lines, err = appendFinding(lines, &s[i])
				}
				buf.Write(lines)
				done[b] <- block{buf, err}
			}()
		}
	}()
	for b := range n {
		blk := <-done[b]
		if blk.err != nil {
			return blk.err
		}
		if _, err := w.Write(blk.lines.Bytes()); err != nil {
			return err
		}
		free <- blk.lines
	}
	return nil
}
