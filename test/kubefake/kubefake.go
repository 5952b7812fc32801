// Package kubefake is an in-process fake of the Kubernetes API servers of
// many GKE clusters, serving the objects of [fleetgen.Fleet.Kube] so that
// the real k8s.io/client-go clientset and the real kubectl can list them
// without a network or credentials. [Start] opens one TLS listener per
// cluster on 127.0.0.1, all served by one http.Server that tells the
// clusters apart by the local address a request came in on;
// [Server.Attach] points a fleet's clusters at them, as GKE's
// Cluster.endpoint and masterAuth.clusterCaCertificate do, and
// [Server.WriteKubeconfig] writes the kubeconfig that `gcloud container
// clusters get-credentials` would.
//
// Each cluster serves, over HTTP/1.1 or HTTP/2, to a caller with a bearer
// token ([Options.Token]):
//
//   - Legacy discovery: /version (GKE v1.31.5-gke.1000), /api, /api/v1,
//     /apis, /apis/apps/v1, /apis/batch/v1 and /apis/networking.k8s.io/v1,
//     always as plain application/json. A client that asks for aggregated
//     discovery (apidiscovery.k8s.io/v2) first, as kubectl and client-go
//     do, sees that the answer is not aggregated and reads it as legacy
//     discovery, as it does from an API server older than 1.26.
//   - GET lists of pods, services and namespaces (v1), daemonsets,
//     deployments, statefulsets and replicasets (apps/v1), jobs and
//     cronjobs (batch/v1) and networkpolicies (networking.k8s.io/v1),
//     across all namespaces (/api/v1/pods) or in one
//     (/api/v1/namespaces/NS/pods); the items are the cluster's objects of
//     that kind (KubeObject.Kind), sorted by namespace then name.
//     Namespaces are listed only if given as objects of kind Namespace.
//   - GET of one object by name (/apis/apps/v1/namespaces/NS/daemonsets/N),
//     404 NotFound as `daemonsets.apps "N" not found` when there is none.
//     Gets are neither counted nor faulted.
//   - Paging as the API server does it: limit=N returns at most N items, a
//     metadata.continue token and metadata.remainingItemCount while more
//     remain; continue=TOKEN resumes. Tokens are opaque (base64url JSON of
//     the list's resource, namespace, resourceVersion and offset): a
//     malformed token, or one of another list, is 400 BadRequest, and one
//     of another resourceVersion (another cluster's) is 410 Expired, with
//     the API server's messages. A continue with a resourceVersion other
//     than "" or "0" is 400, as on the API server. Every list carries
//     metadata.resourceVersion, the largest metadata.resourceVersion of the
//     cluster's objects (the objects never change).
//   - Content negotiation: a request whose Accept names
//     application/vnd.kubernetes.protobuf (without an as= parameter)
//     before any JSON type is answered in protobuf, the page's items being
//     decoded from their JSON into the typed objects (appsv1.DaemonSet, …)
//     only then; any other is answered in JSON, the List built around the
//     objects' JSON as given (items keep their apiVersion and kind). Errors
//     are always a JSON metav1.Status (kind Status, code, reason, message).
//   - Faults ([Server.SetFault]) on the list calls of one cluster: a status
//     code answered as the API server words it (403 Forbidden as RBAC
//     denies a list, 500 InternalError, 503 ServiceUnavailable, 429
//     TooManyRequests with Retry-After: 1, which client-go retries by
//     itself, …), a delay that ends as soon as the client gives up, and a
//     number of calls they apply to.
//   - Costs and counts: [Options.Latency] before every answer, list calls
//     counted per cluster ([Server.Calls]), per resource
//     ([Server.CallsByResource]) and in all ([Server.TotalCalls]),
//     discovery calls apart ([Server.DiscoveryCalls]). Requests refused for
//     their token are not counted.
//
// The fake does not support, and answers with an error rather than
// silently ignoring: watch (405 MethodNotAllowed), labelSelector and
// fieldSelector (400 BadRequest), any method but GET (405), and
// subresources, OpenAPI documents, health checks and any other path or
// resource (404 NotFound, "the server could not find the requested
// resource"). It never answers in the aggregated discovery form, nor as a
// Table or PartialObjectMetadataList: a client asking for those gets the
// plain form (kubectl then prints the objects itself, as it does for a
// server without Table support).
// Other query parameters (resourceVersion, resourceVersionMatch,
// timeoutSeconds, …) are accepted and have no effect, since nothing ever
// changes.
//
// The server holds each object's JSON as given, without copying it: the
// caller must not change the objects while it runs.
package kubefake

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/test/fleetgen"
)

// Options configure authentication and latency.
type Options struct {
	// Token is the bearer token every request must carry: a request
	// without one, or with another, is answered 401 Unauthorized (a Status
	// of reason Unauthorized). Empty accepts any bearer token, but one must
	// be present.
	Token string
	// Latency is slept before answering every request, discovery included
	// (benchmarks use 20ms). It ends early if the client gives up.
	Latency time.Duration
}

// Fault is an error or a delay injected into the list calls of one
// cluster ([Server.SetFault]). The zero Fault injects nothing.
type Fault struct {
	// Code is the HTTP status the list calls are answered with, as a
	// metav1.Status worded as the API server words it: 403 Forbidden
	// (`daemonsets.apps is forbidden: User
	// "fleetscan@p.iam.gserviceaccount.com" cannot list resource
	// "daemonsets" in API group "apps" at the cluster scope`, or `in the
	// namespace "NS"`), 401 Unauthorized, 404 NotFound, 410 Expired, 429
	// TooManyRequests (with Retry-After: 1, so client-go retries it), 500
	// InternalError, 503 ServiceUnavailable, 504 Timeout, or any other
	// 4xx/5xx with the reason client-go gives it. 0 answers normally (after
	// Delay).
	Code int
	// Delay is slept before answering (after Options.Latency), to make the
	// client time out. It ends as soon as the client cancels the request
	// or the server closes, and then nothing is answered.
	Delay time.Duration
	// Times is how many list calls the fault applies to, from when it is
	// set; 0 is every call.
	Times int
}

// User is the user named in the message of an injected 403.
const User = "fleetscan@p.iam.gserviceaccount.com"

// GitVersion is the Kubernetes version every cluster reports at /version.
const GitVersion = "v1.31.5-gke.1000"

// DefaultToken is the token WriteKubeconfig gives the users when
// Options.Token is empty.
const DefaultToken = "fake-token"

// Server is a running fake of many clusters' API servers. Its methods are
// safe for concurrent use.
type Server struct {
	opt      Options
	certPEM  []byte
	srv      *http.Server
	keys     []string            // sorted
	clusters map[string]*cluster // by key
	byAddr   map[string]*cluster // by "127.0.0.1:PORT"

	total     atomic.Int64
	discovery atomic.Int64
	byRes     [len(resources)]atomic.Int64
	inflight  atomic.Int64 // handlers running, for tests
	// protobuf and json count the objects and lists answered in each.
	protobuf, json atomic.Int64
	// onRequest, if set, sees each request once authorized, for tests.
	onRequest atomic.Pointer[func(*http.Request)]

	mu       sync.RWMutex // guards closed against handlers.Add
	closed   bool
	done     chan struct{} // closed by Close: ends every sleep
	handlers sync.WaitGroup
	serving  sync.WaitGroup

	closeOnce sync.Once
}

// cluster is one cluster's listener and objects.
type cluster struct {
	key     string // PROJECT/LOCATION/CLUSTER
	context string // gke_PROJECT_LOCATION_CLUSTER
	lis     net.Listener
	addr    string
	objects [len(resources)][]object // sorted by namespace, name
	api     []byte                   // the /api document, which names addr

	calls atomic.Int64

	rvOnce sync.Once
	rv     string

	mu      sync.Mutex
	fault   Fault
	faulted int // list calls fault applied to since it was set
}

// object is one object as served: its JSON as given.
type object struct {
	namespace, name string
	json            []byte
}

// resource is one resource that the clusters serve.
type resource struct {
	group, version       string
	name, singular, kind string
	namespaced           bool
	shortNames           []string
	categories           []string
}

var all = []string{"all"}

// resources are the resources served, in discovery order within a group.
var resources = [...]resource{
	{"", "v1", "namespaces", "namespace", "Namespace", false, []string{"ns"}, nil},
	{"", "v1", "pods", "pod", "Pod", true, []string{"po"}, all},
	{"", "v1", "services", "service", "Service", true, []string{"svc"}, all},
	{"apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, []string{"ds"}, all},
	{"apps", "v1", "deployments", "deployment", "Deployment", true, []string{"deploy"}, all},
	{"apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, []string{"rs"}, all},
	{"apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, []string{"sts"}, all},
	{"batch", "v1", "cronjobs", "cronjob", "CronJob", true, []string{"cj"}, all},
	{"batch", "v1", "jobs", "job", "Job", true, nil, all},
	{"networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true, []string{"netpol"}, nil},
}

// groupVersions are the group versions served, core first.
var groupVersions = []string{"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1"}

func (r *resource) groupVersion() string {
	if r.group == "" {
		return r.version
	}
	return r.group + "/" + r.version
}

func (r *resource) groupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.group, Resource: r.name}
}

// Indexes of resources by kind and by "GROUPVERSION/NAME".
var (
	resourceByKind = map[string]int{}
	resourceByPath = map[string]int{}
)

func init() {
	for i, r := range resources {
		resourceByKind[r.kind] = i
		resourceByPath[r.groupVersion()+"/"+r.name] = i
	}
}

// Discovery documents that are the same for every cluster.
var (
	versionDoc  = mustJSON(versionInfo())
	apisDoc     = mustJSON(apiGroupList())
	resourceDoc = map[string][]byte{} // by group version
)

func init() {
	for _, gv := range groupVersions {
		resourceDoc[gv] = mustJSON(apiResourceList(gv))
	}
}

func versionInfo() version.Info {
	return version.Info{
		Major:        "1",
		Minor:        "31",
		GitVersion:   GitVersion,
		GitCommit:    "5d7d3f1b8a1e0c8b9f6e2a4c3d1b0a9e8f7c6d5b",
		GitTreeState: "clean",
		BuildDate:    "2025-01-14T09:27:51Z",
		GoVersion:    "go1.22.10 X:boringcrypto",
		Compiler:     "gc",
		Platform:     "linux/amd64",
	}
}

func apiGroupList() *metav1.APIGroupList {
	l := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, gv := range groupVersions[1:] {
		group, v, _ := strings.Cut(gv, "/")
		gvd := metav1.GroupVersionForDiscovery{GroupVersion: gv, Version: v}
		l.Groups = append(l.Groups, metav1.APIGroup{Name: group, Versions: []metav1.GroupVersionForDiscovery{gvd}, PreferredVersion: gvd})
	}
	return l
}

func apiResourceList(gv string) *metav1.APIResourceList {
	l := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv}
	if gv == "v1" {
		l.APIVersion = "" // the API server leaves it out of /api/v1
	}
	for _, r := range resources {
		if r.groupVersion() != gv {
			continue
		}
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name:         r.name,
			SingularName: r.singular,
			Namespaced:   r.namespaced,
			Kind:         r.kind,
			Verbs:        metav1.Verbs{"get", "list", "watch"},
			ShortNames:   r.shortNames,
			Categories:   r.categories,
		})
	}
	return l
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Start serves objects, each cluster's by its "PROJECT/LOCATION/CLUSTER"
// key as in [fleetgen.Fleet.Kube], with one TLS listener per cluster on
// 127.0.0.1:0. All share one self-signed ECDSA certificate for 127.0.0.1
// (and localhost), which is its own CA ([Server.CACert]), and one
// http.Server. A key with no objects is a cluster with none.
//
// Every object must be of a kind the fake serves, with that kind's
// apiVersion, a name, a namespace if the kind is namespaced and none if
// not, and JSON; no two objects of a cluster may have the same kind,
// namespace and name. Its JSON is served as given and not checked here.
func Start(objects map[string][]fleetgen.KubeObject, opt Options) (*Server, error) {
	if len(objects) == 0 {
		return nil, errors.New("kubefake: no clusters: objects is empty")
	}
	if opt.Latency < 0 {
		return nil, fmt.Errorf("kubefake: negative Latency %v", opt.Latency)
	}
	s := &Server{
		opt:      opt,
		clusters: make(map[string]*cluster, len(objects)),
		byAddr:   make(map[string]*cluster, len(objects)),
		done:     make(chan struct{}),
	}
	for key, objs := range objects {
		c, err := newCluster(key, objs)
		if err != nil {
			return nil, err
		}
		s.clusters[key] = c
		s.keys = append(s.keys, key)
	}
	slices.Sort(s.keys)
	cert, certPEM, err := selfSigned()
	if err != nil {
		return nil, fmt.Errorf("kubefake: certificate: %w", err)
	}
	s.certPEM = certPEM
	for _, key := range s.keys {
		c := s.clusters[key]
		if c.lis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			for _, c := range s.clusters {
				if c.lis != nil {
					_ = c.lis.Close()
				}
			}
			return nil, fmt.Errorf("kubefake: listening for cluster %s: %w", key, err)
		}
		c.addr = c.lis.Addr().String()
		c.api = mustJSON(&metav1.APIVersions{
			TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
			Versions:                   []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: c.addr}},
		})
		s.byAddr[c.addr] = c
	}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(s.serve),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		},
		ReadHeaderTimeout: time.Minute,
		// Clients that hang up mid-handshake are not the test's business.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	for _, key := range s.keys {
		lis := s.clusters[key].lis
		s.serving.Go(func() { _ = s.srv.ServeTLS(lis, "", "") })
	}
	return s, nil
}

// newCluster checks and indexes one cluster's objects.
func newCluster(key string, objs []fleetgen.KubeObject) (*cluster, error) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return nil, fmt.Errorf("kubefake: cluster key %q is not PROJECT/LOCATION/CLUSTER", key)
	}
	c := &cluster{key: key, context: kube.ContextName(scanner.ClusterKey{ProjectID: parts[0], Location: parts[1], Name: parts[2]})}
	for _, o := range objs {
		i, ok := resourceByKind[o.Kind]
		if !ok {
			return nil, fmt.Errorf("kubefake: cluster %s: %s %s/%s: kubefake does not serve kind %q (it serves %s)", key, o.APIVersion, o.Namespace, o.Name, o.Kind, kindList())
		}
		r := &resources[i]
		switch {
		case o.APIVersion != r.groupVersion():
			return nil, fmt.Errorf("kubefake: cluster %s: %s %s/%s has apiVersion %q, want %q", key, o.Kind, o.Namespace, o.Name, o.APIVersion, r.groupVersion())
		case o.Name == "":
			return nil, fmt.Errorf("kubefake: cluster %s: a %s in namespace %q has no name", key, o.Kind, o.Namespace)
		case r.namespaced && o.Namespace == "":
			return nil, fmt.Errorf("kubefake: cluster %s: %s %s has no namespace", key, o.Kind, o.Name)
		case !r.namespaced && o.Namespace != "":
			return nil, fmt.Errorf("kubefake: cluster %s: %s %s has namespace %q but is cluster-scoped", key, o.Kind, o.Name, o.Namespace)
		case len(o.JSON) == 0:
			return nil, fmt.Errorf("kubefake: cluster %s: %s %s/%s has no JSON", key, o.Kind, o.Namespace, o.Name)
		}
		c.objects[i] = append(c.objects[i], object{namespace: o.Namespace, name: o.Name, json: o.JSON})
	}
	for i := range c.objects {
		objs := c.objects[i]
		slices.SortFunc(objs, compareObjects)
		for j := 1; j < len(objs); j++ {
			if compareObjects(objs[j-1], objs[j]) == 0 {
				return nil, fmt.Errorf("kubefake: cluster %s: two %ss %s/%s", key, resources[i].kind, objs[j].namespace, objs[j].name)
			}
		}
	}
	return c, nil
}

func compareObjects(a, b object) int {
	return cmp.Or(strings.Compare(a.namespace, b.namespace), strings.Compare(a.name, b.name))
}

func kindList() string {
	kinds := make([]string, len(resources))
	for i, r := range resources {
		kinds[i] = r.kind
	}
	return strings.Join(kinds, ", ")
}

// selfSigned makes an ECDSA P-256 certificate for 127.0.0.1 and
// localhost that is its own CA.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kubefake", Organization: []string{"kubefake"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, certPEM, nil
}

// Close stops the server: it closes the listeners and connections, ends
// every latency and delay under way, and returns once every handler has
// returned.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)
		_ = s.srv.Close()
		for _, c := range s.clusters {
			_ = c.lis.Close() // in case its Serve had not started
		}
		s.serving.Wait()
		s.handlers.Wait()
	})
}

// Endpoint is the "127.0.0.1:PORT" of the cluster of key, what GKE's
// Cluster.endpoint holds plus the port, or "" if there is no such cluster.
func (s *Server) Endpoint(key string) string {
	if c, ok := s.clusters[key]; ok {
		return c.addr
	}
	return ""
}

// CACert is the base64 of the PEM certificate that every cluster serves,
// as GKE's masterAuth.clusterCaCertificate holds it.
func (s *Server) CACert() string {
	return base64.StdEncoding.EncodeToString(s.certPEM)
}

// CAPEM is the PEM certificate that every cluster serves, for
// rest.TLSClientConfig.CAData.
func (s *Server) CAPEM() []byte {
	return slices.Clone(s.certPEM)
}

// Attach points every cluster of f that the server serves at it: it sets
// the cluster's Endpoint to [Server.Endpoint] and its
// MasterAuth.ClusterCaCertificate to [Server.CACert] (creating MasterAuth
// if need be), leaving the rest as it was. Call it before f is served or
// read elsewhere.
func (s *Server) Attach(f *fleetgen.Fleet) {
	ca := s.CACert()
	for _, c := range f.Clusters {
		kc, ok := s.clusters[fleetgen.KubeKey(c)]
		if !ok {
			continue
		}
		c.Endpoint = kc.addr
		if c.MasterAuth == nil {
			c.MasterAuth = &containerpb.MasterAuth{}
		}
		c.MasterAuth.ClusterCaCertificate = ca
	}
}

// WriteKubeconfig writes to path (mode 0600) a kubeconfig with one
// cluster, user and context per cluster, each named
// gke_PROJECT_LOCATION_CLUSTER as by `gcloud container clusters
// get-credentials`: the cluster's server is https://127.0.0.1:PORT with the
// certificate as certificate-authority-data, the user's token is
// Options.Token (or [DefaultToken] if empty), and the current context is
// the first cluster's by key.
func (s *Server) WriteKubeconfig(path string) error {
	token := cmp.Or(s.opt.Token, DefaultToken)
	ca := s.CACert()
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nkind: Config\npreferences: {}\n")
	fmt.Fprintf(&b, "current-context: %s\n", yamlString(s.clusters[s.keys[0]].context))
	b.WriteString("clusters:\n")
	for _, key := range s.keys {
		c := s.clusters[key]
		fmt.Fprintf(&b, "- name: %s\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n", yamlString(c.context), yamlString("https://"+c.addr), ca)
	}
	b.WriteString("contexts:\n")
	for _, key := range s.keys {
		c := s.clusters[key]
		fmt.Fprintf(&b, "- name: %s\n  context:\n    cluster: %s\n    user: %s\n", yamlString(c.context), yamlString(c.context), yamlString(c.context))
	}
	b.WriteString("users:\n")
	for _, key := range s.keys {
		fmt.Fprintf(&b, "- name: %s\n  user:\n    token: %s\n", yamlString(s.clusters[key].context), yamlString(token))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("kubefake: kubeconfig: %w", err)
	}
	return nil
}

// yamlString quotes s as a YAML double-quoted scalar (a JSON string is
// one).
func yamlString(s string) string {
	return string(mustJSON(s))
}

// SetFault injects f into the list calls of the cluster of key from now
// on, replacing the fault set before (the zero Fault removes it).
// Discovery and gets are never faulted. It panics if there is no such
// cluster, or if f's Code is neither 0 nor 400..599, or its Delay or Times
// is negative.
func (s *Server) SetFault(key string, f Fault) {
	c, ok := s.clusters[key]
	switch {
	case !ok:
		panic(fmt.Sprintf("kubefake: SetFault: no cluster %q", key))
	case f.Code != 0 && (f.Code < 400 || f.Code > 599):
		panic(fmt.Sprintf("kubefake: SetFault(%q): Code %d is no HTTP error status (400..599), nor 0", key, f.Code))
	case f.Delay < 0 || f.Times < 0:
		panic(fmt.Sprintf("kubefake: SetFault(%q): negative Delay %v or Times %d", key, f.Delay, f.Times))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fault, c.faulted = f, 0
}

// takeFault returns the fault the next list call gets, if any.
func (c *cluster) takeFault() (Fault, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.fault
	if f == (Fault{}) || (f.Times > 0 && c.faulted >= f.Times) {
		return Fault{}, false
	}
	c.faulted++
	return f, true
}

// Calls is the number of list calls that the cluster of key got, of every
// resource, faulted ones included (0 for an unknown key).
func (s *Server) Calls(key string) int {
	if c, ok := s.clusters[key]; ok {
		return int(c.calls.Load())
	}
	return 0
}

// Answers counts the objects and lists answered in protobuf and in JSON.
func (s *Server) Answers() (protobuf, json int) {
	return int(s.protobuf.Load()), int(s.json.Load())
}

// CallsByResource is the number of list calls of each resource that was
// listed ("daemonsets", "pods", …), of all clusters, faulted ones
// included.
func (s *Server) CallsByResource() map[string]int {
	m := map[string]int{}
	for i := range resources {
		if n := s.byRes[i].Load(); n > 0 {
			m[resources[i].name] = int(n)
		}
	}
	return m
}

// TotalCalls is the number of list calls of all clusters, faulted ones
// included, discovery not.
func (s *Server) TotalCalls() int { return int(s.total.Load()) }

// DiscoveryCalls is the number of discovery calls (/version, /api, /apis
// and the group versions under them) of all clusters.
func (s *Server) DiscoveryCalls() int { return int(s.discovery.Load()) }

// enter registers a handler, unless the server is closed.
func (s *Server) enter() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false
	}
	s.handlers.Add(1)
	s.inflight.Add(1)
	return true
}

func (s *Server) leave() {
	s.inflight.Add(-1)
	s.handlers.Done()
}

// sleep sleeps d, and reports false if the request or the server ended
// first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

// authorized reports whether r carries the bearer token.
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	return s.opt.Token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.opt.Token)) == 1
}

// serve answers one request to one of the clusters.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		writeStatus(w, apierrors.NewServiceUnavailable("kubefake: the server is closed"))
		return
	}
	defer s.leave()
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	var c *cluster
	if addr != nil {
		c = s.byAddr[addr.String()]
	}
	if c == nil {
		writeStatus(w, apierrors.NewInternalError(fmt.Errorf("kubefake: no cluster listens on %v", addr)))
		return
	}
	if !s.sleep(r.Context(), s.opt.Latency) {
		return
	}
	if !s.authorized(r) {
		writeStatus(w, apierrors.NewUnauthorized("Unauthorized"))
		return
	}
	if f := s.onRequest.Load(); f != nil {
		(*f)(r)
	}
	if r.Method != http.MethodGet {
		writeStatus(w, apierrors.NewGenericServerResponse(http.StatusMethodNotAllowed, r.Method, schema.GroupResource{}, "", "", 0, false))
		return
	}
	path := r.URL.Path
	switch strings.TrimSuffix(path, "/") {
	case "/version":
		s.discovered(w, versionDoc)
		return
	case "/api":
		s.discovered(w, c.api)
		return
	case "/apis":
		s.discovered(w, apisDoc)
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if slices.Contains(parts, "") {
		writeStatus(w, notFound())
		return
	}
	var gv string
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		gv, parts = parts[1], parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		gv, parts = parts[1]+"/"+parts[2], parts[3:]
	default:
		writeStatus(w, notFound())
		return
	}
	if len(parts) == 0 {
		if doc, ok := resourceDoc[gv]; ok {
			s.discovered(w, doc)
			return
		}
		writeStatus(w, notFound())
		return
	}
	// RES, RES/NAME, namespaces/NS/RES or namespaces/NS/RES/NAME.
	var ns, name string
	if parts[0] == "namespaces" && len(parts) >= 3 {
		ns, parts = parts[1], parts[2:]
	}
	if len(parts) == 2 {
		name = parts[1]
	}
	ri, ok := resourceByPath[gv+"/"+parts[0]]
	if !ok || len(parts) > 2 || (ns != "" && !resources[ri].namespaced) || (ns == "" && name != "" && resources[ri].namespaced) {
		writeStatus(w, notFound())
		return
	}
	if name != "" {
		s.get(w, r, c, ri, ns, name)
		return
	}
	s.list(w, r, c, ri, ns)
}

func notFound() *apierrors.StatusError {
	return apierrors.NewGenericServerResponse(http.StatusNotFound, "", schema.GroupResource{}, "", "", 0, false)
}

// discovered answers a discovery document.
func (s *Server) discovered(w http.ResponseWriter, doc []byte) {
	s.discovery.Add(1)
	write(w, "application/json", doc)
}

// list answers a list call of resources[ri], in namespace ns or all.
func (s *Server) list(w http.ResponseWriter, r *http.Request, c *cluster, ri int, ns string) {
	res := &resources[ri]
	c.calls.Add(1)
	s.byRes[ri].Add(1)
	s.total.Add(1)
	if f, ok := c.takeFault(); ok {
		if !s.sleep(r.Context(), f.Delay) {
			return
		}
		if f.Code != 0 {
			writeStatus(w, faultError(f.Code, res, ns))
			return
		}
	}
	q := r.URL.Query()
	if isTrue(q.Get("watch")) {
		writeStatus(w, apierrors.NewMethodNotSupported(res.groupResource(), "watch"))
		return
	}
	for _, p := range []string{"labelSelector", "fieldSelector"} {
		if q.Get(p) != "" {
			writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("kubefake does not support %s (%s=%q)", p, p, q.Get(p))))
			return
		}
	}
	limit := int64(0)
	if v := q.Get("limit"); v != "" {
		var err error
		if limit, err = strconv.ParseInt(v, 10, 64); err != nil {
			writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("limit: %v", err)))
			return
		}
	}
	items := c.objects[ri]
	if ns != "" {
		lo, _ := slices.BinarySearchFunc(items, ns, func(o object, ns string) int { return strings.Compare(o.namespace, ns) })
		hi := lo
		for hi < len(items) && items[hi].namespace == ns {
			hi++
		}
		items = items[lo:hi]
	}
	rv := c.resourceVersion()
	off := 0
	if tok := q.Get("continue"); tok != "" {
		if v := q.Get("resourceVersion"); v != "" && v != "0" {
			writeStatus(w, apierrors.NewBadRequest("specifying resource version is not allowed when using continue"))
			return
		}
		var serr *apierrors.StatusError
		if off, serr = decodeContinue(tok, res, ns, rv, len(items)); serr != nil {
			writeStatus(w, serr)
			return
		}
	}
	end := len(items)
	if limit > 0 && int64(end-off) > limit {
		end = off + int(limit)
	}
	var b bytes.Buffer
	size := 160
	for _, o := range items[off:end] {
		size += len(o.json) + 1
	}
	b.Grow(size)
	b.WriteString(`{"kind":"`)
	b.WriteString(res.kind)
	b.WriteString(`List","apiVersion":"`)
	b.WriteString(res.groupVersion())
	b.WriteString(`","metadata":{"resourceVersion":"`)
	b.WriteString(rv)
	b.WriteByte('"')
	if end < len(items) {
		b.WriteString(`,"continue":"`)
		b.WriteString(encodeContinue(res, ns, rv, end))
		b.WriteString(`","remainingItemCount":`)
		b.WriteString(strconv.Itoa(len(items) - end))
	}
	b.WriteString(`},"items":[`)
	for i, o := range items[off:end] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(o.json)
	}
	b.WriteString("]}")
	s.answer(w, r, res.groupVersion(), res.kind+"List", b.Bytes())
}

// get answers a get of one object of resources[ri].
func (s *Server) get(w http.ResponseWriter, r *http.Request, c *cluster, ri int, ns, name string) {
	res := &resources[ri]
	items := c.objects[ri]
	i, ok := slices.BinarySearchFunc(items, object{namespace: ns, name: name}, compareObjects)
	if !ok {
		writeStatus(w, apierrors.NewNotFound(res.groupResource(), name))
		return
	}
	s.answer(w, r, res.groupVersion(), res.kind, items[i].json)
}

// answer writes body, the JSON of an object of kind in gv, in JSON or, if
// r asks for it, in protobuf.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, gv, kind string, body []byte) {
	if !wantsProtobuf(r.Header.Values("Accept")) {
		s.json.Add(1)
		write(w, "application/json", body)
		return
	}
	s.protobuf.Add(1)
	pb, err := toProtobuf(body, gv, kind)
	if err != nil {
		writeStatus(w, apierrors.NewInternalError(err))
		return
	}
	write(w, runtime.ContentTypeProtobuf, pb)
}

var protoCodec = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)

// toProtobuf decodes body, the JSON of an object of kind in gv, into its
// typed object (as the API machinery decodes JSON: case-sensitive keys,
// unknown fields ignored) and encodes that as the API server does in
// protobuf.
func toProtobuf(body []byte, gv, kind string) ([]byte, error) {
	gvk := schema.FromAPIVersionAndKind(gv, kind)
	obj, err := scheme.Scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("kubefake: %w", err)
	}
	if err := utiljson.Unmarshal(body, obj); err != nil {
		return nil, fmt.Errorf("kubefake: decoding a %s from JSON: %w", kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	var b bytes.Buffer
	if err := protoCodec.Encode(obj, &b); err != nil {
		return nil, fmt.Errorf("kubefake: encoding a %s in protobuf: %w", kind, err)
	}
	return b.Bytes(), nil
}

// wantsProtobuf reports whether the Accept header values name protobuf
// (for the object itself, not as=Table or such) before any JSON or
// wildcard type.
func wantsProtobuf(accept []string) bool {
	for _, v := range accept {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || params["as"] != "" {
				continue
			}
			switch mt {
			case runtime.ContentTypeProtobuf:
				return true
			case runtime.ContentTypeJSON, "*/*", "application/*":
				return false
			}
		}
	}
	return false
}

func isTrue(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

func write(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeStatus answers err as a JSON metav1.Status.
func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	st := err.ErrStatus
	st.Kind, st.APIVersion = "Status", "v1"
	b := mustJSON(&st)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-cache, private")
	if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		h.Set("Retry-After", strconv.Itoa(int(st.Details.RetryAfterSeconds)))
	}
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(b)
}

// faultError is the error an injected code answers a list of res in ns
// (or all namespaces) with, worded as the API server words it.
func faultError(code int, res *resource, ns string) *apierrors.StatusError {
	gr := res.groupResource()
	switch code {
	case http.StatusUnauthorized:
		return apierrors.NewUnauthorized("Unauthorized")
	case http.StatusForbidden:
		scope := "at the cluster scope"
		if ns != "" {
			scope = fmt.Sprintf("in the namespace %q", ns)
		}
		//lint:ignore ST1005 the API server's RBAC message starts with "User"
		return apierrors.NewForbidden(gr, "", fmt.Errorf("User %q cannot list resource %q in API group %q %s", User, res.name, res.group, scope))
	case http.StatusGone:
		return apierrors.NewResourceExpired(expiredMessage)
	case http.StatusTooManyRequests:
		return apierrors.NewTooManyRequests("Too many requests, please try again later.", 1)
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(errors.New("kubefake: injected fault"))
	case http.StatusServiceUnavailable:
		return apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
	case http.StatusGatewayTimeout:
		return apierrors.NewTimeoutError("the server was unable to return a response in the time allotted, but may still be processing the request", 0)
	}
	return apierrors.NewGenericServerResponse(code, "list", gr, "", "kubefake: injected fault", 0, false)
}

const expiredMessage = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."

// continueToken is what a continue token encodes.
type continueToken struct {
	V        string `json:"v"`
	Resource string `json:"resource"` // GROUPVERSION/NAME
	NS       string `json:"ns,omitempty"`
	RV       string `json:"rv"`
	Offset   int    `json:"offset"`
}

const tokenVersion = "kubefake/v1"

func encodeContinue(res *resource, ns, rv string, offset int) string {
	return base64.RawURLEncoding.EncodeToString(mustJSON(continueToken{V: tokenVersion, Resource: res.groupVersion() + "/" + res.name, NS: ns, RV: rv, Offset: offset}))
}

// decodeContinue returns the offset that tok resumes a list of n items of
// res in ns at, if it is a token of that list at resourceVersion rv.
func decodeContinue(tok string, res *resource, ns, rv string, n int) (int, *apierrors.StatusError) {
	invalid := func(format string, args ...any) (int, *apierrors.StatusError) {
		return 0, apierrors.NewBadRequest("invalid continue token: " + fmt.Sprintf(format, args...))
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return invalid("continue key is not valid: %v", err)
	}
	var t continueToken
	if err := json.Unmarshal(b, &t); err != nil {
		return invalid("continue key is not valid: %v", err)
	}
	if t.V != tokenVersion {
		return invalid("continue key is not valid: server does not recognize this encoded version %q", t.V)
	}
	if want := res.groupVersion() + "/" + res.name; t.Resource != want || t.NS != ns {
		return invalid("continue key is not valid: it continues a list of %s in namespace %q, not of %s in namespace %q", t.Resource, t.NS, want, ns)
	}
	if t.RV != rv {
		return 0, apierrors.NewResourceExpired(expiredMessage)
	}
	if t.Offset <= 0 || t.Offset > n {
		return invalid("continue key is not valid: offset %d is outside 1..%d", t.Offset, n)
	}
	return t.Offset, nil
}

// resourceVersion is the cluster's resourceVersion: the largest
// metadata.resourceVersion of its objects, or "1".
func (c *cluster) resourceVersion() string {
	c.rvOnce.Do(func() {
		var top uint64 = 1
		for i := range c.objects {
			for _, o := range c.objects[i] {
				if v := objectRV(o.json); v > top {
					top = v
				}
			}
		}
		c.rv = strconv.FormatUint(top, 10)
	})
	return c.rv
}

// objectRV finds the metadata.resourceVersion of an object's compact JSON
// without decoding it: the first "resourceVersion":"N" (those of
// annotations are escaped), or 0.
func objectRV(b []byte) uint64 {
	const k = `"resourceVersion":"`
	i := bytes.Index(b, []byte(k))
	if i < 0 {
		return 0
	}
	rest := b[i+len(k):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return 0
	}
	v, err := strconv.ParseUint(string(rest[:j]), 10, 64)
	if err != nil {
		return 0
	}
	return v
}
