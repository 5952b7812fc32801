package discovery

import (
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/fleetscan/fleetscan/scanner/catalog"
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
func (m *fieldMask) add(p catalog.FieldPath) {
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
	"name", "selfLink", "location", "id", "status", "endpoint",
	"currentMasterVersion", "currentNodeVersion", "initialClusterVersion",
	"autopilot.enabled", "ipAllocationPolicy.useIpAliases", "masterAuth.clusterCaCertificate",
	"networkConfig.datapathProvider", "releaseChannel.channel",
	"controlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic",
	"controlPlaneEndpointsConfig.dnsEndpointConfig.endpoint",
	"nodePools.name", "nodePools.version", "nodePools.config.imageType", "nodePools.config.linuxNodeConfig.sysctls",
}

// clusterMask is what a cluster asset's resource.data is decoded for:
// FromProto's fields and those the catalog's conditions can read; nil
// (every field) without a catalog, or when a condition may read any.
func clusterMask(cat *catalog.Catalog) *fieldMask {
	if cat == nil {
		return nil
	}
	paths, all := cat.ReadFields()
	if all {
		return nil
	}
	m := &fieldMask{}
	for _, name := range fromProtoFields {
		m.add(clusterPath(name))
	}
	for _, p := range paths {
		m.add(p)
	}
	return m
}

// clusterPath is the path of Cluster fields that a dotted name of JSON
// names gives; it panics on a name that is not one (fromProtoFields is
// constant).
func clusterPath(name string) catalog.FieldPath {
	md := (&containerpb.Cluster{}).ProtoReflect().Descriptor()
	var p catalog.FieldPath
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
