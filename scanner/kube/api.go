package kube

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/catalog"
	"github.com/fleetscan/fleetscan/scanner/gcpclient"
)

// Scopes are the OAuth scopes of the bearer token GKE control planes
// accept, as gke-gcloud-auth-plugin asks for them.
var Scopes = []string{"https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/userinfo.email"}

// API reads the objects through each cluster's own Kubernetes API: fresh,
// and for what Cloud Asset Inventory lacks. It reaches the DNS-based
// control-plane endpoint when the cluster allows external traffic to it,
// else the endpoint IP with the cluster's CA certificate, with a bearer
// token from Application Default Credentials (roles/container.viewer reads
// these objects and no Secrets). It lists only the kinds the cluster's
// checks read, paged, in protobuf: about one call per kind for a cluster
// of typical size. Clusters are read Concurrency at a time, each within
// Timeout.
type API struct {
	Catalog *catalog.Catalog
	// TokenSource gives the bearer token; nil: Application Default
	// Credentials with Scopes, found by Load.
	TokenSource oauth2.TokenSource
	Concurrency int           // clusters read at once; default 10
	Timeout     time.Duration // per cluster, all its calls; default 60 s
	PageSize    int64         // items per list call; default 500, as kubectl
	// Policy retries a list call that failed transiently (5xx, 429, a
	// network error) within the cluster's Timeout; its Timeout is unused.
	// Zero: APIRetry.
	Policy gcpclient.Policy
	// Progress, when set, is called after each cluster with the clusters done.
	Progress func(done int)

	once    sync.Once
	loadErr error
	done    atomic.Int64
	mu      sync.Mutex
	calls   map[string]int // list calls by resource
	most    int            // the most list calls one cluster took
}

// APIRetry is the default retry of a cluster's list calls: a control plane
// is one server, not a quota-refilling Google API, so two quick retries.
var APIRetry = gcpclient.Policy{Initial: 250 * time.Millisecond, Max: 2 * time.Second, Attempts: 2}

// Load finds the credentials and gets a first token: without them no
// cluster can be read, which fails the scan rather than every cluster.
func (a *API) Load(ctx context.Context) error {
	a.once.Do(func() {
		if a.TokenSource == nil {
			ts, err := google.DefaultTokenSource(ctx, Scopes...)
			if err != nil {
				a.loadErr = fmt.Errorf("in-cluster checks through the Kubernetes API need Application Default Credentials: %w", err)
				return
			}
			a.TokenSource = ts
		}
		if _, err := a.TokenSource.Token(); err != nil {
			a.loadErr = fmt.Errorf("in-cluster checks through the Kubernetes API: get a token from Application Default Credentials: %w", err)
		}
	})
	return a.loadErr
}

// Parallel is how many clusters the scan may check at once.
func (a *API) Parallel() int { return cmp.Or(a.Concurrency, 10) }

// ruleKinds are the resources each check rule reads.
var ruleKinds = map[string][]string{
	catalog.RuleIPMasqRandomFully:    {"daemonsets", "services"},
	catalog.RuleEphemeralPortRange:   {"pods", "deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs"},
	catalog.RuleNetworkPolicyEndPort: {"networkpolicies"},
}

// listOrder is the order resources are listed in.
var listOrder = []string{"daemonsets", "services", "networkpolicies", "pods", "deployments", "statefulsets", "replicasets", "jobs", "cronjobs"}

// apiError names the Kubernetes API in the scan error of a cluster whose
// objects it did not give.
type apiError struct{ code, msg string }

func (e apiError) Error() string { return e.msg }
func (e apiError) API() string   { return "kubernetes" }
func (e apiError) Code() string  { return e.code }

// Check lists cluster c's objects of the kinds its issues read and decides
// them. A cluster that cannot be reached, or answers an error, is an error
// naming the call: the scan reports UNKNOWN for its issues.
func (a *API) Check(ctx context.Context, c *scanner.Cluster, issues []*catalog.Issue) ([]scanner.CheckResult, bool, error) {
	defer func() {
		if a.Progress != nil {
			a.Progress(int(a.done.Add(1)))
		}
	}()
	if err := a.Load(ctx); err != nil {
		return nil, true, err
	}
	var kinds []string
	for _, is := range issues {
		if is.Kubernetes != nil {
			kinds = append(kinds, ruleKinds[is.Kubernetes.Rule]...)
		}
	}
	if len(kinds) == 0 {
		return nil, false, nil
	}
	cfg, host, err := a.restConfig(c)
	if err != nil {
		return nil, true, err
	}
	cctx, cancel := context.WithTimeout(ctx, cmp.Or(a.Timeout, 60*time.Second))
	defer cancel()
	l, err := newLister(cfg, cmp.Or(a.PageSize, 500), a.Policy)
	if err != nil {
		return nil, true, apiError{"INVALID_ARGUMENT", fmt.Sprintf("client for %s: %v", host, err)}
	}
	var o Objects
	calls := map[string]int{}
	for _, res := range listOrder {
		if !slices.Contains(kinds, res) {
			continue
		}
		err := l.list(cctx, res, &o, func() { calls[res]++ })
		if err != nil {
			a.count(calls)
			if ctx.Err() != nil {
				return nil, true, ctx.Err()
			}
			return nil, true, listError(res, host, err)
		}
	}
	a.count(calls)
	return Decide(issues, &o), true, nil
}

func (a *API) count(calls map[string]int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calls == nil {
		a.calls = map[string]int{}
	}
	n := 0
	for r, c := range calls {
		a.calls[r] += c
		n += c
	}
	a.most = max(a.most, n)
}

// Calls is the list calls made, by resource, and the most that one
// cluster took.
func (a *API) Calls() (byResource map[string]int, perClusterMax int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for r, c := range a.calls {
		out[r] = c
	}
	return out, a.most
}

// CallCounts is the list calls by resource, in listing order.
func (a *API) CallCounts() []scanner.CallCount {
	calls, _ := a.Calls()
	var out []scanner.CallCount
	for _, r := range listOrder {
		if n := calls[r]; n > 0 {
			out = append(out, scanner.CallCount{API: "kubernetes", Type: r, Calls: int64(n)})
		}
	}
	return out
}

// restConfig is how to reach c: the DNS endpoint when external traffic
// may use it, else the endpoint IP trusting the cluster's CA.
func (a *API) restConfig(c *scanner.Cluster) (*rest.Config, string, error) {
	cfg := &rest.Config{
		ContentConfig: rest.ContentConfig{
			ContentType:        "application/vnd.kubernetes.protobuf",
			AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
		},
		UserAgent: "fleetscan",
		QPS:       50,
		Burst:     100,
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return &oauth2.Transport{Source: a.TokenSource, Base: rt}
		},
	}
	switch acc := c.Access; {
	case acc.DNSEndpoint != "":
		cfg.Host = "https://" + acc.DNSEndpoint
	case acc.Endpoint != "":
		ca, err := base64.StdEncoding.DecodeString(acc.CACert)
		if err != nil || !strings.Contains(string(ca), "-----BEGIN CERTIFICATE-----") {
			return nil, "", apiError{"FAILED_PRECONDITION", "the cluster's masterAuth.clusterCaCertificate is not a base64 PEM certificate, so its endpoint " + acc.Endpoint + " cannot be trusted"}
		}
		cfg.Host = "https://" + acc.Endpoint
		cfg.TLSClientConfig = rest.TLSClientConfig{CAData: ca}
	default:
		return nil, "", apiError{"FAILED_PRECONDITION", "the cluster has no Kubernetes API endpoint (neither controlPlaneEndpointsConfig.dnsEndpointConfig with allowExternalTraffic nor endpoint)"}
	}
	return cfg, cfg.Host, nil
}

// listError is a list call's error with the code its scan error carries.
func listError(resource, host string, err error) error {
	code := "UNAVAILABLE"
	var ne net.Error
	switch {
	case apierrors.IsForbidden(err):
		code = "PERMISSION_DENIED"
	case apierrors.IsUnauthorized(err):
		code = "UNAUTHENTICATED"
	case apierrors.IsNotFound(err):
		code = "NOT_FOUND"
	case errors.Is(err, context.DeadlineExceeded), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err),
		errors.As(err, &ne) && ne.Timeout():
		code = "DEADLINE_EXCEEDED"
	}
	return apiError{code, fmt.Sprintf("list %s through %s: %v", resource, host, err)}
}

// transient reports whether a list call may succeed if tried again.
func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false // the cluster's time is spent
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		c := st.Status().Code
		return c >= 500 || c == http.StatusTooManyRequests
	}
	var ne net.Error
	return errors.As(err, &ne) // a reset or refused connection
}

// scheme holds the four API groups the checks read, and no other: the
// typed clientsets of client-go register every group Kubernetes has, which
// was about 30 MB of the function's binary.
var (
	scheme     = runtime.NewScheme()
	codecs     = serializer.NewCodecFactory(scheme)
	paramCodec = runtime.NewParameterCodec(scheme)
)

func init() {
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, networkingv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err) // the groups' own registrations: cannot fail
		}
	}
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
}

// lister lists one cluster's resources with a REST client per group,
// sharing one HTTP client.
type lister struct {
	core, apps, batch, networking *rest.RESTClient
	limit                         int64
	policy                        gcpclient.Policy
}

func newLister(cfg *rest.Config, limit int64, policy gcpclient.Policy) (*lister, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	if policy.Attempts == 0 && policy.Initial == 0 {
		policy = APIRetry
	}
	l := &lister{limit: limit, policy: policy}
	l.policy.Timeout = 0 // the cluster's deadline bounds every try
	group := func(gv schema.GroupVersion, path string) (*rest.RESTClient, error) {
		c := *cfg
		c.GroupVersion, c.APIPath = &gv, path
		c.NegotiatedSerializer = codecs.WithoutConversion()
		return rest.RESTClientForConfigAndClient(&c, hc)
	}
	if l.core, err = group(corev1.SchemeGroupVersion, "/api"); err != nil {
		return nil, err
	}
	if l.apps, err = group(appsv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	if l.batch, err = group(batchv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	if l.networking, err = group(networkingv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	return l, nil
}

// get makes one list call of resource, in every namespace, into list.
func get(ctx context.Context, c *rest.RESTClient, resource string, opts metav1.ListOptions, list runtime.Object) error {
	return c.Get().Resource(resource).VersionedParams(&opts, paramCodec).Do(ctx).Into(list)
}

// list pages through one resource in every namespace into o, calling
// call once per list call.
func (l *lister) list(ctx context.Context, resource string, o *Objects, call func()) error {
	for token := ""; ; {
		opts := metav1.ListOptions{Limit: l.limit, Continue: token}
		var next string
		err := l.policy.Do(ctx, transient, func(ctx context.Context) error {
			call()
			var err error
			next, err = l.page(ctx, resource, opts, o)
			return err
		})
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// page makes one list call and appends its items to o, returning the
// continue token.
func (l *lister) page(ctx context.Context, resource string, opts metav1.ListOptions, o *Objects) (string, error) {
	switch resource {
	case "daemonsets":
		var r appsv1.DaemonSetList
		if err := get(ctx, l.apps, resource, opts, &r); err != nil {
			return "", err
		}
		o.DaemonSets = append(o.DaemonSets, r.Items...)
		return r.Continue, nil
	case "deployments":
		var r appsv1.DeploymentList
		if err := get(ctx, l.apps, resource, opts, &r); err != nil {
			return "", err
		}
		o.Deployments = append(o.Deployments, r.Items...)
		return r.Continue, nil
	case "statefulsets":
		var r appsv1.StatefulSetList
		if err := get(ctx, l.apps, resource, opts, &r); err != nil {
			return "", err
		}
		o.StatefulSets = append(o.StatefulSets, r.Items...)
		return r.Continue, nil
	case "replicasets":
		var r appsv1.ReplicaSetList
		if err := get(ctx, l.apps, resource, opts, &r); err != nil {
			return "", err
		}
		o.ReplicaSets = append(o.ReplicaSets, r.Items...)
		return r.Continue, nil
	case "jobs":
		var r batchv1.JobList
		if err := get(ctx, l.batch, resource, opts, &r); err != nil {
			return "", err
		}
		o.Jobs = append(o.Jobs, r.Items...)
		return r.Continue, nil
	case "cronjobs":
		var r batchv1.CronJobList
		if err := get(ctx, l.batch, resource, opts, &r); err != nil {
			return "", err
		}
		o.CronJobs = append(o.CronJobs, r.Items...)
		return r.Continue, nil
	case "pods":
		var r corev1.PodList
		if err := get(ctx, l.core, resource, opts, &r); err != nil {
			return "", err
		}
		o.Pods = append(o.Pods, r.Items...)
		return r.Continue, nil
	case "services":
		var r corev1.ServiceList
		if err := get(ctx, l.core, resource, opts, &r); err != nil {
			return "", err
		}
		o.Services = append(o.Services, r.Items...)
		return r.Continue, nil
	case "networkpolicies":
		var r networkingv1.NetworkPolicyList
		if err := get(ctx, l.networking, resource, opts, &r); err != nil {
			return "", err
		}
		o.NetworkPolicies = append(o.NetworkPolicies, r.Items...)
		return r.Continue, nil
	}
	return "", fmt.Errorf("no lister for %s", resource) // a programming error
}
