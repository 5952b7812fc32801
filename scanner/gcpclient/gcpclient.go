// Package gcpclient holds what every Google Cloud client of fleetscan
// shares: endpoint overrides (Private Service Connect, emulators, the
// in-process fakes of the tests), the retry policy for transient errors, and
// the classification of API errors into scan errors.
package gcpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/googleapis/gax-go/v2"
	"golang.org/x/time/rate"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Services whose endpoint can be overridden.
var Services = []string{"asset", "container", "resourcemanager", "logging", "bigquery", "pubsub", "storage"}

// EnvEndpoints is the environment variable read for endpoint overrides:
// comma-separated SERVICE=HOST:PORT.
const EnvEndpoints = "FLEETSCAN_API_ENDPOINTS"

// Endpoints maps a service name to HOST:PORT.
type Endpoints map[string]string

// ParseEndpoints parses SERVICE=HOST:PORT specs; each spec may itself be a
// comma-separated list, as in FLEETSCAN_API_ENDPOINTS. Later specs win.
func ParseEndpoints(specs ...string) (Endpoints, error) {
	e := Endpoints{}
	var errs []error
	for _, spec := range specs {
		for item := range strings.SplitSeq(spec, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			svc, hostport, ok := strings.Cut(item, "=")
			if !ok {
				errs = append(errs, &EndpointError{Spec: item, msg: fmt.Sprintf("endpoint %q is not SERVICE=HOST:PORT", item)})
				continue
			}
			if !slices.Contains(Services, svc) {
				errs = append(errs, &EndpointError{Spec: item, msg: fmt.Sprintf("endpoint %q: unknown service %q (want one of %s)", item, svc, strings.Join(Services, ", "))})
				continue
			}
			host, port, err := net.SplitHostPort(hostport)
			if err != nil || host == "" || port == "" {
				errs = append(errs, &EndpointError{Spec: item, Service: svc, msg: fmt.Sprintf("endpoint %q: %q is not HOST:PORT", item, hostport)})
				continue
			}
			if !validPort(port) {
				errs = append(errs, &EndpointError{Spec: item, Service: svc, msg: fmt.Sprintf("endpoint %q: port %q is not a number from 1 to 65535", item, port)})
				continue
			}
			e[svc] = hostport
		}
	}
	return e, errors.Join(errs...)
}

// EndpointError is one SERVICE=HOST:PORT spec that ParseEndpoints rejects;
// its joined error holds one per bad spec.
type EndpointError struct {
	Spec    string // the spec as given
	Service string // the service it names, when that is one of Services
	msg     string
}

func (e *EndpointError) Error() string { return e.msg }

// validPort reports whether port is a decimal TCP port, 1 to 65535.
func validPort(port string) bool {
	if len(port) > 5 {
		return false
	}
	n := 0
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n >= 1 && n <= 65535
}

// Merge returns e with o's entries added, o winning.
func (e Endpoints) Merge(o Endpoints) Endpoints {
	out := Endpoints{}
	for k, v := range e {
		out[k] = v
	}
	for k, v := range o {
		out[k] = v
	}
	return out
}

// IsLoopback reports whether HOST:PORT names this machine (127.0.0.0/8,
// ::1 or localhost).
func IsLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Options returns the client options for a gRPC service: none without an
// override; the endpoint with TLS and credentials for a remote override
// (Private Service Connect); plaintext without credentials for a loopback
// one (an emulator or a test fake).
func (e Endpoints) Options(service string) []option.ClientOption {
	hostport, ok := e[service]
	if !ok {
		return nil
	}
	opts := []option.ClientOption{option.WithEndpoint(hostport)}
	if IsLoopback(hostport) {
		opts = append(opts,
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	return opts
}

// RESTOptions is Options for a REST (HTTP/JSON) client whose API lives
// under basePath, e.g. "/bigquery/v2/": an override becomes
// https://HOST:PORT/basePath, or plain http without credentials on loopback.
func (e Endpoints) RESTOptions(service, basePath string) []option.ClientOption {
	hostport, ok := e[service]
	if !ok {
		return nil
	}
	if IsLoopback(hostport) {
		return []option.ClientOption{option.WithEndpoint("http://" + hostport + basePath), option.WithoutAuthentication()}
	}
	return []option.ClientOption{option.WithEndpoint("https://" + hostport + basePath)}
}

// Counter counts gRPC calls per method (retries included) across the
// clients given its Option; safe for concurrent use.
type Counter struct {
	mu sync.Mutex
	m  map[string]int
}

// Option makes a client count its calls here.
func (c *Counter) Option() option.ClientOption {
	return option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(
		func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			c.mu.Lock()
			if c.m == nil {
				c.m = map[string]int{}
			}
			c.m[method[strings.LastIndex(method, ".")+1:]]++
			c.mu.Unlock()
			return invoker(ctx, method, req, reply, cc, opts...)
		}))
}

// Snapshot returns the counts so far, keyed like "AssetService/ListAssets".
func (c *Counter) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// Policy is how every call to a Google API is timed out and retried: the
// gRPC clients through CallOptions (the deadline of WithTimeout covers a
// call and its retries), REST calls (BigQuery, Cloud Storage) through Do
// (each try has its own deadline, as the REST clients retry internally).
// Transient and TransientHTTP decide what is retried.
type Policy struct {
	Timeout  time.Duration // each call (or page) gets its own deadline
	Initial  time.Duration // first backoff ceiling; full jitter below it
	Max      time.Duration // backoff cap
	Attempts int           // retries after the first try
	// Limiter, when set, paces every attempt, retries included: Wait before
	// a call, and each retry reserves a token and waits for it too.
	Limiter *rate.Limiter
	// OnRetry, when set, is called before each retry with the call's
	// method (e.g. "ListAssets"; "" when unknown: a client without Watch,
	// or a Do call), the code of the error retried ("UNAVAILABLE", or
	// "HTTP 503" for a REST call) and the number of the try about to be
	// made: 2 for the first retry, up to Attempts+1. It may be called from
	// many goroutines at once. Nil changes nothing.
	OnRetry func(method, code string, attempt int)
}

// DefaultPolicy suits the Google APIs fleetscan calls: their quotas refill
// per minute, so eight retries backing off up to 30 s ride out a burst.
var DefaultPolicy = Policy{Timeout: 60 * time.Second, Initial: 500 * time.Millisecond, Max: 30 * time.Second, Attempts: 8}

// CallOptions returns gax options that retry transient errors with capped
// exponential backoff and full jitter. grpcOpts are gRPC options for the
// call: gax keeps only the last gax.WithGRPCOptions, so they are given
// here, not beside.
func (p Policy) CallOptions(grpcOpts ...grpc.CallOption) []gax.CallOption {
	if p.OnRetry == nil {
		opts := []gax.CallOption{gax.WithRetry(func() gax.Retryer { return p.retryer(Transient) })}
		if len(grpcOpts) > 0 {
			opts = append(opts, gax.WithGRPCOptions(grpcOpts...))
		}
		return opts
	}
	// The call's method comes from Watch's interceptor, which finds name
	// among the call's gRPC options.
	name := &callName{}
	return []gax.CallOption{
		gax.WithRetry(func() gax.Retryer {
			r := p.retryer(Transient)
			r.name = name
			return r
		}),
		gax.WithGRPCOptions(append([]grpc.CallOption{name}, grpcOpts...)...),
	}
}

// callName is a gRPC call option that carries nothing to gRPC: Watch's
// interceptor records the method of the call it rides on, for OnRetry.
type callName struct {
	grpc.EmptyCallOption
	mu     sync.Mutex
	method string
}

func (n *callName) set(method string) {
	n.mu.Lock()
	n.method = method[strings.LastIndex(method, "/")+1:]
	n.mu.Unlock()
}

func (n *callName) get() string {
	if n == nil {
		return ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.method
}

// Wait blocks until the limiter, if any, allows a call.
func (p Policy) Wait(ctx context.Context) error {
	if p.Limiter == nil {
		return nil
	}
	return p.Limiter.Wait(ctx)
}

// WithTimeout gives one call its own deadline.
func (p Policy) WithTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, p.Timeout)
}

// Do runs call until it succeeds, returns an error that transient does not
// accept, or Attempts retries are spent, backing off with full jitter
// between tries (paced by Limiter, when set). Each try has its own Timeout;
// a try that ran out of it while ctx lives counts as transient.
func (p Policy) Do(ctx context.Context, transient func(error) bool, call func(context.Context) error) error {
	r := p.retryer(transient)
	for {
		if err := p.Wait(ctx); err != nil {
			return err
		}
		tctx, cancel := p.WithTimeout(ctx)
		err := call(tctx)
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return err
		}
		pause, ok := r.Retry(err)
		if !ok {
			return err
		}
		if err := gax.Sleep(ctx, pause); err != nil {
			return err
		}
	}
}

func (p Policy) retryer(transient func(error) bool) *retryer {
	return &retryer{bo: gax.Backoff{Initial: p.Initial, Max: p.Max, Multiplier: 2}, left: p.Attempts, attempts: p.Attempts,
		limiter: p.Limiter, transient: transient, onRetry: p.OnRetry}
}

// Backoff is the policy's backoff for clients that take a gax.Backoff
// (Cloud Storage's Retryer).
func (p Policy) Backoff() gax.Backoff {
	return gax.Backoff{Initial: p.Initial, Max: p.Max, Multiplier: 2}
}

type retryer struct {
	bo        gax.Backoff
	left      int
	attempts  int // Attempts: retries in all
	limiter   *rate.Limiter
	transient func(error) bool
	onRetry   func(method, code string, attempt int)
	name      *callName // the call's method, when Watch names it
}

func (r *retryer) Retry(err error) (time.Duration, bool) {
	if !r.transient(err) || r.left <= 0 {
		return 0, false
	}
	r.left--
	if r.onRetry != nil {
		r.onRetry(r.name.get(), retryCode(err), r.attempts-r.left+1)
	}
	pause := r.bo.Pause()
	if r.limiter != nil {
		pause = max(pause, r.limiter.Reserve().Delay())
	}
	return pause, true
}

// retryCode names what is retried: the gRPC code, or a REST call's HTTP
// status ("HTTP 503").
func retryCode(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code != 0 {
		return fmt.Sprintf("HTTP %d", ge.Code)
	}
	return CodeName(err)
}

// Code is the gRPC code of an API error (codes.Unknown for other errors).
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return codes.DeadlineExceeded
	}
	if errors.Is(err, context.Canceled) {
		return codes.Canceled
	}
	return status.Code(err)
}

// CodeName is the canonical name of an error's code, e.g. PERMISSION_DENIED,
// as Google APIs and the scan_errors table spell it.
func CodeName(err error) string {
	c := Code(err)
	if name, ok := rpccode.Code_name[int32(c)]; ok {
		return name
	}
	return c.String()
}

// Transient reports whether a gRPC call may succeed if tried again. A
// client's first connection that Watch gave up on is not retried.
func Transient(err error) bool {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return false
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded:
		return true
	}
	return false
}

// TransientHTTP reports whether a REST call may succeed if tried again: a
// 5xx or 429 answer, a rate-limit or backend error reason, a try that ran
// out of its own deadline, or a network failure. A Go error that is none of
// these (a BigQuery row error, a cancelled context) is not.
func TransientHTTP(err error) bool {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		if ge.Code >= 500 || ge.Code == http.StatusTooManyRequests {
			return true
		}
		for _, e := range ge.Errors {
			switch e.Reason {
			case "backendError", "rateLimitExceeded", "internalError":
				return true
			}
		}
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// Scoped reports whether an error is about one project or folder (no
// access, or gone) so that the scan records it and goes on.
func Scoped(err error) bool {
	switch status.Code(err) {
	case codes.PermissionDenied, codes.NotFound:
		return true
	}
	return false
}

// Message is an API error's message without the status prefix.
func Message(err error) string {
	if s, ok := status.FromError(err); ok {
		return s.Message()
	}
	return err.Error()
}
