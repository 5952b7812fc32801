// Package function is the Cloud Function: it decodes the Pub/Sub CloudEvent
// that Cloud Scheduler's request (or a shard of a fanned-out scan) arrives
// in, scans, writes BigQuery rows, and publishes transition alerts. It
// follows the retry contract of Cloud Functions: a bad message is logged
// and acknowledged, a transient failure returns an error so Pub/Sub
// redelivers, and a stale event is dropped with a log line.
package function

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/schema"
)

// Environment variables the function reads. Terraform sets them; the
// deploy tests check that both sides name the same ones.
const (
	EnvScope            = "FLEETSCAN_SCOPE"             // default scope: organizations/N, folders/N or projects/ID
	EnvBigQuery         = "FLEETSCAN_BIGQUERY"          // PROJECT.DATASET
	EnvBigQueryLocation = "FLEETSCAN_BIGQUERY_LOCATION" // where the dataset is created; default US
	EnvRequestTopic     = "FLEETSCAN_REQUEST_TOPIC"     // projects/P/topics/T: the trigger topic, where shards are published
	EnvAlertTopic       = "FLEETSCAN_ALERT_TOPIC"       // projects/P/topics/T
	EnvStateBucket      = "FLEETSCAN_STATE_BUCKET"      // Cloud Storage bucket of the alert state
	EnvDiscovery        = "FLEETSCAN_DISCOVERY"         // asset-inventory (default) or container-api
	EnvLookback         = "FLEETSCAN_LOOKBACK"          // log evidence window; default 168h
	EnvShardSize        = "FLEETSCAN_SHARD_SIZE"        // projects per shard; 0 never fans out; default 500
	EnvMaxEventAge      = "FLEETSCAN_MAX_EVENT_AGE"     // older events are dropped; default 12h
	EnvAPITimeout       = "FLEETSCAN_API_TIMEOUT"       // deadline of one API call, its retries included; default 60s
	EnvKubernetes       = "FLEETSCAN_KUBERNETES"        // in-cluster checks: "" (off, the default) or asset-inventory
	EnvEndpoints        = gcpclient.EnvEndpoints        // endpoint overrides
)

// EnvVars lists every variable the function reads.
var EnvVars = []string{EnvScope, EnvBigQuery, EnvBigQueryLocation, EnvRequestTopic, EnvAlertTopic, EnvStateBucket,
	EnvDiscovery, EnvLookback, EnvShardSize, EnvMaxEventAge, EnvAPITimeout, EnvKubernetes, EnvEndpoints}

// Config is the function's configuration.
type Config struct {
	Scope            scanner.Scope // zero: every request must name one
	BigQueryProject  string
	BigQueryDataset  string
	BigQueryLocation string
	RequestTopic     string
	AlertTopic       string
	StateBucket      string
	Discovery        string
	Lookback         time.Duration
	ShardSize        int
	MaxEventAge      time.Duration
	// Policy times out and retries every GCP call; its Timeout is
	// FLEETSCAN_API_TIMEOUT, so an API that stays down fails the scan
	// within it.
	Policy    gcpclient.Policy
	Endpoints gcpclient.Endpoints
	// Kubernetes is where the in-cluster checks read objects from: ""
	// (not at all: they are skipped checks), kube.SourceAssetInventory
	// (no cluster access) or kube.SourceAPI (each cluster's API; each
	// shard of a fanned-out scan reads its own clusters).
	Kubernetes string
}

var (
	topicName  = regexp.MustCompile(`^projects/([a-z][a-z0-9-]{4,28}[a-z0-9])/topics/([A-Za-z][A-Za-z0-9._~+%-]{2,254})$`)
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)
)

// LoadConfig reads the configuration with getenv (os.Getenv in production)
// and reports every problem at once.
func LoadConfig(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, a...)...))
	}
	c := Config{
		BigQueryLocation: "US",
		Discovery:        discovery.ModeAssetInventory,
		Lookback:         scanner.DefaultLookback,
		ShardSize:        500,
		MaxEventAge:      12 * time.Hour,
		Policy:           gcpclient.DefaultPolicy,
	}
	if v := getenv(EnvScope); v != "" {
		s, err := scanner.ParseScope(v)
		if err != nil {
			bad(EnvScope, "%v", err)
		}
		c.Scope = s
	}
	if v := getenv(EnvBigQuery); v == "" {
		bad(EnvBigQuery, "is required: PROJECT.DATASET of the findings tables")
	} else if p, d, err := schema.ParseDataset(v); err != nil {
		bad(EnvBigQuery, "%v", err)
	} else {
		c.BigQueryProject, c.BigQueryDataset = p, d
	}
	if v := getenv(EnvBigQueryLocation); v != "" {
		c.BigQueryLocation = v
	}
	for _, t := range []struct {
		name string
		dst  *string
	}{{EnvRequestTopic, &c.RequestTopic}, {EnvAlertTopic, &c.AlertTopic}} {
		v := getenv(t.name)
		switch {
		case v == "":
			bad(t.name, "is required: projects/PROJECT/topics/TOPIC")
		case !topicName.MatchString(v):
			bad(t.name, "%q is not projects/PROJECT/topics/TOPIC", v)
		default:
			*t.dst = v
		}
	}
	if v := getenv(EnvStateBucket); v == "" {
		bad(EnvStateBucket, "is required: the Cloud Storage bucket of the alert state")
	} else if !bucketName.MatchString(v) {
		bad(EnvStateBucket, "%q is not a bucket name", v)
	} else {
		c.StateBucket = v
	}
	if v := getenv(EnvDiscovery); v != "" {
		if err := discovery.ValidMode(v); err != nil {
			bad(EnvDiscovery, "%v", err)
		}
		c.Discovery = v
	}
	if v := getenv(EnvLookback); v != "" {
		d, err := scanner.ParseLookback(v)
		if err != nil {
			bad(EnvLookback, "%v", err)
		}
		c.Lookback = d
	}
	if v := getenv(EnvShardSize); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10000 {
			bad(EnvShardSize, "%q is not a number of projects from 0 (never fan out) to 10000", v)
		}
		c.ShardSize = n
	}
	if v := getenv(EnvMaxEventAge); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(EnvMaxEventAge, "%q is not a positive duration such as 12h", v)
		}
		c.MaxEventAge = d
	}
	if v := getenv(EnvAPITimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 5*time.Minute {
			bad(EnvAPITimeout, "%q is not a duration from 1s to 5m such as 60s", v)
		}
		c.Policy.Timeout = d
	}
	if v := getenv(EnvKubernetes); kube.ValidSource(v) != nil {
		bad(EnvKubernetes, "%v (or empty: in-cluster checks off)", kube.ValidSource(v))
	} else {
		c.Kubernetes = v
	}
	ep, err := gcpclient.ParseEndpoints(getenv(EnvEndpoints))
	if err != nil {
		bad(EnvEndpoints, "%v", err)
	}
	c.Endpoints = ep
	return c, errors.Join(errs...)
}
