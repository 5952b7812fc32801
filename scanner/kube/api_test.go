package kube

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/fleetscan/fleetscan/scanner"
)

const testPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

// The DNS endpoint is used when the cluster allows external traffic to
// it; else the endpoint IP with the cluster's CA; a cluster with neither,
// or a CA that is not a PEM certificate, cannot be read, saying why.
func TestRestConfig(t *testing.T) {
	ca := base64.StdEncoding.EncodeToString([]byte(testPEM))
	tests := []struct {
		name     string
		access   scanner.Access
		wantHost string
		wantCA   bool
		wantErr  string
	}{
		{"dns endpoint first", scanner.Access{DNSEndpoint: "gke-1.europe-west1.gke.goog", Endpoint: "34.1.2.3", CACert: ca}, "https://gke-1.europe-west1.gke.goog", false, ""},
		{"ip endpoint with ca", scanner.Access{Endpoint: "34.1.2.3", CACert: ca}, "https://34.1.2.3", true, ""},
		{"ca not base64", scanner.Access{Endpoint: "34.1.2.3", CACert: "%%%"}, "", false,
			"FAILED_PRECONDITION: the cluster's masterAuth.clusterCaCertificate is not a base64 PEM certificate, so its endpoint 34.1.2.3 cannot be trusted"},
		{"ca not pem", scanner.Access{Endpoint: "34.1.2.3", CACert: base64.StdEncoding.EncodeToString([]byte("hello"))}, "", false,
			"FAILED_PRECONDITION: the cluster's masterAuth.clusterCaCertificate is not a base64 PEM certificate, so its endpoint 34.1.2.3 cannot be trusted"},
		{"no endpoint", scanner.Access{}, "", false,
			"FAILED_PRECONDITION: the cluster has no Kubernetes API endpoint (neither controlPlaneEndpointsConfig.dnsEndpointConfig with allowExternalTraffic nor endpoint)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, host, err := (&API{}).restConfig(&scanner.Cluster{Access: tc.access})
			if tc.wantErr != "" {
				var e apiError
				if err == nil || !errors.As(err, &e) || e.Code()+": "+e.Error() != tc.wantErr || e.API() != "kubernetes" {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if host != tc.wantHost || cfg.Host != tc.wantHost {
				t.Errorf("host = %q, want %q", host, tc.wantHost)
			}
			if got := string(cfg.TLSClientConfig.CAData) == testPEM; got != tc.wantCA {
				t.Errorf("CA data set = %t, want %t", got, tc.wantCA)
			}
			if cfg.ContentType != "application/vnd.kubernetes.protobuf" {
				t.Errorf("content type = %q, want protobuf", cfg.ContentType)
			}
		})
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// A list error's code is what the scan error carries; 5xx, 429 and network
// errors are retried, the cluster's spent deadline and 4xx are not.
func TestListError(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "daemonsets"}
	tests := []struct {
		err       error
		code      string
		transient bool
	}{
		{apierrors.NewForbidden(gr, "", fmt.Errorf("no")), "PERMISSION_DENIED", false},
		{apierrors.NewUnauthorized("token expired"), "UNAUTHENTICATED", false},
		{apierrors.NewNotFound(gr, ""), "NOT_FOUND", false},
		{apierrors.NewServiceUnavailable("down"), "UNAVAILABLE", true},
		{apierrors.NewInternalError(fmt.Errorf("etcd")), "UNAVAILABLE", true},
		{apierrors.NewTooManyRequests("slow down", 1), "UNAVAILABLE", true},
		{apierrors.NewServerTimeout(gr, "list", 1), "DEADLINE_EXCEEDED", true},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), "DEADLINE_EXCEEDED", false},
		{&net.OpError{Op: "dial", Err: timeoutError{}}, "DEADLINE_EXCEEDED", true},
		{&net.OpError{Op: "dial", Err: fmt.Errorf("connection refused")}, "UNAVAILABLE", true},
	}
	for _, tc := range tests {
		e := listError("daemonsets", "https://34.1.2.3", tc.err).(apiError)
		if e.Code() != tc.code {
			t.Errorf("listError(%v) code = %s, want %s", tc.err, e.Code(), tc.code)
		}
		if !strings.HasPrefix(e.Error(), "list daemonsets through https://34.1.2.3: ") {
			t.Errorf("listError(%v) = %q, want it to name the call", tc.err, e.Error())
		}
		if got := transient(tc.err); got != tc.transient {
			t.Errorf("transient(%v) = %t, want %t", tc.err, got, tc.transient)
		}
	}
}

// The sources the CLI and the function accept, and the message for others.
func TestLive(t *testing.T) {
	if ic, err := Live(LiveOptions{}); ic != nil || err != nil {
		t.Errorf("Live(off) = %v, %v; want nil, nil", ic, err)
	}
	if ic, err := Live(LiveOptions{Source: SourceAPI}); err != nil {
		t.Errorf("Live(api) error %v", err)
	} else if _, ok := ic.(*API); !ok {
		t.Errorf("Live(api) = %T, want *API", ic)
	}
	if _, err := Live(LiveOptions{Source: SourceAssetInventory}); err == nil || err.Error() != "in-cluster source asset-inventory needs a Cloud Asset client" {
		t.Errorf("Live(asset-inventory, no client) error = %v", err)
	}
	if _, err := Live(LiveOptions{Source: "kubectl"}); err == nil || err.Error() != `in-cluster source "kubectl" is not asset-inventory or api` {
		t.Errorf("Live(kubectl) error = %v", err)
	}
}
