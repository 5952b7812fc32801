// Package discovery finds the GKE clusters that a scan covers: from gcloud
// JSON files (Files), Cloud Asset Inventory (AssetInventory) or the
// Container API (ContainerAPI); Live picks the live one of a mode. Every
// source reads the Container API v1 Cluster resource with protojson
// semantics and reduces it to a scanner.Cluster in FromProto, so all
// sources agree field by field.
package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fleetscan/fleetscan/scanner"
)

// selfLinkPattern takes project, location and name from a cluster's selfLink:
// https://container.googleapis.com/v1/projects/P/(locations|zones)/L/clusters/N
var selfLinkPattern = regexp.MustCompile(`/projects/([^/]+)/(?:locations|zones)/([^/]+)/clusters/([^/]+)$`)

// ProjectFromSelfLink returns the project ID in a cluster's selfLink.
func ProjectFromSelfLink(selfLink string) (string, bool) {
	m := selfLinkPattern.FindStringSubmatch(selfLink)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// FromProto reduces a Container API cluster to what fleetscan reads.
// projectID may be empty, and is then taken from selfLink.
func FromProto(pc *containerpb.Cluster, projectID string) (scanner.Cluster, error) {
	if pc.GetName() == "" {
		return scanner.Cluster{}, errors.New("cluster has no name")
	}
	if projectID == "" {
		p, ok := ProjectFromSelfLink(pc.GetSelfLink())
		if !ok {
			return scanner.Cluster{}, fmt.Errorf("cluster %s: no project ID: selfLink %q is not .../projects/P/locations/L/clusters/N", pc.GetName(), pc.GetSelfLink())
		}
		projectID = p
	}
	c := scanner.Cluster{
		ProjectID:     projectID,
		Location:      pc.GetLocation(),
		Name:          pc.GetName(),
		ID:            pc.GetId(),
		SelfLink:      pc.GetSelfLink(),
		MasterVersion: pc.GetCurrentMasterVersion(),
		//lint:ignore SA1019 deprecated, but it is the only node version an Autopilot cluster without pools reports
		NodeVersion:    pc.GetCurrentNodeVersion(),
		InitialVersion: pc.GetInitialClusterVersion(),
		Autopilot:      pc.GetAutopilot().GetEnabled(),
		VPCNative:      pc.GetIpAllocationPolicy().GetUseIpAliases(),
		Access: scanner.Access{
			Endpoint: pc.GetEndpoint(),
			CACert:   pc.GetMasterAuth().GetClusterCaCertificate(),
		},
	}
	if dns := pc.GetControlPlaneEndpointsConfig().GetDnsEndpointConfig(); dns.GetAllowExternalTraffic() {
		c.Access.DNSEndpoint = dns.GetEndpoint()
	}
	if pc.GetStatus() != containerpb.Cluster_STATUS_UNSPECIFIED {
		c.Status = pc.GetStatus().String()
	}
	if ch := pc.GetReleaseChannel().GetChannel(); ch > 0 { // 0 is UNSPECIFIED: not enrolled
		c.ReleaseChannel = ch.String()
	}
	if dp := pc.GetNetworkConfig().GetDatapathProvider(); dp != containerpb.DatapathProvider_DATAPATH_PROVIDER_UNSPECIFIED {
		c.Datapath = dp.String() // a value newer than this client prints as its number, and reads as unknown
	}
	if c.Location == "" {
		if m := selfLinkPattern.FindStringSubmatch(pc.GetSelfLink()); m != nil {
			c.Location = m[2]
		}
	}
	for _, np := range pc.GetNodePools() {
		c.NodePools = append(c.NodePools, scanner.Pool{
			Name:      np.GetName(),
			Version:   np.GetVersion(),
			ImageType: np.GetConfig().GetImageType(),
			Sysctls:   np.GetConfig().GetLinuxNodeConfig().GetSysctls(),
		})
	}
	return c, nil
}

var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// ParseClusters decodes a Container API cluster dump in any of the forms
// gcloud and the API produce: a JSON array of clusters (gcloud container
// clusters list --format=json), a ListClustersResponse ({"clusters":[…]}),
// or one cluster object (describe). Unknown fields are ignored. name is
// used in messages.
func ParseClusters(name string, data []byte) ([]scanner.Cluster, error) {
	const shape = "wrong shape: want a JSON array of clusters, {\"clusters\": [...]} or one cluster object with a \"name\""
	raws, obj, err := scanner.SplitList(name, data, "clusters", "clusters")
	switch {
	case errors.Is(err, scanner.ErrListShape):
		return nil, fmt.Errorf("%s: %s", name, shape)
	case err != nil:
		return nil, err
	case obj != nil && isEmptyResponse(obj):
		return []scanner.Cluster{}, nil // the API omits "clusters" when a project has none
	case obj != nil && obj["name"] != nil:
		raws = []json.RawMessage{bytes.TrimSpace(data)}
	case obj != nil:
		return nil, fmt.Errorf("%s: %s", name, shape)
	}
	out := make([]scanner.Cluster, 0, len(raws))
	var errs []error
	for i, raw := range raws {
		c, err := ParseCluster(raw, "")
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: cluster %d: %v", name, i, err))
			continue
		}
		out = append(out, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// protoMessage is a protojson error's text made stable: protobuf-go varies
// the space after "proto:" on purpose so that callers do not match on it.
func protoMessage(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\u00a0", " ")
	msg = strings.TrimPrefix(msg, "proto: ")
	return strings.Replace(msg, "(line 1:", "(column ", 1)
}

// isEmptyResponse reports whether an object is a ListClustersResponse
// without clusters: {} or one with only missingZones.
func isEmptyResponse(probe map[string]json.RawMessage) bool {
	for k := range probe {
		if k != "missingZones" {
			return false
		}
	}
	return true
}

// ParseCluster decodes one Container API cluster in REST JSON (a file's,
// or Cloud Asset Inventory's resource.data) with protojson semantics.
// protojson drops enum names it does not know; for datapathProvider, which
// decides Dataplane V2, such a name is kept so that it reads as unknown
// instead of as the legacy dataplane.
func ParseCluster(raw []byte, projectID string) (scanner.Cluster, error) {
	var pc containerpb.Cluster
	if err := unmarshal.Unmarshal(raw, &pc); err != nil {
		return scanner.Cluster{}, fmt.Errorf("not a Container API cluster: %s", protoMessage(err))
	}
	c, err := FromProto(&pc, projectID)
	if err != nil {
		return scanner.Cluster{}, err
	}
	if c.Datapath == "" && bytes.Contains(raw, []byte(`"datapathProvider"`)) {
		var probe struct {
			NetworkConfig struct {
				DatapathProvider any `json:"datapathProvider"`
			} `json:"networkConfig"`
		}
		if json.Unmarshal(raw, &probe) == nil {
			if s, ok := probe.NetworkConfig.DatapathProvider.(string); ok && s != "DATAPATH_PROVIDER_UNSPECIFIED" {
				c.Datapath = s
			}
		}
	}
	return c, nil
}

// Files is a cluster source that reads gcloud/API JSON dumps.
type Files struct {
	Paths []string
}

// Discover reads every file; any problem in any file stops the scan with
// every problem listed, so that no cluster is silently left out. The files
// are the whole scope.
func (f Files) Discover(ctx context.Context, found func(scanner.Cluster), _ func(scanner.ScanError)) (scanner.Coverage, error) {
	if err := ctx.Err(); err != nil {
		return scanner.Coverage{}, err
	}
	var all []scanner.Cluster
	var errs []error
	for _, p := range f.Paths {
		if err := ctx.Err(); err != nil {
			return scanner.Coverage{}, err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster input: %w", err))
			continue
		}
		cs, err := ParseClusters(p, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, cs...)
	}
	if err := errors.Join(errs...); err != nil {
		return scanner.Coverage{}, err
	}
	for _, c := range all {
		found(c)
	}
	return scanner.Coverage{All: true}, ctx.Err()
}
