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
