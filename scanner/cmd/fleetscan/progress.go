package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress reports a long scan on stderr: a redrawn bar on a terminal,
// a line at most every interval otherwise (logs, CI), so stdout stays data.
type progress struct {
	mu        sync.Mutex
	w         io.Writer
	tty       bool
	interval  time.Duration
	now       func() time.Time
	last      time.Time
	lastStage string
	drawn     bool
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, tty: tty, interval: 10 * time.Second, now: time.Now}
}

// update reports done of total units in a stage; total 0 means unknown.
// It is safe for concurrent use.
func (p *progress) update(stage string, done, total int, unit string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	complete := total > 0 && done >= total
	if p.tty {
		if stage == p.lastStage && now.Sub(p.last) < 100*time.Millisecond && !complete {
			return
		}
		fmt.Fprintf(p.w, "\r%-8s %s\x1b[K", stage, bar(done, total, unit))
		p.drawn = true
	} else {
		if stage == p.lastStage && now.Sub(p.last) < p.interval && !complete {
			return
		}
		fmt.Fprintf(p.w, "fleetscan: %s: %s\n", stage, counts(done, total, unit))
	}
	p.last, p.lastStage = now, stage
}

// finish clears the bar so the output that follows starts clean.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

func counts(done, total int, unit string) string {
	if total <= 0 {
		return fmt.Sprintf("%d %s", done, unit)
	}
	return fmt.Sprintf("%d/%d %s (%d%%)", done, total, unit, done*100/total)
}

func bar(done, total int, unit string) string {
	if total <= 0 {
		return counts(done, total, unit)
	}
	const width = 30
	n := min(width, done*width/total)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "] " + counts(done, total, unit)
}

// note prints one line on stderr between the progress updates; on a
// terminal it clears the bar first, and the next update redraws it.
func (p *progress) note(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
		p.lastStage = "" // redraw at the next update
	}
	fmt.Fprintf(p.w, "fleetscan: %s\n", line)
}

// retryReporter makes retries visible: a line per retried call, at most
// one every interval, so that a scan riding out an outage says so without
// flooding stderr.
type retryReporter struct {
	mu       sync.Mutex
	prog     *progress
	tries    int // the policy's tries in all: Attempts+1
	interval time.Duration
	now      func() time.Time
	last     time.Time
}

func newRetryReporter(prog *progress, tries int) *retryReporter {
	return &retryReporter{prog: prog, tries: tries, interval: 5 * time.Second, now: time.Now}
}

// report is a gcpclient.Policy's OnRetry.
func (r *retryReporter) report(method, code string, attempt int) {
	r.mu.Lock()
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < r.interval {
		r.mu.Unlock()
		return
	}
	r.last = now
	r.mu.Unlock()
	if method == "" {
		method = "an API call"
	}
	r.prog.note(fmt.Sprintf("retrying %s (%s), attempt %d of %d", method, code, attempt, r.tries))
}
