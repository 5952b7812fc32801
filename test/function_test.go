package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pubsubpb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fleetscan/fleetscan/function"
	"github.com/fleetscan/fleetscan/scanner"
	"github.com/fleetscan/fleetscan/test/bqfake"
	"github.com/fleetscan/fleetscan/test/fleetgen"
	"github.com/fleetscan/fleetscan/test/gcpfake"
)

const (
	gcpProject   = "fleetscan-host"
	requestTopic = "projects/" + gcpProject + "/topics/fleetscan-requests"
	alertTopic   = "projects/" + gcpProject + "/topics/fleetscan-alerts"
	requestSub   = "projects/" + gcpProject + "/subscriptions/eventarc-trigger"
	alertSub     = "projects/" + gcpProject + "/subscriptions/alert-reader"
	bucket       = "fleetscan-state"
	bqDataset    = "fleetscan"
)

// endToEnd skips the test in the fast tier (go test -short): it builds or
// runs the function against every fake. make test runs it.
func endToEnd(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end to end: runs in make test, not under -short")
	}
}

// buildFunction builds the main package the Go functions buildpack
// generates: a module that requires this one (replaced by the source tree),
// imports the root package for its init registration, and starts the
// Functions Framework. It is built offline from the module cache.
var buildFunction = sync.OnceValues(func() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	return buildBuildpackMain(filepath.Dir(filepath.Dir(file)))
})

// buildBuildpackMain builds the generated main against the module source
// at root (the repository, or an unpacked source archive).
func buildBuildpackMain(root string) (string, error) {
	dir, err := os.MkdirTemp("", "fleetscan-function-")
	if err != nil {
		return "", err
	}
	rootMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	// The same versions the function's module pins, as the buildpack resolves them.
	var requires strings.Builder
	for _, block := range strings.Split(string(rootMod), "require (")[1:] {
		body, _, _ := strings.Cut(block, ")")
		requires.WriteString("require (" + body + ")\n")
	}
	gomod := "module example.com/function\n\ngo 1.26.0\n\nrequire github.com/fleetscan/fleetscan v0.0.0\n\n" + requires.String() +
		"\nreplace github.com/fleetscan/fleetscan => " + root + "\n"
	mainGo := `package main

import (
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/fleetscan/fleetscan"
)

func main() {
	port := "8080"
	if p := os.Getenv("PORT"); p != "" {
		port = p
	}
	hostname := ""
	if os.Getenv("LOCAL_ONLY") == "true" {
		hostname = "127.0.0.1"
	}
	if err := funcframework.StartHostPort(hostname, port); err != nil {
		log.Fatalf("funcframework.StartHostPort: %v", err)
	}
}
`
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return "", err
	}
	for name, content := range map[string][]byte{"go.mod": []byte(gomod), "main.go": []byte(mainGo), "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "function")
	for _, args := range [][]string{{"build", "-o", bin, "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bin, nil
}

// TestFunctionBuildsLikeTheBuildpack is the deployability check.
func TestFunctionBuildsLikeTheBuildpack(t *testing.T) {
	endToEnd(t)
	if _, err := buildFunction(); err != nil {
		t.Fatal(err)
	}
}

// stack is every fake the function talks to; the Pub/Sub, BigQuery and
// Cloud Storage ones outlive function restarts, like the real services.
type stack struct {
	t      *testing.T
	ps     *pubsub.Client
	psAddr string
	bq     *bqfake.Server
	gcs    *fakestorage.Server
	gcp    *gcpfake.Server
	fn     *fnProcess
}

func newStack(t *testing.T, psAddr string) *stack {
	t.Helper()
	s := &stack{t: t, psAddr: psAddr}
	if psAddr == "" {
		srv := pstest.NewServerWithAddress("127.0.0.1:0")
		t.Cleanup(func() { srv.Close() })
		s.psAddr = srv.Addr
	}
	ctx := context.Background()
	conn, err := grpc.NewClient(s.psAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	s.ps, err = pubsub.NewClient(ctx, gcpProject, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ps.Close() })
	for _, tp := range []string{requestTopic, alertTopic} {
		if _, err := s.ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tp}); err != nil {
			t.Fatal(err)
		}
	}
	for sub, tp := range map[string]string{requestSub: requestTopic, alertSub: alertTopic} {
		if _, err := s.ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: tp, AckDeadlineSeconds: 60}); err != nil {
			t.Fatal(err)
		}
	}
	s.bq = bqfake.Start()
	t.Cleanup(s.bq.Close)
	s.gcs, err = fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.gcs.Stop)
	s.gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	return s
}

// serve (re)starts the GCP API fakes on fleet and the function against them.
func (s *stack) serve(f *fleetgen.Fleet, opt gcpfake.Options, env ...string) {
	s.t.Helper()
	if s.fn != nil {
		s.fn.stop()
	}
	s.fn = startFunction(s.t, s.startGCP(f, opt, env...))
}

// startGCP (re)starts the GCP API fakes on fleet and returns the
// function's environment: every service pointed at its fake, then env.
func (s *stack) startGCP(f *fleetgen.Fleet, opt gcpfake.Options, env ...string) []string {
	s.t.Helper()
	gcp, err := gcpfake.Start(f, opt)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(gcp.Close)
	s.gcp = gcp
	hostport := func(u string) string { return strings.TrimPrefix(u, "http://") }
	endpoints := fmt.Sprintf("asset=%[1]s,container=%[1]s,resourcemanager=%[1]s,logging=%[1]s,bigquery=%s,storage=%s,pubsub=%s",
		gcp.Addr(), hostport(s.bq.URL()), hostport(s.gcs.URL()), s.psAddr)
	return append([]string{
		"FLEETSCAN_SCOPE=" + f.Org,
		"FLEETSCAN_BIGQUERY=" + gcpProject + "." + bqDataset,
		"FLEETSCAN_REQUEST_TOPIC=" + requestTopic,
		"FLEETSCAN_ALERT_TOPIC=" + alertTopic,
		"FLEETSCAN_STATE_BUCKET=" + bucket,
		"FLEETSCAN_API_ENDPOINTS=" + endpoints,
	}, env...)
}

// fnProcess is the built function running on 127.0.0.1, its log captured.
type fnProcess struct {
	url  string
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
}

func startFunction(t *testing.T, env []string) *fnProcess {
	t.Helper()
	bin, err := buildFunction()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()
	p := &fnProcess{url: fmt.Sprintf("http://127.0.0.1:%d/", port), done: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(os.Environ(), append(env, "FUNCTION_TARGET=ScanFleet", fmt.Sprintf("PORT=%d", port), "LOCAL_ONLY=true")...)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.Write(append(sc.Bytes(), '\n'))
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.stop)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return p
		}
		if i > 200 {
			t.Fatalf("function did not listen on %d:\n%s", port, p.log())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (p *fnProcess) stop() {
	if p.cmd.ProcessState == nil && p.cmd.Process != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		<-p.done
	}
}

func (p *fnProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// logLines returns the function's JSON log lines with the given message.
func (p *fnProcess) logLines(message string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(p.log(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == message {
			out = append(out, m)
		}
	}
	return out
}

// publish publishes a request as Cloud Scheduler does.
func (s *stack) publish(data string) {
	s.t.Helper()
	if _, err := s.ps.Publisher(requestTopic).Publish(context.Background(), &pubsub.Message{Data: []byte(data)}).Get(context.Background()); err != nil {
		s.t.Fatal(err)
	}
}

// delivered is one push of a message to the function.
type delivered struct {
	id     string
	status int
	event  []byte // the request body, to redeliver
	header http.Header
}

// receiveUntilQuiet pulls a subscription and handles each message until
// none has arrived or been in handling for quiet: a quiet timer, stopped
// while a message is handled, cancels the pull.
func (s *stack) receiveUntilQuiet(subscription string, quiet time.Duration, handle func(*pubsub.Message)) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), 5*time.Minute) // and never past the test
	defer cancel()
	var mu sync.Mutex
	inFlight := 0
	timer := time.AfterFunc(quiet, cancel)
	defer timer.Stop()
	err := s.ps.Subscriber(subscription).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		mu.Lock()
		inFlight++
		timer.Stop()
		mu.Unlock()
		handle(m)
		mu.Lock()
		if inFlight--; inFlight == 0 {
			timer.Reset(quiet)
		}
		mu.Unlock()
	})
	if err != nil && ctx.Err() == nil {
		s.t.Fatal(err)
	}
}

// deliver plays Eventarc: pulls the request subscription, POSTs each
// message to the function (binary CloudEvent, structured CloudEvent or raw
// Pub/Sub push, in turn), acks on 2xx and nacks otherwise, until the
// subscription stays empty. Shards the function publishes are delivered
// the same way.
func (s *stack) deliver() []delivered {
	s.t.Helper()
	var (
		mu       sync.Mutex
		out      []delivered
		errs     []error
		attempts = map[string]int{}
	)
	s.receiveUntilQuiet(requestSub, 1500*time.Millisecond, func(m *pubsub.Message) {
		mu.Lock()
		attempts[m.ID]++
		tries, mode := attempts[m.ID], len(out)%3
		mu.Unlock()
		if tries > 5 { // as a dead-letter policy would: stop redelivering
			m.Ack()
			return
		}
		body, header := cloudEvent(m, mode)
		status, err := s.tryPost(body, header)
		if status/100 == 2 {
			m.Ack()
		} else {
			m.Nack()
		}
		mu.Lock()
		out = append(out, delivered{id: m.ID, status: status, event: body, header: header})
		if err != nil {
			errs = append(errs, err)
		}
		mu.Unlock()
	})
	if err := errors.Join(errs...); err != nil {
		s.t.Fatalf("%v\n%s", err, s.fn.log())
	}
	return out
}

// post delivers one request to the function and returns its HTTP status;
// on the test goroutine only.
func (s *stack) post(body []byte, header http.Header) int {
	s.t.Helper()
	status, err := s.tryPost(body, header)
	if err != nil {
		s.t.Fatalf("%v\n%s", err, s.fn.log())
	}
	return status
}

// tryPost is post for any goroutine: it reports instead of failing.
func (s *stack) tryPost(body []byte, header http.Header) (int, error) {
	url := s.fn.url
	if p := header.Get("X-Test-Path"); p != "" { // a push subscription's endpoint path
		url += p
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = header.Clone()
	req.Header.Del("X-Test-Path")
	// As long as Eventarc waits: the function's 540 s limit, never past the test.
	ctx, cancel := context.WithTimeout(s.t.Context(), 540*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("POST to the function: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Delivery modes: a CloudEvent in binary or structured mode (Eventarc), or
// the raw body of a Pub/Sub push subscription to /projects/P/topics/T,
// which the Functions Framework turns into the same CloudEvent (the
// Terraform deployment's trigger).
const (
	modeBinary = iota
	modeStructured
	modePush
)

// cloudEvent is the HTTP request that delivers a Pub/Sub message.
func cloudEvent(m *pubsub.Message, mode int) ([]byte, http.Header) {
	data, _ := json.Marshal(map[string]any{
		"message": map[string]any{
			"data": base64.StdEncoding.EncodeToString(m.Data), "attributes": m.Attributes,
			"messageId": m.ID, "publishTime": m.PublishTime.UTC().Format(time.RFC3339Nano),
		},
		"subscription": requestSub,
	})
	h := http.Header{}
	source := "//pubsub.googleapis.com/" + requestTopic
	when := m.PublishTime.UTC().Format(time.RFC3339Nano)
	if mode == modePush {
		h.Set("Content-Type", "application/json")
		h.Set("X-Test-Path", requestTopic)
		return data, h
	}
	if mode == modeStructured {
		h.Set("Content-Type", "application/cloudevents+json")
		body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": m.ID, "source": source,
			"type": function.MessagePublishedType, "time": when, "datacontenttype": "application/json", "data": json.RawMessage(data)})
		return body, h
	}
	h.Set("Content-Type", "application/json")
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Id", m.ID)
	h.Set("Ce-Source", source)
	h.Set("Ce-Type", function.MessagePublishedType)
	h.Set("Ce-Time", when)
	return data, h
}

// alerts drains the alert subscription.
func (s *stack) alerts() []*pubsub.Message {
	s.t.Helper()
	var mu sync.Mutex
	var out []*pubsub.Message
	s.receiveUntilQuiet(alertSub, time.Second, func(m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		out = append(out, m)
		mu.Unlock()
	})
	return out
}

// viewKeys is what latest_findings would show: one (scan_id, finding_key)
// per finding of the complete scans, with its status.
func (s *stack) viewKeys() map[string]string {
	complete := map[string]map[float64]bool{}
	shards := map[string]float64{}
	for _, r := range s.bq.Rows(gcpProject, bqDataset, "scans") {
		id := fmt.Sprint(r["scan_id"])
		if st := r["status"]; st == "COMPLETE" || st == "COMPLETE_WITH_ERRORS" {
			if complete[id] == nil {
				complete[id] = map[float64]bool{}
			}
			complete[id][num(r["shard"])] = true
			shards[id] = num(r["shards"])
		}
	}
	out := map[string]string{}
	for _, r := range s.bq.Rows(gcpProject, bqDataset, "findings") {
		id := fmt.Sprint(r["scan_id"])
		if float64(len(complete[id])) == shards[id] {
			out[id+"/"+fmt.Sprint(r["finding_key"])] = fmt.Sprint(r["status"])
		}
	}
	return out
}

func num(v any) float64 {
	var f float64
	fmt.Sscan(fmt.Sprint(v), &f)
	return f
}

// findingKeys is the expected result: finding_key → status.
func findingKeys(fs []scanner.Finding) map[string]string {
	out := map[string]string{}
	for _, f := range fs {
		out[f.FindingKey] = string(f.Status)
	}
	return out
}

func stripScan(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		_, key, _ := strings.Cut(k, "/")
		out[key] = v
	}
	return out
}

func transitionsOf(ms []*pubsub.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Attributes["transition"]+" "+m.Attributes["finding_key"])
	}
	slices.Sort(out)
	return out
}

func expectedTransitions(prev, cur []scanner.Finding) []string {
	group := func(fs []scanner.Finding) map[string]map[string]scanner.Finding {
		out := map[string]map[string]scanner.Finding{}
		for _, f := range fs {
			if out[f.ProjectID] == nil {
				out[f.ProjectID] = map[string]scanner.Finding{}
			}
			out[f.ProjectID][f.FindingKey] = f
		}
		return out
	}
	p, c := group(prev), group(cur)
	projects := map[string]bool{}
	for k := range p {
		projects[k] = true
	}
	for k := range c {
		projects[k] = true
	}
	var out []string
	for proj := range projects {
		for _, a := range function.Transitions(p[proj], c[proj]) {
			out = append(out, a.Transition+" "+a.Finding.FindingKey)
		}
	}
	slices.Sort(out)
	return out
}
