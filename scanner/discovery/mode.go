package discovery

import (
	"fmt"

	asset "cloud.google.com/go/asset/apiv1"
	container "cloud.google.com/go/container/apiv1"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
)

// ValidMode checks a live discovery mode's name.
func ValidMode(mode string) error {
	if mode != ModeAssetInventory && mode != ModeContainerAPI {
		return fmt.Errorf("%q is not %s or %s", mode, ModeAssetInventory, ModeContainerAPI)
	}
	return nil
}

// Clients are the API clients of live discovery. A mode needs only its
// own: Asset for asset-inventory, the other three for container-api.
type Clients struct {
	Asset    *asset.Client
	Clusters *container.ClusterManagerClient
	Projects *resourcemanager.ProjectsClient
	Folders  *resourcemanager.FoldersClient
}

// LiveOptions say what a live source reads and how.
type LiveOptions struct {
	Mode  string // ModeAssetInventory or ModeContainerAPI
	Scope scanner.Scope
	// ProjectIDs, when set, are the projects to read (a shard of a
	// fanned-out scan), whatever the mode: with the Container API.
	ProjectIDs  []string
	Policy      gcpclient.Policy
	Concurrency int // container-api: projects at once; default 16
	// Catalog, when set, is what asset-inventory decodes clusters for
	// (AssetInventory.Catalog).
	Catalog FieldReader
	// WithoutAccess: the scan does not reach the clusters' Kubernetes APIs
	// (AssetInventory.WithoutAccess).
	WithoutAccess bool
	// Progress, when set, is called as discovery goes: done so far of
	// total (0 when not known yet) in unit ("clusters" or "projects").
	Progress func(done, total int, unit string)
}

// Live returns the source of a live scan: the CLI's and the function's.
func Live(c Clients, opt LiveOptions) (scanner.Source, error) {
	if err := ValidMode(opt.Mode); err != nil {
		return nil, err
	}
	if opt.Mode == ModeContainerAPI || opt.ProjectIDs != nil {
		return c.ContainerAPI(opt), nil
	}
	a := &AssetInventory{Client: c.Asset, Scope: opt.Scope, Policy: opt.Policy, Catalog: opt.Catalog, WithoutAccess: opt.WithoutAccess}
	if p := opt.Progress; p != nil {
		a.Progress = func(n int) { p(n, 0, "clusters") }
	}
	return a, nil
}

// ContainerAPI is the Container API source of opt, whatever its mode; the
// function also plans fan-outs with its ListProjects.
func (c Clients) ContainerAPI(opt LiveOptions) *ContainerAPI {
	d := &ContainerAPI{Clusters: c.Clusters, Projects: c.Projects, Folders: c.Folders, Scope: opt.Scope,
		ProjectIDs: opt.ProjectIDs, Concurrency: opt.Concurrency, Policy: opt.Policy}
	if p := opt.Progress; p != nil {
		d.Progress = func(done, total int) { p(done, total, "projects") }
	}
	return d
}
