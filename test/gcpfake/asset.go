package gcpfake

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type assetService struct {
	assetpb.UnimplementedAssetServiceServer
	s *Server
}

// ListAssets lists the cluster assets, or the Kubernetes assets of some
// types, under an organization, a folder or a project.
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
	types, kube, err := assetTypes(req.GetAssetTypes())
	if err != nil {
		return nil, err
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
	fingerprint := scope + "\x00" + strings.Join(types, "\x00")
	if kube == nil {
		pg, next, err := page(s, "ListAssets", fingerprint, assets, req.GetPageSize(), req.GetPageToken(), 100)
		if err != nil {
			return nil, err
		}
		return &assetpb.ListAssetsResponse{ReadTime: x.readTime, Assets: pg, NextPageToken: next}, nil
	}
	pg, next, err := page(s, "ListAssets", fingerprint, x.kubeAssets(scope, kube), req.GetPageSize(), req.GetPageToken(), 100)
	if err != nil {
		return nil, err
	}
	out := make([]*assetpb.Asset, len(pg))
	for i, k := range pg {
		if out[i], err = k.asset(x.readTime); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return &assetpb.ListAssetsResponse{ReadTime: x.readTime, Assets: out, NextPageToken: next}, nil
}

// assetTypes checks a request's asset_types: [container.googleapis.com/Cluster],
// or a non-empty set of the Kubernetes types. It returns the types without
// repeats, in the request's order, and for Kubernetes types their
// kubeTypes indexes (nil for the cluster type).
func assetTypes(requested []string) (types []string, kube []int, err error) {
	supported := fmt.Sprintf("lists [%q] or any of the Kubernetes asset types %q", clusterAssetType, kubeTypeList())
	if len(requested) == 0 {
		return nil, nil, status.Errorf(codes.InvalidArgument, "asset_types is empty: gcpfake %s", supported)
	}
	cluster := false
	for _, t := range requested {
		if slices.Contains(types, t) {
			continue
		}
		types = append(types, t)
		switch i := kubeTypeIndex(t); {
		case t == clusterAssetType:
			cluster = true
		case i >= 0:
			kube = append(kube, i)
		default:
			return nil, nil, status.Errorf(codes.InvalidArgument, "asset_types %q: gcpfake does not list %q; it %s", requested, t, supported)
		}
	}
	if cluster && len(kube) > 0 {
		return nil, nil, status.Errorf(codes.InvalidArgument, "asset_types %q: gcpfake lists %q alone, not with Kubernetes asset types", requested, clusterAssetType)
	}
	return types, kube, nil
}
