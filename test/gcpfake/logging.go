package gcpfake

import (
	"context"
	"maps"
	"slices"
	"strings"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type loggingService struct {
	loggingpb.UnimplementedLoggingServiceV2Server
	s *Server
}

const maxResourceNames = 100

// ListLogEntries lists the fleet's events of the projects of
// resource_names that match the filter, oldest first.
func (l *loggingService) ListLogEntries(_ context.Context, req *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
	s, x := l.s, l.s.idx
	names := req.GetResourceNames()
	if len(names) == 0 || len(names) > maxResourceNames {
		return nil, status.Errorf(codes.InvalidArgument, "resource_names has %d entries, want 1 to %d", len(names), maxResourceNames)
	}
	type project struct{ id, asked string }
	var projects []project
	for _, n := range names {
		id, ok := strings.CutPrefix(n, "projects/")
		if !ok || id == "" || strings.Contains(id, "/") {
			return nil, status.Errorf(codes.InvalidArgument, "resource name %q: gcpfake supports only projects/P", n)
		}
		pid, known := x.projectID(id)
		if !known {
			pid = ""
		}
		projects = append(projects, project{pid, id})
	}
	switch req.GetOrderBy() {
	case "", "timestamp asc":
	default:
		return nil, status.Errorf(codes.InvalidArgument, "order_by %q: gcpfake supports only \"timestamp asc\"", req.GetOrderBy())
	}
	f, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid filter: %v", err)
	}
	in := map[string]bool{}
	for _, p := range projects {
		key := p.id
		if key == "" {
			key = p.asked
		}
		if err := s.denied(key); err != nil {
			return nil, err
		}
	}
	for _, p := range projects {
		if p.id == "" {
			return nil, status.Errorf(codes.PermissionDenied, "The caller does not have permission to read the logs of projects/%s", p.asked)
		}
		in[p.id] = true
	}
	var entries []*loggingpb.LogEntry
	for _, e := range x.events {
		if in[e.project] && f.match(e.entry) {
			entries = append(entries, e.entry)
		}
	}
	ids := slices.Sorted(maps.Keys(in))
	fingerprint := strings.Join(ids, ",") + "\x00" + req.GetFilter() + "\x00" + req.GetOrderBy()
	pg, next, err := page(s, "ListLogEntries", fingerprint, entries, req.GetPageSize(), req.GetPageToken(), 50)
	if err != nil {
		return nil, err
	}
	return &loggingpb.ListLogEntriesResponse{Entries: pg, NextPageToken: next}, nil
}
