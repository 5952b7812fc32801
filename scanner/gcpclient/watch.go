package gcpclient

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// Watch returns a client option for a gRPC client of service (one of
// Services) that does two things for the calls made with a Policy:
//
//   - it names each call's method for Policy.OnRetry;
//   - with connectTimeout > 0, it bounds the client's first connection:
//     calls wait for it, and when none is made within connectTimeout of
//     the first call (or before that call's deadline), they fail with a
//     *ConnectError naming the endpoint, which Transient does not retry.
//     Once a connection has been made, a later outage is a transient error
//     like any other and retried as before.
func Watch(service string, connectTimeout time.Duration) option.ClientOption {
	return option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(newWatch(service, connectTimeout).intercept))
}

func newWatch(service string, connectTimeout time.Duration) *watch {
	return &watch{service: service, timeout: connectTimeout, conns: map[*grpc.ClientConn]*connState{}}
}

// ConnectError is a client's first connection not made in time.
type ConnectError struct {
	Service  string        // e.g. "asset"
	Endpoint string        // HOST:PORT as dialled
	Timeout  time.Duration // the bound; 0 when the call's own deadline came first
	Err      error         // the connection's last error, as gRPC reports it
}

func (e *ConnectError) Error() string {
	within := fmt.Sprintf("within %s", e.Timeout)
	if e.Timeout == 0 {
		within = "before the call's deadline"
	}
	return fmt.Sprintf("no connection to the %s endpoint %s %s: %s", e.Service, e.Endpoint, within, connectDetail(e.Err))
}

func (e *ConnectError) Unwrap() error { return e.Err }

// GRPCStatus makes the error UNAVAILABLE for status.Code and CodeName.
func (e *ConnectError) GRPCStatus() *status.Status { return status.New(codes.Unavailable, e.Error()) }

// connectDetail is what gRPC says of a connection not made.
func connectDetail(err error) string {
	if err == nil || Code(err) == codes.DeadlineExceeded {
		return "still connecting"
	}
	return Message(err)
}

type watch struct {
	service string
	timeout time.Duration

	mu    sync.Mutex
	conns map[*grpc.ClientConn]*connState // a client may pool several connections
}

type connState struct {
	mu       sync.Mutex
	ready    bool
	deadline time.Time // of the first connection: first use + timeout
}

func (w *watch) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	for _, o := range opts {
		if n, ok := o.(*callName); ok {
			n.set(method)
		}
	}
	if w.timeout > 0 && cc != nil {
		if err := w.firstConnection(ctx, method, req, reply, cc, invoker, opts); err != nil {
			return err
		}
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (w *watch) state(cc *grpc.ClientConn) *connState {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.conns[cc]
	if !ok {
		st = &connState{deadline: time.Now().Add(w.timeout)}
		w.conns[cc] = st
	}
	return st
}

// firstConnection waits until cc has connected once, or fails the call
// when it does not within the bound.
func (w *watch) firstConnection(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	st := w.state(cc)
	st.mu.Lock()
	ready, deadline := st.ready, st.deadline
	st.mu.Unlock()
	if ready {
		return nil
	}
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for {
		s := cc.GetState()
		if s == connectivity.Ready {
			st.mu.Lock()
			st.ready = true
			st.mu.Unlock()
			return nil
		}
		if s == connectivity.Shutdown {
			return nil // closed: the call itself says so
		}
		if s == connectivity.Idle {
			cc.Connect()
		}
		if !cc.WaitForStateChange(wctx, s) {
			break
		}
	}
	if err := ctx.Err(); err == context.Canceled {
		return status.FromContextError(err).Err()
	}
	// One fail-fast try, given a moment, gives the connection's last error.
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Millisecond)
	perr := invoker(pctx, method, req, reply, cc, opts...)
	pcancel()
	if cc.GetState() == connectivity.Ready {
		st.mu.Lock()
		st.ready = true
		st.mu.Unlock()
		return nil // connected at the last moment: the call proper follows
	}
	ce := &ConnectError{Service: w.service, Endpoint: endpoint(cc), Timeout: w.timeout, Err: perr}
	if ctx.Err() != nil && time.Now().Before(deadline) {
		ce.Timeout = 0
	}
	return ce
}

// endpoint is the HOST:PORT that cc dials.
func endpoint(cc *grpc.ClientConn) string {
	t := cc.Target()
	for _, scheme := range []string{"dns:///", "passthrough:///", "dns:", "passthrough:"} {
		if rest, ok := strings.CutPrefix(t, scheme); ok {
			return rest
		}
	}
	return t
}
