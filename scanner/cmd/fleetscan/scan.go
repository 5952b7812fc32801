package main

import (
	"cmp"
	"context"
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
	failOnError  bool
	catalogDir   string
	issues       listFlag // --issues ID,… (repeatable)
	categories   listFlag // --category NAME (repeatable)
	scanID       string
	asOf         string

	organization, folder, project string
	discovery                     string
	noLogs                        bool
	endpoints                     listFlag
	concurrency                   int
	apiTimeout                    time.Duration
	bigquery, bigqueryLocation    string

	stdin    io.Reader           // what --input - and --logs - read
	set      func(string) bool   // whether the command line gave a flag
	ep       gcpclient.Endpoints // the endpoint overrides, once validated
	warnings []string            // printed on stderr before the scan
	notes    []string            // printed on stderr before the scan, not warnings
}

func issueIDs(cat *catalog.Catalog) string {
	ids := make([]string, len(cat.Issues))
	for i, is := range cat.Issues {
		ids[i] = is.ID
	}
	return strings.Join(ids, ", ")
}

// splitList splits comma-separated values: --issues A,B --issues C.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// liveOnly are the flags that only a live scan reads.
var liveOnly = []string{"api-timeout", "concurrency", "discovery", "no-logs"}

func scanFlags(o *scanOptions, stdout io.Writer) *flagSet {
	fs := newFlagSet("scan", stdout,
		"Scans GKE clusters for the catalog's known issues: offline from gcloud JSON dumps (--input), or live from an organization, folder or project with Application Default Credentials. Findings go to stdout; progress, warnings and a summary to stderr.",
		"scan --input FILE... [--logs FILE...] [flags]",
		"scan --organization N | --folder N | --project ID [flags]")
	fs.footer = exitCodesHelp
	fs.group("Input")
	fs.listVar(&o.inputs, "input", "FILE", "clusters: gcloud container clusters list|describe --format=json, or a ListClustersResponse; - reads stdin (repeatable)")
	fs.listVar(&o.logs, "logs", "FILE", "log events: gcloud logging read --format=json, or a ListLogEntries response; - reads stdin (repeatable)")
	fs.stringVar(&o.kubeObjects, "kube-objects", "", "DIR", "decide the in-cluster checks from kubectl dumps, one DIR/gke_PROJECT_LOCATION_CLUSTER.json per cluster: kubectl get KINDS -A -o json of DaemonSets, Services, NetworkPolicies, Pods and workloads")
	fs.stringVar(&o.serverConfig, "server-config", "", "DIR", "choose upgrade targets among the versions GKE offers, from DIR/LOCATION.json: gcloud container get-server-config --location LOCATION --format=json (live scans ask the Container API)")
	fs.stringVar(&o.lookback, "lookback", "168h", "DURATION", "log evidence window ending at --as-of, such as 168h, 7d or 90m")
	fs.stringVar(&o.asOf, "as-of", "", "TIME", "evaluate as of this RFC 3339 time: the end of the log window and scanned_at (default now)")
	fs.group("Live scans")
	fs.stringVar(&o.organization, "organization", "", "N", "scan the organization N")
	fs.stringVar(&o.folder, "folder", "", "N", "scan the folder N and its subfolders")
	fs.stringVar(&o.project, "project", "", "ID", "scan the project ID")
	fs.stringVar(&o.discovery, "discovery", discovery.ModeAssetInventory, "MODE", "how clusters are found: asset-inventory (a call per 1,000 clusters) or container-api (a call per project)")
	fs.stringVar(&o.kubernetes, "kubernetes", "", "SOURCE", "decide the in-cluster checks from asset-inventory (Cloud Asset Inventory's Kubernetes objects, no cluster access) or api (each cluster's Kubernetes API, roles/container.viewer)")
	fs.boolVar(&o.noLogs, "no-logs", "do not query Cloud Logging for evidence")
	fs.listVar(&o.endpoints, "api-endpoint", "SERVICE=HOST:PORT", "endpoint override (repeatable; also "+gcpclient.EnvEndpoints+") for asset, container, resourcemanager, logging, bigquery, pubsub or storage; loopback is dialled without TLS or credentials")
	fs.durationVar(&o.apiTimeout, "api-timeout", gcpclient.DefaultPolicy.Timeout, "DURATION", "deadline of one API call with its retries, from 1s to 5m; an API down longer fails the scan")
	fs.intVar(&o.concurrency, "concurrency", 16, "N", "container-api mode: projects listed at once, from 1 to 256")
	fs.group("Output")
	fs.stringVar(&o.format, "format", "table", "FORMAT", "table, json (the whole scan) or ndjson (one finding per line)")
	fs.stringVar(&o.outDir, "out-dir", "", "DIR", "also write one BigQuery-loadable NDJSON file per table into DIR (created when missing)")
	fs.stringVar(&o.bigquery, "bigquery", "", "PROJECT.DATASET", "also write the scan to BigQuery (the dataset is created when missing)")
	fs.stringVar(&o.bigqueryLocation, "bigquery-location", "US", "LOCATION", "location of a dataset that --bigquery creates")
	fs.stringVar(&o.failOn, "fail-on", "", "SEVERITY", "exit 3 when a finding (any status) has this severity or higher: CRITICAL, HIGH, MEDIUM, LOW or INFO")
	fs.boolVar(&o.failOnError, "fail-on-error", "exit 4 when the scan recorded errors: parts of the scope not read")
	fs.stringVar(&o.scanID, "scan-id", "", "ID", "the scan_id recorded with every row (default a new time-based ID)")
	fs.group("Catalog")
	fs.stringVar(&o.catalogDir, "catalog", "", "DIR", "add issues, or replace built-in ones with the same ID, from DIR/*.yaml")
	fs.listVar(&o.issues, "issues", "ID,...", "check only these issues (repeatable; with --category, these and the category's)")
	fs.listVar(&o.categories, "category", "NAME", "check only the issues of this category, such as Storage or \"GPUs and accelerators\" (repeatable; fleetscan catalog list shows them)")
	return fs
}

func runScan(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	o := scanOptions{stdin: stdin}
	fs := scanFlags(&o, stdout)
	if err := fs.parse(args); err != nil {
		return 0, err
	}
	if len(fs.args) > 0 {
		return 0, usageErrorf("scan", "scan takes no arguments, got %q (use --input FILE)", fs.args[0])
	}
	o.set = fs.isSet

	opt, failOn, err := o.validate(ctx)
	if err != nil {
		return 0, err
	}
	for _, w := range o.warnings {
		fmt.Fprintf(stderr, "fleetscan: warning: %s\n", w)
	}
	for _, n := range o.notes {
		fmt.Fprintf(stderr, "fleetscan: %s\n", n)
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
		err = writeJSON(stdout, res)
	case "ndjson":
		err = writeNDJSON(stdout, res.Findings)
	}
	if err != nil {
		return 0, fmt.Errorf("write output: %w", err)
	}
	notRead := notFullyRead(res.Errors)
	if o.format != "table" {
		line := summaryLine(res)
		if notRead != "" {
			line += "; not fully read: " + notRead
		}
		fmt.Fprintf(stderr, "fleetscan: %s\n", line)
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
	// --fail-on first: its exit 3 means what it says whatever else is set.
	if failOn != "" {
		if n := countAtOrAbove(res.Findings, failOn); n > 0 {
			fmt.Fprintf(stderr, "fleetscan: %d finding(s) at or above %s (exit %d)\n", n, failOn, exitFindings)
			return exitFindings, nil
		}
	}
	if o.failOnError && len(res.Errors) > 0 {
		fmt.Fprintf(stderr, "fleetscan: the scan recorded %d error(s); not fully read: %s (exit %d)\n", len(res.Errors), notRead, exitScanErrors)
		return exitScanErrors, nil
	}
	return exitOK, nil
}

// notFullyRead names what the scan errors left unread: their projects, or
// the resource (a folder, the scope) of an error about no project; the
// first 5 in sorted order, then how many more.
func notFullyRead(errs []scanner.ScanError) string {
	var names []string
	for _, e := range errs {
		name := cmp.Or(e.ProjectID, e.Resource, e.API)
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	const show = 5
	if len(names) > show {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
	}
	return strings.Join(names, ", ")
}

// validate checks every flag value and reports every problem at once.
func (o *scanOptions) validate(ctx context.Context) (scanner.Options, catalog.Severity, error) {
	var errs []error
	scope, err := o.scope()
	if err != nil {
		errs = append(errs, err)
	}
	if len(o.inputs) > 0 && o.set != nil {
		for _, name := range liveOnly {
			if o.set(name) {
				errs = append(errs, fmt.Errorf("--%s applies to live scans only: it cannot be combined with --input", name))
			}
		}
	}
	if n := countStdin(o.inputs) + countStdin(o.logs); n > 1 {
		errs = append(errs, fmt.Errorf("- (stdin) is given %d times to --input and --logs: stdin can be read once", n))
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
	if o.ep, err = o.endpointOverrides(); err != nil {
		errs = append(errs, err)
	}
	if o.bigquery != "" {
		if _, _, err := schema.ParseDataset(o.bigquery); err != nil {
			errs = append(errs, fmt.Errorf("--bigquery: %w", err))
		}
	}
	switch f := strings.ToLower(o.format); f {
	case "table", "json", "ndjson":
		o.format = f
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
	} else {
		whole := len(cat.Issues)
		if cat, err = cat.Narrow(splitList(o.issues), o.categories); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				errs = append(errs, errors.New("--issues/--category: "+line))
			}
		} else if len(cat.Issues) < whole {
			o.notes = append(o.notes, fmt.Sprintf("checking %d of the catalog's %d issues: %s", len(cat.Issues), whole, issueIDs(cat)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return scanner.Options{}, "", err
	}
	if o.outDir != "" {
		if err := checkOutDir(o.outDir); err != nil {
			return scanner.Options{}, "", err
		}
	}

	opt := scanner.Options{
		Catalog:  cat,
		ScanID:   o.scanID,
		Now:      now,
		Lookback: lookback,
	}
	if len(o.inputs) > 0 {
		opt.Source = inputFiles{paths: o.inputs, stdin: o.stdin}
		names := slices.Clone(o.inputs)
		for i, p := range names {
			if p == stdinPath {
				names[i] = "stdin"
			}
		}
		opt.Scope = "files:" + strings.Join(names, ",")
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
			return scanner.Options{}, "", err // names the folder or the file
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
		entries, err := readLogFiles(ctx, o.logs, o.stdin)
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

// liveServices are the endpoint overrides only a live scan's discovery
// and evidence use; the other services are outputs (BigQuery) that an
// offline scan may write to.
var liveServices = []string{"asset", "container", "resourcemanager", "logging"}

// endpointOverrides merges FLEETSCAN_API_ENDPOINTS with --api-endpoint
// (the flags win). An offline scan (--input) ignores the variable's
// live-only entries, and its problems with them are a warning: they would
// change nothing. A problem with an entry an offline scan could use (one
// for --bigquery, or one that names no service while --bigquery is given)
// stays an error.
func (o *scanOptions) endpointOverrides() (gcpclient.Endpoints, error) {
	env, envErr := gcpclient.ParseEndpoints(os.Getenv(gcpclient.EnvEndpoints))
	if envErr != nil && len(o.inputs) > 0 {
		var fatal, ignored []error
		for _, e := range unjoin(envErr) {
			var ee *gcpclient.EndpointError
			if errors.As(e, &ee) && (slices.Contains(liveServices, ee.Service) || (ee.Service == "" && o.bigquery == "")) {
				ignored = append(ignored, e)
			} else {
				fatal = append(fatal, e)
			}
		}
		if len(ignored) > 0 {
			msgs := make([]string, len(ignored))
			for i, e := range ignored {
				msgs[i] = e.Error()
			}
			o.warnings = append(o.warnings, fmt.Sprintf("%s: ignored, an --input scan calls no live API: %s", gcpclient.EnvEndpoints, strings.Join(msgs, "; ")))
		}
		envErr = errors.Join(fatal...)
	}
	if envErr != nil {
		return nil, fmt.Errorf("%s: %w", gcpclient.EnvEndpoints, envErr)
	}
	if len(o.inputs) > 0 {
		for _, svc := range liveServices {
			delete(env, svc)
		}
	}
	flags, err := gcpclient.ParseEndpoints(o.endpoints...)
	if err != nil {
		return nil, fmt.Errorf("--api-endpoint: %w", err)
	}
	return env.Merge(flags), nil
}

// unjoin is the errors that errors.Join joined, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func countStdin(paths []string) int {
	n := 0
	for _, p := range paths {
		if p == stdinPath {
			n++
		}
	}
	return n
}

// checkOutDir creates --out-dir when missing and checks that files can be
// created in it, so that a scan does not end failing to write.
func checkOutDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out-dir %s: %v", dir, pathError(dir, err))
	}
	f, err := os.CreateTemp(dir, ".fleetscan-write-check-*")
	if err != nil {
		return fmt.Errorf("--out-dir %s: cannot create files in it: %v", dir, pathError("", err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// pathError is err without its path when the path is path (or any path,
// for path ""), so that a message names the directory once.
func pathError(path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && (path == "" || pe.Path == path) {
		return pe.Err
	}
	return err
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
