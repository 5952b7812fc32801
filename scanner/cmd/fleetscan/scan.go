package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/evidence"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/schema"
)

type scanOptions struct {
	inputs, logs listFlag
	kubeObjects  string
	serverConfig string
	kubernetes   string
	format       string
	outDir       string
	lookback     string
	failOn       string
	catalogDir   string
	scanID       string
	asOf         string

	organization, folder, project string
	discovery                     string
	noLogs                        bool
	endpoints                     listFlag
	concurrency                   int
	apiTimeout                    time.Duration
	bigquery, bigqueryLocation    string
}

func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	var o scanOptions
	fs := newFlagSet("scan", stderr, "fleetscan scan --input FILE... | --organization N | --folder N | --project ID [flags]")
	fs.Var(&o.inputs, "input", "cluster `FILE`: gcloud container clusters list|describe --format=json, or a ListClustersResponse (repeatable)")
	fs.StringVar(&o.serverConfig, "server-config", "", "choose upgrade targets among the versions GKE offers, from `DIR`/LOCATION.json (gcloud container get-server-config --location LOCATION --format=json); live scans ask the Container API")
	fs.StringVar(&o.kubeObjects, "kube-objects", "", "decide the in-cluster checks from kubectl dumps in `DIR`: gke_PROJECT_LOCATION_CLUSTER.json per cluster (kubectl get daemonsets,services,networkpolicies,pods,deployments,statefulsets,replicasets,jobs,cronjobs -A -o json)")
	fs.Var(&o.logs, "logs", "log `FILE`: gcloud logging read --format=json, or a ListLogEntries response (repeatable)")
	fs.StringVar(&o.format, "format", "table", "output `FORMAT`: table, json or ndjson (one finding per line)")
	fs.StringVar(&o.outDir, "out-dir", "", "also write one BigQuery-loadable NDJSON file per table into `DIR`")
	fs.StringVar(&o.lookback, "lookback", "168h", "log evidence window ending at --as-of: a `DURATION` such as 168h, 7d or 90m")
	fs.StringVar(&o.failOn, "fail-on", "", "exit 3 when a finding (any status) has this `SEVERITY` or higher: CRITICAL, HIGH, MEDIUM, LOW or INFO")
	fs.StringVar(&o.catalogDir, "catalog", "", "add or override known issues with the YAML files of `DIR`")
	fs.StringVar(&o.scanID, "scan-id", "", "scan `ID` recorded with every row (default: a new time-based ID)")
	fs.StringVar(&o.asOf, "as-of", "", "evaluate as of this RFC 3339 `TIME`: the end of the log window and scanned_at (default: now)")
	fs.StringVar(&o.organization, "organization", "", "scan the live organization `N` (Application Default Credentials)")
	fs.StringVar(&o.folder, "folder", "", "scan the live folder `N` and its subfolders")
	fs.StringVar(&o.project, "project", "", "scan the live project `ID`")
	fs.StringVar(&o.discovery, "discovery", discovery.ModeAssetInventory, "live discovery `MODE`: asset-inventory (a call per 1,000 clusters) or container-api (a call per project)")
	fs.BoolVar(&o.noLogs, "no-logs", false, "live scans: do not query Cloud Logging for evidence")
	fs.StringVar(&o.kubernetes, "kubernetes", "", "live scans: decide the in-cluster checks from `SOURCE` asset-inventory (Cloud Asset Inventory's Kubernetes objects, no cluster access) or api (each cluster's Kubernetes API, roles/container.viewer)")
	fs.Var(&o.endpoints, "api-endpoint", "`SERVICE=HOST:PORT` override (repeatable; also "+gcpclient.EnvEndpoints+"): asset, container, resourcemanager, logging, bigquery, pubsub, storage; loopback is dialled without TLS or credentials")
	fs.IntVar(&o.concurrency, "concurrency", 16, "container-api mode: projects listed at once")
	fs.DurationVar(&o.apiTimeout, "api-timeout", gcpclient.DefaultPolicy.Timeout, "live scans: deadline of one API call with its retries, from 1s to 5m; an API down longer fails the scan (exit 1)")
	fs.StringVar(&o.bigquery, "bigquery", "", "also write the scan to BigQuery `PROJECT.DATASET` (created when missing)")
	fs.StringVar(&o.bigqueryLocation, "bigquery-location", "US", "`LOCATION` of a dataset that --bigquery creates")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 {
		return 0, usageErrorf("scan takes no arguments, got %q (use --input FILE)", fs.Arg(0))
	}

	opt, failOn, err := o.validate()
	if err != nil {
		return 0, err
	}
	prog := newProgress(stderr)
	if opt.Source == nil { // a live scope
		closeClients, err := o.live(ctx, &opt, prog)
		if err != nil {
			return 0, err
		}
		defer closeClients()
	}
	res, err := scanner.Scan(ctx, opt)
	prog.finish()
	if err != nil {
		return 0, err
	}

	switch o.format {
	case "table":
		err = writeTable(stdout, res, opt.Catalog)
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	case "ndjson":
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for _, f := range res.Findings {
			if err = enc.Encode(f); err != nil {
				break
			}
		}
	}
	if err != nil {
		return 0, fmt.Errorf("write output: %w", err)
	}
	if o.format != "table" {
		fmt.Fprintf(stderr, "fleetscan: %s\n", summaryLine(res))
	}
	if len(res.KubernetesCalls) > 0 {
		fmt.Fprintf(stderr, "fleetscan: Kubernetes objects (--kubernetes %s): calls by type: %s\n", o.kubernetes, scanner.CallsLine(res.KubernetesCalls))
	}
	if o.outDir != "" {
		paths, err := schema.WriteNDJSON(o.outDir, schema.FromResult(res))
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(stderr, "fleetscan: wrote %s\n", strings.Join(paths, ", "))
	}
	if o.bigquery != "" {
		if err := o.writeBigQuery(ctx, res, stderr); err != nil {
			return 0, err
		}
	}
	if failOn != "" {
		if n := countAtOrAbove(res.Findings, failOn); n > 0 {
			fmt.Fprintf(stderr, "fleetscan: %d finding(s) at or above %s (exit %d)\n", n, failOn, exitFindings)
			return exitFindings, nil
		}
	}
	return exitOK, nil
}

// validate checks every flag value and reports every problem at once.
func (o *scanOptions) validate() (scanner.Options, catalog.Severity, error) {
	var errs []error
	scope, err := o.scope()
	if err != nil {
		errs = append(errs, err)
	}
	if err := discovery.ValidMode(o.discovery); err != nil {
		errs = append(errs, fmt.Errorf("--discovery %w", err))
	}
	switch {
	case o.kubernetes == "":
	case kube.ValidSource(o.kubernetes) != nil:
		errs = append(errs, fmt.Errorf("--kubernetes %w", kube.ValidSource(o.kubernetes)))
	case len(o.inputs) > 0:
		errs = append(errs, errors.New("--kubernetes reads a live scope's objects: use --kube-objects DIR with --input"))
	case o.kubeObjects != "":
		errs = append(errs, errors.New("--kubernetes and --kube-objects are two sources of the same objects: give one"))
	}
	if o.concurrency < 1 || o.concurrency > 256 {
		errs = append(errs, fmt.Errorf("--concurrency %d is not between 1 and 256", o.concurrency))
	}
	if o.apiTimeout < time.Second || o.apiTimeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("--api-timeout %s is not between 1s and 5m", o.apiTimeout))
	}
	if _, err := o.endpointOverrides(); err != nil {
		errs = append(errs, err)
	}
	if o.bigquery != "" {
		if _, _, err := schema.ParseDataset(o.bigquery); err != nil {
			errs = append(errs, fmt.Errorf("--bigquery: %w", err))
		}
	}
	switch o.format {
	case "table", "json", "ndjson":
	default:
		errs = append(errs, fmt.Errorf("--format %q is not table, json or ndjson", o.format))
	}
	lookback, err := scanner.ParseLookback(o.lookback)
	if err != nil {
		errs = append(errs, fmt.Errorf("--lookback: %v", err))
	}
	var failOn catalog.Severity
	if o.failOn != "" {
		if failOn, err = catalog.ParseSeverity(o.failOn); err != nil {
			errs = append(errs, fmt.Errorf("--fail-on: %v", err))
		}
	}
	var now time.Time
	if o.asOf != "" {
		if now, err = time.Parse(time.RFC3339, o.asOf); err != nil {
			errs = append(errs, fmt.Errorf("--as-of %q is not an RFC 3339 time such as 2026-11-27T12:00:00Z", o.asOf))
		}
	}
	cat, err := loadCatalog(o.catalogDir)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return scanner.Options{}, "", err
	}

	opt := scanner.Options{
		Catalog:  cat,
		ScanID:   o.scanID,
		Now:      now,
		Lookback: lookback,
	}
	if len(o.inputs) > 0 {
		opt.Source = discovery.Files{Paths: o.inputs}
		opt.Scope = "files:" + strings.Join(o.inputs, ",")
	} else {
		opt.Scope = scope.String()
		opt.OrgID = scope.OrganizationID()
	}
	if opt.ScanID == "" {
		opt.ScanID = scanner.NewScanID(time.Now(), "")
	}
	if o.serverConfig != "" {
		offers, err := discovery.ServerConfigDir{Dir: o.serverConfig}.Offers()
		if err != nil {
			return scanner.Options{}, "", fmt.Errorf("server config: %w", err)
		}
		opt.Offers = offers
	}
	if o.kubeObjects != "" {
		d, err := kube.LoadDumps(o.kubeObjects)
		if err != nil {
			return scanner.Options{}, "", err
		}
		opt.InCluster = d
	}
	if len(o.logs) > 0 {
		entries, err := evidence.ReadFiles(o.logs)
		if err != nil {
			return scanner.Options{}, "", err
		}
		opt.Evidence = evidence.Entries(entries)
	}
	return opt, failOn, nil
}

// scope checks that exactly one of --input and the scope flags is given and
// returns the live scope (zero for file input).
func (o *scanOptions) scope() (scanner.Scope, error) {
	var given []string
	for flag, v := range map[string]string{"--organization": o.organization, "--folder": o.folder, "--project": o.project} {
		if v != "" {
			given = append(given, flag)
		}
	}
	slices.Sort(given)
	switch {
	case len(o.inputs) > 0 && len(given) > 0:
		return scanner.Scope{}, fmt.Errorf("--input and %s cannot be combined: scan files or a live scope", given[0])
	case len(o.inputs) > 0:
		return scanner.Scope{}, nil
	case len(given) == 0:
		return scanner.Scope{}, errors.New("nothing to scan: give --input FILE (gcloud container clusters list --format=json) or --organization N, --folder N or --project ID")
	case len(given) > 1:
		return scanner.Scope{}, fmt.Errorf("%s: give one scope", strings.Join(given, " and "))
	case o.organization != "":
		return scanner.ParseScope("organizations/" + strings.TrimPrefix(o.organization, "organizations/"))
	case o.folder != "":
		return scanner.ParseScope("folders/" + strings.TrimPrefix(o.folder, "folders/"))
	default:
		return scanner.ParseScope("projects/" + strings.TrimPrefix(o.project, "projects/"))
	}
}

// endpointOverrides merges FLEETSCAN_API_ENDPOINTS with --api-endpoint
// (the flags win).
func (o *scanOptions) endpointOverrides() (gcpclient.Endpoints, error) {
	env, err := gcpclient.ParseEndpoints(os.Getenv(gcpclient.EnvEndpoints))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gcpclient.EnvEndpoints, err)
	}
	flags, err := gcpclient.ParseEndpoints(o.endpoints...)
	if err != nil {
		return nil, fmt.Errorf("--api-endpoint: %w", err)
	}
	return env.Merge(flags), nil
}

func countAtOrAbove(fs []scanner.Finding, sev catalog.Severity) int {
	n := 0
	for _, f := range fs {
		if catalog.Severity(f.Severity).Rank() >= sev.Rank() {
			n++
		}
	}
	return n
}
