package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscan/fleetscan/test/testkit"
)

// Targets are issue 14's: one per figure make bench prints.
var targets = map[string]map[string]float64{
	"fleet":    {"wall_s": 2, "api_calls": 35, "peak_rss_mb": 150},
	"match":    {"clusters_per_s": 1_000_000, "allocs_per_finding": 2},
	"bigquery": {"rows_per_s": 50_000, "alloc_mb": 50},
	"function": {"start_ms": 50, "binary_deployed_mb": 50},
}

// functionStart builds the function as the Go buildpack does (the root
// package behind funcframework, ./function/local here), starts it on a
// loopback port and measures the time from the process's start to the
// first HTTP answer, and the binary's size, also as deployed (deploy/ has
// the buildpack link it with testkit.DeployedLDFlags). The function reads its configuration on the first
// event, so no Google Cloud is needed to serve a first request.
func functionStart(stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "fleetbench-function")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, stripped := filepath.Join(dir, "function"), filepath.Join(dir, "function-stripped")
	for _, b := range []struct {
		out   string
		flags []string
	}{{bin, nil}, {stripped, []string{"-ldflags=" + testkit.DeployedLDFlags}}} {
		args := append(append([]string{"build", "-o", b.out}, b.flags...), "./function/local")
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	size := func(p string) (float64, error) {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		return round(float64(fi.Size()) / (1 << 20)), nil
	}
	mb, err := size(bin)
	if err != nil {
		return err
	}
	smb, err := size(stripped)
	if err != nil {
		return err
	}
	const runs = 5
	var best, sum time.Duration
	for i := range runs {
		d, err := startOnce(bin)
		if err != nil {
			return err
		}
		sum += d
		if i == 0 || d < best {
			best = d
		}
	}
	return emit(stdout, "function", map[string]any{
		"start_ms": round(float64(best.Microseconds()) / 1000), "start_ms_mean": round(float64(sum.Microseconds()) / 1000 / runs),
		"binary_mb": mb, "binary_deployed_mb": smb, "runs": runs,
	})
}

// startOnce starts bin on a free loopback port and returns how long the
// first answer took; the process is killed before it returns.
func startOnce(bin string) (time.Duration, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := strconv.Itoa(lis.Addr().(*net.TCPAddr).Port)
	lis.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "PORT="+port, "FUNCTION_TARGET=ScanFleet")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	for ctx.Err() == nil {
		resp, err := client.Get("http://127.0.0.1:" + port + "/")
		if err == nil {
			resp.Body.Close()
			return time.Since(start), nil
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("the function did not answer on port %s within 30 s", port)
}

// goBench turns the go test -bench lines of make bench into one JSON line
// per figure, with its targets.
func goBench(path string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := strings.TrimSuffix(fields[0], "-2") // -cpu 1 prints no suffix
		m := map[string]float64{}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err == nil {
				m[fields[i+1]] = v
			}
		}
		var bench string
		fig := map[string]any{"go_bench": name}
		switch {
		case name == "BenchmarkMatch/fleet=generated":
			bench = "match"
			fig["clusters_per_s"], fig["allocs_per_finding"], fig["findings"] = round(m["clusters/s"]), m["allocs/finding"], m["findings/fleet"]
		case name == "BenchmarkMatch/fleet=unaffected":
			bench = "match_unaffected"
			fig["clusters_per_s"], fig["allocs_per_cluster"] = round(m["clusters/s"]), m["allocs/cluster"]
		case strings.HasPrefix(name, "BenchmarkFromWire/fields="):
			// a real cluster's resource.data: all of it, or what a scan reads
			bench = "decode_cluster_" + strings.TrimPrefix(name, "BenchmarkFromWire/fields=")
			fig["us_per_cluster"], fig["allocs_per_cluster"] = m["µs/cluster"], m["allocs/cluster"]
		case name == "BenchmarkFindingKey":
			bench = "finding_key" // a floor of match's cost per finding
			fig["ns_per_key"] = m["ns/op"]
		case name == "BenchmarkFacts/memo=scan":
			bench = "facts"
			fig["clusters_per_s"] = round(m["clusters/s"])
		case name == "BenchmarkFacts/memo=none":
			bench = "facts_without_memo"
			fig["clusters_per_s"] = round(m["clusters/s"])
		case name == "BenchmarkScanUpgradePlan":
			bench = "upgrade_plan"
			fig["clusters_per_s"], fig["alloc_mb"] = round(m["clusters/s"]), round(m["B/op"]/(1<<20))
		case strings.HasPrefix(name, "BenchmarkWrite30kFindings/path=insertall/"):
			// The target is the client's: against a server that only reads
			// the body; the validating fake's own cost is a line of its own.
			bench = "bigquery"
			if server := strings.TrimPrefix(name, "BenchmarkWrite30kFindings/path=insertall/server="); server != "discard" {
				bench = "bigquery_with_fake_" + server
			}
			fig["rows_per_s"], fig["alloc_mb"], fig["requests"] = round(m["rows/s"]), round(m["B/op"]/(1<<20)), m["requests/write"]
		default:
			continue
		}
		if err := emit(stdout, bench, fig); err != nil {
			return err
		}
	}
	return sc.Err()
}

// emit prints one figure line: the bench name, its figures, its targets.
func emit(stdout io.Writer, bench string, fig map[string]any) error {
	fig["bench"] = bench
	if t := targets[bench]; len(t) > 0 {
		fig["targets"] = t
	}
	return json.NewEncoder(stdout).Encode(fig)
}
