package kubefake

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetscan/fleetscan/test/fleetgen"
)

const (
	keyA  = "proj-a/us-central1/alpha"
	keyB  = "proj-b/europe-west1-b/beta"
	token = "s3cret-token"
)

// ---- test objects ----

func ptr[T any](v T) *T { return &v }

func meta(ns, name, rv string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv, UID: types.UID("uid-" + ns + "-" + name), CreationTimestamp: metav1.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func podSpec(image string) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: image}}}
}

func daemonSet(ns, name, rv, image string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: meta(ns, name, rv),
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: podSpec(image)},
		},
	}
}

func service(ns, name, rv, clusterIP string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(ns, name, rv),
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, Ports: []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(8443), Protocol: corev1.ProtocolTCP}}},
	}
}

func networkPolicy(ns, name, rv string, port, endPort int32) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: meta(ns, name, rv),
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{
				Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(port)), EndPort: ptr(endPort),
			}}}},
		},
	}
}

func pod(ns, name, rv, image string) *corev1.Pod {
	return &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta(ns, name, rv), Spec: podSpec(image)}
}

func cronJob(ns, name, rv, image string) *batchv1.CronJob {
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: meta(ns, name, rv),
		Spec:       batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec(image)}}}},
	}
}

// kubeObject renders o as kubectl prints it.
func kubeObject(t *testing.T, o runtime.Object) fleetgen.KubeObject {
	t.Helper()
	m, ok := o.(metav1.Object)
	if !ok {
		t.Fatalf("%T has no metadata", o)
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	gvk := o.GetObjectKind().GroupVersionKind()
	return fleetgen.KubeObject{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Namespace: m.GetNamespace(), Name: m.GetName(), JSON: b}
}

// testObjects are two clusters' objects (in no particular order), and
// what summary should find in each.
func testObjects(t *testing.T) (map[string][]fleetgen.KubeObject, map[string]map[string]string) {
	t.Helper()
	objs := map[string][]runtime.Object{
		keyA: {
			daemonSet("web", "log-shipper", "4100", "fluent/fluent-bit:3.1"),
			daemonSet("kube-system", "ip-masq-agent", "1200", "gke.gcr.io/ip-masq-agent:v2.9.3"),
			daemonSet("monitoring", "node-exporter", "2200", "prom/node-exporter:v1.8.2"),
			daemonSet("web", "a-agent", "4711", "example.com/agent:1"),
			daemonSet("default", "zz", "1500", "example.com/zz:2"),
			service("default", "kubernetes", "150", "10.16.0.1"),
			service("web", "frontend", "3000", "10.16.3.7"),
			networkPolicy("web", "allow-ephemeral", "3100", 32768, 60999),
			pod("kube-system", "kube-dns-5c4b-abcde", "900", "gke.gcr.io/k8s-dns-kube-dns:1.23.0"),
			cronJob("batch", "nightly", "3500", "busybox:1.36"),
		},
		keyB: {
			daemonSet("kube-system", "fluentbit-gke", "9000", "gke.gcr.io/fluent-bit:v1.8.12"),
			service("default", "kubernetes", "120", "10.32.0.1"),
			networkPolicy("data", "deny-all", "8000", 30000, 40000),
			pod("data", "worker-0", "8500", "example.com/worker:7"),
			cronJob("etl", "hourly", "8700", "example.com/etl:3"),
		},
	}
	out := map[string][]fleetgen.KubeObject{}
	for key, list := range objs {
		for _, o := range list {
			out[key] = append(out[key], kubeObject(t, o))
		}
	}
	want := map[string]map[string]string{
		keyA: {
			"DaemonSet default/zz":                         "example.com/zz:2",
			"DaemonSet kube-system/ip-masq-agent":          "gke.gcr.io/ip-masq-agent:v2.9.3",
			"DaemonSet monitoring/node-exporter":           "prom/node-exporter:v1.8.2",
			"DaemonSet web/a-agent":                        "example.com/agent:1",
			"DaemonSet web/log-shipper":                    "fluent/fluent-bit:3.1",
			"Service default/kubernetes":                   "10.16.0.1",
			"Service web/frontend":                         "10.16.3.7",
			"NetworkPolicy web/allow-ephemeral":            "32768-60999",
			"Pod kube-system/kube-dns-5c4b-abcde":          "gke.gcr.io/k8s-dns-kube-dns:1.23.0",
			"CronJob batch/nightly":                        "busybox:1.36",
			"DaemonSet order":                              "default/zz kube-system/ip-masq-agent monitoring/node-exporter web/a-agent web/log-shipper",
			"resourceVersion of every list":                "4711",
			"Service web/frontend targetPort":              "8443",
			"Service default/kubernetes targetPort":        "8443",
			"CronJob batch/nightly schedule":               "0 3 * * *",
			"DaemonSet web/log-shipper selector":           "log-shipper",
			"DaemonSet default/zz selector":                "zz",
			"DaemonSet kube-system/ip-masq-agent selector": "ip-masq-agent",
			"DaemonSet monitoring/node-exporter selector":  "node-exporter",
			"DaemonSet web/a-agent selector":               "a-agent",
			"Pod kube-system/kube-dns-5c4b-abcde uid":      "uid-kube-system-kube-dns-5c4b-abcde",
		},
		keyB: {
			"DaemonSet kube-system/fluentbit-gke":          "gke.gcr.io/fluent-bit:v1.8.12",
			"Service default/kubernetes":                   "10.32.0.1",
			"NetworkPolicy data/deny-all":                  "30000-40000",
			"Pod data/worker-0":                            "example.com/worker:7",
			"CronJob etl/hourly":                           "example.com/etl:3",
			"DaemonSet order":                              "kube-system/fluentbit-gke",
			"resourceVersion of every list":                "9000",
			"Service default/kubernetes targetPort":        "8443",
			"CronJob etl/hourly schedule":                  "0 3 * * *",
			"DaemonSet kube-system/fluentbit-gke selector": "fluentbit-gke",
			"Pod data/worker-0 uid":                        "uid-data-worker-0",
		},
	}
	return out, want
}

// summary lists a cluster's DaemonSets, Services, NetworkPolicies, Pods
// and CronJobs with cs and returns one field of each, and a few more
// things, as testObjects' want spells them.
func summary(ctx context.Context, cs kubernetes.Interface) (map[string]string, error) {
	got := map[string]string{}
	rvs := map[string]bool{}
	ds, err := cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("daemonsets: %w", err)
	}
	rvs[ds.ResourceVersion] = true
	var order []string
	for _, o := range ds.Items {
		got["DaemonSet "+o.Namespace+"/"+o.Name] = o.Spec.Template.Spec.Containers[0].Image
		got["DaemonSet "+o.Namespace+"/"+o.Name+" selector"] = o.Spec.Selector.MatchLabels["app"]
		order = append(order, o.Namespace+"/"+o.Name)
	}
	got["DaemonSet order"] = strings.Join(order, " ")
	svcs, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	rvs[svcs.ResourceVersion] = true
	for _, o := range svcs.Items {
		got["Service "+o.Namespace+"/"+o.Name] = o.Spec.ClusterIP
		got["Service "+o.Namespace+"/"+o.Name+" targetPort"] = o.Spec.Ports[0].TargetPort.String()
	}
	nps, err := cs.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("networkpolicies: %w", err)
	}
	rvs[nps.ResourceVersion] = true
	for _, o := range nps.Items {
		p := o.Spec.Egress[0].Ports[0]
		got["NetworkPolicy "+o.Namespace+"/"+o.Name] = fmt.Sprintf("%s-%d", p.Port.String(), *p.EndPort)
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("pods: %w", err)
	}
	rvs[pods.ResourceVersion] = true
	for _, o := range pods.Items {
		got["Pod "+o.Namespace+"/"+o.Name] = o.Spec.Containers[0].Image
		got["Pod "+o.Namespace+"/"+o.Name+" uid"] = string(o.UID)
	}
	cjs, err := cs.BatchV1().CronJobs("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("cronjobs: %w", err)
	}
	rvs[cjs.ResourceVersion] = true
	for _, o := range cjs.Items {
		got["CronJob "+o.Namespace+"/"+o.Name] = o.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image
		got["CronJob "+o.Namespace+"/"+o.Name+" schedule"] = o.Spec.Schedule
	}
	if len(rvs) != 1 {
		return nil, fmt.Errorf("lists of one cluster have resourceVersions %v, want one", rvs)
	}
	for rv := range rvs {
		got["resourceVersion of every list"] = rv
	}
	return got, nil
}

// ---- clients ----

// recorder records the Accept header of each request and the Content-Type
// of each response that passes through the transport it wraps.
type recorder struct {
	mu                 sync.Mutex
	accepts, respTypes []string
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (rec *recorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(r)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.accepts = append(rec.accepts, r.Header.Get("Accept"))
		if err == nil {
			rec.respTypes = append(rec.respTypes, resp.Header.Get("Content-Type"))
		}
		return resp, err
	})
}

func (rec *recorder) types() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.respTypes)
}

type encoding int

const (
	asJSON encoding = iota
	asProtobuf
)

func (e encoding) String() string { return [...]string{"json", "protobuf"}[e] }

// config is a client-go config for the cluster of key.
func config(s *Server, key, tok string, enc encoding, rec *recorder) *rest.Config {
	cfg := &rest.Config{
		Host:            "https://" + s.Endpoint(key),
		BearerToken:     tok,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.CAPEM()},
		QPS:             1000,
		Burst:           1000,
		Timeout:         30 * time.Second,
	}
	switch enc {
	case asProtobuf:
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	default:
		cfg.ContentType = "application/json"
		cfg.AcceptContentTypes = "application/json"
	}
	if rec != nil {
		cfg.WrapTransport = rec.wrap
	}
	return cfg
}

func clientset(t *testing.T, s *Server, key, tok string, enc encoding, rec *recorder) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(config(s, key, tok, enc, rec))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func start(t *testing.T, objects map[string][]fleetgen.KubeObject, opt Options) *Server {
	t.Helper()
	s, err := Start(objects, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// ---- tests ----

func TestClientGoLists(t *testing.T) {
	objects, want := testObjects(t)
	s := start(t, objects, Options{Token: token})
	for _, enc := range []encoding{asProtobuf, asJSON} {
		t.Run(enc.String(), func(t *testing.T) {
			ctx := testContext(t, time.Minute)
			for _, key := range []string{keyA, keyB} {
				rec := &recorder{}
				cs := clientset(t, s, key, token, enc, rec)
				got, err := summary(ctx, cs)
				if err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				if diff := cmp.Diff(want[key], got); diff != "" {
					t.Errorf("%s: lists (-want +got):\n%s", key, diff)
				}
				wantType := map[encoding]string{asJSON: "application/json", asProtobuf: "application/vnd.kubernetes.protobuf"}[enc]
				types := rec.types()
				if len(types) != 5 || slices.ContainsFunc(types, func(ct string) bool { return ct != wantType }) {
					t.Errorf("%s: response Content-Types %q, want 5 × %q", key, types, wantType)
				}
			}

			// A namespace's objects only.
			cs := clientset(t, s, keyA, token, enc, nil)
			web, err := cs.AppsV1().DaemonSets("web").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range web.Items {
				names = append(names, o.Namespace+"/"+o.Name)
			}
			if diff := cmp.Diff([]string{"web/a-agent", "web/log-shipper"}, names); diff != "" {
				t.Errorf("DaemonSets in web (-want +got):\n%s", diff)
			}
			none, err := cs.CoreV1().Pods("web").List(ctx, metav1.ListOptions{})
			if err != nil || len(none.Items) != 0 {
				t.Errorf("Pods in web: %d items, %v; want none", len(none.Items), err)
			}

			// One object by name, and one that is not there.
			np, err := cs.NetworkingV1().NetworkPolicies("web").Get(ctx, "allow-ephemeral", metav1.GetOptions{})
			if err != nil || np.Name != "allow-ephemeral" || *np.Spec.Egress[0].Ports[0].EndPort != 60999 {
				t.Errorf("get NetworkPolicy web/allow-ephemeral: %+v, %v", np, err)
			}
			_, err = cs.AppsV1().DaemonSets("web").Get(ctx, "nope", metav1.GetOptions{})
			if !apierrors.IsNotFound(err) || err.Error() != `daemonsets.apps "nope" not found` {
				t.Errorf("get DaemonSet web/nope: %v, want NotFound", err)
			}
		})
	}
}

func TestPaging(t *testing.T) {
	objects, _ := testObjects(t)
	s := start(t, objects, Options{Token: token})
	ctx := testContext(t, time.Minute)
	for _, enc := range []encoding{asProtobuf, asJSON} {
		t.Run(enc.String(), func(t *testing.T) {
			cs := clientset(t, s, keyA, token, enc, nil)
			all, err := cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if all.Continue != "" || all.RemainingItemCount != nil {
				t.Errorf("unpaged list: continue %q, remainingItemCount %v; want neither", all.Continue, all.RemainingItemCount)
			}
			calls, byRes, total := s.Calls(keyA), s.CallsByResource()["daemonsets"], s.TotalCalls()
			var pages []int
			var remaining []string
			var got []appsv1.DaemonSet
			opts := metav1.ListOptions{Limit: 2}
			for {
				if len(pages) > 10 {
					t.Fatalf("more than 10 pages of 5 items: %v", pages)
				}
				l, err := cs.AppsV1().DaemonSets("").List(ctx, opts)
				if err != nil {
					t.Fatalf("page %d: %v", len(pages)+1, err)
				}
				if l.ResourceVersion != "4711" {
					t.Errorf("page %d: resourceVersion %q, want 4711", len(pages)+1, l.ResourceVersion)
				}
				pages = append(pages, len(l.Items))
				got = append(got, l.Items...)
				if l.RemainingItemCount == nil {
					remaining = append(remaining, "nil")
				} else {
					remaining = append(remaining, fmt.Sprint(*l.RemainingItemCount))
				}
				if l.Continue == "" {
					break
				}
				opts.Continue = l.Continue
			}
			if diff := cmp.Diff([]int{2, 2, 1}, pages); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"3", "1", "nil"}, remaining); diff != "" {
				t.Errorf("remainingItemCount (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(all.Items, got); diff != "" {
				t.Errorf("pages differ from the whole list (-whole +pages):\n%s", diff)
			}
			if n := s.Calls(keyA) - calls; n != 3 {
				t.Errorf("Calls(%s) grew by %d over 3 pages", keyA, n)
			}
			if n := s.CallsByResource()["daemonsets"] - byRes; n != 3 {
				t.Errorf("CallsByResource[daemonsets] grew by %d over 3 pages", n)
			}
			if n := s.TotalCalls() - total; n != 3 {
				t.Errorf("TotalCalls grew by %d over 3 pages", n)
			}

			// In one namespace.
			first, err := cs.AppsV1().DaemonSets("web").List(ctx, metav1.ListOptions{Limit: 1})
			if err != nil || len(first.Items) != 1 || first.Items[0].Name != "a-agent" || first.Continue == "" {
				t.Fatalf("first page of web: %+v, %v", first, err)
			}
			second, err := cs.AppsV1().DaemonSets("web").List(ctx, metav1.ListOptions{Limit: 1, Continue: first.Continue})
			if err != nil || len(second.Items) != 1 || second.Items[0].Name != "log-shipper" || second.Continue != "" {
				t.Fatalf("second page of web: %+v, %v", second, err)
			}

			// Tokens that do not continue this list.
			first2, err := cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{Limit: 2, Continue: "not-a-token!"})
			if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "invalid continue token") {
				t.Errorf("garbage token: %v, want BadRequest invalid continue token", err)
			}
			_, err = cs.CoreV1().Services("").List(ctx, metav1.ListOptions{Limit: 2, Continue: first2.Continue})
			if !apierrors.IsBadRequest(err) {
				t.Errorf("a DaemonSet token for Services: %v, want BadRequest", err)
			}
			_, err = cs.AppsV1().DaemonSets("web").List(ctx, metav1.ListOptions{Limit: 2, Continue: first2.Continue})
			if !apierrors.IsBadRequest(err) {
				t.Errorf("an all-namespaces token in web: %v, want BadRequest", err)
			}
			_, err = cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{Limit: 2, Continue: first2.Continue, ResourceVersion: "12"})
			if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "specifying resource version is not allowed when using continue") {
				t.Errorf("continue with resourceVersion: %v, want BadRequest", err)
			}
			forged := encodeContinue(&resources[resourceByKind["DaemonSet"]], "", "4711", 99)
			_, err = cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{Continue: forged})
			if !apierrors.IsBadRequest(err) {
				t.Errorf("a token past the end: %v, want BadRequest", err)
			}
			// Cluster B has another resourceVersion: its tokens are too old
			// (or new) for A.
			csB := clientset(t, s, keyB, token, enc, nil)
			svcB, err := csB.CoreV1().Services("").List(ctx, metav1.ListOptions{Limit: 1})
			if err != nil || svcB.Continue != "" {
				t.Fatalf("services of B, limit 1: %+v, %v (B has one)", svcB, err)
			}
			tokB := encodeContinue(&resources[resourceByKind["DaemonSet"]], "", "9000", 1)
			_, err = cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{Continue: tokB})
			if !apierrors.IsResourceExpired(err) || apierrors.ReasonForError(err) != metav1.StatusReasonExpired {
				t.Errorf("a token of resourceVersion 9000 on A: %v, want 410 Expired", err)
			}
		})
	}
}

func TestUnauthorized(t *testing.T) {
	objects, _ := testObjects(t)
	ctx := testContext(t, time.Minute)
	s := start(t, objects, Options{Token: token})
	for name, tok := range map[string]string{"no token": "", "wrong token": "other"} {
		cs := clientset(t, s, keyA, tok, asProtobuf, nil)
		if _, err := cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
			t.Errorf("%s: list: %v, want Unauthorized", name, err)
		}
		if _, err := cs.Discovery().ServerVersion(); !apierrors.IsUnauthorized(err) {
			t.Errorf("%s: /version: %v, want Unauthorized", name, err)
		}
	}
	if n := s.TotalCalls() + s.DiscoveryCalls(); n != 0 {
		t.Errorf("refused calls counted: %d", n)
	}
	if _, err := clientset(t, s, keyA, token, asProtobuf, nil).AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("right token: %v", err)
	}

	// Without Options.Token, any token goes, but one is needed.
	open := start(t, objects, Options{})
	if _, err := clientset(t, open, keyB, "anything", asJSON, nil).CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("any token: %v", err)
	}
	if _, err := clientset(t, open, keyB, "", asJSON, nil).CoreV1().Pods("").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("no token: %v, want Unauthorized", err)
	}
}

func TestFaults(t *testing.T) {
	objects, _ := testObjects(t)
	ctx := testContext(t, time.Minute)
	s := start(t, objects, Options{Token: token})
	csA := clientset(t, s, keyA, token, asProtobuf, nil)
	csB := clientset(t, s, keyB, token, asProtobuf, nil)

	s.SetFault(keyA, Fault{Code: http.StatusForbidden})
	for i := range 2 {
		_, err := csA.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
		const msg = `daemonsets.apps is forbidden: User "fleetscan@p.iam.gserviceaccount.com" cannot list resource "daemonsets" in API group "apps" at the cluster scope`
		if !apierrors.IsForbidden(err) || err.Error() != msg {
			t.Errorf("list %d with 403: %v, want Forbidden %q", i+1, err, msg)
		}
	}
	_, err := csA.CoreV1().Services("kube-system").List(ctx, metav1.ListOptions{})
	if msg := `services is forbidden: User "fleetscan@p.iam.gserviceaccount.com" cannot list resource "services" in API group "" in the namespace "kube-system"`; !apierrors.IsForbidden(err) || err.Error() != msg {
		t.Errorf("services in kube-system with 403: %v, want %q", err, msg)
	}
	if _, err := csA.Discovery().ServerVersion(); err != nil {
		t.Errorf("discovery is faulted too: %v", err)
	}
	if _, err := csB.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the other cluster is faulted too: %v", err)
	}
	if n := s.Calls(keyA); n != 3 {
		t.Errorf("Calls(A) = %d after 3 faulted lists", n)
	}

	s.SetFault(keyA, Fault{Code: http.StatusServiceUnavailable, Times: 1})
	if _, err := csA.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{}); !apierrors.IsServiceUnavailable(err) {
		t.Errorf("first list with 503 once: %v, want ServiceUnavailable", err)
	}
	if l, err := csA.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 5 {
		t.Errorf("second list with 503 once: %v, %v; want 5 items", l, err)
	}

	s.SetFault(keyA, Fault{Code: http.StatusInternalServerError, Times: 2})
	for i := range 2 {
		if _, err := csA.BatchV1().CronJobs("").List(ctx, metav1.ListOptions{}); !apierrors.IsInternalError(err) {
			t.Errorf("list %d with 500 twice: %v, want InternalError", i+1, err)
		}
	}
	if _, err := csA.BatchV1().CronJobs("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("third list with 500 twice: %v", err)
	}

	// 429 carries Retry-After, which client-go honours by itself.
	s.SetFault(keyA, Fault{Code: http.StatusTooManyRequests, Times: 1})
	before := s.Calls(keyA)
	if _, err := csA.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("list with 429 once: %v, want client-go to retry", err)
	}
	if n := s.Calls(keyA) - before; n != 2 {
		t.Errorf("a 429 then a retry: %d calls, want 2", n)
	}

	s.SetFault(keyA, Fault{})
	if _, err := csA.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("fault removed: %v", err)
	}
	if got, want := s.CallsByResource(), map[string]int{"daemonsets": 6, "services": 1, "cronjobs": 3, "pods": 2}; !cmp.Equal(want, got) {
		t.Errorf("CallsByResource = %v, want %v", got, want)
	}
	if got, want := s.TotalCalls(), 12; got != want {
		t.Errorf("TotalCalls = %d, want %d", got, want)
	}
}

// waitFor polls cond until it holds, and reports false if ctx ends first.
func waitFor(ctx context.Context, cond func() bool) bool {
	for !cond() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	return true
}

func TestDelayHonoursCancellation(t *testing.T) {
	objects, _ := testObjects(t)
	s, err := Start(objects, Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	closing := false // once the test closes s itself, a hung Close must not hang the cleanup too
	t.Cleanup(func() {
		if !closing {
			s.Close()
		}
	})
	s.SetFault(keyB, Fault{Delay: time.Hour})
	cs := clientset(t, s, keyB, token, asProtobuf, nil)
	ctx, cancel := context.WithTimeout(testContext(t, time.Minute), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("list delayed an hour with a 300ms deadline: %v, want context deadline exceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("list took %v to time out", d)
	}
	// The handler returns on the client's cancellation, before Close.
	if !waitFor(testContext(t, 10*time.Second), func() bool { return s.inflight.Load() == 0 }) {
		t.Fatalf("%d handlers still running 10s after the client gave up", s.inflight.Load())
	}
	if s.Calls(keyB) != 1 {
		t.Errorf("Calls(B) = %d, want 1", s.Calls(keyB))
	}

	// A request still delayed when the server closes does not hold Close.
	listCtx := testContext(t, time.Minute)
	errc := make(chan error, 1)
	go func() {
		_, err := cs.AppsV1().DaemonSets("").List(listCtx, metav1.ListOptions{})
		errc <- err
	}()
	if !waitFor(testContext(t, 10*time.Second), func() bool { return s.inflight.Load() == 1 }) {
		t.Fatal("the second list never arrived")
	}
	closing = true
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	wait := testContext(t, 10*time.Second)
	select {
	case <-closed:
	case <-wait.Done():
		t.Fatal("Close did not return within 10s of a delayed request")
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Error("the list delayed across Close succeeded")
		}
	case <-wait.Done():
		t.Fatal("the list delayed across Close did not return")
	}
}

func TestLatency(t *testing.T) {
	objects, _ := testObjects(t)
	s := start(t, objects, Options{Token: token, Latency: 150 * time.Millisecond})
	cs := clientset(t, s, keyA, token, asJSON, nil)
	ctx := testContext(t, time.Minute)
	for name, call := range map[string]func() error{
		"list":      func() error { _, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{}); return err },
		"discovery": func() error { _, err := cs.Discovery().ServerVersion(); return err },
	} {
		start := time.Now()
		if err := call(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("%s took %v with a Latency of 150ms", name, d)
		}
	}
}

func TestDiscovery(t *testing.T) {
	objects, _ := testObjects(t)
	s := start(t, objects, Options{Token: token})
	rec := &recorder{}
	cs := clientset(t, s, keyA, token, asProtobuf, rec)
	v, err := cs.Discovery().ServerVersion()
	if err != nil || v.GitVersion != "v1.31.5-gke.1000" || v.Minor != "31" {
		t.Fatalf("ServerVersion: %+v, %v", v, err)
	}
	groups, lists, err := cs.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	var gotGroups []string
	for _, g := range groups {
		gotGroups = append(gotGroups, g.PreferredVersion.GroupVersion)
	}
	if diff := cmp.Diff([]string{"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1"}, gotGroups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	got := map[string]string{}
	for _, l := range lists {
		for _, r := range l.APIResources {
			got[l.GroupVersion+"/"+r.Name] = fmt.Sprintf("%s %s namespaced=%t %v %v", r.Kind, r.SingularName, r.Namespaced, r.ShortNames, r.Verbs)
		}
	}
	want := map[string]string{
		"v1/pods":                              "Pod pod namespaced=true [po] [get list watch]",
		"v1/services":                          "Service service namespaced=true [svc] [get list watch]",
		"v1/namespaces":                        "Namespace namespace namespaced=false [ns] [get list watch]",
		"apps/v1/daemonsets":                   "DaemonSet daemonset namespaced=true [ds] [get list watch]",
		"apps/v1/deployments":                  "Deployment deployment namespaced=true [deploy] [get list watch]",
		"apps/v1/statefulsets":                 "StatefulSet statefulset namespaced=true [sts] [get list watch]",
		"apps/v1/replicasets":                  "ReplicaSet replicaset namespaced=true [rs] [get list watch]",
		"batch/v1/jobs":                        "Job job namespaced=true [] [get list watch]",
		"batch/v1/cronjobs":                    "CronJob cronjob namespaced=true [cj] [get list watch]",
		"networking.k8s.io/v1/networkpolicies": "NetworkPolicy networkpolicy namespaced=true [netpol] [get list watch]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	// client-go asked for aggregated discovery and read the legacy answer.
	rec.mu.Lock()
	aggregated := slices.ContainsFunc(rec.accepts, func(a string) bool { return strings.Contains(a, "as=APIGroupDiscoveryList") })
	rec.mu.Unlock()
	if !aggregated {
		t.Errorf("client-go never asked for aggregated discovery (Accept %q): the fallback went untested", rec.accepts)
	}
	if s.DiscoveryCalls() < 6 || s.TotalCalls() != 0 {
		t.Errorf("DiscoveryCalls = %d (want ≥ 6: version, api, apis and 4 group versions), TotalCalls = %d (want 0)", s.DiscoveryCalls(), s.TotalCalls())
	}
}

// TestHTTP checks the wire format with a plain HTTP client.
func TestHTTP(t *testing.T) {
	objects, _ := testObjects(t)
	s := start(t, objects, Options{Token: token})
	ctx := testContext(t, time.Minute)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CAPEM()) {
		t.Fatal("CAPEM is no PEM certificate")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	do := func(method, path, accept string) (int, string, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, "https://"+s.Endpoint(keyA)+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}

	code, ct, body := do("GET", "/apis/apps/v1/namespaces/web/daemonsets?limit=1", "application/json")
	var l struct {
		APIVersion, Kind string
		Metadata         struct {
			ResourceVersion    string `json:"resourceVersion"`
			Continue           string `json:"continue"`
			RemainingItemCount *int   `json:"remainingItemCount"`
		}
		Items []map[string]any
	}
	if err := json.Unmarshal(body, &l); err != nil || code != 200 || ct != "application/json" {
		t.Fatalf("JSON page: %d %s %s: %v", code, ct, body, err)
	}
	if l.APIVersion != "apps/v1" || l.Kind != "DaemonSetList" || l.Metadata.ResourceVersion != "4711" || l.Metadata.Continue == "" ||
		l.Metadata.RemainingItemCount == nil || *l.Metadata.RemainingItemCount != 1 || len(l.Items) != 1 || l.Items[0]["kind"] != "DaemonSet" {
		t.Errorf("JSON page: %s", body)
	}
	if !bytes.Contains(body, objects[keyA][3].JSON) { // web/a-agent, as given
		t.Errorf("JSON page does not hold the object's JSON as given: %s", body)
	}

	code, ct, body = do("GET", "/api/v1/pods", "application/vnd.kubernetes.protobuf, */*")
	if code != 200 || ct != "application/vnd.kubernetes.protobuf" || !bytes.HasPrefix(body, []byte("k8s\x00")) {
		t.Errorf("protobuf list: %d %s %q", code, ct, body)
	}
	// kubectl's Table requests get the plain list (as from a server
	// without Table support), in JSON.
	code, ct, _ = do("GET", "/api/v1/pods", "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json")
	if code != 200 || ct != "application/json" {
		t.Errorf("Table request: %d %s, want 200 application/json", code, ct)
	}

	for _, c := range []struct {
		method, path string
		code         int
		reason       metav1.StatusReason
	}{
		{"GET", "/apis/apps/v1/widgets", 404, metav1.StatusReasonNotFound},
		{"GET", "/apis/apps/v2/daemonsets", 404, metav1.StatusReasonNotFound},
		{"GET", "/apis/apps/v1/namespaces/web/daemonsets/log-shipper/status", 404, metav1.StatusReasonNotFound},
		{"GET", "/apis/apps/v1/daemonsets/log-shipper", 404, metav1.StatusReasonNotFound},
		{"GET", "/api/v1/namespaces/web/namespaces", 404, metav1.StatusReasonNotFound},
		{"GET", "/openapi/v3", 404, metav1.StatusReasonNotFound},
		{"GET", "/healthz", 404, metav1.StatusReasonNotFound},
		{"POST", "/apis/apps/v1/namespaces/web/daemonsets", 405, metav1.StatusReasonMethodNotAllowed},
		{"GET", "/apis/apps/v1/daemonsets?watch=true", 405, metav1.StatusReasonMethodNotAllowed},
		{"GET", "/apis/apps/v1/daemonsets?labelSelector=app%3Dx", 400, metav1.StatusReasonBadRequest},
		{"GET", "/apis/apps/v1/daemonsets?limit=x", 400, metav1.StatusReasonBadRequest},
	} {
		code, ct, body := do(c.method, c.path, "application/vnd.kubernetes.protobuf")
		var st metav1.Status
		if err := json.Unmarshal(body, &st); err != nil || code != c.code || ct != "application/json" ||
			st.Kind != "Status" || st.APIVersion != "v1" || st.Status != "Failure" || st.Code != int32(c.code) || st.Reason != c.reason || st.Message == "" {
			t.Errorf("%s %s: %d %s %s (%v), want a %d %s Status", c.method, c.path, code, ct, body, err, c.code, c.reason)
		}
	}
}

func TestStartRejects(t *testing.T) {
	ds := kubeObject(t, daemonSet("web", "x", "1", "i"))
	for name, objects := range map[string]map[string][]fleetgen.KubeObject{
		"no clusters":          {},
		"bad key":              {"proj/loc": {ds}},
		"empty key part":       {"proj//c": {ds}},
		"unknown kind":         {keyA: {{APIVersion: "v1", Kind: "ConfigMap", Namespace: "web", Name: "x", JSON: []byte("{}")}}},
		"wrong apiVersion":     {keyA: {{APIVersion: "extensions/v1beta1", Kind: "DaemonSet", Namespace: "web", Name: "x", JSON: ds.JSON}}},
		"no namespace":         {keyA: {{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "x", JSON: ds.JSON}}},
		"no name":              {keyA: {{APIVersion: "apps/v1", Kind: "DaemonSet", Namespace: "web", JSON: ds.JSON}}},
		"no JSON":              {keyA: {{APIVersion: "apps/v1", Kind: "DaemonSet", Namespace: "web", Name: "x"}}},
		"namespaced Namespace": {keyA: {{APIVersion: "v1", Kind: "Namespace", Namespace: "web", Name: "x", JSON: []byte("{}")}}},
		"duplicate":            {keyA: {ds, ds}},
	} {
		if s, err := Start(objects, Options{}); err == nil {
			s.Close()
			t.Errorf("%s: Start succeeded", name)
		} else if !strings.HasPrefix(err.Error(), "kubefake: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
	if _, err := Start(map[string][]fleetgen.KubeObject{keyA: nil}, Options{Latency: -time.Second}); err == nil {
		t.Error("negative Latency accepted")
	}
}

// fleet generates a small fleet with Kubernetes objects.
func fleet(t *testing.T, clusters int) *fleetgen.Fleet {
	t.Helper()
	f, err := fleetgen.Generate(fleetgen.Options{Clusters: clusters, Projects: 1, Seed: 7, Kube: true})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAttach(t *testing.T) {
	f := fleet(t, 3)
	keep := f.Clusters[2]
	objects := map[string][]fleetgen.KubeObject{}
	for _, c := range f.Clusters[:2] {
		objects[fleetgen.KubeKey(c)] = f.Kube[fleetgen.KubeKey(c)]
	}
	s := start(t, objects, Options{Token: token})
	endpoint0, name0 := keep.GetEndpoint(), keep.GetName()
	s.Attach(f)
	if keep.GetEndpoint() != endpoint0 || keep.GetName() != name0 {
		t.Errorf("a cluster the server does not serve changed: endpoint %q", keep.GetEndpoint())
	}
	ctx := testContext(t, time.Minute)
	for _, c := range f.Clusters[:2] {
		key := fleetgen.KubeKey(c)
		if c.GetEndpoint() != s.Endpoint(key) || !strings.HasPrefix(c.GetEndpoint(), "127.0.0.1:") {
			t.Errorf("%s: endpoint %q, want %q", key, c.GetEndpoint(), s.Endpoint(key))
		}
		if c.GetName() == "" || c.GetLocation() == "" || c.GetSelfLink() == "" {
			t.Errorf("%s: Attach lost fields: %v", key, c)
		}
		// Connect as a scanner would, from the cluster message alone.
		caPEM, err := base64.StdEncoding.DecodeString(c.GetMasterAuth().GetClusterCaCertificate())
		if err != nil {
			t.Fatalf("%s: clusterCaCertificate: %v", key, err)
		}
		block, _ := pem.Decode(caPEM)
		if block == nil {
			t.Fatalf("%s: clusterCaCertificate holds no PEM", key)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !cert.IsCA || len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
			t.Errorf("certificate: key %T, CA %t, IPs %v; want ECDSA, CA, 127.0.0.1", cert.PublicKey, cert.IsCA, cert.IPAddresses)
		}
		cs, err := kubernetes.NewForConfig(&rest.Config{
			Host: "https://" + c.GetEndpoint(), BearerToken: token,
			TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
			ContentConfig:   rest.ContentConfig{ContentType: "application/vnd.kubernetes.protobuf", AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json"},
		})
		if err != nil {
			t.Fatal(err)
		}
		l, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		want := 0
		for _, o := range f.Kube[key] {
			if o.Kind == "Service" {
				want++
			}
		}
		if len(l.Items) != want || want == 0 {
			t.Errorf("%s: %d Services, want %d", key, len(l.Items), want)
		}
	}
}

// kubectlItem is what TestKubectl reads of each item kubectl prints.
type kubectlItem struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"metadata"`
}

// contextName is the kubeconfig context of a cluster key, as gcloud names
// it.
func contextName(key string) string { return "gke_" + strings.ReplaceAll(key, "/", "_") }

const kubectlResources = "daemonsets,services,networkpolicies,pods,deployments,statefulsets,replicasets,jobs,cronjobs"

// TestKubectl lists with the installed kubectl. If that is gcloud's
// dispatcher, which runs the kubectl of the server's minor version (1.31),
// it also runs the kubectl 1.32 and 1.33 installed beside it.
func TestKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	t.Run("kubectl", func(t *testing.T) { testKubectl(t, kubectl) })
	if real, err := filepath.EvalSymlinks(kubectl); err == nil {
		for _, v := range []string{"1.32", "1.33"} {
			if p := filepath.Join(filepath.Dir(real), "kubectl."+v); fileExists(p) {
				t.Run("kubectl."+v, func(t *testing.T) { testKubectl(t, p) })
			}
		}
	}
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

func testKubectl(t *testing.T, kubectl string) {
	f := fleet(t, 2)
	s := start(t, f.Kube, Options{Token: token})
	var mu sync.Mutex
	var requests []string // "URI ACCEPT"
	record := func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, r.URL.RequestURI()+" "+r.Header.Get("Accept"))
	}
	s.onRequest.Store(&record)
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(requests)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubectl's requests:\n%s", strings.Join(seen(), "\n"))
		}
	})
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := s.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		t.Cleanup(cancel) // kills kubectl if it is still running
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		home := t.TempDir()
		cmd.Env = append(os.Environ(), "HOME="+home, "KUBECACHEDIR="+filepath.Join(home, "cache"), "KUBECONFIG="+kubeconfig, "CLOUDSDK_CONFIG="+filepath.Join(home, "gcloud"))
		cmd.WaitDelay = 5 * time.Second
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return out
	}
	for i, c := range f.Clusters {
		key := fleetgen.KubeKey(c)
		ctxName := contextName(key)
		chunk := []string{"--chunk-size=2"}
		if i == 1 {
			chunk = nil // kubectl's default, 500
		}
		before := s.Calls(key)
		out := run(append([]string{"--context", ctxName, "get", kubectlResources, "-A", "-o", "json"}, chunk...)...)
		var l struct {
			Kind  string        `json:"kind"`
			Items []kubectlItem `json:"items"`
		}
		if err := json.Unmarshal(out, &l); err != nil || l.Kind != "List" {
			t.Fatalf("%s: kubectl printed no List (%v):\n%.2000s", key, err, out)
		}
		var got, want []string
		for _, it := range l.Items {
			got = append(got, it.Kind+" "+it.Metadata.Namespace+"/"+it.Metadata.Name)
		}
		perKind := map[string]int{}
		for _, o := range f.Kube[key] {
			want = append(want, o.Kind+" "+o.Namespace+"/"+o.Name)
			perKind[o.Kind]++
		}
		slices.Sort(got)
		slices.Sort(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: kubectl get (-want +got):\n%s", key, diff)
		}
		// One list per kind and page.
		wantCalls := 0
		for _, kind := range []string{"DaemonSet", "Service", "NetworkPolicy", "Pod", "Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob"} {
			pages := 1
			if chunk != nil {
				pages = max(1, (perKind[kind]+1)/2)
			}
			wantCalls += pages
		}
		calls := s.Calls(key) - before
		if calls != wantCalls {
			t.Errorf("%s: kubectl %v made %d list calls, want %d (objects per kind %v)", key, chunk, calls, wantCalls, perKind)
		}
		if chunk != nil && calls <= 9 {
			t.Errorf("%s: kubectl did not page: %d list calls for 9 kinds", key, calls)
		}
	}
	aggregated := slices.ContainsFunc(seen(), func(r string) bool {
		return (strings.HasPrefix(r, "/api?") || strings.HasPrefix(r, "/api ")) && strings.Contains(r, "as=APIGroupDiscoveryList")
	})
	// kubectl asks for aggregated discovery and reads the legacy answer.
	if !aggregated || s.DiscoveryCalls() < 6 {
		t.Errorf("kubectl made %d discovery calls, asking for aggregated discovery: %t; want ≥ 6 and true", s.DiscoveryCalls(), aggregated)
	}

	// The version kubectl reports (the gcloud dispatcher, if that is what
	// is installed, picks the kubectl of the server's minor version).
	var v struct {
		Client struct {
			GitVersion string `json:"gitVersion"`
		} `json:"clientVersion"`
		Server struct {
			GitVersion string `json:"gitVersion"`
		} `json:"serverVersion"`
	}
	key := fleetgen.KubeKey(f.Clusters[0])
	out := run("--context", contextName(key), "version", "-o", "json")
	if err := json.Unmarshal(out, &v); err != nil || v.Server.GitVersion != GitVersion {
		t.Errorf("kubectl version: server %q, want %q (%v):\n%s", v.Server.GitVersion, GitVersion, err, out)
	}
	t.Logf("kubectl %s against a server of %s", v.Client.GitVersion, v.Server.GitVersion)

	// Short names resolve through discovery.
	out = run("--context", contextName(key), "get", "ds,svc,netpol,po,deploy,sts,rs,cj", "-A", "-o", "name")
	want := 0
	for _, o := range f.Kube[key] {
		if o.Kind != "Job" {
			want++
		}
	}
	if got := len(strings.Fields(string(out))); got != want {
		t.Errorf("kubectl get by short names printed %d names, want %d:\n%s", got, want, out)
	}
}

// BenchmarkList lists the nine kinds of one cluster of about 480 objects
// (a generated cluster's, each 35 times over), without latency, as a
// benchmark of 1,000 such clusters does per cluster: it measures the cost
// of the fake and of client-go together.
func BenchmarkList(b *testing.B) {
	f, err := fleetgen.Generate(fleetgen.Options{Clusters: 1, Projects: 1, Seed: 1, Kube: true})
	if err != nil {
		b.Fatal(err)
	}
	key := fleetgen.KubeKey(f.Clusters[0])
	var objs []fleetgen.KubeObject
	for i := range 35 {
		for _, o := range f.Kube[key] {
			o.Name = fmt.Sprintf("%s-%d", o.Name, i)
			objs = append(objs, o)
		}
	}
	s, err := Start(map[string][]fleetgen.KubeObject{key: objs}, Options{Token: token})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, enc := range []encoding{asProtobuf, asJSON} {
		b.Run(enc.String(), func(b *testing.B) {
			cs, err := kubernetes.NewForConfig(config(s, key, token, enc, nil))
			if err != nil {
				b.Fatal(err)
			}
			ctx := b.Context()
			o := metav1.ListOptions{Limit: 500}
			for b.Loop() {
				n := 0
				for _, list := range []func() (int, error){
					func() (int, error) { l, err := cs.AppsV1().DaemonSets("").List(ctx, o); return len(l.Items), err },
					func() (int, error) { l, err := cs.AppsV1().Deployments("").List(ctx, o); return len(l.Items), err },
					func() (int, error) { l, err := cs.AppsV1().ReplicaSets("").List(ctx, o); return len(l.Items), err },
					func() (int, error) { l, err := cs.AppsV1().StatefulSets("").List(ctx, o); return len(l.Items), err },
					func() (int, error) { l, err := cs.CoreV1().Pods("").List(ctx, o); return len(l.Items), err },
					func() (int, error) { l, err := cs.CoreV1().Services("").List(ctx, o); return len(l.Items), err },
					func() (int, error) { l, err := cs.BatchV1().Jobs("").List(ctx, o); return len(l.Items), err },
					func() (int, error) { l, err := cs.BatchV1().CronJobs("").List(ctx, o); return len(l.Items), err },
					func() (int, error) {
						l, err := cs.NetworkingV1().NetworkPolicies("").List(ctx, o)
						return len(l.Items), err
					},
				} {
					m, err := list()
					if err != nil {
						b.Fatal(err)
					}
					n += m
				}
				if n != len(objs) {
					b.Fatalf("listed %d objects, want %d", n, len(objs))
				}
			}
		})
	}
}
