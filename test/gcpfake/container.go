package gcpfake

import (
	"context"
	"strings"
	"sync"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type containerService struct {
	containerpb.UnimplementedClusterManagerServer
	s *Server

	mu      sync.Mutex
	configs map[string]*containerpb.ServerConfig // GetServerConfig's, by location, built on first use
}

// ListClusters lists a project's clusters in all locations (-) or in one.
func (c *containerService) ListClusters(_ context.Context, req *containerpb.ListClustersRequest) (*containerpb.ListClustersResponse, error) {
	s, x := c.s, c.s.idx
	//lint:ignore SA1019 the fake rejects the deprecated fields that the real API still accepts
	if req.GetProjectId() != "" || req.GetZone() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "project_id and zone are deprecated and not supported by gcpfake: set parent to projects/P/locations/L")
	}
	parent := req.GetParent()
	parts := strings.Split(parent, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "locations" || parts[3] == "" {
		return nil, status.Errorf(codes.InvalidArgument, "parent %q must be projects/P/locations/- or projects/P/locations/L", parent)
	}
	id, known := x.projectID(parts[1])
	if !known {
		id = parts[1]
	}
	if err := s.denied(id); err != nil {
		return nil, err
	}
	if !known {
		return nil, status.Errorf(codes.PermissionDenied, "Required %q permission(s) for %q.", "container.clusters.list", "projects/"+parts[1])
	}
	var out []*containerpb.Cluster
	for _, cl := range x.fleet.ByProject[id] {
		if parts[3] == "-" || cl.GetLocation() == parts[3] {
			out = append(out, cl)
		}
	}
	return &containerpb.ListClustersResponse{Clusters: out}, nil
}
