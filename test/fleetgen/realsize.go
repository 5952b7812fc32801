package fleetgen

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
)

// realSize gives c the fields a real cluster carries besides what the
// generator draws, shaped on the gcpdiag dumps (testdata/gcpdiag) and on
// what `gcloud container clusters describe` prints: logging and
// monitoring, maintenance, CIDRs, etags, instance groups, the control
// plane's endpoint and CA certificate, and for each node pool its node
// configuration, locations, instance groups, upgrade settings. A dump's
// cluster is 4–6 KB of JSON without its CA certificate (2 KB); a padded
// one is about 8 KB with it (the generator's own is about 1 KB). None of
// these fields decides a finding, so a padded fleet has the plain fleet's
// findings (TestRealSizeChangesNoFinding). They are derived from the
// cluster's names and ID, not drawn: the random streams, and so every
// pinned fleet, stay what they were.
func realSize(c *containerpb.Cluster, project string) {
	zones := []string{c.Location + "-a", c.Location + "-b", c.Location + "-c"} // a region's
	if strings.Count(c.Location, "-") == 2 {                                   // a zone
		zones = []string{c.Location}
	}
	sum := sha256.Sum256([]byte(c.Id))
	c.ClusterIpv4Cidr = fmt.Sprintf("10.%d.0.0/14", sum[0]&0xfc)
	c.ServicesIpv4Cidr = fmt.Sprintf("10.%d.%d.0/20", sum[1], sum[2]&0xf0)
	c.Endpoint = fmt.Sprintf("34.%d.%d.%d", sum[3], sum[4], sum[5])
	c.CreateTime = "2023-04-11T09:18:35+00:00"
	c.Etag = etag(sum[:])
	c.LabelFingerprint = fmt.Sprintf("%08x", sum[6:10])
	c.LoggingService = "logging.googleapis.com/kubernetes"
	c.MonitoringService = "monitoring.googleapis.com/kubernetes"
	c.Subnetwork = "default"
	//lint:ignore SA1019 the API still reports it
	c.Zone = c.Location
	c.Locations = zones
	//lint:ignore SA1019 the API still reports it
	c.InitialNodeCount = 1
	//lint:ignore SA1019 the API still reports it
	c.CurrentNodeCount = int32(3 * len(c.NodePools))
	c.ResourceLabels = map[string]string{"env": "prod", "team": "platform-" + fmt.Sprint(sum[7]%16), "cost-center": fmt.Sprintf("cc-%04d", int(sum[8])<<4|int(sum[9]>>4))}
	c.LoggingConfig = &containerpb.LoggingConfig{ComponentConfig: &containerpb.LoggingComponentConfig{
		EnableComponents: []containerpb.LoggingComponentConfig_Component{containerpb.LoggingComponentConfig_SYSTEM_COMPONENTS, containerpb.LoggingComponentConfig_WORKLOADS},
	}}
	c.MonitoringConfig = &containerpb.MonitoringConfig{
		ComponentConfig:                     &containerpb.MonitoringComponentConfig{EnableComponents: []containerpb.MonitoringComponentConfig_Component{containerpb.MonitoringComponentConfig_SYSTEM_COMPONENTS}},
		ManagedPrometheusConfig:             &containerpb.ManagedPrometheusConfig{Enabled: true},
		AdvancedDatapathObservabilityConfig: &containerpb.AdvancedDatapathObservabilityConfig{},
	}
	c.MaintenancePolicy = &containerpb.MaintenancePolicy{ResourceVersion: fmt.Sprintf("%08x", sum[10:14]), Window: &containerpb.MaintenanceWindow{
		Policy: &containerpb.MaintenanceWindow_DailyMaintenanceWindow{DailyMaintenanceWindow: &containerpb.DailyMaintenanceWindow{StartTime: "03:00", Duration: "PT4H0M0S"}},
	}}
	c.DatabaseEncryption = &containerpb.DatabaseEncryption{State: containerpb.DatabaseEncryption_DECRYPTED}
	c.BinaryAuthorization = &containerpb.BinaryAuthorization{}
	c.LegacyAbac = &containerpb.LegacyAbac{}
	//lint:ignore SA1019 the API still reports it
	c.MasterAuthorizedNetworksConfig = &containerpb.MasterAuthorizedNetworksConfig{}
	c.NotificationConfig = &containerpb.NotificationConfig{Pubsub: &containerpb.NotificationConfig_PubSub{}}
	c.ShieldedNodes = &containerpb.ShieldedNodes{Enabled: true}
	c.NodePoolDefaults = &containerpb.NodePoolDefaults{NodeConfigDefaults: &containerpb.NodeConfigDefaults{
		LoggingConfig: &containerpb.NodePoolLoggingConfig{VariantConfig: &containerpb.LoggingVariantConfig{Variant: containerpb.LoggingVariantConfig_DEFAULT}},
	}}
	c.DefaultMaxPodsConstraint = &containerpb.MaxPodsConstraint{MaxPodsPerNode: 110}
	if c.MasterAuth == nil {
		c.MasterAuth = &containerpb.MasterAuth{}
	}
	c.MasterAuth.ClusterCaCertificate = caCertificate(sum[:])
	for _, p := range c.NodePools {
		pool := fmt.Sprintf("projects/%s/locations/%s/clusters/%s/nodePools/%s", project, c.Location, c.Name, p.Name)
		p.SelfLink = "https://container.googleapis.com/v1/" + pool
		ps := sha256.Sum256([]byte(pool))
		p.Etag = etag(ps[:])
		p.InitialNodeCount = 1
		p.PodIpv4CidrSize = 24
		p.Locations = zones
		for _, z := range zones {
			p.InstanceGroupUrls = append(p.InstanceGroupUrls, fmt.Sprintf("https://www.googleapis.com/compute/v1/projects/%s/zones/%s/instanceGroupManagers/gke-%s-%s-%x-grp", project, z, c.Name, p.Name, ps[:4]))
		}
		p.UpgradeSettings = &containerpb.NodePool_UpgradeSettings{MaxSurge: 1, Strategy: containerpb.NodePoolUpdateStrategy_SURGE.Enum()}
		p.MaxPodsConstraint = &containerpb.MaxPodsConstraint{MaxPodsPerNode: 110}
		p.Autoscaling = &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 1, MaxNodeCount: 10, LocationPolicy: containerpb.NodePoolAutoscaling_BALANCED}
		p.NetworkConfig = &containerpb.NodeNetworkConfig{PodRange: "gke-" + c.Name + "-pods-" + fmt.Sprintf("%x", ps[4:8]), PodIpv4CidrBlock: c.ClusterIpv4Cidr}
		if p.Config == nil {
			p.Config = &containerpb.NodeConfig{}
		}
		cfg := p.Config
		cfg.DiskType = "pd-balanced"
		cfg.Metadata = map[string]string{"disable-legacy-endpoints": "true"}
		cfg.OauthScopes = []string{"https://www.googleapis.com/auth/cloud-platform"}
		cfg.ServiceAccount = fmt.Sprintf("gke-nodes@%s.iam.gserviceaccount.com", project)
		cfg.ShieldedInstanceConfig = &containerpb.ShieldedInstanceConfig{EnableIntegrityMonitoring: true, EnableSecureBoot: true}
		cfg.Tags = []string{"gke-" + c.Name + "-node"}
		cfg.Labels = map[string]string{"pool": p.Name}
		cfg.ResourceLabels = map[string]string{"goog-gke-node-pool-provisioning-model": "on-demand"}
	}
}

// etag is a UUID-shaped etag from b's first 16 bytes.
func etag(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// caCertificate is a base64 PEM the size of a GKE cluster CA certificate
// (about 1,600 characters), its bytes derived from seed.
func caCertificate(seed []byte) string {
	der := make([]byte, 0, 1100)
	for block := seed; len(der) < 1100; {
		s := sha256.Sum256(block)
		der = append(der, s[:]...)
		block = s[:]
	}
	body := base64.StdEncoding.EncodeToString(der[:1100])
	var pem strings.Builder
	pem.WriteString("-----BEGIN CERTIFICATE-----\n")
	for len(body) > 64 {
		pem.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	pem.WriteString(body + "\n-----END CERTIFICATE-----\n")
	return base64.StdEncoding.EncodeToString([]byte(pem.String()))
}
