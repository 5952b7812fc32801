package gcpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/googleapis/gax-go/v2"
	"golang.org/x/time/rate"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestParseEndpoints(t *testing.T) {
	got, err := ParseEndpoints("asset=127.0.0.1:9001, logging=[::1]:9002", "", "asset=psc.example.internal:443,container=localhost:9003")
	if err != nil {
		t.Fatal(err)
	}
	want := Endpoints{"asset": "psc.example.internal:443", "logging": "[::1]:9002", "container": "localhost:9003"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseEndpoints (-want +got):\n%s", diff)
	}
	_, err = ParseEndpoints("asset", "gke=1.2.3.4:5,logging=host", "bigquery=:80")
	wantErr := `endpoint "asset" is not SERVICE=HOST:PORT
endpoint "gke=1.2.3.4:5": unknown service "gke" (want one of asset, container, resourcemanager, logging, bigquery, pubsub, storage)
endpoint "logging=host": "host" is not HOST:PORT
endpoint "bigquery=:80": ":80" is not HOST:PORT`
	if err == nil || err.Error() != wantErr {
		t.Errorf("ParseEndpoints errors =\n%v\nwant\n%s", err, wantErr)
	}
}

func TestIsLoopback(t *testing.T) {
	for hp, want := range map[string]bool{
		"127.0.0.1:80": true, "127.9.8.7:1": true, "[::1]:443": true, "localhost:8085": true,
		"10.0.0.1:80": false, "192.168.1.1:80": false, "psc.example.internal:443": false,
		"localhost.example.com:80": false, "[::2]:80": false, "127.0.0.1": false,
	} {
		if got := IsLoopback(hp); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", hp, got, want)
		}
	}
}

func TestOptions(t *testing.T) {
	e := Endpoints{"asset": "127.0.0.1:9", "logging": "psc.example.internal:443"}
	if got := len(e.Options("asset")); got != 3 {
		t.Errorf("loopback options = %d, want 3 (endpoint, no auth, insecure)", got)
	}
	if got := len(e.Options("logging")); got != 1 {
		t.Errorf("remote options = %d, want 1 (endpoint only: TLS and credentials kept)", got)
	}
	if got := e.Options("container"); got != nil {
		t.Errorf("no override options = %v, want nil", got)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err               error
		name              string
		transient, scoped bool
	}{
		{status.Error(codes.Unavailable, "x"), "UNAVAILABLE", true, false},
		{status.Error(codes.ResourceExhausted, "quota"), "RESOURCE_EXHAUSTED", true, false},
		{status.Error(codes.DeadlineExceeded, "slow"), "DEADLINE_EXCEEDED", true, false},
		{status.Error(codes.PermissionDenied, "no"), "PERMISSION_DENIED", false, true},
		{status.Error(codes.NotFound, "gone"), "NOT_FOUND", false, true},
		{status.Error(codes.InvalidArgument, "bad"), "INVALID_ARGUMENT", false, false},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), "DEADLINE_EXCEEDED", false, false},
		{errors.New("plain"), "UNKNOWN", false, false},
	}
	for _, tc := range tests {
		if got := CodeName(tc.err); got != tc.name {
			t.Errorf("CodeName(%v) = %s, want %s", tc.err, got, tc.name)
		}
		if got := Transient(tc.err); got != tc.transient {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.transient)
		}
		if got := Scoped(tc.err); got != tc.scoped {
			t.Errorf("Scoped(%v) = %v, want %v", tc.err, got, tc.scoped)
		}
	}
	if got := Message(status.Error(codes.PermissionDenied, "caller lacks container.clusters.list")); got != "caller lacks container.clusters.list" {
		t.Errorf("Message = %q", got)
	}
}

func TestRetryer(t *testing.T) {
	r := &retryer{left: 3, transient: Transient}
	r.bo.Initial, r.bo.Max, r.bo.Multiplier = 10*time.Millisecond, 40*time.Millisecond, 2
	if _, ok := r.Retry(status.Error(codes.PermissionDenied, "no")); ok {
		t.Errorf("PERMISSION_DENIED retried")
	}
	for i := range 3 {
		d, ok := r.Retry(status.Error(codes.Unavailable, "x"))
		if !ok || d <= 0 || d > 40*time.Millisecond {
			t.Errorf("retry %d: pause %v, %v; want a jittered pause up to the 40ms cap", i, d, ok)
		}
	}
	if _, ok := r.Retry(status.Error(codes.Unavailable, "x")); ok {
		t.Errorf("retried beyond Attempts")
	}
	// With a limiter out of tokens, a retry waits at least for the next token.
	lim := rate.NewLimiter(rate.Every(time.Hour), 1)
	lim.Allow()
	r = &retryer{left: 1, limiter: lim, transient: Transient}
	r.bo.Initial = time.Millisecond
	if d, ok := r.Retry(status.Error(codes.ResourceExhausted, "quota")); !ok || d < 59*time.Minute {
		t.Errorf("limited retry pause = %v, %v; want about an hour", d, ok)
	}
}

func TestTransientHTTP(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&googleapi.Error{Code: 500}, true},
		{&googleapi.Error{Code: 503}, true},
		{&googleapi.Error{Code: 429}, true},
		{&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "rateLimitExceeded"}}}, true},
		{&googleapi.Error{Code: 400, Errors: []googleapi.ErrorItem{{Reason: "backendError"}}}, true},
		{&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "accessDenied"}}}, false},
		{&googleapi.Error{Code: 404}, false},
		{&googleapi.Error{Code: 412}, false},
		{fmt.Errorf("put: %w", &url.Error{Op: "Post", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}), true},
		{io.ErrUnexpectedEOF, true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{errors.New("row 3: invalid: no such field"), false},
	} {
		if got := TransientHTTP(tc.err); got != tc.want {
			t.Errorf("TransientHTTP(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// Do retries transient errors up to Attempts times, each try with its own
// deadline, and stops at once on any other error or when ctx ends.
func TestPolicyDo(t *testing.T) {
	p := Policy{Attempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond, Timeout: 50 * time.Millisecond}
	unavailable := &googleapi.Error{Code: 503}
	t.Run("recovers", func(t *testing.T) {
		tries := 0
		err := p.Do(t.Context(), TransientHTTP, func(context.Context) error {
			if tries++; tries < 3 {
				return unavailable
			}
			return nil
		})
		if err != nil || tries != 3 {
			t.Errorf("Do() = %v after %d tries, want nil after 3", err, tries)
		}
	})
	t.Run("gives up after Attempts retries", func(t *testing.T) {
		tries := 0
		err := p.Do(t.Context(), TransientHTTP, func(context.Context) error { tries++; return unavailable })
		if !errors.Is(err, unavailable) || tries != 4 {
			t.Errorf("Do() = %v after %d tries, want the 503 after 4", err, tries)
		}
	})
	t.Run("permanent error", func(t *testing.T) {
		tries := 0
		denied := &googleapi.Error{Code: 403}
		err := p.Do(t.Context(), TransientHTTP, func(context.Context) error { tries++; return denied })
		if !errors.Is(err, denied) || tries != 1 {
			t.Errorf("Do() = %v after %d tries, want the 403 after 1", err, tries)
		}
	})
	t.Run("each try has its own deadline", func(t *testing.T) {
		tries := 0
		err := p.Do(t.Context(), TransientHTTP, func(ctx context.Context) error {
			if tries++; tries == 1 {
				<-ctx.Done() // a hung request
				return ctx.Err()
			}
			return nil
		})
		if err != nil || tries != 2 {
			t.Errorf("Do() = %v after %d tries, want nil after 2", err, tries)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		tries := 0
		err := p.Do(ctx, TransientHTTP, func(context.Context) error { tries++; cancel(); return unavailable })
		if err == nil || tries != 1 {
			t.Errorf("Do() = %v after %d tries, want an error after 1", err, tries)
		}
	})
}

func TestParseEndpointPorts(t *testing.T) {
	if _, err := ParseEndpoints("asset=127.0.0.1:1,logging=[::1]:65535"); err != nil {
		t.Errorf("ports 1 and 65535: %v", err)
	}
	_, err := ParseEndpoints("asset=127.0.0.1:0,container=h:65536,logging=h:http,storage=h:-1,pubsub=h:123456")
	want := `endpoint "asset=127.0.0.1:0": port "0" is not a number from 1 to 65535
endpoint "container=h:65536": port "65536" is not a number from 1 to 65535
endpoint "logging=h:http": port "http" is not a number from 1 to 65535
endpoint "storage=h:-1": port "-1" is not a number from 1 to 65535
endpoint "pubsub=h:123456": port "123456" is not a number from 1 to 65535`
	if err == nil || err.Error() != want {
		t.Fatalf("ParseEndpoints errors =\n%v\nwant\n%s", err, want)
	}
	// Each bad spec is an *EndpointError naming its service when known.
	_, err = ParseEndpoints("bogus,gke=h:1,asset=h:0")
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ee *EndpointError
		if !errors.As(e, &ee) {
			t.Fatalf("%v is not an *EndpointError", e)
		}
		got = append(got, ee.Spec+"/"+ee.Service)
	}
	if diff := cmp.Diff([]string{"bogus/", "gke=h:1/", "asset=h:0/asset"}, got); diff != "" {
		t.Errorf("EndpointErrors (-want +got):\n%s", diff)
	}
}

// OnRetry hears each retry with the try about to be made; without it the
// options are what they were.
func TestRetryerOnRetry(t *testing.T) {
	type retry struct {
		method, code string
		attempt      int
	}
	var got []retry
	p := Policy{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond,
		OnRetry: func(m, c string, a int) { got = append(got, retry{m, c, a}) }}
	r := p.retryer(Transient)
	r.name = &callName{}
	r.name.set("/google.cloud.asset.v1.AssetService/ListAssets")
	r.Retry(status.Error(codes.Unavailable, "x"))
	r.Retry(status.Error(codes.ResourceExhausted, "quota"))
	r.Retry(status.Error(codes.Unavailable, "x")) // beyond Attempts: not retried, not reported
	r.Retry(status.Error(codes.PermissionDenied, "no"))
	want := []retry{{"ListAssets", "UNAVAILABLE", 2}, {"ListAssets", "RESOURCE_EXHAUSTED", 3}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(retry{})); diff != "" {
		t.Errorf("OnRetry calls (-want +got):\n%s", diff)
	}
	if n := len(DefaultPolicy.CallOptions()); n != 1 {
		t.Errorf("CallOptions without OnRetry = %d options, want 1 (the retry)", n)
	}
	got = nil
	tries := 0
	_ = p.Do(t.Context(), TransientHTTP, func(context.Context) error { tries++; return &googleapi.Error{Code: 503} })
	if want := []retry{{"", "HTTP 503", 2}, {"", "HTTP 503", 3}}; tries != 3 || !cmp.Equal(want, got, cmp.AllowUnexported(retry{})) {
		t.Errorf("Do: %d tries, OnRetry calls %v; want 3 tries and %v", tries, got, want)
	}
}

// flaky serves any method over gRPC, failing the first fail calls with
// UNAVAILABLE.
func flaky(t *testing.T, fail int) (addr string, stop func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var in emptypb.Empty
		if err := stream.RecvMsg(&in); err != nil {
			return err
		}
		if int(calls.Add(1)) <= fail {
			return status.Error(codes.Unavailable, "warming up")
		}
		return stream.SendMsg(&emptypb.Empty{})
	}))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), srv.Stop
}

func watchedConn(t *testing.T, addr string, timeout time.Duration) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(newWatch("asset", timeout).intercept))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// invoke makes one call as the generated clients do: gax.Invoke with the
// policy's options.
func invoke(ctx context.Context, cc *grpc.ClientConn, p Policy) error {
	ctx, cancel := p.WithTimeout(ctx)
	defer cancel()
	return gax.Invoke(ctx, func(ctx context.Context, s gax.CallSettings) error {
		return cc.Invoke(ctx, "/google.cloud.asset.v1.AssetService/ListAssets", &emptypb.Empty{}, &emptypb.Empty{}, s.GRPC...)
	}, p.CallOptions()...)
}

// Through a watched client, OnRetry gets the method's name.
func TestWatchNamesRetries(t *testing.T) {
	addr, _ := flaky(t, 2)
	var mu sync.Mutex
	var got []string
	p := Policy{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond, Timeout: 10 * time.Second,
		OnRetry: func(m, c string, a int) { mu.Lock(); got = append(got, fmt.Sprintf("%s %s %d", m, c, a)); mu.Unlock() }}
	if err := invoke(t.Context(), watchedConn(t, addr, 5*time.Second), p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ListAssets UNAVAILABLE 2", "ListAssets UNAVAILABLE 3"}, got); diff != "" {
		t.Errorf("OnRetry calls (-want +got):\n%s", diff)
	}
}

// A first connection that cannot be made fails the call within the bound,
// naming the endpoint, and is not retried; after one connection, an outage
// is retried as before.
func TestWatchFirstConnection(t *testing.T) {
	p := DefaultPolicy // 8 retries within 60 s
	var retries atomic.Int32
	p.OnRetry = func(string, string, int) { retries.Add(1) }
	start := time.Now()
	err := invoke(t.Context(), watchedConn(t, "127.0.0.1:1", 300*time.Millisecond), p)
	elapsed := time.Since(start)
	want := `no connection to the asset endpoint 127.0.0.1:1 within 300ms: connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	var ce *ConnectError
	if !errors.As(err, &ce) || Transient(err) || CodeName(err) != "UNAVAILABLE" {
		t.Errorf("err %T: want a *ConnectError, UNAVAILABLE, not transient", err)
	}
	if elapsed > 3*time.Second || retries.Load() != 0 {
		t.Errorf("failed after %v and %d retries; want within the 300ms bound, no retry", elapsed, retries.Load())
	}

	// The call's own deadline before the bound.
	p.Timeout = 200 * time.Millisecond
	err = invoke(t.Context(), watchedConn(t, "127.0.0.1:1", 5*time.Second), p)
	if want := "no connection to the asset endpoint 127.0.0.1:1 before the call's deadline: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want prefix %q", err, want)
	}

	// Connected once: a later outage is transient and retried.
	addr, stop := flaky(t, 0)
	cc := watchedConn(t, addr, 300*time.Millisecond)
	p = Policy{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond, Timeout: 5 * time.Second,
		OnRetry: func(string, string, int) { retries.Add(1) }}
	if err := invoke(t.Context(), cc, p); err != nil {
		t.Fatal(err)
	}
	stop()
	err = invoke(t.Context(), cc, p)
	if errors.As(err, &ce) || !Transient(err) || retries.Load() != 2 {
		t.Errorf("after an outage: err %v (transient %v), %d retries; want a transient error retried twice", err, Transient(err), retries.Load())
	}
}
