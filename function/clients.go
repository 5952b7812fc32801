package function

import (
	"context"
	"errors"
	"fmt"
	"sync"

	asset "cloud.google.com/go/asset/apiv1"
	"cloud.google.com/go/bigquery"
	container "cloud.google.com/go/container/apiv1"
	logging "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/pubsub/v2"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"golang.org/x/time/rate"
	"google.golang.org/api/option"

	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/evidence"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/schema"
)

// clients of one instance, created on its first event and reused.
type clients struct {
	calls     *gcpclient.Counter
	catalog   *catalog.Catalog
	limiter   *rate.Limiter // shared by every scan of the instance: the Logging quota is per project
	discovery discovery.Clients
	logging   *logging.Client
	bucket    *stateBucket
	requests  *pubsub.Publisher
	alerter   *alerter
	writer    *schema.Writer

	ensureMu sync.Mutex // concurrent events of one instance share the clients
	ensured  bool       // the dataset, tables and views exist
}

func (f *Function) clientsFor(ctx context.Context, cfg Config) (*clients, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.clients != nil {
		return f.clients, nil
	}
	// Clients outlive the event that created them.
	ctx = context.WithoutCancel(ctx)
	c := &clients{calls: &gcpclient.Counter{}, limiter: evidence.NewLimiter()}
	ep := cfg.Endpoints
	grpcOpts := func(service string) []option.ClientOption {
		return append(ep.Options(service), c.calls.Option())
	}
	var errs [10]error
	c.catalog, errs[0] = catalog.Embedded()
	d := &c.discovery
	d.Asset, errs[1] = asset.NewClient(ctx, grpcOpts("asset")...)
	d.Clusters, errs[2] = container.NewClusterManagerClient(ctx, grpcOpts("container")...)
	d.Projects, errs[3] = resourcemanager.NewProjectsClient(ctx, grpcOpts("resourcemanager")...)
	d.Folders, errs[4] = resourcemanager.NewFoldersClient(ctx, grpcOpts("resourcemanager")...)
	c.logging, errs[5] = logging.NewClient(ctx, grpcOpts("logging")...)
	var bq *bigquery.Client
	bq, errs[6] = bigquery.NewClient(ctx, cfg.BigQueryProject, ep.RESTOptions("bigquery", "/bigquery/v2/")...)
	// The rows go through insertAll over the same transport, encoded by the
	// writer itself (schema.InsertAll says why).
	var ia *schema.InsertAll
	ia, errs[9] = schema.NewInsertAll(ctx, ep.RESTOptions("bigquery", "/bigquery/v2/")...)
	// The alert state's reads and writes retry as every other call does;
	// its writes carry generation preconditions, so a retry is safe. Reads,
	// listings and uploads all go through the JSON API (uploads to its
	// /upload/storage/v1/ beside it), so an endpoint override (Private
	// Service Connect, a fake) covers them all.
	c.bucket, errs[7] = newStateBucket(ctx, ep, cfg.StateBucket, cfg.Policy)
	// The Pub/Sub client honours PUBSUB_EMULATOR_HOST by itself.
	var ps *pubsub.Client
	ps, errs[8] = pubsub.NewClient(ctx, projectOfTopic(cfg.RequestTopic), ep.Options("pubsub")...)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("create clients: %w", err)
	}
	c.requests = ps.Publisher(cfg.RequestTopic)
	c.alerter = &alerter{bucket: c.bucket, pub: ps.Publisher(cfg.AlertTopic), log: f.log, now: f.now,
		lease: defaultLease, publishTimeout: defaultPublishTimeout}
	c.writer = &schema.Writer{Client: bq, InsertAll: ia, Dataset: cfg.BigQueryDataset, Location: cfg.BigQueryLocation}
	f.clients = c
	return c, nil
}

// ensure creates the BigQuery dataset, tables and views once per instance.
func (c *clients) ensure(ctx context.Context, _ Config) error {
	c.ensureMu.Lock()
	defer c.ensureMu.Unlock()
	if c.ensured {
		return nil
	}
	if err := c.writer.Ensure(ctx); err != nil {
		return err
	}
	c.ensured = true
	return nil
}

func projectOfTopic(topic string) string {
	if m := topicName.FindStringSubmatch(topic); m != nil {
		return m[1]
	}
	return ""
}
