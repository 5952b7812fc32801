package discovery

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/fleetscan/fleetscan/scanner"
)

// shape is the message for JSON that holds no clusters in a form known.
const shape = `wrong shape: want GKE clusters or their Cloud Asset Inventory assets: a JSON array, {"clusters": [...]}, {"assets": [...]}, one object, or NDJSON (one object per line)`

// located is a cluster and where it is, FILE or FILE:LINE, for messages.
type located struct {
	scanner.Cluster
	at string
}

// ParseClusters decodes a file of GKE clusters in any of the forms gcloud
// and the APIs produce:
//   - Container API clusters: a JSON array (gcloud container clusters list
//     --format=json), a ListClustersResponse ({"clusters":[…]}), one
//     cluster object (describe);
//   - their Cloud Asset Inventory assets, the cluster in resource.data: a
//     JSON array (gcloud asset list --content-type=resource --format=json),
//     a ListAssetsResponse ({"assets":[…]}), one asset; assets of other
//     types are skipped;
//   - several of these in a row, such as NDJSON: one cluster or asset a
//     line, or gcloud asset export's (whose keys are snake_case).
//
// Unknown fields are ignored. The project ID comes from selfLink, else
// from the asset name. A problem is reported at its FILE:LINE:COL; a file
// of another kind (log entries, a kubectl dump, a server config, assets of
// another type) gets one line saying so. name is used in messages.
func ParseClusters(name string, data []byte) ([]scanner.Cluster, error) {
	ls, err := parseFile(name, data)
	if err != nil {
		return nil, err
	}
	out := make([]scanner.Cluster, len(ls))
	for i, l := range ls {
		out[i] = l.Cluster
	}
	return out, nil
}

// element is one object of a file that may be a cluster or an asset.
type element struct {
	scanner.Value
	members map[string]scanner.Value // nil when not an object
	kind    scanner.Kind
}

func parseFile(name string, data []byte) ([]located, error) {
	f := &scanner.File{Name: name, Data: data}
	docs, err := f.Values()
	if err != nil {
		return nil, err
	}
	var elems []element
	for _, d := range docs {
		es, err := split(f, d, len(docs) == 1)
		if err != nil {
			return nil, err
		}
		elems = append(elems, es...)
	}
	if err := wrongKind(f, elems); err != nil {
		return nil, err
	}
	// A cluster's place for messages about it: its line, unless it is the
	// file's only JSON value.
	at := func(e element) string {
		if len(docs) == 1 && e.Offset == docs[0].Offset {
			return name
		}
		return f.Line(e.Offset)
	}
	out := make([]located, 0, len(elems))
	var errs []error
	for _, e := range elems {
		var c scanner.Cluster
		var err error
		switch e.kind {
		case scanner.KindAssets:
			t, typed := e.members["assetType"]
			if !typed {
				t, typed = e.members["asset_type"]
			}
			switch {
			case t.Text() != "":
				continue // another type, in an export of several
			case typed:
				err = f.Errorf(t.Offset, "asset type %s is not a type name", t.Raw)
			default: // such as a list response in an array
				c, err = parseCluster(f, e.Value, "")
			}
		case scanner.KindClusterAssets:
			c, err = parseAsset(f, e)
		case scanner.KindLogEntries, scanner.KindKubernetes, scanner.KindServerConfig:
			err = f.Errorf(e.Offset, "this looks like %s, not a cluster", e.kind.One())
		default:
			c, err = parseCluster(f, e.Value, "")
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, located{Cluster: c, at: at(e)})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// split returns the clusters or assets of one top-level value: an array's
// elements, a list response's, or the object itself. only is set when the
// value is the whole file.
func split(f *scanner.File, d scanner.Value, only bool) ([]element, error) {
	if es, ok := scanner.Elements(d); ok {
		return classify(es), nil
	}
	m, ok := scanner.Members(d)
	if !ok {
		if only {
			return nil, fmt.Errorf("%s: %s", f.Name, shape)
		}
		return classify([]scanner.Value{d}), nil // reads as not a cluster, at its place
	}
	var out []element
	list := false
	for _, key := range []string{"clusters", "assets"} {
		v, ok := m[key]
		if !ok {
			continue
		}
		list = true
		if v.IsNull() {
			continue
		}
		es, ok := scanner.Elements(v)
		if !ok {
			return nil, f.Errorf(v.Offset, "%q is not an array of %s", key, key)
		}
		out = append(out, classify(es)...)
	}
	switch {
	case list:
		return out, nil
	case isEmptyResponse(m):
		return nil, nil // the APIs omit an empty list: {} is a response without clusters
	}
	e := element{Value: d, members: m, kind: scanner.KindOfMembers(m)}
	if only && e.kind == scanner.KindUnknown {
		return nil, fmt.Errorf("%s: %s", f.Name, shape)
	}
	return []element{e}, nil
}

func classify(vs []scanner.Value) []element {
	out := make([]element, len(vs))
	for i, v := range vs {
		out[i].Value = v
		if m, ok := scanner.Members(v); ok {
			out[i].members, out[i].kind = m, scanner.KindOfMembers(m)
		}
	}
	return out
}

// isEmptyResponse reports whether an object is a list response without
// its list: {}, a ListClustersResponse with only missingZones, or a
// ListAssetsResponse with only readTime (and nextPageToken).
func isEmptyResponse(m map[string]scanner.Value) bool {
	for k := range m {
		if k != "missingZones" && k != "readTime" && k != "nextPageToken" {
			return false
		}
	}
	return true
}

// wrongKind returns the one line for a file that holds no cluster: what
// it looks like instead.
func wrongKind(f *scanner.File, elems []element) error {
	var others []string // asset types
	var foreign scanner.Kind
	withData := false
	for _, e := range elems {
		switch e.kind {
		case scanner.KindClusters:
			return nil
		case scanner.KindClusterAssets:
			if d, ok := assetData(e); ok && !d.IsNull() {
				withData = true
			}
		case scanner.KindAssets:
			if t := assetType(e); t != "" && !slices.Contains(others, t) {
				others = append(others, t)
			}
		case scanner.KindLogEntries, scanner.KindKubernetes, scanner.KindServerConfig:
			if foreign == scanner.KindUnknown {
				foreign = e.kind
			}
		}
	}
	switch {
	case withData:
		return nil
	case slices.ContainsFunc(elems, func(e element) bool { return e.kind == scanner.KindClusterAssets }):
		return fmt.Errorf("%s: these GKE cluster assets have no resource data: list them with --content-type=resource", f.Name)
	case len(others) > 0:
		return fmt.Errorf("%s: these are Cloud Asset Inventory assets of %s, not %s: list clusters with --asset-types=%s --content-type=resource",
			f.Name, types(others), ClusterAssetType, ClusterAssetType)
	case foreign != scanner.KindUnknown:
		return foreign.WrongFlag(f.Name, "--input")
	}
	return nil
}

// types names asset types: "type A", "types A and B", "types A, B, C and 2 more".
func types(ts []string) string {
	switch n := len(ts); {
	case n == 1:
		return "type " + ts[0]
	case n <= 3:
		return "types " + strings.Join(ts[:n-1], ", ") + " and " + ts[n-1]
	default:
		return fmt.Sprintf("types %s and %d more", strings.Join(ts[:3], ", "), n-3)
	}
}

// assetType is an asset's type, in gcloud's and the API's key or in
// gcloud asset export's.
func assetType(e element) string {
	if t, ok := e.members["assetType"]; ok {
		return t.Text()
	}
	return e.members["asset_type"].Text()
}

// assetData is an asset's resource.data.
func assetData(e element) (scanner.Value, bool) {
	r, ok := e.members["resource"]
	if !ok {
		return scanner.Value{}, false
	}
	m, ok := scanner.Members(r)
	if !ok {
		return scanner.Value{}, false
	}
	d, ok := m["data"]
	return d, ok
}

// parseAsset reads a cluster asset's resource.data as a cluster, the
// project from selfLink or else from the asset name (resource.parent
// names the project by number).
func parseAsset(f *scanner.File, e element) (scanner.Cluster, error) {
	n, ok := e.members["name"]
	if !ok {
		return scanner.Cluster{}, f.Errorf(e.Offset, "asset has no name")
	}
	m := assetName.FindStringSubmatch(n.Text())
	if m == nil {
		return scanner.Cluster{}, f.Errorf(n.Offset, "asset name %s is not a GKE cluster name (//container.googleapis.com/projects/P/locations/L/clusters/C)", n.Raw)
	}
	d, ok := assetData(e)
	if !ok || d.IsNull() {
		return scanner.Cluster{}, f.Errorf(e.Offset, "asset %s has no resource data: list it with --content-type=resource", n.Text())
	}
	c, err := parseCluster(f, d, m[1])
	if err == nil && c.Location == "" {
		c.Location = m[2]
	}
	return c, err
}

// parseCluster reads one cluster at its place in the file. fallback is the
// project when selfLink names none.
func parseCluster(f *scanner.File, v scanner.Value, fallback string) (scanner.Cluster, error) {
	var pc containerpb.Cluster
	if err := unmarshal.Unmarshal(v.Raw, &pc); err != nil {
		off, msg := protoPosition(v, err)
		return scanner.Cluster{}, f.Errorf(off, "not a Container API cluster: %s", msg)
	}
	project := ""
	if _, ok := ProjectFromSelfLink(pc.GetSelfLink()); !ok {
		project = fallback
	}
	c, err := reduce(&pc, v.Raw, project)
	if err != nil {
		return scanner.Cluster{}, f.Errorf(v.Offset, "%v", err)
	}
	return c, nil
}

// protoPos is the position in a protojson error: "(line 3:13): " or
// "syntax error (line 1:28): ", of the value's own text.
var protoPos = regexp.MustCompile(`^(?:syntax error )?\(line (\d+):(\d+)\): `)

// protoPosition returns the file offset and the text of a protojson error
// about value v: its position, counted from v's start, moved to the file.
// Without a position, the offset is v's.
func protoPosition(v scanner.Value, err error) (int, string) {
	msg := strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\u00a0", " "), "proto: ")
	m := protoPos.FindStringSubmatch(msg)
	if m == nil {
		return v.Offset, msg
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	off := 0
	for ; line > 1 && off < len(v.Raw); off++ {
		if v.Raw[off] == '\n' {
			line--
		}
	}
	for ; col > 1 && off < len(v.Raw); col-- {
		_, size := utf8.DecodeRune(v.Raw[off:])
		off += size
	}
	return v.Offset + off, msg[len(m[0]):]
}

// clusterDiff names the first field in which two reductions of one cluster
// differ, with both values ("currentMasterVersion 1.30.1-gke.1 and
// 1.31.2-gke.3"), or "" when they are the same.
func clusterDiff(a, b scanner.Cluster) string {
	type field struct{ name, a, b string }
	fs := []field{
		{"id", a.ID, b.ID},
		{"selfLink", a.SelfLink, b.SelfLink},
		{"status", a.Status, b.Status},
		{"currentMasterVersion", a.MasterVersion, b.MasterVersion},
		{"currentNodeVersion", a.NodeVersion, b.NodeVersion},
		{"initialClusterVersion", a.InitialVersion, b.InitialVersion},
		{"releaseChannel.channel", a.ReleaseChannel, b.ReleaseChannel},
		{"networkConfig.datapathProvider", a.Datapath, b.Datapath},
		{"autopilot.enabled", strconv.FormatBool(a.Autopilot), strconv.FormatBool(b.Autopilot)},
		{"ipAllocationPolicy.useIpAliases", strconv.FormatBool(a.VPCNative), strconv.FormatBool(b.VPCNative)},
		{"endpoint", a.Access.Endpoint, b.Access.Endpoint},
		{"controlPlaneEndpointsConfig.dnsEndpointConfig.endpoint", a.Access.DNSEndpoint, b.Access.DNSEndpoint},
		{"masterAuth.clusterCaCertificate", a.Access.CACert, b.Access.CACert},
		{"nodePools", poolNames(a.NodePools), poolNames(b.NodePools)},
	}
	if len(a.NodePools) == len(b.NodePools) {
		for i, p := range a.NodePools {
			q := b.NodePools[i]
			fs = append(fs,
				field{"nodePools[" + p.Name + "].version", p.Version, q.Version},
				field{"nodePools[" + p.Name + "].config.imageType", p.ImageType, q.ImageType},
				field{"nodePools[" + p.Name + "].config.linuxNodeConfig.sysctls", sysctls(p.Sysctls), sysctls(q.Sysctls)})
		}
	}
	var diffs []string
	for _, f := range fs {
		switch {
		case f.a == f.b:
		case f.name == "masterAuth.clusterCaCertificate": // too long to show
			diffs = append(diffs, f.name+" differs")
		default:
			diffs = append(diffs, fmt.Sprintf("%s %s and %s", f.name, orUnset(f.a), orUnset(f.b)))
		}
	}
	switch {
	case len(diffs) == 1:
		return diffs[0]
	case len(diffs) > 1:
		return fmt.Sprintf("%s, and %d more", diffs[0], len(diffs)-1)
	case !reflect.DeepEqual(normal(a), normal(b)): // a field added to scanner.Cluster since
		return "fields differ"
	}
	return ""
}

func orUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

func poolNames(ps []scanner.Pool) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ",")
}

// sysctls is a canonical text of a pool's sysctls: fmt sorts map keys.
func sysctls(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	return fmt.Sprint(m)
}

// normal is a cluster with empty lists and maps made nil, so that JSON
// that writes them and JSON that leaves them out compare equal.
func normal(c scanner.Cluster) scanner.Cluster {
	// The object itself differs between a gcloud dump and an asset export
	// of one cluster (counts, status messages, when each was taken): the
	// copies are compared on what fleetscan reduces them to, and the scan
	// keeps the first copy's object.
	c.Object = nil
	if len(c.NodePools) == 0 {
		c.NodePools = nil
		return c
	}
	ps := make([]scanner.Pool, len(c.NodePools))
	for i, p := range c.NodePools {
		if len(p.Sysctls) == 0 {
			p.Sysctls = nil
		}
		ps[i] = p
	}
	c.NodePools = ps
	return c
}
