// Package scanner holds fleetscan's domain types (Cluster, Finding,
// Evidence, Scan) and the scan itself: match every discovered cluster
// against the catalog, then let log evidence confirm or add findings.
package scanner

import (
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// Cluster is what fleetscan reads of a GKE cluster: the Container API v1
// Cluster resource reduced to the fields that known issues depend on.
type Cluster struct {
	ProjectID string `json:"project_id" bigquery:"project_id"`
	Location  string `json:"location" bigquery:"location"`
	Name      string `json:"cluster" bigquery:"cluster"`
	ID        string `json:"cluster_id" bigquery:"cluster_id"`
	SelfLink  string `json:"self_link" bigquery:"self_link"`
	Status    string `json:"cluster_status" bigquery:"cluster_status"`

	MasterVersion  string `json:"master_version" bigquery:"master_version"`       // currentMasterVersion
	NodeVersion    string `json:"node_version" bigquery:"node_version"`           // currentNodeVersion (the oldest node)
	InitialVersion string `json:"initial_version" bigquery:"initial_version"`     // initialClusterVersion
	ReleaseChannel string `json:"release_channel" bigquery:"release_channel"`     // RAPID, REGULAR, STABLE, EXTENDED or ""
	Datapath       string `json:"datapath_provider" bigquery:"datapath_provider"` // networkConfig.datapathProvider, "" when absent
	Autopilot      bool   `json:"autopilot" bigquery:"autopilot"`                 // autopilot.enabled
	VPCNative      bool   `json:"vpc_native" bigquery:"vpc_native"`               // ipAllocationPolicy.useIpAliases
	NodePools      []Pool `json:"node_pools" bigquery:"node_pools"`               // absent on Autopilot clusters without nodes
	// Access is how to reach the cluster's Kubernetes API, for the
	// in-cluster checks through it. Not a column or JSON field.
	Access Access `json:"-" bigquery:"-"`
	// NoNetworkConfig: the input has no networkConfig at all (a trimmed
	// dump), so the Dataplane V2 issues are UNKNOWN, not passed.
	NoNetworkConfig bool `json:"-" bigquery:"-"`
	// Object is the Container API cluster this was read from, for the
	// catalog's conditions.cel. Scan evaluates them into Facts once and
	// lets the object go.
	Object *containerpb.Cluster `json:"-" bigquery:"-"`
	// Facts are the catalog's conditions.cel outcomes for the cluster and
	// its node pools (catalog.Catalog.Facts); nil until evaluated.
	Facts *catalog.Facts `json:"-" bigquery:"-"`
}

// facts returns c's Facts, evaluating them on c.Object when Scan has not.
func (c *Cluster) facts(cat *catalog.Catalog) *catalog.Facts {
	if c.Facts == nil && c.Object != nil {
		return cat.Facts(c.Object)
	}
	return c.Facts
}

// Access is where a cluster's Kubernetes API answers and how to trust it.
type Access struct {
	// DNSEndpoint is controlPlaneEndpointsConfig.dnsEndpointConfig.endpoint
	// when the cluster allows external traffic to it (allowExternalTraffic):
	// a name with a publicly trusted certificate.
	DNSEndpoint string
	// Endpoint is the control plane's IP address (endpoint), whose
	// certificate CACert signs: masterAuth.clusterCaCertificate, base64 PEM.
	Endpoint, CACert string
}

// Pool is one node pool.
type Pool struct {
	Name      string `json:"name" bigquery:"name"`
	Version   string `json:"version" bigquery:"version"`
	ImageType string `json:"image_type" bigquery:"image_type"`
	// UpgradeTo is the pool's part of its cluster's upgrade plan, "" when
	// the pool needs none (or none offered clears it).
	UpgradeTo string `json:"upgrade_to" bigquery:"upgrade_to"`
	// Sysctls are config.linuxNodeConfig.sysctls: what the in-cluster
	// ephemeral-port check also reads. Not a column or JSON field.
	Sysctls map[string]string `json:"-" bigquery:"-"`
}

// DataplaneV2 reports whether the cluster runs GKE Dataplane V2. An absent
// datapathProvider is the legacy dataplane.
func (c *Cluster) DataplaneV2() bool { return c.Datapath == "ADVANCED_DATAPATH" }

// Key identifies a cluster in a fleet: the name alone is not unique (a
// zonal and a regional cluster may share it).
func (c *Cluster) Key() ClusterKey { return ClusterKey{c.ProjectID, c.Location, c.Name} }

// ClusterKey is project, location and name, as Cloud Logging labels a cluster.
type ClusterKey struct {
	ProjectID, Location, Name string
}

func (k ClusterKey) String() string { return k.ProjectID + "/" + k.Location + "/" + k.Name }

// Status of a finding.
type Status string

const (
	// Affected: every condition of the issue holds.
	Affected Status = "AFFECTED"
	// Observed: the issue's symptom is in Cloud Logging (evidence attached).
	Observed Status = "OBSERVED"
	// Unknown: a condition could not be decided.
	Unknown Status = "UNKNOWN"
)

// Statuses lists the statuses in report order.
var Statuses = []Status{Observed, Affected, Unknown}

// Finding is one issue on one cluster or node pool. It is the one record of
// a finding: its JSON form is the NDJSON line and the alert's data, and the
// same fields (bigquery tags, equal to the json ones) are the BigQuery
// findings row and its schema. Field names are a contract.
type Finding struct {
	ScanID         string     `json:"scan_id" bigquery:"scan_id"`
	ScannedAt      time.Time  `json:"scanned_at" bigquery:"scanned_at"`
	FindingKey     string     `json:"finding_key" bigquery:"finding_key"`
	OrganizationID string     `json:"organization_id" bigquery:"organization_id"`
	ProjectID      string     `json:"project_id" bigquery:"project_id"`
	Location       string     `json:"location" bigquery:"location"`
	Cluster        string     `json:"cluster" bigquery:"cluster"`
	ClusterID      string     `json:"cluster_id" bigquery:"cluster_id"`
	NodePool       string     `json:"node_pool" bigquery:"node_pool"`
	IssueID        string     `json:"issue_id" bigquery:"issue_id"`
	Title          string     `json:"title" bigquery:"title"`
	Severity       string     `json:"severity" bigquery:"severity"`
	Status         Status     `json:"status" bigquery:"status"`
	Component      string     `json:"component" bigquery:"component"`
	Version        string     `json:"version" bigquery:"version"`
	FixedIn        string     `json:"fixed_in" bigquery:"fixed_in"`
	Reason         string     `json:"reason" bigquery:"reason"`
	Remediation    string     `json:"remediation" bigquery:"remediation"`
	DocsURL        string     `json:"docs_url" bigquery:"docs_url"`
	CatalogVersion string     `json:"catalog_version" bigquery:"catalog_version"`
	Evidence       []Evidence `json:"evidence" bigquery:"evidence"`
	// UpgradeTo is the one version offered to the cluster that clears
	// every version-decided finding of this component; "" when none is
	// known.
	UpgradeTo string `json:"upgrade_to" bigquery:"upgrade_to"`
	// Category is the catalog entry's group (catalog.Categories).
	Category string `json:"category" bigquery:"category"`
}

// Evidence supports a finding.
type Evidence struct {
	Source    string     `json:"source" bigquery:"source"` // container_api, cloud_logging, kubernetes_api
	Summary   string     `json:"summary" bigquery:"summary"`
	Count     int64      `json:"count" bigquery:"count"`
	FirstSeen *time.Time `json:"first_seen" bigquery:"first_seen"`
	LastSeen  *time.Time `json:"last_seen" bigquery:"last_seen"`
	Nodes     []string   `json:"nodes" bigquery:"nodes"`
	Sample    string     `json:"sample" bigquery:"sample"`
	Query     string     `json:"query" bigquery:"query"`
}

// ClusterRecord is one cluster of a scan's inventory, the denominator of
// every report, with the checks that could not run on it. It is also the
// clusters row: Scan sets the scan's ID, time and organization and the
// derived DataplaneV2.
type ClusterRecord struct {
	ScanID         string    `json:"scan_id" bigquery:"scan_id"`
	ScannedAt      time.Time `json:"scanned_at" bigquery:"scanned_at"`
	OrganizationID string    `json:"organization_id" bigquery:"organization_id"`
	Cluster
	DataplaneV2   bool     `json:"dataplane_v2" bigquery:"dataplane_v2"` // Cluster.DataplaneV2()
	SkippedChecks []string `json:"skipped_checks" bigquery:"skipped_checks"`
	// The upgrade that clears every version-decided finding: the control
	// plane's target ("" when it needs none or none offered clears it;
	// pools' targets are in NodePools), how many findings it clears, its
	// steps in order, and why it is partial or not checked, if so.
	UpgradeControlPlaneTo string   `json:"upgrade_control_plane_to" bigquery:"upgrade_control_plane_to"`
	UpgradeClears         int64    `json:"upgrade_clears" bigquery:"upgrade_clears"`
	UpgradeSteps          []string `json:"upgrade_steps" bigquery:"upgrade_steps"`
	UpgradeReason         string   `json:"upgrade_reason" bigquery:"upgrade_reason"`
}

// ScanError records a part of the scope that could not be read; the scan
// goes on without it. It is also the scan_errors row: Scan sets ScanID and
// ScannedAt.
type ScanError struct {
	ScanID    string    `json:"scan_id" bigquery:"scan_id"`
	ScannedAt time.Time `json:"scanned_at" bigquery:"scanned_at"`
	ProjectID string    `json:"project_id" bigquery:"project_id"` // the project, when the error is about one
	Resource  string    `json:"resource" bigquery:"resource"`     // what could not be read: projects/ID, folders/N, or the scope
	API       string    `json:"api" bigquery:"api"`               // cloudasset, container, resourcemanager, logging
	Code      string    `json:"code" bigquery:"code"`             // the gRPC code name, e.g. PERMISSION_DENIED
	Message   string    `json:"message" bigquery:"message"`
}
