// Package discovery finds the GKE clusters that a scan covers: from gcloud
// and Cloud Asset Inventory JSON files (Files), Cloud Asset Inventory
// (AssetInventory) or the Container API (ContainerAPI); Live picks the live
// one of a mode. Every source reads the Container API v1 Cluster resource
// with protojson semantics and reduces it to a scanner.Cluster in
// FromProto, so all sources agree field by field.
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
		NoNetworkConfig: pc.GetNetworkConfig() == nil,
		Object:          pc,
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

// protoMessage is a protojson error's text made stable: protobuf-go varies
// the space after "proto:" on purpose so that callers do not match on it.
func protoMessage(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\u00a0", " ")
	msg = strings.TrimPrefix(msg, "proto: ")
	return strings.Replace(msg, "(line 1:", "(column ", 1)
}

// ParseCluster decodes one Container API cluster in REST JSON (a file's,
// or Cloud Asset Inventory's resource.data) with protojson semantics.
// projectID may be empty, and is then taken from selfLink.
func ParseCluster(raw []byte, projectID string) (scanner.Cluster, error) {
	var pc containerpb.Cluster
	if err := unmarshal.Unmarshal(raw, &pc); err != nil {
		return scanner.Cluster{}, fmt.Errorf("not a Container API cluster: %s", protoMessage(err))
	}
	return reduce(&pc, raw, projectID)
}

// reduce is FromProto for a cluster decoded from raw. protojson drops enum
// names it does not know; for datapathProvider, which decides Dataplane
// V2, such a name is kept so that it reads as unknown instead of as the
// legacy dataplane.
func reduce(pc *containerpb.Cluster, raw []byte, projectID string) (scanner.Cluster, error) {
	c, err := FromProto(pc, projectID)
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

// Files is a cluster source that reads gcloud/API JSON dumps and Cloud
// Asset Inventory files (ParseClusters).
type Files struct {
	Paths []string
	// Read, when set, reads a path instead of os.ReadFile, and returns the
	// name that messages give the file: the CLI reads "-" as stdin.
	Read func(path string) (name string, data []byte, err error)
}

func (f Files) read(path string) (string, []byte, error) {
	if f.Read != nil {
		return f.Read(path)
	}
	data, err := os.ReadFile(path)
	return path, data, err
}

// Discover reads every file; any problem in any file stops the scan with
// every problem listed, so that no cluster is silently left out. The files
// are the whole scope. A cluster found twice with the same data is handed
// on twice (the scan counts the copy); with different data, it is an
// error naming both places: which one is right is for the user to say.
func (f Files) Discover(ctx context.Context, found func(scanner.Cluster), _ func(scanner.ScanError)) (scanner.Coverage, error) {
	if err := ctx.Err(); err != nil {
		return scanner.Coverage{}, err
	}
	var all []scanner.Cluster
	var errs []error
	first := map[scanner.ClusterKey]located{}
	for _, p := range f.Paths {
		if err := ctx.Err(); err != nil {
			return scanner.Coverage{}, err
		}
		name, data, err := f.read(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster input: %w", err))
			continue
		}
		cs, err := parseFile(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range cs {
			k := c.Key()
			if prev, ok := first[k]; !ok {
				first[k] = c
			} else if d := clusterDiff(prev.Cluster, c.Cluster); d != "" {
				errs = append(errs, fmt.Errorf("cluster %s is in %s and %s with different data (%s): keep one", k, prev.at, c.at, d))
			}
			all = append(all, c.Cluster)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return scanner.Coverage{}, err
	}
	for _, c := range all {
		found(c)
	}
	return scanner.Coverage{All: true}, ctx.Err()
}
