package gcpfake

import (
	"context"
	"strings"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type assetService struct {
	assetpb.UnimplementedAssetServiceServer
	s *Server
}

// ListAssets lists the cluster assets under an organization, a folder or a
// project.
func (a *assetService) ListAssets(_ context.Context, req *assetpb.ListAssetsRequest) (*assetpb.ListAssetsResponse, error) {
	s, x := a.s, a.s.idx
	parent := req.GetParent()
	kind, id, _ := strings.Cut(parent, "/")
	var scope string // the key of x.assets and of Deny
	switch {
	case (kind == "organizations" || kind == "folders") && isNumber(id):
		scope = parent
	case kind == "projects" && id != "" && !strings.Contains(id, "/"):
		scope = id
		if pid, ok := x.projectID(id); ok {
			scope = pid
		}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "parent %q must be organizations/N, folders/N, projects/ID or projects/NUMBER", parent)
	}
	if len(req.GetAssetTypes()) != 1 || req.GetAssetTypes()[0] != clusterAssetType {
		return nil, status.Errorf(codes.InvalidArgument, "asset_types %q: gcpfake lists only [%q]", req.GetAssetTypes(), clusterAssetType)
	}
	if req.GetContentType() != assetpb.ContentType_RESOURCE {
		return nil, status.Errorf(codes.InvalidArgument, "content_type %s: gcpfake supports only RESOURCE", req.GetContentType())
	}
	if req.GetReadTime() != nil {
		return nil, status.Errorf(codes.InvalidArgument, "read_time is not supported by gcpfake")
	}
	if len(req.GetRelationshipTypes()) > 0 {
		return nil, status.Errorf(codes.InvalidArgument, "relationship_types are not supported by gcpfake")
	}
	if err := s.denied(scope); err != nil {
		return nil, err
	}
	assets, ok := x.assets[scope]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "%s not found", parent)
	}
	fingerprint := scope + "\x00" + clusterAssetType
	pg, next, err := page(s, "ListAssets", fingerprint, assets, req.GetPageSize(), req.GetPageToken(), 100)
	if err != nil {
		return nil, err
	}
	return &assetpb.ListAssetsResponse{ReadTime: x.readTime, Assets: pg, NextPageToken: next}, nil
}
