package gcpfake

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/fleetscan/fleetscan/test/fleetgen"
)

// Options configure faults and latency.
type Options struct {
	// Latency is added to every call.
	Latency time.Duration
	// TransientRate is the fraction of calls (0..1) that fail with
	// UNAVAILABLE or RESOURCE_EXHAUSTED (alternating, UNAVAILABLE first),
	// after the latency and before doing anything else.
	TransientRate float64
	// Seed seeds TransientRate's deterministic random draws.
	Seed uint64
	// Deny maps a project ID ("p1"), a folder ("folders/N") or the
	// organization ("organizations/N") to the code of every call that names
	// it, e.g. codes.PermissionDenied or codes.NotFound.
	Deny map[string]codes.Code
	// OnCall, when set, is called as each call arrives (before latency and
	// faults) with its method key, e.g. "container.ListClusters", and that
	// method's count so far; a test stops the server from it mid-scan.
	OnCall func(method string, n int)
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	opt Options
	idx *index
	lis net.Listener
	srv *grpc.Server
	key []byte // signs page tokens

	mu       sync.Mutex
	calls    map[string]int
	filters  []string
	rng      *mrand.Rand
	failures int

	closeOnce sync.Once
}

// Start serves fleet on a new gRPC server on 127.0.0.1:0.
func Start(fleet *fleetgen.Fleet, opt Options) (*Server, error) {
	if fleet == nil {
		return nil, fmt.Errorf("gcpfake: nil fleet")
	}
	if opt.TransientRate < 0 || opt.TransientRate > 1 {
		return nil, fmt.Errorf("gcpfake: TransientRate %v is outside 0..1", opt.TransientRate)
	}
	idx, err := newIndex(fleet)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gcpfake: %w", err)
	}
	s := &Server{
		opt:   opt,
		idx:   idx,
		lis:   lis,
		key:   key,
		calls: map[string]int{},
		rng:   mrand.New(mrand.NewPCG(opt.Seed, opt.Seed^0x5851f42d4c957f2d)),
	}
	s.srv = grpc.NewServer(grpc.UnaryInterceptor(s.intercept), grpc.ForceServerCodec(serverCodec{idx.encoded}))
	assetpb.RegisterAssetServiceServer(s.srv, &assetService{s: s})
	containerpb.RegisterClusterManagerServer(s.srv, &containerService{s: s})
	resourcemanagerpb.RegisterProjectsServer(s.srv, &projectsService{s: s})
	resourcemanagerpb.RegisterFoldersServer(s.srv, &foldersService{s: s})
	loggingpb.RegisterLoggingServiceV2Server(s.srv, &loggingService{s: s})
	go func() { _ = s.srv.Serve(lis) }()
	return s, nil
}

// Addr is the server's HOST:PORT.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// ClientOptions point a Google Cloud Go client at the server, in plaintext
// and without credentials.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.Addr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Calls returns the number of calls per method ("asset.ListAssets",
// "container.ListClusters", "resourcemanager.ListProjects",
// "resourcemanager.ListFolders", "logging.ListLogEntries", …), injected
// failures included.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// TotalCalls is the sum of Calls.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// Filters returns every Logging filter received, in order, those of calls
// failed by injection included.
func (s *Server) Filters() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.filters...)
}

// ResetCounters forgets the calls and filters counted so far. It does not
// reset the random draws of TransientRate.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.filters = nil
}

// Close stops the server at once, failing the calls under way.
func (s *Server) Close() {
	s.closeOnce.Do(s.srv.Stop)
}

// services maps gRPC service names to the short names of Calls.
var services = map[string]string{
	"google.cloud.asset.v1.AssetService":       "asset",
	"google.container.v1.ClusterManager":       "container",
	"google.cloud.resourcemanager.v3.Projects": "resourcemanager",
	"google.cloud.resourcemanager.v3.Folders":  "resourcemanager",
	"google.logging.v2.LoggingServiceV2":       "logging",
}

// methodKey turns "/google.container.v1.ClusterManager/ListClusters" into
// "container.ListClusters".
func methodKey(full string) string {
	svc, method, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	if !ok {
		return full
	}
	if short, ok := services[svc]; ok {
		return short + "." + method
	}
	return svc + "." + method
}

// intercept counts the call, adds the latency and injects the transient
// failures.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	s.mu.Lock()
	key := methodKey(info.FullMethod)
	s.calls[key]++
	n := s.calls[key]
	if r, ok := req.(*loggingpb.ListLogEntriesRequest); ok {
		s.filters = append(s.filters, r.GetFilter())
	}
	fail := codes.OK
	if s.opt.TransientRate > 0 && s.rng.Float64() < s.opt.TransientRate {
		fail = codes.Unavailable
		if s.failures%2 == 1 {
			fail = codes.ResourceExhausted
		}
		s.failures++
	}
	s.mu.Unlock()
	if s.opt.OnCall != nil {
		s.opt.OnCall(key, n)
	}
	if s.opt.Latency > 0 {
		t := time.NewTimer(s.opt.Latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-t.C:
		}
	}
	switch fail {
	case codes.Unavailable:
		return nil, status.Error(fail, "gcpfake: injected transient failure: the service is currently unavailable")
	case codes.ResourceExhausted:
		return nil, status.Error(fail, "gcpfake: injected transient failure: quota exceeded")
	}
	return handler(ctx, req)
}

// denied returns the error of Options.Deny for key, or nil.
func (s *Server) denied(key string) error {
	if c, ok := s.opt.Deny[key]; ok && c != codes.OK {
		return status.Errorf(c, "gcpfake: access to %s denied (Options.Deny)", key)
	}
	return nil
}

// page returns the page of items that size and token select, and the token
// of the next page ("" on the last). method and fingerprint bind tokens to
// the request they were issued for; def is the API's default page size.
func page[T any](s *Server, method, fingerprint string, items []T, size int32, token string, def int32) ([]T, string, error) {
	switch {
	case size < 0:
		return nil, "", status.Errorf(codes.InvalidArgument, "page_size %d must not be negative", size)
	case size > maxPageSize:
		return nil, "", status.Errorf(codes.InvalidArgument, "page_size %d exceeds the maximum of %d", size, maxPageSize)
	case size == 0:
		size = def
	}
	off := 0
	if token != "" {
		var err error
		if off, err = s.parseToken(method, fingerprint, token); err != nil {
			return nil, "", err
		}
	}
	off = min(off, len(items))
	end := min(off+int(size), len(items))
	next := ""
	if end < len(items) {
		next = s.token(method, fingerprint, end)
	}
	return items[off:end], next, nil
}

const maxPageSize = 1000

// token is base64url(offset ‖ HMAC(method, fingerprint, offset)[:16]).
func (s *Server) token(method, fingerprint string, off int) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(off))
	b = append(b, s.mac(method, fingerprint, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) parseToken(method, fingerprint, token string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 8+16 || !hmac.Equal(b[8:], s.mac(method, fingerprint, b[:8])) {
		return 0, status.Errorf(codes.InvalidArgument, "invalid page_token %q: not issued by this server for this request", token)
	}
	return int(min(binary.BigEndian.Uint64(b[:8]), 1<<31)), nil
}

func (s *Server) mac(method, fingerprint string, off []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(fingerprint))
	h.Write([]byte{0})
	h.Write(off)
	return h.Sum(nil)[:16]
}
