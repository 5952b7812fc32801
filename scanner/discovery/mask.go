package discovery

import (
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fieldMask is which fields of a message fromWire decodes: a nil mask,
// or a whole one, every field all the way down; otherwise the fields it
// lists, each as far as its own mask says. A message on the way to a kept
// field is kept, so its presence is what it was.
type fieldMask struct {
	whole  bool
	fields map[protoreflect.FieldNumber]*fieldMask
}

// field is the mask of field n of m's message, and whether it is kept at
// all (nil: whole).
func (m *fieldMask) field(n protoreflect.FieldNumber) (*fieldMask, bool) {
	if m == nil || m.whole {
		return nil, true
	}
	sub, ok := m.fields[n]
	return sub, ok
}

// add keeps the fields of path p, its last one whole.
func (m *fieldMask) add(p []protoreflect.FieldDescriptor) {
	for _, fd := range p {
		if m.whole {
			return
		}
		if m.fields == nil {
			m.fields = map[protoreflect.FieldNumber]*fieldMask{}
		}
		next := m.fields[fd.Number()]
		if next == nil {
			next = &fieldMask{}
			m.fields[fd.Number()] = next
		}
		m = next
	}
	m.whole, m.fields = true, nil
}

// fromProtoFields are the Cluster fields FromProto reads, by their JSON
// names; TestClusterMask holds the list to FromProto.
var fromProtoFields = []string{
	"name", "selfLink", "location", "id", "status",
	"currentMasterVersion", "currentNodeVersion", "initialClusterVersion",
	"autopilot.enabled", "ipAllocationPolicy.useIpAliases",
	"networkConfig.datapathProvider", "releaseChannel.channel",
	"nodePools.name", "nodePools.version", "nodePools.config.imageType", "nodePools.config.linuxNodeConfig.sysctls",
}

// accessFields are the fields of FromProto's scanner.Access: how to reach
// the cluster's Kubernetes API. The CA certificate is most of a cluster's
// size after its node pools (2 KB), so a scan that does not reach the
// clusters' APIs leaves them out (AssetInventory.WithoutAccess).
var accessFields = []string{
	"endpoint", "masterAuth.clusterCaCertificate",
	"controlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic",
	"controlPlaneEndpointsConfig.dnsEndpointConfig.endpoint",
}

// FieldReader says which Cluster fields a scan reads besides FromProto's:
// catalog.Catalog's conditions (its ReadFields). Each path is a chain of
// fields from Cluster, read whole at its end; all is true when any field
// may be read.
type FieldReader interface {
	ReadFields() (paths [][]protoreflect.FieldDescriptor, all bool)
}

// clusterMask is what a cluster asset's resource.data is decoded for:
// FromProto's fields (its Access too, unless withoutAccess) and those r
// reads; nil (every field) without r, or when r may read any.
func clusterMask(r FieldReader, withoutAccess bool) *fieldMask {
	if r == nil {
		return nil
	}
	paths, all := r.ReadFields()
	if all {
		return nil
	}
	m := &fieldMask{}
	for _, name := range fromProtoFields {
		m.add(clusterPath(name))
	}
	if !withoutAccess {
		for _, name := range accessFields {
			m.add(clusterPath(name))
		}
	}
	for _, p := range paths {
		m.add(p)
	}
	return m
}

// clusterPath is the path of Cluster fields that a dotted name of JSON
// names gives; it panics on a name that is not one (fromProtoFields is
// constant).
func clusterPath(name string) []protoreflect.FieldDescriptor {
	md := (&containerpb.Cluster{}).ProtoReflect().Descriptor()
	var p []protoreflect.FieldDescriptor
	for part := range strings.SplitSeq(name, ".") {
		if md == nil {
			panic("discovery: " + name + " goes past a scalar")
		}
		fd := md.Fields().ByJSONName(part)
		if fd == nil {
			panic("discovery: " + name + ": no field " + part)
		}
		p = append(p, fd)
		md = fd.Message()
	}
	return p
}
