package main

import (
	"bytes"
	"testing"
	"time"
)

func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf) // a bytes.Buffer is not a terminal: lines
	clock := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return clock }
	p.update("discover", 1, 2000, "projects")
	clock = clock.Add(time.Second)
	p.update("discover", 100, 2000, "projects") // within the interval: dropped
	clock = clock.Add(10 * time.Second)
	p.update("discover", 900, 2000, "projects")
	p.update("discover", 2000, 2000, "projects") // completion always prints
	p.update("logs", 1, 0, "Logging calls")      // a new stage always prints
	p.finish()
	want := "fleetscan: discover: 1/2000 projects (0%)\n" +
		"fleetscan: discover: 900/2000 projects (45%)\n" +
		"fleetscan: discover: 2000/2000 projects (100%)\n" +
		"fleetscan: logs: 1 Logging calls\n"
	if got := buf.String(); got != want {
		t.Errorf("progress lines =\n%q\nwant\n%q", got, want)
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf)
	p.tty = true
	p.update("discover", 500, 2000, "projects")
	p.finish()
	want := "\rdiscover [#######.......................] 500/2000 projects (25%)\x1b[K\r\x1b[K"
	if got := buf.String(); got != want {
		t.Errorf("progress bar = %q, want %q", got, want)
	}
}

// Retry lines: at most one every 5 s; the first always.
func TestRetryReporter(t *testing.T) {
	var buf bytes.Buffer
	r := newRetryReporter(newProgress(&buf), 9)
	clock := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return clock }
	r.report("ListAssets", "UNAVAILABLE", 2)
	clock = clock.Add(4 * time.Second)
	r.report("ListAssets", "UNAVAILABLE", 3) // within 5 s: dropped
	r.report("ListClusters", "RESOURCE_EXHAUSTED", 2)
	clock = clock.Add(time.Second)
	r.report("ListClusters", "RESOURCE_EXHAUSTED", 3)
	clock = clock.Add(time.Minute)
	r.report("", "HTTP 503", 4)
	want := "fleetscan: retrying ListAssets (UNAVAILABLE), attempt 2 of 9\n" +
		"fleetscan: retrying ListClusters (RESOURCE_EXHAUSTED), attempt 3 of 9\n" +
		"fleetscan: retrying an API call (HTTP 503), attempt 4 of 9\n"
	if got := buf.String(); got != want {
		t.Errorf("retry lines =\n%q\nwant\n%q", got, want)
	}
}

// On a terminal a note clears the bar, and the next update redraws it.
func TestProgressNoteOnBar(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf)
	p.tty = true
	p.update("discover", 500, 2000, "projects")
	p.note("retrying ListClusters (UNAVAILABLE), attempt 2 of 9")
	p.update("discover", 501, 2000, "projects") // within 100 ms, but the bar was cleared
	p.finish()
	want := "\rdiscover [#######.......................] 500/2000 projects (25%)\x1b[K" +
		"\r\x1b[Kfleetscan: retrying ListClusters (UNAVAILABLE), attempt 2 of 9\n" +
		"\rdiscover [#######.......................] 501/2000 projects (25%)\x1b[K\r\x1b[K"
	if got := buf.String(); got != want {
		t.Errorf("output = %q\nwant %q", got, want)
	}
}
