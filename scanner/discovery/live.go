package discovery

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"

	asset "cloud.google.com/go/asset/apiv1"
	"cloud.google.com/go/asset/apiv1/assetpb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
	"github.com/fleetscan/fleetscan/scanner/structwire"
)

// Modes of live discovery.
const (
	ModeAssetInventory = "asset-inventory"
	ModeContainerAPI   = "container-api"
)

// ClusterAssetType is the Cloud Asset Inventory type of a GKE cluster.
const ClusterAssetType = "container.googleapis.com/Cluster"

// AssetInventory discovers a scope's clusters with Cloud Asset Inventory:
// ListAssets with content type RESOURCE returns up to 1,000 full Cluster
// resources a page, so 10,000 clusters cost 10 calls. Clusters are handed
// on page by page; memory holds one page.
type AssetInventory struct {
	Client   *asset.Client
	Scope    scanner.Scope
	PageSize int // default and maximum 1000
	Policy   gcpclient.Policy
	// Catalog, when set, is what the clusters are decoded for (a
	// *catalog.Catalog): of each cluster's resource.data, only the fields
	// FromProto and the catalog's conditions read are decoded; the others
	// are only checked to be well-formed. It must be the catalog the scan
	// matches with (or one whose conditions read more): another's
	// conditions could read a field left out. Without it, every field is
	// decoded.
	Catalog FieldReader
	// WithoutAccess, with Catalog, leaves every cluster's scanner.Access
	// empty and its fields (endpoint, CA certificate) undecoded: for a scan
	// that does not reach the clusters' Kubernetes APIs, which then holds
	// 2 KB less a cluster.
	WithoutAccess bool
	// Progress, when set, is called after each page with the clusters so far.
	Progress func(clusters int)
}

// Discover lists the scope's clusters. An error on the scope itself (no
// access, unknown organization) or an outage fails the scan: without it
// nothing is known. A cluster whose data cannot be read is recorded and
// skipped; when its project cannot be told, no project counts as covered.
func (a *AssetInventory) Discover(ctx context.Context, found func(scanner.Cluster), failed func(scanner.ScanError)) (scanner.Coverage, error) {
	size := a.PageSize
	if size <= 0 || size > 1000 {
		size = 1000
	}
	req := &assetpb.ListAssetsRequest{
		Parent:      a.Scope.String(),
		AssetTypes:  []string{ClusterAssetType},
		ContentType: assetpb.ContentType_RESOURCE,
		PageSize:    int32(size),
	}
	total := 0
	cov := scanner.Coverage{All: true}
	// The next page is fetched while this one is decoded and matched: the
	// call's latency hides the scanner's CPU. The channel is unbuffered, so
	// at most two pages (2,000 clusters) are held at once, and each asset
	// is let go as soon as it is decoded.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan assetPage)
	mask := clusterMask(a.Catalog, a.WithoutAccess)
	codec := structwire.NewCodec(func(as *assetpb.Asset, data []byte) (*wireCluster, bool) { return readCluster(data, mask) })
	go a.fetch(ctx, req, size, pages, codec)
	for pg := range pages {
		if pg.err != nil {
			if ctx.Err() != nil {
				return scanner.Coverage{}, ctx.Err()
			}
			return scanner.Coverage{}, fmt.Errorf("list clusters in %s with Cloud Asset Inventory: %w", a.Scope, pg.err)
		}
		for i, as := range pg.assets {
			pg.assets[i] = nil
			w, _ := codec.Take(as)
			c, err := clusterFromAsset(as, w, mask)
			if err != nil {
				failed(scanner.ScanError{ProjectID: c.ProjectID, Resource: as.GetName(), API: "cloudasset", Code: "INVALID_DATA", Message: err.Error()})
				if c.ProjectID == "" {
					cov.All = false // a cluster of some project is missing
				}
				continue
			}
			found(c)
			total++
		}
		if a.Progress != nil {
			a.Progress(total)
		}
	}
	if err := ctx.Err(); err != nil { // ended before the last page
		return scanner.Coverage{}, err
	}
	return cov, nil
}

// assetPage is one page of ListAssets, or the error that ended the list.
type assetPage struct {
	assets []*assetpb.Asset
	err    error
}

// fetch sends the list's pages in order and closes pages after the last
// one, or after the first error (sent as the last page), or when ctx ends.
// codec reads the pages' cluster data from the wire (readCluster).
func (a *AssetInventory) fetch(ctx context.Context, req *assetpb.ListAssetsRequest, size int, pages chan<- assetPage, codec *structwire.Codec[*wireCluster]) {
	defer close(pages)
	opts := a.Policy.CallOptions(grpc.ForceCodecV2(codec))
	for token := ""; ; {
		var pg assetPage
		pctx, cancel := a.Policy.WithTimeout(ctx)
		next, err := iterator.NewPager(a.Client.ListAssets(pctx, req, opts...), size, token).NextPage(&pg.assets)
		cancel()
		pg.err = err
		select {
		case pages <- pg:
		case <-ctx.Done():
			return
		}
		if err != nil || next == "" {
			return
		}
		token = next
	}
}

// assetName takes project, location and cluster from a Cloud Asset name:
// //container.googleapis.com/[v1/]projects/P/(locations|zones)/L/clusters/N
var assetName = regexp.MustCompile(`^//container\.googleapis\.com/(?:v1/)?projects/([^/]+)/(?:locations|zones)/([^/]+)/clusters/([^/]+)$`)

// wireCluster is a cluster asset's resource.data read from the wire.
type wireCluster struct {
	pc *containerpb.Cluster
	// datapath is networkConfig.datapathProvider as sent, when the enum
	// did not take it (a name this client does not know).
	datapath string
}

// readCluster reads resource.data, a Struct on the wire, into a cluster,
// the fields mask keeps; false leaves it to the Struct path.
func readCluster(data []byte, mask *fieldMask) (*wireCluster, bool) {
	pc := &containerpb.Cluster{}
	if fromWire(data, pc.ProtoReflect(), mask) != nil {
		return nil, false
	}
	w := &wireCluster{pc: pc}
	if pc.GetNetworkConfig().GetDatapathProvider() == containerpb.DatapathProvider_DATAPATH_PROVIDER_UNSPECIFIED {
		w.datapath = wireDatapath(data) // a name the enum does not know
	}
	return w, true
}

// clusterFromAsset reads resource.data, the Cluster in REST JSON, with the
// same parser as a file. The project ID comes from the asset name:
// resource.parent names the project by number. w is resource.data as the
// codec read it (nil: as.Resource.Data holds it, read through its wire
// form too, else protojson).
func clusterFromAsset(as *assetpb.Asset, w *wireCluster, mask *fieldMask) (scanner.Cluster, error) {
	m := assetName.FindStringSubmatch(as.GetName())
	if m == nil {
		return scanner.Cluster{}, fmt.Errorf("asset name %q is not a GKE cluster name", as.GetName())
	}
	c := scanner.Cluster{ProjectID: m[1]}
	if w != nil {
		return reduceDecoded(w.pc, w.datapath, m[1])
	}
	data := as.GetResource().GetData()
	if data == nil {
		return c, fmt.Errorf("asset %s has no resource data (content type RESOURCE needed)", as.GetName())
	}
	if b, err := proto.Marshal(data); err == nil {
		if w, ok := readCluster(b, mask); ok {
			return reduceDecoded(w.pc, w.datapath, m[1])
		}
	}
	// A value fromWire leaves to protojson: the round trip through JSON
	// text decides it, and words its error as a file's.
	raw, err := protojson.Marshal(data)
	if err != nil {
		return c, fmt.Errorf("asset %s: %v", as.GetName(), err)
	}
	return ParseCluster(raw, m[1])
}

// reduceDecoded is reduce for a cluster decoded from resource.data, whose
// networkConfig.datapathProvider was sent as datapath: an enum name this
// client does not know is kept.
func reduceDecoded(pc *containerpb.Cluster, datapath, projectID string) (scanner.Cluster, error) {
	c, err := FromProto(pc, projectID)
	if err != nil {
		return scanner.Cluster{}, err
	}
	if c.Datapath == "" && datapath != "" && datapath != "DATAPATH_PROVIDER_UNSPECIFIED" {
		c.Datapath = datapath
	}
	return c, nil
}

// ContainerAPI discovers a scope's clusters without Cloud Asset Inventory:
// the scope's projects from Resource Manager (folders walked recursively),
// then one ListClusters(projects/P/locations/-) per project, Concurrency at
// a time. It costs a call per project and per folder.
type ContainerAPI struct {
	Projects *resourcemanager.ProjectsClient
	Folders  *resourcemanager.FoldersClient
	Clusters *container.ClusterManagerClient
	Scope    scanner.Scope
	// ProjectIDs, when set, are the projects to scan (a shard of a
	// fanned-out scan); Resource Manager is not asked.
	ProjectIDs  []string
	Concurrency int // default 16
	Policy      gcpclient.Policy
	// Progress, when set, is called as projects are done.
	Progress func(projectsDone, projectsTotal int)
}

// Discover lists the projects, then their clusters. A project or folder
// without access (PERMISSION_DENIED, NOT_FOUND) is recorded and the rest is
// scanned; an error on the scope itself, or any other error once retries
// are spent (an outage), fails the scan at once: the calls in flight are
// cancelled instead of each waiting out its own deadline.
//
// It covers every project whose clusters it listed; and, when the project
// list itself was read whole, the scope: a project not listed then is no
// longer in it.
func (d *ContainerAPI) Discover(ctx context.Context, found func(scanner.Cluster), failed func(scanner.ScanError)) (scanner.Coverage, error) {
	projects := d.ProjectIDs
	whole := false
	if projects == nil {
		folderFailed := false
		var err error
		projects, err = d.ListProjects(ctx, func(e scanner.ScanError) {
			folderFailed = true
			failed(e)
		})
		if err != nil {
			return scanner.Coverage{}, err
		}
		whole = !folderFailed
	}
	var mu sync.Mutex // found, failed, the counter and listed are not concurrency-safe
	done := 0
	var listed []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, cmp.Or(d.Concurrency, 16)))
	for _, p := range projects {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			cctx, cancel := d.Policy.WithTimeout(gctx)
			resp, err := d.Clusters.ListClusters(cctx, &containerpb.ListClustersRequest{Parent: "projects/" + p + "/locations/-"}, d.Policy.CallOptions()...)
			cancel()
			mu.Lock()
			defer mu.Unlock()
			done++
			if d.Progress != nil {
				d.Progress(done, len(projects))
			}
			switch {
			case err == nil:
			case gctx.Err() != nil: // cancelled, or another project's call failed the scan
				return gctx.Err()
			case gcpclient.Scoped(err):
				failed(apiError(p, "projects/"+p, "container", err))
				return nil
			default:
				return fmt.Errorf("list clusters in projects/%s with the Container API: %w", p, err)
			}
			listed = append(listed, p)
			if z := resp.GetMissingZones(); len(z) > 0 {
				failed(scanner.ScanError{ProjectID: p, Resource: "projects/" + p, API: "container", Code: "MISSING_ZONES",
					Message: fmt.Sprintf("zones %v did not answer; their clusters are missing", z)})
			}
			for _, pc := range resp.GetClusters() {
				c, err := FromProto(pc, p)
				if err != nil {
					failed(scanner.ScanError{ProjectID: p, Resource: "projects/" + p, API: "container", Code: "INVALID_DATA", Message: err.Error()})
					continue
				}
				found(c)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return scanner.Coverage{}, err
	}
	slices.Sort(listed)
	return scanner.Coverage{All: whole, Projects: listed}, nil
}

// ListProjects walks the scope's folder tree level by level, listing each
// level's parents concurrently, and returns every active project ID under
// the scope, sorted. Folders without access are reported to failed; an
// error on the scope or an outage is returned.
func (d *ContainerAPI) ListProjects(ctx context.Context, failed func(scanner.ScanError)) ([]string, error) {
	if d.Scope.Kind == "projects" {
		return []string{d.Scope.ID}, nil
	}
	var (
		mu    sync.Mutex
		ids   []string
		level = []string{d.Scope.String()}
	)
	for len(level) > 0 {
		var next []string
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(max(1, cmp.Or(d.Concurrency, 16)))
		for _, parent := range level {
			g.Go(func() error {
				ps, err := d.listProjects(gctx, parent)
				var fs []string
				if err == nil {
					fs, err = d.listFolders(gctx, parent)
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
				case gctx.Err() != nil:
					return gctx.Err()
				case parent == d.Scope.String() || !gcpclient.Scoped(err):
					return fmt.Errorf("list projects in %s with Resource Manager: %w", parent, err)
				default:
					failed(apiError("", parent, "resourcemanager", err))
					return nil
				}
				ids = append(ids, ps...)
				next = append(next, fs...)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		slices.Sort(next) // calls and errors in a stable order
		level = next
	}
	slices.Sort(ids)
	return ids, nil
}

func (d *ContainerAPI) listProjects(ctx context.Context, parent string) ([]string, error) {
	var ids []string
	err := pages(ctx, d.Policy, func(ctx context.Context, token string) (string, error) {
		var page []*resourcemanagerpb.Project
		it := d.Projects.ListProjects(ctx, &resourcemanagerpb.ListProjectsRequest{Parent: parent, PageSize: 1000}, d.Policy.CallOptions()...)
		next, err := iterator.NewPager(it, 1000, token).NextPage(&page)
		for _, p := range page {
			if p.GetState() == resourcemanagerpb.Project_ACTIVE {
				ids = append(ids, p.GetProjectId())
			}
		}
		return next, err
	})
	return ids, err
}

func (d *ContainerAPI) listFolders(ctx context.Context, parent string) ([]string, error) {
	var names []string
	err := pages(ctx, d.Policy, func(ctx context.Context, token string) (string, error) {
		var page []*resourcemanagerpb.Folder
		it := d.Folders.ListFolders(ctx, &resourcemanagerpb.ListFoldersRequest{Parent: parent, PageSize: 1000}, d.Policy.CallOptions()...)
		next, err := iterator.NewPager(it, 1000, token).NextPage(&page)
		for _, f := range page {
			if f.GetState() == resourcemanagerpb.Folder_ACTIVE {
				names = append(names, f.GetName())
			}
		}
		return next, err
	})
	return names, err
}

// pages calls fetch for each page, each with its own deadline.
func pages(ctx context.Context, p gcpclient.Policy, fetch func(ctx context.Context, token string) (string, error)) error {
	for token := ""; ; {
		pctx, cancel := p.WithTimeout(ctx)
		next, err := fetch(pctx, token)
		cancel()
		if err != nil || next == "" {
			return err
		}
		token = next
	}
}

// apiError records an API error about one project or folder.
func apiError(projectID, resource, api string, err error) scanner.ScanError {
	return scanner.ScanError{ProjectID: projectID, Resource: resource, API: api, Code: gcpclient.CodeName(err), Message: gcpclient.Message(err)}
}
