package fleetgen

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/kube"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// KubeObject is one Kubernetes object of a cluster, as kubectl prints it
// (with apiVersion and kind).
type KubeObject struct {
	// AssetType is the object's Cloud Asset Inventory type, e.g.
	// "apps.k8s.io/DaemonSet", "k8s.io/Service",
	// "networking.k8s.io/NetworkPolicy", "batch.k8s.io/CronJob".
	AssetType                         string
	APIVersion, Kind, Namespace, Name string
	// JSON is the object's JSON with apiVersion and kind set, its keys
	// sorted as kubectl -o json prints them (compact).
	JSON []byte
}

// kubeKinds are the kinds the generator makes: their Cloud Asset
// Inventory type and apiVersion.
var kubeKinds = map[string]struct{ assetType, apiVersion string }{
	"Service":       {"k8s.io/Service", "v1"},
	"Pod":           {"k8s.io/Pod", "v1"},
	"DaemonSet":     {"apps.k8s.io/DaemonSet", "apps/v1"},
	"Deployment":    {"apps.k8s.io/Deployment", "apps/v1"},
	"StatefulSet":   {"apps.k8s.io/StatefulSet", "apps/v1"},
	"ReplicaSet":    {"apps.k8s.io/ReplicaSet", "apps/v1"},
	"Job":           {"batch.k8s.io/Job", "batch/v1"},
	"CronJob":       {"batch.k8s.io/CronJob", "batch/v1"},
	"NetworkPolicy": {"networking.k8s.io/NetworkPolicy", "networking.k8s.io/v1"},
}

// KubeKey is the key of a cluster in Fleet.Kube: "PROJECT/LOCATION/CLUSTER",
// as scanner.ClusterKey.String() spells it.
func KubeKey(c *containerpb.Cluster) string {
	return projectOfSelfLink(c.GetSelfLink()) + "/" + c.GetLocation() + "/" + c.GetName()
}

// WriteKubeDumps writes each cluster's objects as the offline CLI reads
// them (--kube-objects DIR): one kubectl List per cluster, as `kubectl get
// daemonsets,services,networkpolicies,pods,deployments,statefulsets,
// replicasets,jobs,cronjobs -A -o json` prints it, in
// dir/gke_PROJECT_LOCATION_CLUSTER.json. It creates dir if needed.
func (f *Fleet) WriteKubeDumps(dir string) error {
	if f.Kube == nil {
		return errors.New("fleetgen: the fleet has no Kubernetes objects: generate it with Options.Kube")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, c := range f.Clusters {
		objs, ok := f.Kube[KubeKey(c)]
		if !ok {
			continue
		}
		b, err := KubeListJSON(objs)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, kube.ContextName(scanner.ClusterKey{ProjectID: projectOfSelfLink(c.GetSelfLink()), Location: c.GetLocation(), Name: c.GetName()})+".json"), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// KubeListJSON renders objects as the kubectl List of `kubectl get … -o
// json`, indented by four spaces as kubectl does.
func KubeListJSON(objs []KubeObject) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"apiVersion":"v1","items":[`)
	for i, o := range objs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(o.JSON)
	}
	b.WriteString(`],"kind":"List","metadata":{"resourceVersion":""}}`)
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "    "); err != nil {
		return nil, fmt.Errorf("fleetgen: kubectl List: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// kube generates the Kubernetes objects of every cluster, in cluster order
// (it draws from g.rng after everything else); with Options.KubeShape, a
// second pass over the clusters then pads each one (see [KubeShape]), so
// the regular objects are the same with or without it.
func (g *gen) kube(f *Fleet) (map[string][]KubeObject, error) {
	clusters := make([]*kubeCluster, len(f.Clusters))
	for i, c := range f.Clusters {
		k := &kubeCluster{gen: g, c: c, now: f.Now, used: map[string]bool{}}
		k.generate()
		if k.err != nil {
			return nil, fmt.Errorf("fleetgen: Kubernetes objects of %s: %w", KubeKey(c), k.err)
		}
		clusters[i] = k
	}
	if shape := g.opt.KubeShape; shape != nil {
		for _, k := range clusters {
			k.pad(*shape)
			if k.err != nil {
				return nil, fmt.Errorf("fleetgen: padding Kubernetes objects of %s: %w", KubeKey(k.c), k.err)
			}
		}
	}
	out := make(map[string][]KubeObject, len(f.Clusters))
	for _, k := range clusters {
		slices.SortFunc(k.objs, func(a, b KubeObject) int {
			return cmp.Or(strings.Compare(a.AssetType, b.AssetType), strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
		})
		out[KubeKey(k.c)] = k.objs
	}
	return out, nil
}

// kubeCluster generates one cluster's objects.
type kubeCluster struct {
	*gen
	c       *containerpb.Cluster
	now     time.Time
	created time.Time // the cluster's creation, before every object
	rv      int64     // the last resourceVersion given
	svcNet  int       // the second octet of the Service range 10.N.0.0/20
	podNet  int       // the second octet of the Pod range 10.N.0.0/14
	nodes   []string
	// namespaces are the application namespaces of the cluster's objects.
	namespaces []string
	objs       []KubeObject
	used       map[string]bool // "Kind/namespace/name"
	services   int             // ClusterIPs given after the kube-dns one
	err        error
}

func (k *kubeCluster) autopilot() bool { return k.c.GetAutopilot().GetEnabled() }

func (k *kubeCluster) generate() {
	k.created = k.now.Add(-time.Duration(60*24*60+k.rng.IntN(660*24*60)) * time.Minute).Truncate(time.Second)
	k.rv = 200000 + k.rng.Int64N(30000000)
	k.svcNet, k.podNet = 16+k.rng.IntN(100), 120+4*k.rng.IntN(30)
	prefix, pool := "gke-"+k.c.GetName(), "default-pool"
	if k.autopilot() {
		prefix, pool = "gk3-"+k.c.GetName(), "pool-1"
	}
	if ps := k.c.GetNodePools(); len(ps) > 0 {
		pool = ps[0].GetName()
	}
	group := k.hex(8)
	for range 3 + k.rng.IntN(4) {
		k.nodes = append(k.nodes, fmt.Sprintf("%s-%s-%s-%s", prefix, pool, group, k.suffix(4)))
	}

	system := k.created.Add(time.Duration(2+k.rng.IntN(5)) * time.Minute)
	k.kubernetesService(system)
	k.kubeDNS(system)
	if !k.autopilot() && k.chance(0.8) {
		k.ipMasqAgent()
	}
	namespaces := slices.Clone(appNamespaces)
	k.rng.Shuffle(len(namespaces), func(i, j int) { namespaces[i], namespaces[j] = namespaces[j], namespaces[i] })
	namespaces = namespaces[:1+k.rng.IntN(3)]
	k.namespaces = namespaces
	ns := func() string { return namespaces[k.rng.IntN(len(namespaces))] }
	for range 1 + k.rng.IntN(4) {
		k.workload(ns())
	}
	for range 1 + k.rng.IntN(3) {
		k.appService(ns())
	}
	if k.chance(0.65) {
		for range 1 + k.rng.IntN(3) {
			k.networkPolicy(ns())
		}
	}
}

var appNamespaces = []string{"web", "payments", "checkout", "data", "etl", "edge", "monitoring", "batch", "search", "ledger"}

// ---- object plumbing ----

// add records obj (one of the k8s.io/api types, TypeMeta unset) as kind.
func (k *kubeCluster) add(kind string, meta *metav1.ObjectMeta, obj any) {
	kk, ok := kubeKinds[kind]
	if !ok {
		k.err = errors.Join(k.err, fmt.Errorf("kind %s is not generated", kind))
		return
	}
	b, err := json.Marshal(obj)
	if err == nil {
		b, err = kubectlJSON(b, kk.apiVersion, kind, nil)
	}
	if err != nil {
		k.err = errors.Join(k.err, fmt.Errorf("%s %s/%s: %w", kind, meta.Namespace, meta.Name, err))
		return
	}
	k.objs = append(k.objs, KubeObject{AssetType: kk.assetType, APIVersion: kk.apiVersion, Kind: kind, Namespace: meta.Namespace, Name: meta.Name, JSON: b})
}

// kubectlJSON sets apiVersion and kind on an object's JSON (and adds
// metadata fields) and sorts its keys, as kubectl prints objects (it goes
// through unstructured maps). Without metadata it reorders the bytes of b
// (sortedJSON), which gives what the round trip through a map gives, at a
// fraction of its cost; it falls back to the round trip when it cannot
// tell.
func kubectlJSON(b []byte, apiVersion, kind string, metadata map[string]any) ([]byte, error) {
	if len(metadata) == 0 {
		if out, ok := sortedJSON(b, apiVersion, kind); ok {
			return out, nil
		}
	}
	return kubectlJSONMap(b, apiVersion, kind, metadata)
}

// kubectlJSONMap is kubectlJSON through a map[string]any.
func kubectlJSONMap(b []byte, apiVersion, kind string, metadata map[string]any) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	m["apiVersion"], m["kind"] = apiVersion, kind
	if len(metadata) > 0 {
		meta, _ := m["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			m["metadata"] = meta
		}
		for key, v := range metadata {
			meta[key] = v
		}
	}
	return json.Marshal(m)
}

// name returns base, or base-2, base-3 … when kind namespace/base is taken.
func (k *kubeCluster) name(kind, namespace, base string) string {
	name := base
	for i := 2; k.used[kind+"/"+namespace+"/"+name]; i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	k.used[kind+"/"+namespace+"/"+name] = true
	return name
}

// meta is an object's metadata as the API server stores it.
func (k *kubeCluster) meta(namespace, name string, at time.Time, labels map[string]string) metav1.ObjectMeta {
	k.rv += 1 + k.rng.Int64N(50000)
	return metav1.ObjectMeta{
		Name:              name,
		Namespace:         namespace,
		UID:               k.uuid(),
		ResourceVersion:   strconv.FormatInt(k.rv, 10),
		CreationTimestamp: metav1.NewTime(at),
		Labels:            labels,
	}
}

// uuid is a random (version 4) UUID, as the API server gives objects.
func (g *gen) uuid() types.UID {
	a, b := g.rng.Uint64(), g.rng.Uint64()
	return types.UID(fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&(1<<48-1)))
}

// since is a time after the cluster's creation and before now.
func (k *kubeCluster) since() time.Time {
	span := max(1, int(k.now.Sub(k.created)/time.Second)-2*3600)
	return k.created.Add(time.Hour + time.Duration(k.rng.IntN(span))*time.Second)
}

// suffix is n characters of the alphabet Kubernetes uses for generated names.
func (g *gen) suffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *gen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}

func (k *kubeCluster) clusterIP() string {
	k.services++
	n := 10 + k.services*(1+k.rng.IntN(40))
	return fmt.Sprintf("10.%d.%d.%d", k.svcNet, n/250%16, 1+n%250)
}

func (k *kubeCluster) podIP() string {
	return fmt.Sprintf("10.%d.%d.%d", k.podNet+k.rng.IntN(4), k.rng.IntN(256), 2+k.rng.IntN(250))
}

func (k *kubeCluster) nodeIP() string {
	return fmt.Sprintf("10.128.%d.%d", k.rng.IntN(16), 2+k.rng.IntN(250))
}

func ptr[T any](v T) *T { return &v }

// container is a container with the defaults the API server fills in.
func container(name, image string) corev1.Container {
	return corev1.Container{
		Name:                     name,
		Image:                    image,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
}

func requests(cpu, memory string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(memory),
	}}
}

// podSpec is a pod spec with the defaults the API server fills in.
func podSpec(restart corev1.RestartPolicy, containers ...corev1.Container) corev1.PodSpec {
	return corev1.PodSpec{
		Containers:                    containers,
		RestartPolicy:                 restart,
		DNSPolicy:                     corev1.DNSClusterFirst,
		SchedulerName:                 corev1.DefaultSchedulerName,
		SecurityContext:               &corev1.PodSecurityContext{},
		TerminationGracePeriodSeconds: ptr[int64](30),
	}
}

// ---- kube-system ----

func (k *kubeCluster) kubernetesService(at time.Time) {
	ip := fmt.Sprintf("10.%d.0.1", k.svcNet)
	s := corev1.Service{
		ObjectMeta: k.meta("default", k.name("Service", "default", "kubernetes"), at, map[string]string{"component": "apiserver", "provider": "kubernetes"}),
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeClusterIP,
			ClusterIP:             ip,
			ClusterIPs:            []string{ip},
			Ports:                 []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(443)}},
			SessionAffinity:       corev1.ServiceAffinityNone,
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy:        ptr(corev1.IPFamilyPolicySingleStack),
			InternalTrafficPolicy: ptr(corev1.ServiceInternalTrafficPolicyCluster),
		},
	}
	k.add("Service", &s.ObjectMeta, &s)
}

// kubeDNS is the kube-dns Service, Deployment, its ReplicaSet and two Pods.
func (k *kubeCluster) kubeDNS(at time.Time) {
	const ns = "kube-system"
	labels := map[string]string{"k8s-app": "kube-dns"}
	ip := fmt.Sprintf("10.%d.0.10", k.svcNet)
	svc := corev1.Service{
		ObjectMeta: k.meta(ns, k.name("Service", ns, "kube-dns"), at, map[string]string{"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "KubeDNS"}),
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  ip,
			ClusterIPs: []string{ip},
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
			Selector:              labels,
			SessionAffinity:       corev1.ServiceAffinityNone,
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy:        ptr(corev1.IPFamilyPolicySingleStack),
			InternalTrafficPolicy: ptr(corev1.ServiceInternalTrafficPolicyCluster),
		},
	}
	k.add("Service", &svc.ObjectMeta, &svc)

	dns := container("kubedns", "gke.gcr.io/k8s-dns-kube-dns:1.23.0-gke.9")
	dns.Args = []string{"--domain=cluster.local.", "--dns-port=10053", "--config-dir=/kube-dns-config", "--v=2"}
	dns.Ports = []corev1.ContainerPort{{Name: "dns-local", ContainerPort: 10053, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp-local", ContainerPort: 10053, Protocol: corev1.ProtocolTCP}}
	dns.Resources = requests("100m", "70Mi")
	masq := container("dnsmasq", "gke.gcr.io/k8s-dns-dnsmasq-nanny:1.23.0-gke.9")
	masq.Args = []string{"-v=2", "-logtostderr", "-configDir=/etc/k8s/dns/dnsmasq-nanny", "-restartDnsmasq=true", "--", "-k", "--cache-size=1000", "--server=/cluster.local/127.0.0.1#10053"}
	masq.Resources = requests("150m", "20Mi")
	spec := podSpec(corev1.RestartPolicyAlways, dns, masq)
	spec.ServiceAccountName, spec.DeprecatedServiceAccount = "kube-dns", "kube-dns"
	spec.PriorityClassName = "system-cluster-critical"
	spec.Tolerations = []corev1.Toleration{{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists}, {Key: "components.gke.io/gke-managed-components", Operator: corev1.TolerationOpExists}}
	replicas := int32(2)
	_, rs := k.deployment(ns, k.name("Deployment", ns, "kube-dns"), labels, spec, replicas, at)
	for range replicas {
		k.pod(rs, at.Add(time.Duration(1+k.rng.IntN(300))*time.Second))
	}
}

// pod is a running Pod of ReplicaSet rs.
func (k *kubeCluster) pod(rs *appsv1.ReplicaSet, at time.Time) {
	name := k.name("Pod", rs.Namespace, rs.Name+"-"+k.suffix(5))
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}
	k.podOf(rs.Namespace, name, rs.Name+"-", &owner, &rs.Spec.Template, nil, "", at)
}

// podOf is a running Pod named name made from template by owner (nil: a
// Pod of its own), with extra labels, on node ("": any node of the
// cluster); generateName is its owner's prefix ("" for none).
func (k *kubeCluster) podOf(ns, name, generateName string, owner *metav1.OwnerReference, template *corev1.PodTemplateSpec, extra map[string]string, node string, at time.Time) {
	labels := map[string]string{}
	for key, v := range template.Labels {
		labels[key] = v
	}
	for key, v := range extra {
		labels[key] = v
	}
	p := corev1.Pod{ObjectMeta: k.meta(ns, name, at, labels)}
	p.GenerateName = generateName
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	p.Spec = *template.Spec.DeepCopy()
	if node == "" {
		node = k.nodes[k.rng.IntN(len(k.nodes))]
	}
	p.Spec.NodeName = node
	p.Spec.EnableServiceLinks = ptr(true)
	p.Spec.PreemptionPolicy = ptr(corev1.PreemptLowerPriority)
	// The priority the API server resolves from the priority class.
	switch p.Spec.PriorityClassName {
	case "system-cluster-critical":
		p.Spec.Priority = ptr[int32](2000000000)
	case "system-node-critical":
		p.Spec.Priority = ptr[int32](2000001000)
	default:
		p.Spec.Priority = ptr[int32](0)
	}
	started := metav1.NewTime(at.Add(2 * time.Second))
	ready := metav1.NewTime(at.Add(time.Duration(5+k.rng.IntN(20)) * time.Second))
	podIP, hostIP := k.podIP(), k.nodeIP()
	p.Status = corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: started},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ready},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: ready},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)},
		},
		HostIP:    hostIP,
		HostIPs:   []corev1.HostIP{{IP: hostIP}},
		PodIP:     podIP,
		PodIPs:    []corev1.PodIP{{IP: podIP}},
		StartTime: &started,
		QOSClass:  corev1.PodQOSBurstable,
	}
	for _, c := range p.Spec.Containers {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name:        c.Name,
			Image:       c.Image,
			ImageID:     c.Image[:strings.LastIndexByte(c.Image, ':')] + "@sha256:" + k.hex(64),
			ContainerID: "containerd://" + k.hex(64),
			Ready:       true,
			Started:     ptr(true),
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ready}},
		})
	}
	k.add("Pod", &p.ObjectMeta, &p)
}

// ipMasqAgent is a custom ip-masq-agent DaemonSet: versions 2.9–2.12 in
// the forms people run them, a few unversioned, with and without the
// flags that turn random-fully off.
func (k *kubeCluster) ipMasqAgent() {
	ns := "kube-system"
	if k.chance(0.2) {
		ns = []string{"ip-masq-agent", "networking", "platform"}[k.rng.IntN(3)]
	}
	tag := fmt.Sprintf("v2.%d.%d", 9+k.rng.IntN(4), k.rng.IntN(4))
	var image string
	switch x := k.rng.Float64(); {
	case x < 0.12:
		image = []string{"registry.k8s.io/networking/ip-masq-agent:latest", "gke.gcr.io/ip-masq-agent:latest"}[k.rng.IntN(2)]
	case x < 0.50:
		image = "registry.k8s.io/networking/ip-masq-agent:" + tag
	case x < 0.80:
		image = fmt.Sprintf("gke.gcr.io/ip-masq-agent:%s-gke.%d@sha256:%s", tag, 1+k.rng.IntN(12), k.hex(64))
	case x < 0.92:
		image = fmt.Sprintf("us-docker.pkg.dev/%s/mirror/ip-masq-agent:%s", projectOfSelfLink(k.c.GetSelfLink()), tag)
	default:
		image = "k8s.gcr.io/networking/ip-masq-agent:" + tag
	}
	var args []string
	if k.chance(0.6) {
		args = append(args, "--masq-chain=IP-MASQ", "--nomasq-all-reserved-ranges")
	}
	switch x := k.rng.Float64(); {
	case x < 0.3:
		args = append(args, "--random-fully=false")
	case x < 0.5:
		args = append(args, "--to-ports=20000-29999")
	}
	labels := map[string]string{"k8s-app": "ip-masq-agent"}
	c := container("ip-masq-agent", image)
	c.Args = args
	c.Resources = requests("10m", "16Mi")
	c.SecurityContext = &corev1.SecurityContext{Privileged: ptr(false), Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN", "NET_RAW"}}}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/config"}}
	spec := podSpec(corev1.RestartPolicyAlways, c)
	spec.HostNetwork = true
	spec.Tolerations = []corev1.Toleration{{Effect: corev1.TaintEffectNoSchedule, Operator: corev1.TolerationOpExists}}
	spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "ip-masq-agent"},
		Items:                []corev1.KeyToPath{{Key: "config", Path: "ip-masq-agent"}},
		DefaultMode:          ptr[int32](420),
		Optional:             ptr(true),
	}}}}
	k.daemonSet(ns, k.name("DaemonSet", ns, "ip-masq-agent"), labels, spec, k.since())
}

// ---- workloads ----

var workloadNames = map[string][]string{
	"Deployment":  {"web", "api", "checkout", "frontend", "gateway", "auth", "search", "cache", "ingest", "proxy"},
	"StatefulSet": {"postgres", "redis", "kafka", "zookeeper", "elasticsearch"},
	"DaemonSet":   {"node-exporter", "fluent-bit", "log-shipper", "conntrack-tuner"},
	"Job":         {"db-migrate", "backfill", "seed-data"},
	"CronJob":     {"reports", "cleanup", "backup", "sync-users"},
}

// workload is a Deployment (with its ReplicaSet), StatefulSet, DaemonSet,
// Job or CronJob in ns; a quarter of them set the ephemeral port range.
func (k *kubeCluster) workload(ns string) {
	var kind string
	switch x := k.rng.Float64(); {
	case x < 0.45:
		kind = "Deployment"
	case x < 0.60:
		kind = "StatefulSet"
	case x < 0.70:
		kind = "DaemonSet"
	case x < 0.80:
		kind = "Job"
	default:
		kind = "CronJob"
	}
	names := workloadNames[kind]
	name := k.name(kind, ns, names[k.rng.IntN(len(names))])
	labels := map[string]string{"app": name}
	c := container(name, fmt.Sprintf("us-docker.pkg.dev/%s/apps/%s:1.%d.%d", projectOfSelfLink(k.c.GetSelfLink()), name, k.rng.IntN(20), k.rng.IntN(10)))
	c.Resources = requests("250m", "256Mi")
	restart := corev1.RestartPolicyAlways
	if kind == "Job" || kind == "CronJob" {
		restart = corev1.RestartPolicyOnFailure
	} else {
		c.Ports = []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
	}
	spec := podSpec(restart, c)
	if k.chance(0.25) {
		value := k.portRange()
		if k.autopilot() || k.chance(0.5) {
			spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.ipv4.ip_local_port_range", Value: value}}
		} else {
			init := container("tune-ports", "busybox:1.36")
			init.Command = []string{"sh", "-c", fmt.Sprintf("sysctl -w net.ipv4.ip_local_port_range=%q", value)}
			init.SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
			spec.InitContainers = []corev1.Container{init}
		}
	}
	at := k.since()
	switch kind {
	case "Deployment":
		k.deployment(ns, name, labels, spec, int32(1+k.rng.IntN(5)), at)
	case "StatefulSet":
		k.statefulSet(ns, name, labels, spec, at)
	case "DaemonSet":
		k.daemonSet(ns, name, labels, spec, at)
	case "Job":
		k.job(ns, name, labels, spec, at)
	default:
		k.cronJob(ns, name, labels, spec, at)
	}
}

// portRange is a net.ipv4.ip_local_port_range value: overlapping
// 30000-32767 more often than not, else outside it, sometimes unreadable.
func (k *kubeCluster) portRange() string {
	var values []string
	switch x := k.rng.Float64(); {
	case x < 0.55:
		values = []string{"30000 60999", "1024 65535", "20000 40000", "31000 32000", "15000 30500"}
	case x < 0.90:
		values = []string{"32768 60999", "40000 65000", "10000 29999", "33000 64000"}
	default:
		values = []string{"30000-60999", "32768"}
	}
	return values[k.rng.IntN(len(values))]
}

func template(labels map[string]string, spec corev1.PodSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}
}

// deployment adds a Deployment and its current ReplicaSet.
func (k *kubeCluster) deployment(ns, name string, labels map[string]string, spec corev1.PodSpec, replicas int32, at time.Time) (*appsv1.Deployment, *appsv1.ReplicaSet) {
	revision := 1 + k.rng.IntN(6)
	d := &appsv1.Deployment{ObjectMeta: k.meta(ns, name, at, labels)}
	d.Generation = int64(revision)
	d.Annotations = map[string]string{"deployment.kubernetes.io/revision": strconv.Itoa(revision)}
	d.Spec = appsv1.DeploymentSpec{
		Replicas: ptr(replicas),
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: template(labels, spec),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: ptr(intstr.FromString("25%")), MaxSurge: ptr(intstr.FromString("25%")),
		}},
		RevisionHistoryLimit:    ptr[int32](10),
		ProgressDeadlineSeconds: ptr[int32](600),
	}
	updated := metav1.NewTime(at.Add(time.Duration(revision-1) * 24 * time.Hour))
	if last := k.now.Add(-10 * time.Minute); updated.After(last) {
		updated = metav1.NewTime(last)
	}
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability.", LastUpdateTime: updated, LastTransitionTime: updated},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", name), LastUpdateTime: updated, LastTransitionTime: metav1.NewTime(at)},
		},
	}
	k.add("Deployment", &d.ObjectMeta, d)

	hash := k.suffix(10)
	rsLabels := map[string]string{"pod-template-hash": hash}
	for key, v := range labels {
		rsLabels[key] = v
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: k.meta(ns, k.name("ReplicaSet", ns, name+"-"+hash), updated.Time, rsLabels)}
	rs.Generation = 1
	rs.Annotations = map[string]string{
		"deployment.kubernetes.io/desired-replicas": strconv.Itoa(int(replicas)),
		"deployment.kubernetes.io/max-replicas":     strconv.Itoa(int(replicas) + (int(replicas)+3)/4),
		"deployment.kubernetes.io/revision":         strconv.Itoa(revision),
	}
	rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: d.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}
	rs.Spec = appsv1.ReplicaSetSpec{
		Replicas: ptr(replicas),
		Selector: &metav1.LabelSelector{MatchLabels: rsLabels},
		Template: template(rsLabels, spec),
	}
	rs.Status = appsv1.ReplicaSetStatus{Replicas: replicas, FullyLabeledReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas, ObservedGeneration: 1}
	k.add("ReplicaSet", &rs.ObjectMeta, rs)
	return d, rs
}

func (k *kubeCluster) daemonSet(ns, name string, labels map[string]string, spec corev1.PodSpec, at time.Time) *appsv1.DaemonSet {
	d := appsv1.DaemonSet{ObjectMeta: k.meta(ns, name, at, labels)}
	d.Generation = int64(1 + k.rng.IntN(4))
	d.Spec = appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: template(labels, spec),
		UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
			MaxUnavailable: ptr(intstr.FromInt32(1)), MaxSurge: ptr(intstr.FromInt32(0)),
		}},
		RevisionHistoryLimit: ptr[int32](10),
	}
	n := int32(len(k.nodes))
	d.Status = appsv1.DaemonSetStatus{
		CurrentNumberScheduled: n, DesiredNumberScheduled: n, NumberReady: n, NumberAvailable: n, UpdatedNumberScheduled: n,
		ObservedGeneration: d.Generation,
	}
	k.add("DaemonSet", &d.ObjectMeta, &d)
	return &d
}

func (k *kubeCluster) statefulSet(ns, name string, labels map[string]string, spec corev1.PodSpec, at time.Time) {
	k.statefulSetOf(ns, name, labels, spec, int32(1+2*k.rng.IntN(2)), at)
}

// statefulSetOf is a StatefulSet of replicas Pods (which it does not add).
func (k *kubeCluster) statefulSetOf(ns, name string, labels map[string]string, spec corev1.PodSpec, replicas int32, at time.Time) *appsv1.StatefulSet {
	s := appsv1.StatefulSet{ObjectMeta: k.meta(ns, name, at, labels)}
	s.Generation = int64(1 + k.rng.IntN(3))
	s.Spec = appsv1.StatefulSetSpec{
		Replicas:             ptr(replicas),
		Selector:             &metav1.LabelSelector{MatchLabels: labels},
		Template:             template(labels, spec),
		ServiceName:          name,
		PodManagementPolicy:  appsv1.OrderedReadyPodManagement,
		UpdateStrategy:       appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr[int32](0)}},
		RevisionHistoryLimit: ptr[int32](10),
		PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		},
	}
	revision := name + "-" + k.hex(10)
	s.Status = appsv1.StatefulSetStatus{
		ObservedGeneration: s.Generation, Replicas: replicas, ReadyReplicas: replicas, CurrentReplicas: replicas, UpdatedReplicas: replicas, AvailableReplicas: replicas,
		CurrentRevision: revision, UpdateRevision: revision, CollisionCount: ptr[int32](0),
	}
	k.add("StatefulSet", &s.ObjectMeta, &s)
	return &s
}

func (k *kubeCluster) jobSpec(labels map[string]string, spec corev1.PodSpec) batchv1.JobSpec {
	return batchv1.JobSpec{
		Parallelism:    ptr[int32](1),
		Completions:    ptr[int32](1),
		BackoffLimit:   ptr[int32](6),
		CompletionMode: ptr(batchv1.NonIndexedCompletion),
		Suspend:        ptr(false),
		Template:       template(labels, spec),
	}
}

func (k *kubeCluster) job(ns, name string, labels map[string]string, spec corev1.PodSpec, at time.Time) {
	j := batchv1.Job{ObjectMeta: k.meta(ns, name, at, labels)}
	j.Generation = 1
	uid := string(j.UID)
	tl := map[string]string{"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name}
	for key, v := range labels {
		tl[key] = v
	}
	j.Spec = k.jobSpec(tl, spec)
	j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": uid}}
	start := metav1.NewTime(at.Add(time.Second))
	done := metav1.NewTime(at.Add(time.Duration(20+k.rng.IntN(600)) * time.Second))
	j.Status = batchv1.JobStatus{
		StartTime: &start, CompletionTime: &done, Succeeded: 1, Ready: ptr[int32](0), Terminating: ptr[int32](0),
		UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{},
		Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: "CompletionsReached", Message: "Reached expected number of succeeded pods", LastProbeTime: done, LastTransitionTime: done},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached", Message: "Reached expected number of succeeded pods", LastProbeTime: done, LastTransitionTime: done},
		},
	}
	k.add("Job", &j.ObjectMeta, &j)
}

func (k *kubeCluster) cronJob(ns, name string, labels map[string]string, spec corev1.PodSpec, at time.Time) {
	c := batchv1.CronJob{ObjectMeta: k.meta(ns, name, at, labels)}
	c.Generation = 1
	schedules := []string{"*/15 * * * *", "0 * * * *", "30 2 * * *", "0 6 * * 1"}
	c.Spec = batchv1.CronJobSpec{
		Schedule:                   schedules[k.rng.IntN(len(schedules))],
		ConcurrencyPolicy:          batchv1.ForbidConcurrent,
		Suspend:                    ptr(false),
		SuccessfulJobsHistoryLimit: ptr[int32](3),
		FailedJobsHistoryLimit:     ptr[int32](1),
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			BackoffLimit: ptr[int32](6),
			Template:     template(labels, spec),
		}},
	}
	last := metav1.NewTime(k.now.Add(-time.Duration(1+k.rng.IntN(60)) * time.Minute).Truncate(time.Minute))
	c.Status = batchv1.CronJobStatus{LastScheduleTime: &last, LastSuccessfulTime: ptr(metav1.NewTime(last.Add(time.Duration(10+k.rng.IntN(120)) * time.Second)))}
	k.add("CronJob", &c.ObjectMeta, &c)
}

// ---- Services and NetworkPolicies ----

// appService is a ClusterIP, NodePort or LoadBalancer Service.
func (k *kubeCluster) appService(ns string) {
	names := workloadNames["Deployment"]
	name := k.name("Service", ns, names[k.rng.IntN(len(names))])
	s := corev1.Service{ObjectMeta: k.meta(ns, name, k.since(), map[string]string{"app": name})}
	ip := k.clusterIP()
	s.Spec = corev1.ServiceSpec{
		Type:                  corev1.ServiceTypeClusterIP,
		ClusterIP:             ip,
		ClusterIPs:            []string{ip},
		Selector:              map[string]string{"app": name},
		Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		SessionAffinity:       corev1.ServiceAffinityNone,
		IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
		IPFamilyPolicy:        ptr(corev1.IPFamilyPolicySingleStack),
		InternalTrafficPolicy: ptr(corev1.ServiceInternalTrafficPolicyCluster),
	}
	switch x := k.rng.Float64(); {
	case x < 0.4:
		s.Annotations = map[string]string{"cloud.google.com/neg": `{"ingress":true}`}
	case x < 0.7:
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = int32(30000 + k.rng.IntN(2768))
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	default:
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = int32(30000 + k.rng.IntN(2768))
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		s.Spec.AllocateLoadBalancerNodePorts = ptr(true)
		s.Annotations = map[string]string{"cloud.google.com/neg": `{"ingress":true}`}
		s.Finalizers = []string{"service.kubernetes.io/load-balancer-cleanup"}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{
			IP: fmt.Sprintf("34.%d.%d.%d", 100+k.rng.IntN(60), k.rng.IntN(256), 1+k.rng.IntN(254)), IPMode: ptr(corev1.LoadBalancerIPModeVIP),
		}}
	}
	k.add("Service", &s.ObjectMeta, &s)
}

// networkPolicy is a NetworkPolicy; three in ten use endPort, half of
// those only in the kubectl.kubernetes.io/last-applied-configuration
// annotation (the stored spec lost it, as on Dataplane V2). Most carry the
// annotation, as kubectl apply leaves it.
func (k *kubeCluster) networkPolicy(ns string) {
	bases := []string{"allow-web", "allow-ingress", "allow-monitoring", "allow-nodeports", "allow-ledger-ports", "default-deny"}
	name := k.name("NetworkPolicy", ns, bases[k.rng.IntN(len(bases))])
	n := networkingv1.NetworkPolicy{ObjectMeta: k.meta(ns, name, k.since(), nil)}
	n.Generation = 1
	n.Spec = networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": strings.TrimPrefix(name, "allow-")}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
	}
	tcp := corev1.ProtocolTCP
	port := networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: ptr(intstr.FromInt32([]int32{8080, 443, 9090}[k.rng.IntN(3)]))}
	var endPort *int32
	ranges := [][2]int32{{32000, 32768}, {8000, 8100}, {9000, 9100}, {30000, 32767}}
	r := ranges[k.rng.IntN(len(ranges))]
	annotate := k.chance(0.6)
	var inSpec bool
	switch x := k.rng.Float64(); {
	case x < 0.15: // endPort kept in the spec
		port.Port, endPort, inSpec = ptr(intstr.FromInt32(r[0])), ptr(r[1]), true
	case x < 0.30: // endPort only in what was applied
		port.Port, endPort, annotate = ptr(intstr.FromInt32(r[0])), ptr(r[1]), true
	}
	rule := func(end *int32) networkingv1.NetworkPolicyIngressRule {
		p := port
		p.EndPort = end
		return networkingv1.NetworkPolicyIngressRule{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": appNamespaces[k.rng.IntN(len(appNamespaces))]}}}},
			Ports: []networkingv1.NetworkPolicyPort{p},
		}
	}
	if strings.HasPrefix(name, "default-deny") {
		n.Spec.PodSelector = metav1.LabelSelector{}
	}
	var applied networkingv1.NetworkPolicySpec
	switch {
	case strings.HasPrefix(name, "default-deny") && endPort == nil: // no ingress rule: deny all
		applied = n.Spec
	case inSpec:
		n.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{rule(endPort)}
		applied = n.Spec
	default:
		n.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{rule(nil)}
		applied = *n.Spec.DeepCopy()
		applied.Ingress[0].Ports[0].EndPort = endPort
	}
	if annotate {
		// What kubectl apply stores: the manifest applied, keys sorted.
		manifest := networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: applied}
		b, err := json.Marshal(&manifest)
		if err == nil {
			b, err = kubectlJSON(b, "networking.k8s.io/v1", "NetworkPolicy", map[string]any{"annotations": map[string]any{}})
		}
		if err != nil {
			k.err = errors.Join(k.err, err)
		}
		n.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: string(b) + "\n"}
	}
	k.add("NetworkPolicy", &n.ObjectMeta, &n)
}
