package gcpfake

import (
	"context"
	"strings"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type projectsService struct {
	resourcemanagerpb.UnimplementedProjectsServer
	s *Server
}

type foldersService struct {
	resourcemanagerpb.UnimplementedFoldersServer
	s *Server
}

// container checks parent, organizations/N or folders/N, and tells whether
// it is the fleet's organization or one of its folders.
func (s *Server) container(parent string) error {
	kind, id, _ := strings.Cut(parent, "/")
	if parent == "" {
		return status.Errorf(codes.InvalidArgument, "parent is required: organizations/N or folders/N")
	}
	if (kind != "organizations" && kind != "folders") || !isNumber(id) {
		return status.Errorf(codes.InvalidArgument, "parent %q must be organizations/N or folders/N", parent)
	}
	if err := s.denied(parent); err != nil {
		return err
	}
	if _, ok := s.idx.folders[parent]; !ok && parent != s.idx.fleet.Org {
		return status.Errorf(codes.PermissionDenied, "The caller does not have permission to list the children of %s", parent)
	}
	return nil
}

// ListProjects lists the projects directly under an organization or folder.
func (p *projectsService) ListProjects(_ context.Context, req *resourcemanagerpb.ListProjectsRequest) (*resourcemanagerpb.ListProjectsResponse, error) {
	s := p.s
	if err := s.container(req.GetParent()); err != nil {
		return nil, err
	}
	pg, next, err := page(s, "ListProjects", req.GetParent(), s.idx.childProjects[req.GetParent()], req.GetPageSize(), req.GetPageToken(), 100)
	if err != nil {
		return nil, err
	}
	return &resourcemanagerpb.ListProjectsResponse{Projects: pg, NextPageToken: next}, nil
}

// GetProject returns projects/ID or projects/NUMBER.
func (p *projectsService) GetProject(_ context.Context, req *resourcemanagerpb.GetProjectRequest) (*resourcemanagerpb.Project, error) {
	s := p.s
	name := req.GetName()
	id, ok := strings.CutPrefix(name, "projects/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, status.Errorf(codes.InvalidArgument, "name %q must be projects/ID or projects/NUMBER", name)
	}
	pid, known := s.idx.projectID(id)
	if !known {
		pid = id
	}
	if err := s.denied(pid); err != nil {
		return nil, err
	}
	if !known {
		return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission to get %s", name)
	}
	return s.idx.projects[pid], nil
}

// ListFolders lists the folders directly under an organization or folder.
func (f *foldersService) ListFolders(_ context.Context, req *resourcemanagerpb.ListFoldersRequest) (*resourcemanagerpb.ListFoldersResponse, error) {
	s := f.s
	if err := s.container(req.GetParent()); err != nil {
		return nil, err
	}
	pg, next, err := page(s, "ListFolders", req.GetParent(), s.idx.childFolders[req.GetParent()], req.GetPageSize(), req.GetPageToken(), 100)
	if err != nil {
		return nil, err
	}
	return &resourcemanagerpb.ListFoldersResponse{Folders: pg, NextPageToken: next}, nil
}

// GetFolder returns folders/N.
func (f *foldersService) GetFolder(_ context.Context, req *resourcemanagerpb.GetFolderRequest) (*resourcemanagerpb.Folder, error) {
	s := f.s
	name := req.GetName()
	if id, ok := strings.CutPrefix(name, "folders/"); !ok || !isNumber(id) {
		return nil, status.Errorf(codes.InvalidArgument, "name %q must be folders/N", name)
	}
	if err := s.denied(name); err != nil {
		return nil, err
	}
	fo, ok := s.idx.folders[name]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission to get %s", name)
	}
	return fo, nil
}
