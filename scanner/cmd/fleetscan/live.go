package main

import (
	"context"
	"fmt"
	"time"

	asset "cloud.google.com/go/asset/apiv1"
	container "cloud.google.com/go/container/apiv1"
	logging "cloud.google.com/go/logging/apiv2"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"google.golang.org/api/option"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/discovery"
	"github.com/fleetscan/fleetscan/scanner/evidence"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/scanner/kube"
)

// connectTimeout bounds each client's first connection: an endpoint not
// reached by then fails the scan, naming it (a var for the tests).
var connectTimeout = 15 * time.Second

// live creates the clients of a live scan and sets opt's sources. The
// returned func closes the clients.
func (o *scanOptions) live(ctx context.Context, opt *scanner.Options, prog *progress) (func(), error) {
	scope, _ := o.scope() // validated already
	// Each client names its calls for the retry lines and bounds its first
	// connection, so that an unreachable endpoint fails at once, named.
	opts := func(service string) []option.ClientOption {
		return append(o.ep.Options(service), gcpclient.Watch(service, connectTimeout))
	}
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	fail := func(api string, err error) (func(), error) {
		closeAll()
		return nil, fmt.Errorf("create the %s client: %w (credentials come from Application Default Credentials: run gcloud auth application-default login)", api, err)
	}
	policy := gcpclient.DefaultPolicy
	policy.Timeout = o.apiTimeout
	policy.OnRetry = newRetryReporter(prog, policy.Attempts+1).report

	var dc discovery.Clients
	if o.discovery == discovery.ModeAssetInventory || o.kubernetes == kube.SourceAssetInventory {
		c, err := asset.NewClient(ctx, opts("asset")...)
		if err != nil {
			return fail("Cloud Asset", err)
		}
		closers = append(closers, c.Close)
		dc.Asset = c
	}
	// The Container API gives the versions offered per location (one call
	// each), and in container-api mode the clusters.
	cm, err := container.NewClusterManagerClient(ctx, opts("container")...)
	if err != nil {
		return fail("Container", err)
	}
	closers = append(closers, cm.Close)
	if opt.Offers == nil {
		opt.Offers = &discovery.ServerConfigs{Client: cm, Policy: policy}
	}
	switch o.discovery {
	case discovery.ModeAssetInventory:
	case discovery.ModeContainerAPI:
		pc, err := resourcemanager.NewProjectsClient(ctx, opts("resourcemanager")...)
		if err != nil {
			return fail("Resource Manager", err)
		}
		closers = append(closers, pc.Close)
		fc, err := resourcemanager.NewFoldersClient(ctx, opts("resourcemanager")...)
		if err != nil {
			return fail("Resource Manager", err)
		}
		closers = append(closers, fc.Close)
		dc.Clusters, dc.Projects, dc.Folders = cm, pc, fc
	}
	src, err := discovery.Live(dc, discovery.LiveOptions{Mode: o.discovery, Scope: scope, Policy: policy, Catalog: opt.Catalog,
		WithoutAccess: o.kubernetes != kube.SourceAPI, Concurrency: o.concurrency,
		Progress: func(done, total int, unit string) { prog.update("discover", done, total, unit) }})
	if err != nil {
		closeAll()
		return nil, err
	}
	opt.Source = src
	if opt.InCluster, err = kube.Live(kube.LiveOptions{Source: o.kubernetes, Scope: scope, Asset: dc.Asset, Catalog: opt.Catalog,
		Policy: policy, Progress: func(n int, unit string) { prog.update("kubernetes", n, 0, unit) }}); err != nil {
		closeAll()
		return nil, err
	}

	if len(o.logs) == 0 && !o.noLogs {
		lc, err := logging.NewClient(ctx, opts("logging")...)
		if err != nil {
			return fail("Cloud Logging", err)
		}
		closers = append(closers, lc.Close)
		l := evidence.NewLogging(lc, policy, nil)
		l.Progress = func(calls int) { prog.update("logs", calls, 0, "Logging calls") }
		opt.Evidence = l
	}
	return closeAll, nil
}
