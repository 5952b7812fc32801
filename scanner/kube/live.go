package kube

import (
	"fmt"
	"slices"
	"strings"

	asset "cloud.google.com/go/asset/apiv1"
	"golang.org/x/oauth2"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
)

// Sources of a live scan's Kubernetes objects: the CLI's --kubernetes and
// the function's FLEETSCAN_KUBERNETES. Empty is off: the in-cluster checks
// are listed as skipped.
const (
	SourceAssetInventory = "asset-inventory" // Cloud Asset Inventory: no cluster access
	SourceAPI            = "api"             // each cluster's Kubernetes API
)

// Sources lists the sources.
var Sources = []string{SourceAssetInventory, SourceAPI}

// ValidSource reports an unknown source; "" (off) is valid.
func ValidSource(s string) error {
	if s == "" || slices.Contains(Sources, s) {
		return nil
	}
	return fmt.Errorf("%q is not %s", s, strings.Join(Sources, " or "))
}

// LiveOptions configure Live.
type LiveOptions struct {
	Source  string
	Scope   scanner.Scope    // asset-inventory: what to list
	Asset   *asset.Client    // asset-inventory
	Catalog *catalog.Catalog // its kubernetes_api checks
	Policy  gcpclient.Policy
	// TokenSource is the api source's bearer token; nil: Application
	// Default Credentials.
	TokenSource oauth2.TokenSource
	// Progress, when set, is called as objects are listed or clusters read.
	Progress func(done int, unit string)
}

// Live is the in-cluster source of a live scan, or nil when Source is
// empty. The CLI and the function both build theirs here.
func Live(o LiveOptions) (scanner.InCluster, error) {
	progress := func(unit string) func(int) {
		if o.Progress == nil {
			return nil
		}
		return func(n int) { o.Progress(n, unit) }
	}
	switch o.Source {
	case "":
		return nil, nil
	case SourceAssetInventory:
		if o.Asset == nil {
			return nil, fmt.Errorf("in-cluster source %s needs a Cloud Asset client", o.Source)
		}
		return &AssetInventory{Client: o.Asset, Scope: o.Scope, Catalog: o.Catalog, Policy: o.Policy, Progress: progress("objects")}, nil
	case SourceAPI:
		// --api-timeout bounds each cluster's calls; they retry as APIRetry.
		return &API{Catalog: o.Catalog, TokenSource: o.TokenSource, Timeout: o.Policy.Timeout, Progress: progress("clusters")}, nil
	}
	return nil, fmt.Errorf("in-cluster source %w", ValidSource(o.Source))
}
