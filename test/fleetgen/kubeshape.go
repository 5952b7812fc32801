package fleetgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// KubeShape pads every cluster's objects (Options.Kube) up to these counts
// with objects that change no in-cluster verdict: DaemonSets of other
// images than ip-masq-agent (some in kube-system), ClusterIP Services
// (some headless), workloads and their Pods that set no
// net.ipv4.ip_local_port_range, and NetworkPolicies without endPort, in
// their spec as in their last-applied-configuration. Workloads are
// Deployments, StatefulSets, ReplicaSets, Jobs and CronJobs together (a
// padding Deployment comes with its ReplicaSet: two workloads); padding
// Pods belong to the padding DaemonSets (one a node), ReplicaSets and
// StatefulSets, or to none when the cluster needs no padding workload. A
// cluster that already has as many objects of a kind as the shape asks,
// or more, keeps them as they are.
type KubeShape struct{ DaemonSets, Services, NetworkPolicies, Workloads, Pods int }

// TypicalCluster is the shape of issue 11's benchmark: 20, 50, 10, 100, 300.
var TypicalCluster = KubeShape{DaemonSets: 20, Services: 50, NetworkPolicies: 10, Workloads: 100, Pods: 300}

// Padding names: a component and a role, as teams name their workloads.
var (
	padComponents = []string{"orders", "billing", "catalog", "inventory", "profile", "notify", "pricing", "session",
		"media", "reports", "audit", "shipping", "cart", "reviews", "identity", "analytics"}
	padRoles = map[string][]string{
		"Deployment":  {"api", "worker", "web", "consumer", "scheduler", "gateway", "sync"},
		"StatefulSet": {"db", "cache", "queue", "store", "index"},
		"Job":         {"migrate", "backfill", "reindex", "import"},
		"CronJob":     {"cleanup", "rollup", "backup", "export", "sync"},
	}
	padRequests = [][2]string{{"100m", "128Mi"}, {"250m", "256Mi"}, {"500m", "512Mi"}, {"1", "1Gi"}}
)

// padDaemonSet is a DaemonSet the padding runs: its name and image.
type padDaemonSet struct{ name, image string }

var (
	// systemDaemonSets are the GKE add-ons' DaemonSets, in kube-system.
	systemDaemonSets = []padDaemonSet{
		{"fluentbit-gke", "gke.gcr.io/fluent-bit:v1.8.12-gke.25"},
		{"gke-metrics-agent", "gke.gcr.io/gke-metrics-agent:1.10.2-gke.0"},
		{"pdcsi-node", "gke.gcr.io/gcp-compute-persistent-disk-csi-driver:v1.13.2-gke.0"},
		{"netd", "gke.gcr.io/netd:v0.3.9-gke.0"},
		{"gke-metadata-server", "gke.gcr.io/gke-metadata-server:20240912_2300_RC0"},
		{"filestore-node", "gke.gcr.io/gcp-filestore-csi-driver:v1.6.13-gke.9"},
		{"image-package-extractor", "gke.gcr.io/image-package-extractor:v0.1.2-gke.3"},
		{"nvidia-gpu-device-plugin-small-cos", "gke.gcr.io/nvidia-gpu-device-plugin:v0.15.0-gke.12"},
	}
	// appDaemonSets are what teams run on every node.
	appDaemonSets = []padDaemonSet{
		{"node-exporter", "quay.io/prometheus/node-exporter:v1.8.2"},
		{"fluent-bit", "cr.fluentbit.io/fluent/fluent-bit:3.1.9"},
		{"otel-collector", "otel/opentelemetry-collector-contrib:0.111.0"},
		{"datadog-agent", "gcr.io/datadoghq/agent:7.57.2"},
		{"falco", "falcosecurity/falco-no-driver:0.39.1"},
		{"vector", "timberio/vector:0.41.1-distroless-libc"},
		{"promtail", "grafana/promtail:3.2.0"},
		{"istio-cni-node", "docker.io/istio/install-cni:1.23.2"},
		{"csi-secrets-store", "registry.k8s.io/csi-secrets-store/driver:v1.4.5"},
		{"kured", "ghcr.io/kubereboot/kured:1.16.0"},
		{"local-volume-provisioner", "registry.k8s.io/sig-storage/local-volume-provisioner:v2.6.0"},
		{"gpu-feature-discovery", "nvcr.io/nvidia/gpu-feature-discovery:v0.8.2"},
	}
	// standalonePods are Pods of their own (kubectl run).
	standalonePods = []string{"debug", "toolbox", "netshoot", "psql-client", "curl"}
)

// padWorkload is one planned padding workload.
type padWorkload struct {
	kind, ns, name string
	replicas       int32 // Pods of a Deployment or StatefulSet
	weight         int   // its share of the Pods
}

// padTarget is a padding Service or NetworkPolicy: its namespace, the
// base of its name, and the app it selects ("" for every Pod).
type padTarget struct {
	ns, name, app string
	headless      bool // a StatefulSet's governing Service
}

// pad adds objects that change no verdict until the cluster has shape's
// counts. It runs after every cluster's regular objects, so it draws from
// g.rng after all of them.
func (k *kubeCluster) pad(shape KubeShape) {
	have := map[string]int{}
	for _, o := range k.objs {
		have[o.Kind]++
	}
	nDS := max(0, shape.DaemonSets-have["DaemonSet"])
	nSvc := max(0, shape.Services-have["Service"])
	nNP := max(0, shape.NetworkPolicies-have["NetworkPolicy"])
	nW := max(0, shape.Workloads-(have["Deployment"]+have["StatefulSet"]+have["ReplicaSet"]+have["Job"]+have["CronJob"]))
	nPod := max(0, shape.Pods-have["Pod"])
	if nDS+nSvc+nNP+nW+nPod == 0 {
		return
	}
	k.objs = slices.Grow(k.objs, nDS+nSvc+nNP+nW+nPod)
	ns := func() string { return k.namespaces[k.rng.IntN(len(k.namespaces))] }

	// The workloads: a Deployment (with its ReplicaSet) counts two.
	var plan []padWorkload
	owners := 0 // Deployments and StatefulSets, which run Pods
	for left := nW; left > 0; {
		w := padWorkload{kind: "CronJob"}
		switch x := k.rng.Float64(); {
		case x < 0.55 && left >= 2:
			w.kind, w.weight = "Deployment", 1+k.rng.IntN(6)
		case x < 0.75:
			w.kind, w.weight = "StatefulSet", 1+k.rng.IntN(2)
		case x < 0.87:
			w.kind = "Job"
		}
		left--
		if w.kind == "Deployment" {
			left--
		}
		if w.weight > 0 {
			owners++
		}
		w.ns = ns()
		roles := padRoles[w.kind]
		w.name = k.name(w.kind, w.ns, padComponents[k.rng.IntN(len(padComponents))]+"-"+roles[k.rng.IntN(len(roles))])
		plan = append(plan, w)
	}

	// The Pods: one a node for the DaemonSets (half the Pods at most when
	// Deployments and StatefulSets take the rest), at least one for each
	// Deployment and StatefulSet, the rest by their weights, and Pods of
	// their own when no padding workload runs any.
	budget := nPod
	dsPods := min(nDS*len(k.nodes), budget)
	if owners > 0 {
		dsPods = min(dsPods, budget/2)
	}
	budget -= dsPods
	if owners > 0 {
		extra, total := max(0, budget-owners), 0
		for _, w := range plan {
			total += w.weight
		}
		given, i := 0, 0
		for j := range plan {
			w := &plan[j]
			if w.weight == 0 {
				continue
			}
			if i < budget {
				w.replicas = 1
			}
			w.replicas += int32(extra * w.weight / total)
			given += int(w.replicas)
			i++
		}
		for j := 0; given < budget; j = (j + 1) % len(plan) { // the remainder, one each
			if plan[j].weight > 0 {
				plan[j].replicas++
				given++
			}
		}
		budget = 0
	}

	// DaemonSets: the GKE add-ons in kube-system first, up to a third.
	system := k.rng.Perm(len(systemDaemonSets))[:min(len(systemDaemonSets), (nDS+2)/3)]
	apps := k.rng.Perm(len(appDaemonSets))
	for i := range nDS {
		pods := min(len(k.nodes), dsPods)
		dsPods -= pods
		if i < len(system) {
			k.padDaemonSet("kube-system", systemDaemonSets[system[i]], true, pods)
		} else {
			k.padDaemonSet(ns(), appDaemonSets[apps[(i-len(system))%len(apps)]], false, pods)
		}
	}

	var targets []padTarget
	for _, w := range plan {
		k.padWorkload(w)
		switch w.kind {
		case "Deployment":
			targets = append(targets, padTarget{ns: w.ns, name: w.name, app: w.name})
		case "StatefulSet":
			targets = append(targets, padTarget{ns: w.ns, name: w.name, app: w.name, headless: true})
		}
	}
	for range budget {
		k.standalonePod(ns())
	}

	variants := []string{"", "-metrics", "-grpc", "-internal", "-admin", "-canary"}
	ip := 0
	for i := range nSvc {
		app := padComponents[k.rng.IntN(len(padComponents))] + "-api"
		t := padTarget{ns: ns(), name: app, app: app}
		if len(targets) > 0 {
			t = targets[i%len(targets)]
			round := i / len(targets)
			t.name += variants[round%len(variants)]
			t.headless = t.headless && round == 0
		}
		ip += 1 + k.rng.IntN(40)
		k.padService(t, ip)
	}

	var policies []padTarget
	for _, n := range k.namespaces {
		if !k.used["NetworkPolicy/"+n+"/default-deny"] {
			policies = append(policies, padTarget{ns: n, name: "default-deny"})
		}
	}
	for _, t := range targets {
		policies = append(policies, padTarget{ns: t.ns, name: "allow-" + t.name, app: t.app})
	}
	for i := range nNP {
		if i < len(policies) {
			k.padNetworkPolicy(policies[i])
		} else {
			app := []string{"prometheus", "ingress-gateway", "frontend", "metrics-proxy"}[k.rng.IntN(4)]
			k.padNetworkPolicy(padTarget{ns: ns(), name: "allow-" + app, app: app})
		}
	}
	k.used = nil // every name is given
}

// padDaemonSet is a DaemonSet of image and its pods Pods, one a node.
func (k *kubeCluster) padDaemonSet(ns string, ds padDaemonSet, system bool, pods int) {
	name := k.name("DaemonSet", ns, ds.name)
	labels := map[string]string{"k8s-app": name}
	if !system {
		labels = map[string]string{"app.kubernetes.io/name": name}
	}
	c := container(ds.name, ds.image)
	r := padRequests[k.rng.IntN(2)]
	c.Resources = requests(r[0], r[1])
	spec := podSpec(corev1.RestartPolicyAlways, c)
	spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	if system {
		spec.PriorityClassName = "system-node-critical"
		spec.ServiceAccountName, spec.DeprecatedServiceAccount = ds.name, ds.name
		spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	}
	if ds.name == "node-exporter" {
		spec.HostNetwork, spec.HostPID = true, true
	}
	d := k.daemonSet(ns, name, labels, spec, k.since())
	if pods == 0 {
		return
	}
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "DaemonSet", Name: d.Name, UID: d.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}
	extra := map[string]string{"controller-revision-hash": k.suffix(10), "pod-template-generation": strconv.FormatInt(d.Generation, 10)}
	for i := range pods {
		pod := k.name("Pod", ns, name+"-"+k.suffix(5))
		k.podOf(ns, pod, name+"-", &owner, &d.Spec.Template, extra, k.nodes[i], d.CreationTimestamp.Add(time.Duration(1+k.rng.IntN(600))*time.Second))
	}
}

// padWorkload adds w, and the Pods of a Deployment or StatefulSet.
func (k *kubeCluster) padWorkload(w padWorkload) {
	labels := map[string]string{"app": w.name}
	c := container(w.name, fmt.Sprintf("us-docker.pkg.dev/%s/apps/%s:1.%d.%d", projectOfSelfLink(k.c.GetSelfLink()), w.name, k.rng.IntN(20), k.rng.IntN(10)))
	r := padRequests[k.rng.IntN(len(padRequests))]
	c.Resources = requests(r[0], r[1])
	restart := corev1.RestartPolicyAlways
	if w.kind == "Job" || w.kind == "CronJob" {
		restart = corev1.RestartPolicyOnFailure
	} else {
		c.Ports = []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
	}
	spec := podSpec(restart, c)
	at := k.since()
	switch w.kind {
	case "Deployment":
		_, rs := k.deployment(w.ns, w.name, labels, spec, w.replicas, at)
		for range w.replicas {
			k.pod(rs, rs.CreationTimestamp.Add(time.Duration(1+k.rng.IntN(300))*time.Second))
		}
	case "StatefulSet":
		s := k.statefulSetOf(w.ns, w.name, labels, spec, w.replicas, at)
		owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: s.Name, UID: s.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}
		for i := range w.replicas {
			pod := k.name("Pod", w.ns, w.name+"-"+strconv.Itoa(int(i)))
			extra := map[string]string{"apps.kubernetes.io/pod-index": strconv.Itoa(int(i)), "controller-revision-hash": s.Status.CurrentRevision, "statefulset.kubernetes.io/pod-name": pod}
			k.podOf(w.ns, pod, w.name+"-", &owner, &s.Spec.Template, extra, "", at.Add(time.Duration(30*(i+1))*time.Second))
		}
	case "Job":
		k.job(w.ns, w.name, labels, spec, at)
	default:
		k.cronJob(w.ns, w.name, labels, spec, at)
	}
}

// standalonePod is a Pod of its own, as kubectl run makes them.
func (k *kubeCluster) standalonePod(ns string) {
	base := standalonePods[k.rng.IntN(len(standalonePods))]
	name := k.name("Pod", ns, base+"-"+k.suffix(5))
	c := container(base, "busybox:1.36")
	c.Command = []string{"sleep", "86400"}
	t := template(map[string]string{"run": base}, podSpec(corev1.RestartPolicyAlways, c))
	k.podOf(ns, name, "", nil, &t, nil, "", k.since())
}

// padService is a ClusterIP Service (headless for a StatefulSet) that
// selects t.
func (k *kubeCluster) padService(t padTarget, ip int) {
	name := k.name("Service", t.ns, t.name)
	s := corev1.Service{ObjectMeta: k.meta(t.ns, name, k.since(), map[string]string{"app": t.app})}
	clusterIP := fmt.Sprintf("10.%d.%d.%d", k.svcNet, 8+ip/250%8, 1+ip%250) // above the regular ones' range
	if t.headless {
		clusterIP = corev1.ClusterIPNone
	}
	s.Spec = corev1.ServiceSpec{
		Type:                  corev1.ServiceTypeClusterIP,
		ClusterIP:             clusterIP,
		ClusterIPs:            []string{clusterIP},
		Selector:              map[string]string{"app": t.app},
		Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		SessionAffinity:       corev1.ServiceAffinityNone,
		IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
		IPFamilyPolicy:        ptr(corev1.IPFamilyPolicySingleStack),
		InternalTrafficPolicy: ptr(corev1.ServiceInternalTrafficPolicyCluster),
	}
	if t.headless {
		s.Spec.Ports[0].Port = 8080
	} else if k.chance(0.4) {
		s.Annotations = map[string]string{"cloud.google.com/neg": `{"ingress":true}`}
	}
	k.add("Service", &s.ObjectMeta, &s)
}

// padNetworkPolicy is a NetworkPolicy without endPort: a default deny
// (t.app ""), or one that lets another namespace reach t.app's port 8080.
// Most carry the last-applied-configuration, without endPort too.
func (k *kubeCluster) padNetworkPolicy(t padTarget) {
	name := k.name("NetworkPolicy", t.ns, t.name)
	n := networkingv1.NetworkPolicy{ObjectMeta: k.meta(t.ns, name, k.since(), nil)}
	n.Generation = 1
	n.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if t.app != "" {
		tcp := corev1.ProtocolTCP
		n.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": t.app}}
		n.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": appNamespaces[k.rng.IntN(len(appNamespaces))]}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr(intstr.FromInt32(8080))}},
		}}
	}
	if k.chance(0.6) {
		// What kubectl apply stores: the manifest applied, keys sorted.
		manifest := networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: t.ns}, Spec: n.Spec}
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
