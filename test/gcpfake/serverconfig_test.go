package gcpfake_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/fleetscan/fleetscan/test/gcpfake"
)

func serverConfigName(project, location string) *containerpb.GetServerConfigRequest {
	return &containerpb.GetServerConfigRequest{Name: "projects/" + project + "/locations/" + location}
}

// GetServerConfig serves the fleet's config of each location, in every
// project of the fleet (by ID or number), and the default config where the
// fleet has no cluster.
func TestGetServerConfig(t *testing.T) {
	f := smallFleet(t)
	s := start(t, f, gcpfake.Options{})
	c := connect(t, s)
	ctx := context.Background()
	locations := f.Locations()
	if len(locations) < 2 {
		t.Fatalf("fleet locations %v: want several", locations)
	}
	for _, l := range locations {
		for _, p := range []string{f.Projects[0].ID, fmt.Sprint(f.Projects[len(f.Projects)-1].Number)} {
			got, err := c.container.GetServerConfig(ctx, serverConfigName(p, l), noRetry)
			if err != nil {
				t.Fatalf("GetServerConfig(%s, %s): %v", p, l, err)
			}
			if want := f.ServerConfig(l); !proto.Equal(got, want) {
				t.Errorf("GetServerConfig(%s, %s) = %v, want %v", p, l, got, want)
			}
		}
	}
	def, err := c.container.GetServerConfig(ctx, serverConfigName(f.Projects[0].ID, "southamerica-east1"), noRetry)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.ServerConfig("southamerica-east1"); !proto.Equal(def, want) {
		t.Errorf("GetServerConfig of a location without clusters = %v, want the default %v", def, want)
	}
	if got := s.Calls()["container.GetServerConfig"]; got != 2*len(locations)+1 {
		t.Errorf("Calls()[container.GetServerConfig] = %d, want %d", got, 2*len(locations)+1)
	}
}

func TestGetServerConfigErrors(t *testing.T) {
	f := smallFleet(t)
	p := f.Projects[2].ID
	c := connect(t, start(t, f, gcpfake.Options{Deny: map[string]codes.Code{p: codes.PermissionDenied}}))
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		req  *containerpb.GetServerConfigRequest
		code codes.Code
		msg  string
	}{
		{"unknown project", serverConfigName("no-such-project", "us-central1"), codes.NotFound, `Project "no-such-project" not found or deleted.`},
		{"denied", serverConfigName(p, "us-central1"), codes.PermissionDenied, "gcpfake: access to " + p + " denied (Options.Deny)"},
		{"all locations", serverConfigName(f.Projects[0].ID, "-"), codes.InvalidArgument, `name "projects/` + f.Projects[0].ID + `/locations/-" must be projects/P/locations/L`},
		{"no location", &containerpb.GetServerConfigRequest{Name: "projects/" + f.Projects[0].ID}, codes.InvalidArgument, `name "projects/` + f.Projects[0].ID + `" must be projects/P/locations/L`},
		{"zones", &containerpb.GetServerConfigRequest{Name: "projects/" + f.Projects[0].ID + "/zones/us-central1-a"}, codes.InvalidArgument, `name "projects/` + f.Projects[0].ID + `/zones/us-central1-a" must be projects/P/locations/L`},
		//lint:ignore SA1019 the fake must reject the deprecated fields
		{"deprecated fields", &containerpb.GetServerConfigRequest{ProjectId: f.Projects[0].ID, Zone: "us-central1-a"}, codes.InvalidArgument, "project_id and zone are deprecated and not supported by gcpfake: set name to projects/P/locations/L"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.container.GetServerConfig(ctx, tc.req, noRetry)
			wantStatus(t, err, tc.code, tc.msg)
		})
	}
}

// Injected transient failures, latency and OnCall apply to GetServerConfig
// as to every method.
func TestGetServerConfigFaults(t *testing.T) {
	f := smallFleet(t)
	var mu sync.Mutex
	var seen []string
	s := start(t, f, gcpfake.Options{TransientRate: 1, OnCall: func(method string, n int) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s#%d", method, n))
	}})
	c := connect(t, s)
	req := serverConfigName(f.Projects[0].ID, f.Clusters[0].GetLocation())
	_, err := c.container.GetServerConfig(context.Background(), req, noRetry)
	wantStatus(t, err, codes.Unavailable, "gcpfake: injected transient failure: the service is currently unavailable")
	_, err = c.container.GetServerConfig(context.Background(), req, noRetry)
	wantStatus(t, err, codes.ResourceExhausted, "gcpfake: injected transient failure: quota exceeded")
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"container.GetServerConfig#1", "container.GetServerConfig#2"}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("OnCall saw %v, want %v", seen, want)
	}
}

func TestGetServerConfigLatency(t *testing.T) {
	f := smallFleet(t)
	c := connect(t, start(t, f, gcpfake.Options{Latency: 300 * time.Millisecond}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.container.GetServerConfig(ctx, serverConfigName(f.Projects[0].ID, f.Clusters[0].GetLocation()), noRetry)
	if code(err) != codes.DeadlineExceeded {
		t.Errorf("GetServerConfig with a deadline under the latency: error %v, want DEADLINE_EXCEEDED", err)
	}
}
