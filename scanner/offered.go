package scanner

import "context"

// Offered is what GKE offers the clusters of one location (a ServerConfig),
// versions newest first as the API lists them.
type Offered struct {
	MasterVersions []string            // validMasterVersions
	NodeVersions   []string            // validNodeVersions
	Channels       map[string][]string // channels[].channel (RAPID, REGULAR, STABLE, EXTENDED) → validVersions
}

// Offers gives the versions offered per location. project is a project of
// the scan with a cluster in location. Offered is called for several
// locations at once, so it must be safe for concurrent use.
type Offers interface {
	Offered(ctx context.Context, project, location string) (Offered, error)
}
