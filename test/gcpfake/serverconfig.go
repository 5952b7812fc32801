package gcpfake

import (
	"context"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// GetServerConfig answers projects/P/locations/L with the fleet's config of
// L ([fleetgen.Fleet.ServerConfig]), whatever the project of the fleet.
func (c *containerService) GetServerConfig(_ context.Context, req *containerpb.GetServerConfigRequest) (*containerpb.ServerConfig, error) {
	//lint:ignore SA1019 the fake rejects the deprecated fields that the real API still accepts
	if req.GetProjectId() != "" || req.GetZone() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "project_id and zone are deprecated and not supported by gcpfake: set name to projects/P/locations/L")
	}
	name := req.GetName()
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "locations" || parts[3] == "" || parts[3] == "-" {
		return nil, status.Errorf(codes.InvalidArgument, "name %q must be projects/P/locations/L", name)
	}
	id, known := c.s.idx.projectID(parts[1])
	if !known {
		id = parts[1]
	}
	if err := c.s.denied(id); err != nil {
		return nil, err
	}
	if !known {
		return nil, status.Errorf(codes.NotFound, "Project %q not found or deleted.", parts[1])
	}
	return c.serverConfig(parts[3]), nil
}

// serverConfig is the fleet's config of location, built once: the server
// sends it as it is, and the fleet does not change while it runs.
func (c *containerService) serverConfig(location string) *containerpb.ServerConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sc, ok := c.configs[location]; ok {
		return sc
	}
	if c.configs == nil {
		c.configs = map[string]*containerpb.ServerConfig{}
	}
	sc := c.s.idx.fleet.ServerConfig(location)
	c.configs[location] = sc
	return sc
}
