// Command fleetbench measures a live scan of a generated fleet (default
// 10,000 clusters in 2,000 projects) against the in-process fakes with a
// latency on every call, and prints one JSON line:
//
//	{"bench":"fleet","mode":"asset-inventory","clusters":10000,"projects":2000,"api_calls":N,
//	 "calls_by_method":{…},"wall_s":X,"peak_rss_mb":Y,"findings":F}
//
// With -kubernetes SOURCE it also runs the in-cluster checks, from Cloud
// Asset Inventory or from a fake Kubernetes API per cluster, and the line
// is "bench":"in-cluster" with kubernetes_objects and, for api,
// max_calls_per_cluster; -typical pads every cluster to
// fleetgen.TypicalCluster (480 objects).
//
// With -realsize every cluster carries what a real one does besides the
// fields the generator draws (fleetgen.Options.RealSize: about 8 KB of
// JSON a cluster instead of 1 KB), and the line says "real_size":true.
//
// With -cli FILE the scan is the fleetscan binary FILE's, run as a user
// would (scan --organization … --format ndjson, its output counted and
// discarded), and the line is "bench":"cli": that process's wall, CPU and
// peak RSS, its start and its output included.
//
// The fakes run in a child process (fleetbench -serve) so that peak_rss_mb
// is the scanner's own: clients, the streamed pages, and the results. The
// scan uses the production settings: default retry policy, the Logging rate
// limiter. It is a benchmark, run by make bench, not a test.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	asset "cloud.google.com/go/asset/apiv1"
	container "cloud.google.com/go/container/apiv1"
	logging "cloud.google.com/go/logging/apiv2"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/evidence"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
	"github.com/fleetscan/fleetscan/test/kubefake"
	"golang.org/x/oauth2"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
		os.Exit(1)
	}
}

type config struct {
	mode               string
	kubernetes         string // in-cluster source: "", asset-inventory or api
	typical            bool   // pad every cluster to fleetgen.TypicalCluster
	realSize           bool   // clusters the size of real ones (fleetgen.Options.RealSize)
	clusters, projects int
	latency            time.Duration
	serve              bool
	cpuProfile         string
	memProfile         string
	function           bool
	goBench            string
	cli                string // the fleetscan binary to measure, instead of a scan in this process
}

func run(args []string, stdout io.Writer) error {
	var c config
	fs := flag.NewFlagSet("fleetbench", flag.ContinueOnError)
	fs.StringVar(&c.mode, "mode", discovery.ModeAssetInventory, "discovery mode: asset-inventory or container-api")
	fs.IntVar(&c.clusters, "clusters", 10_000, "clusters in the fleet")
	fs.IntVar(&c.projects, "projects", 2_000, "projects in the fleet")
	fs.DurationVar(&c.latency, "latency", 20*time.Millisecond, "latency the fakes add to every call")
	fs.StringVar(&c.kubernetes, "kubernetes", "", "also run the in-cluster checks from SOURCE: asset-inventory or api (a fake Kubernetes API per cluster)")
	fs.BoolVar(&c.typical, "typical", false, "with -kubernetes: pad every cluster to a typical size (20 DaemonSets, 50 Services, 10 NetworkPolicies, 100 workloads, 300 Pods)")
	fs.BoolVar(&c.realSize, "realsize", false, "clusters the size of real ones: each with the endpoint, CA certificate, logging, node configuration… that decide no finding (about 8 KB of JSON, not 1 KB)")
	fs.BoolVar(&c.serve, "serve", false, "internal: serve the fakes until stdin closes")
	fs.StringVar(&c.memProfile, "memprofile", "", "write the heap profile after the scan (the result still live) to FILE")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write the scan's CPU profile (the scanner's process, not the fakes') to FILE")
	fs.StringVar(&c.cli, "cli", "", "measure the fleetscan binary FILE (scan --format ndjson, its output discarded) as a child process, instead of the scan in this process")
	fs.BoolVar(&c.function, "function", false, "instead: build the function as the buildpack does, and measure its binary and its start to the first request served")
	fs.StringVar(&c.goBench, "gobench", "", "instead: print the figures of FILE, go test -bench output, as JSON lines with their targets")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case c.function:
		return functionStart(stdout)
	case c.goBench != "":
		return goBench(c.goBench, stdout)
	}
	if err := kube.ValidSource(c.kubernetes); err != nil {
		return fmt.Errorf("-kubernetes %w", err)
	}
	if c.cli != "" && c.kubernetes == kube.SourceAPI {
		return fmt.Errorf("-cli with -kubernetes api: the CLI would need Google credentials for the clusters' APIs")
	}
	if !c.serve {
		return bench(c, stdout)
	}
	// Only the fakes' process generates and holds the fleet: the scanner's
	// peak RSS is its own.
	opt := fleetgen.Options{Clusters: c.clusters, Projects: c.projects, Seed: 1, Kube: c.serve && c.kubernetes != "", RealSize: c.realSize}
	if c.typical {
		opt.KubeShape = &fleetgen.TypicalCluster
	}
	fleet, err := fleetgen.Generate(opt)
	if err != nil {
		return err
	}
	return serve(fleet, c, stdout)
}

// serve runs the fakes and a loopback HTTP endpoint for the call counts,
// prints both addresses, and exits when stdin closes.
func serve(fleet *fleetgen.Fleet, c config, stdout io.Writer) error {
	var ks *kubefake.Server
	if c.kubernetes == kube.SourceAPI {
		var err error
		if ks, err = kubefake.Start(fleet.Kube, kubefake.Options{Latency: c.latency}); err != nil {
			return err
		}
		defer ks.Close()
		ks.Attach(fleet)
	}
	objects := 0
	for _, objs := range fleet.Kube {
		objects += len(objs)
	}
	fleet.Kube = maybeDrop(fleet.Kube, c.kubernetes == kube.SourceAssetInventory)
	srv, err := gcpfake.Start(fleet, gcpfake.Options{Latency: c.latency})
	if err != nil {
		return err
	}
	defer srv.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/calls", func(w http.ResponseWriter, _ *http.Request) {
		calls := srv.Calls()
		if ks != nil {
			for r, n := range ks.CallsByResource() {
				calls["kubernetes."+r] = n
			}
		}
		calls["objects"] = objects // not a call: the in-cluster objects served
		json.NewEncoder(w).Encode(calls)
	})
	go http.Serve(lis, mux)
	fmt.Fprintf(stdout, "%s %s %s %s\n", srv.Addr(), lis.Addr(), fleet.Org, fleet.Now.Format(time.RFC3339Nano))
	io.Copy(io.Discard, os.Stdin)
	return nil
}

func bench(c config, stdout io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-serve", "-clusters", fmt.Sprint(c.clusters), "-projects", fmt.Sprint(c.projects), "-latency", c.latency.String(),
		"-kubernetes", c.kubernetes, fmt.Sprintf("-typical=%t", c.typical), fmt.Sprintf("-realsize=%t", c.realSize))
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		return err
	}
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { stdin.Close(); child.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("fakes did not start: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 4 {
		return fmt.Errorf("fakes said %q, want: GRPC-ADDR HTTP-ADDR ORG NOW", line)
	}
	grpcAddr, httpAddr, org := f[0], f[1], f[2]
	now, err := time.Parse(time.RFC3339Nano, f[3])
	if err != nil {
		return err
	}

	var m measured
	if c.cli != "" {
		m, err = runCLI(c, grpcAddr, org, now)
	} else {
		m, err = scanHere(c, grpcAddr, org, now)
	}
	if err != nil {
		return err
	}

	resp, err := http.Get("http://" + httpAddr + "/calls")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var calls map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&calls); err != nil {
		return err
	}
	objects := calls["objects"]
	delete(calls, "objects")
	total := 0
	for _, n := range calls {
		total += n
	}
	bench := "fleet"
	if c.kubernetes != "" {
		bench = "in-cluster"
	}
	if c.cli != "" {
		bench = "cli"
	}
	return json.NewEncoder(stdout).Encode(result{
		Bench: bench, Mode: c.mode, Kubernetes: c.kubernetes, RealSize: c.realSize, Clusters: c.clusters, Projects: c.projects, Objects: objects,
		APICalls: total, CallsByMethod: calls, MaxCallsPerCluster: m.perCluster,
		Targets: fleetTargets(c),
		WallS:   round(m.wall.Seconds()), CPUS: round(m.cpu), PeakRSSMB: round(float64(m.maxRSS) / 1024), Findings: m.findings,
	})
}

// measured is one scan's figures.
type measured struct {
	wall       time.Duration
	cpu        float64 // user+sys seconds
	maxRSS     int64   // KiB
	findings   int
	perCluster int // -kubernetes api: the most list calls one cluster's API took
}

// runCLI runs the fleetscan binary c.cli on the fakes at grpcAddr, as a user
// would (its findings as ndjson, counted and discarded), and measures that
// process.
func runCLI(c config, grpcAddr, org string, now time.Time) (measured, error) {
	args := []string{"scan", "--organization", strings.TrimPrefix(org, "organizations/"), "--discovery", c.mode,
		"--format", "ndjson", "--as-of", now.Format(time.RFC3339), "--scan-id", "bench"}
	if c.kubernetes != "" {
		args = append(args, "--kubernetes", c.kubernetes)
	}
	cmd := exec.Command(c.cli, args...)
	cmd.Env = append(os.Environ(), "FLEETSCAN_API_ENDPOINTS=asset="+grpcAddr+",container="+grpcAddr+",resourcemanager="+grpcAddr+",logging="+grpcAddr)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return measured{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return measured{}, err
	}
	lines := 0
	for sc := bufio.NewScanner(out); sc.Scan(); {
		lines++
	}
	err = cmd.Wait()
	wall := time.Since(start)
	if err != nil {
		return measured{}, fmt.Errorf("%s: %v\n%s", c.cli, err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return measured{wall: wall, cpu: cpu(ru.Utime) + cpu(ru.Stime), maxRSS: ru.Maxrss, findings: lines}, nil
}

// scanHere scans the fakes at grpcAddr in this process, as the CLI would,
// and measures the scan alone.
func scanHere(c config, grpcAddr, org string, now time.Time) (measured, error) {
	ctx := context.Background()
	ep := gcpclient.Endpoints{"asset": grpcAddr, "container": grpcAddr, "resourcemanager": grpcAddr, "logging": grpcAddr}
	scope, err := scanner.ParseScope(org)
	if err != nil {
		return measured{}, err
	}
	cat, err := catalog.Embedded()
	if err != nil {
		return measured{}, err
	}
	// The versions offered per location, one GetServerConfig each.
	cm, err := container.NewClusterManagerClient(ctx, ep.Options("container")...)
	if err != nil {
		return measured{}, err
	}
	defer cm.Close()
	var src scanner.Source
	switch c.mode {
	case discovery.ModeAssetInventory:
		ac, err := asset.NewClient(ctx, ep.Options("asset")...)
		if err != nil {
			return measured{}, err
		}
		defer ac.Close()
		src = &discovery.AssetInventory{Client: ac, Scope: scope, Policy: gcpclient.DefaultPolicy, Catalog: cat, WithoutAccess: c.kubernetes != kube.SourceAPI}
	case discovery.ModeContainerAPI:
		pc, err := resourcemanager.NewProjectsClient(ctx, ep.Options("resourcemanager")...)
		if err != nil {
			return measured{}, err
		}
		defer pc.Close()
		fc, err := resourcemanager.NewFoldersClient(ctx, ep.Options("resourcemanager")...)
		if err != nil {
			return measured{}, err
		}
		defer fc.Close()
		src = &discovery.ContainerAPI{Clusters: cm, Projects: pc, Folders: fc, Scope: scope, Policy: gcpclient.DefaultPolicy}
	default:
		return measured{}, fmt.Errorf("unknown mode %q", c.mode)
	}
	lc, err := logging.NewClient(ctx, ep.Options("logging")...)
	if err != nil {
		return measured{}, err
	}
	defer lc.Close()
	lp := gcpclient.DefaultPolicy
	lp.Limiter = evidence.NewLimiter()
	var ac *asset.Client
	if c.kubernetes == kube.SourceAssetInventory {
		if ac, err = asset.NewClient(ctx, ep.Options("asset")...); err != nil {
			return measured{}, err
		}
		defer ac.Close()
	}
	inCluster, err := kube.Live(kube.LiveOptions{Source: c.kubernetes, Scope: scope, Asset: ac, Catalog: cat, Policy: gcpclient.DefaultPolicy,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "bench"})})
	if err != nil {
		return measured{}, err
	}

	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return measured{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return measured{}, err
		}
	}
	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before) // generating the fleet is not the scan's CPU
	start := time.Now()
	res, err := scanner.Scan(ctx, scanner.Options{
		Catalog: cat, Source: src, Evidence: &evidence.Logging{Client: lc, Policy: lp}, InCluster: inCluster,
		Offers: &discovery.ServerConfigs{Client: cm, Policy: gcpclient.DefaultPolicy},
		ScanID: "bench", Now: now,
	})
	wall := time.Since(start)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru) // Maxrss is in KiB on Linux
	if c.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if c.memProfile != "" {
		f, err := os.Create(c.memProfile)
		if err != nil {
			return measured{}, err
		}
		defer f.Close()
		runtime.GC() // the profile shows what is live: the result, not the scan's garbage
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return measured{}, err
		}
	}
	if err != nil {
		return measured{}, err
	}
	if res.Summary.Clusters != c.clusters {
		return measured{}, fmt.Errorf("scanned %d clusters, want %d", res.Summary.Clusters, c.clusters)
	}

	var perCluster int
	if api, ok := inCluster.(*kube.API); ok {
		_, perCluster = api.Calls()
	}
	return measured{wall: wall, cpu: cpu(ru.Utime) + cpu(ru.Stime) - cpu(before.Utime) - cpu(before.Stime), maxRSS: ru.Maxrss,
		findings: len(res.Findings), perCluster: perCluster}, nil
}

// result is the printed line, fields in this order.
type result struct {
	Bench         string         `json:"bench"`
	Mode          string         `json:"mode"`
	Kubernetes    string         `json:"kubernetes,omitempty"`
	RealSize      bool           `json:"real_size,omitempty"`
	Clusters      int            `json:"clusters"`
	Projects      int            `json:"projects"`
	Objects       int            `json:"kubernetes_objects,omitempty"`
	APICalls      int            `json:"api_calls"`
	CallsByMethod map[string]int `json:"calls_by_method"`
	// MaxCallsPerCluster is, for -kubernetes api, the most list calls one
	// cluster's API took.
	MaxCallsPerCluster int     `json:"max_calls_per_cluster,omitempty"`
	WallS              float64 `json:"wall_s"`
	CPUS               float64 `json:"cpu_s"` // the scan's own user+sys CPU: the fakes' and the fleet's generation left out
	PeakRSSMB          float64 `json:"peak_rss_mb"`
	Findings           int     `json:"findings"`
	// Targets are issue 14's for the asset-inventory fleet scan.
	Targets map[string]float64 `json:"targets,omitempty"`
}

func fleetTargets(c config) map[string]float64 {
	if c.mode == discovery.ModeAssetInventory && c.kubernetes == "" && c.clusters == 10_000 {
		return targets["fleet"]
	}
	return nil
}

func round(x float64) float64 { return float64(int(x*100+0.5)) / 100 }

func cpu(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// maybeDrop keeps the objects for Cloud Asset Inventory only when keep:
// with -kubernetes api they are served by the Kubernetes fake alone.
func maybeDrop(objs map[string][]fleetgen.KubeObject, keep bool) map[string][]fleetgen.KubeObject {
	if keep {
		return objs
	}
	return nil
}
