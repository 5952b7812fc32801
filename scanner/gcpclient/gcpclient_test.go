package gcpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
