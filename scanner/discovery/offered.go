package discovery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
)

// OfferedFromProto reduces a Container API ServerConfig to what fleetscan
// reads. Channels are keyed by their enum name as the API prints it
// (RAPID, REGULAR, STABLE, EXTENDED; a channel newer than this client by
// its number); UNSPECIFIED is skipped. Channels is nil when no channel is
// listed. The slices are copies: sc may be reused.
func OfferedFromProto(sc *containerpb.ServerConfig) scanner.Offered {
	o := scanner.Offered{
		MasterVersions: slices.Clone(sc.GetValidMasterVersions()),
		NodeVersions:   slices.Clone(sc.GetValidNodeVersions()),
	}
	for _, ch := range sc.GetChannels() {
		if ch.GetChannel() == 0 { // UNSPECIFIED
			continue
		}
		if o.Channels == nil {
			o.Channels = map[string][]string{}
		}
		name := ch.GetChannel().String()
		o.Channels[name] = append(o.Channels[name], ch.GetValidVersions()...)
	}
	return o
}

// ServerConfigs gives the versions offered per location with the
// Container API: GetServerConfig(projects/P/locations/L), timed out and
// retried with Policy. Each location is asked once for the whole scan,
// whichever project asks: concurrent callers for a location share the call
// in flight, and later ones its answer. A failure is kept for the project
// that got it (asking again with the same project returns it at once),
// while another project with clusters in the location may still ask; a
// call cancelled by its caller's context is forgotten. Safe for
// concurrent use; the zero value of the unexported fields is ready.
//
// The Offered returned is shared between callers and must not be modified.
// An error wraps the API's (gcpclient.Code reads it) and has a Code()
// string method giving its code name, e.g. PERMISSION_DENIED.
type ServerConfigs struct {
	Client *container.ClusterManagerClient
	Policy gcpclient.Policy

	mu    sync.Mutex
	locs  map[string]*offeredEntry
	calls int
}

var (
	_ scanner.Offers = (*ServerConfigs)(nil)
	_ scanner.Offers = OfferedByLocation{}
)

// offeredEntry is one location's answer, or its call in flight.
type offeredEntry struct {
	ok       bool
	offered  scanner.Offered
	failed   map[string]error // by project
	inflight chan struct{}    // closed when the call in flight ends
}

// Offered returns what GKE offers in location, asking project on the
// first call for the location.
func (s *ServerConfigs) Offered(ctx context.Context, project, location string) (scanner.Offered, error) {
	for {
		if err := ctx.Err(); err != nil {
			return scanner.Offered{}, err
		}
		s.mu.Lock()
		if s.locs == nil {
			s.locs = map[string]*offeredEntry{}
		}
		e := s.locs[location]
		if e == nil {
			e = &offeredEntry{failed: map[string]error{}}
			s.locs[location] = e
		}
		if e.ok {
			s.mu.Unlock()
			return e.offered, nil
		}
		if err, ok := e.failed[project]; ok {
			s.mu.Unlock()
			return scanner.Offered{}, err
		}
		if wait := e.inflight; wait != nil {
			s.mu.Unlock()
			select {
			case <-wait:
				continue // answered, failed for its project, or cancelled
			case <-ctx.Done():
				return scanner.Offered{}, ctx.Err()
			}
		}
		done := make(chan struct{})
		e.inflight = done
		s.calls++
		s.mu.Unlock()

		o, err := s.get(ctx, project, location)

		s.mu.Lock()
		e.inflight = nil
		switch {
		case err == nil:
			e.ok, e.offered = true, o
		case ctx.Err() == nil: // a caller's cancellation says nothing about the location
			e.failed[project] = err
		}
		close(done)
		s.mu.Unlock()
		return o, err
	}
}

func (s *ServerConfigs) get(ctx context.Context, project, location string) (scanner.Offered, error) {
	err := s.Policy.Wait(ctx) // the limiter, if any, paces the first try too
	var sc *containerpb.ServerConfig
	if err == nil {
		cctx, cancel := s.Policy.WithTimeout(ctx)
		sc, err = s.Client.GetServerConfig(cctx, &containerpb.GetServerConfigRequest{Name: "projects/" + project + "/locations/" + location}, s.Policy.CallOptions()...)
		cancel()
	}
	if err != nil {
		return scanner.Offered{}, &offeredError{
			msg:  fmt.Sprintf("get the versions offered in %s with the Container API: %v", location, err),
			code: gcpclient.CodeName(err),
			err:  err,
		}
	}
	return OfferedFromProto(sc), nil
}

// offeredError is an error of this package's Offers: its message, the code
// that the scan records (Code, as the scan_errors table spells it), and
// the API error it wraps, so that gcpclient.Code and errors.Is see through
// it.
type offeredError struct {
	msg, code string
	err       error
}

func (e *offeredError) Error() string { return e.msg }
func (e *offeredError) Code() string  { return e.code }
func (e *offeredError) Unwrap() error { return e.err }

// Calls is the number of GetServerConfig calls made so far (each with its
// retries counting once).
func (s *ServerConfigs) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// gcloudServerConfig says how to make the file of a location.
const gcloudServerConfig = "gcloud container get-server-config --location %s --format=json"

// locationPattern is a GCP region (us-central1, northamerica-northeast1)
// or zone (us-central1-a).
var locationPattern = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+(?:-[a-z])?$`)

// ServerConfigDir reads the versions offered per location from a
// directory of gcloud dumps, the offline counterpart of ServerConfigs:
// DIR/L.json holds what `gcloud container get-server-config --location L
// --format=json` prints (a ServerConfig in REST JSON) for location L, a
// region or a zone. The match is exact: DIR/us-central1.json answers for
// us-central1 only, not for its zones, and a zonal cluster needs its
// zone's file. Every entry of DIR must be such a file.
type ServerConfigDir struct {
	Dir string
}

// Load reads every DIR/*.json. Any problem in any file (malformed JSON,
// a file name that is no location, a file without versions, an entry that
// is not a .json file) fails it with every problem listed, as does a
// directory without files.
func (d ServerConfigDir) Load() (map[string]scanner.Offered, error) {
	entries, err := os.ReadDir(d.Dir)
	if err != nil {
		return nil, fmt.Errorf("server config: %w", err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("server config: %s is empty (want %s from %s for each location of the clusters)",
			d.Dir, filepath.Join(d.Dir, "L.json"), fmt.Sprintf(gcloudServerConfig, "L"))
	}
	out := map[string]scanner.Offered{}
	var errs []error
	for _, ent := range entries {
		path := filepath.Join(d.Dir, ent.Name())
		location, isJSON := strings.CutSuffix(ent.Name(), ".json")
		switch {
		case ent.IsDir() || !isJSON:
			errs = append(errs, fmt.Errorf("%s: not a .json file (want only %s from %s, one per location)",
				path, filepath.Join(d.Dir, "L.json"), fmt.Sprintf(gcloudServerConfig, "L")))
			continue
		case !locationPattern.MatchString(location):
			errs = append(errs, fmt.Errorf("%s: %q is not a GCP location (want a region such as us-central1 or a zone such as us-central1-a: %s)",
				path, location, filepath.Join(d.Dir, "us-central1.json")))
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("server config: %w", err))
			continue
		}
		o, err := ParseServerConfig(path, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[location] = o
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Offers loads the directory as an Offers.
func (d ServerConfigDir) Offers() (OfferedByLocation, error) {
	m, err := d.Load()
	if err != nil {
		return OfferedByLocation{}, err
	}
	return OfferedByLocation{Dir: d.Dir, ByLocation: m}, nil
}

// ParseServerConfig decodes what `gcloud container get-server-config
// --format=json` prints (a ServerConfig in REST JSON, unknown fields
// ignored). name is used in messages. A config without any version is an
// error: it is not a server config, or one fleetscan cannot use.
func ParseServerConfig(name string, data []byte) (scanner.Offered, error) {
	const shape = "wrong shape: want one ServerConfig object, as gcloud container get-server-config --format=json prints it"
	_, obj, err := scanner.SplitList(name, data, "", "")
	switch {
	case errors.Is(err, scanner.ErrListShape):
		return scanner.Offered{}, fmt.Errorf("%s: %s", name, shape)
	case err != nil:
		return scanner.Offered{}, err
	case obj == nil: // an array
		return scanner.Offered{}, fmt.Errorf("%s: %s", name, shape)
	}
	var sc containerpb.ServerConfig
	if err := unmarshal.Unmarshal(data, &sc); err != nil {
		return scanner.Offered{}, fmt.Errorf("%s: not a Container API server config: %s", name, protoMessage(err))
	}
	o := OfferedFromProto(&sc)
	if len(o.MasterVersions) == 0 && len(o.NodeVersions) == 0 && !slices.ContainsFunc(sc.GetChannels(), func(c *containerpb.ServerConfig_ReleaseChannelConfig) bool {
		return len(c.GetValidVersions()) > 0
	}) {
		return scanner.Offered{}, fmt.Errorf("%s: no versions: validMasterVersions, validNodeVersions and every channel's validVersions are empty or missing", name)
	}
	return o, nil
}

// OfferedByLocation is an Offers over loaded server configs: the answer for
// a location is its own file's, whatever the project.
type OfferedByLocation struct {
	Dir        string // where they were read from, for messages
	ByLocation map[string]scanner.Offered
}

// Offered returns the config of location, or an error saying which file
// is missing, whose Code() is NOT_FOUND.
func (o OfferedByLocation) Offered(ctx context.Context, _, location string) (scanner.Offered, error) {
	if err := ctx.Err(); err != nil {
		return scanner.Offered{}, err
	}
	off, ok := o.ByLocation[location]
	if !ok {
		return scanner.Offered{}, &offeredError{code: "NOT_FOUND", msg: fmt.Sprintf("no server config for location %s in %s (want %s from %s)",
			location, o.Dir, filepath.Join(o.Dir, location+".json"), fmt.Sprintf(gcloudServerConfig, location))}
	}
	return off, nil
}
