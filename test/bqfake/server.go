package bqfake

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/option"
)

// BasePath is the path under [Server.URL] at which the fake serves BigQuery
// v2, the path of https://bigquery.googleapis.com/bigquery/v2/. The
// generated client resolves every method against the endpoint it is given,
// so the endpoint must end with it (trailing slash included).
const BasePath = "/bigquery/v2/"

// Limits of one tabledata.insertAll request, as BigQuery documents them.
const (
	MaxInsertRows  = 50000
	MaxInsertBytes = 10 << 20 // 10 MB: 10485760 bytes
)

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	datasets map[string]*dataset // by "project:dataset"
	requests map[string]int
	failures map[string]*failure
	patches  []PatchCall
	latency  time.Duration
	maxRows  int
	clock    int64 // the last modification time, in milliseconds
}

type dataset struct {
	meta   *bq.Dataset
	tables map[string]*table
}

type table struct {
	meta *bq.Table
	rows []storedRow
}

type storedRow struct {
	insertID string
	json     []byte // the row's JSON object, as the client sent it
}

type failure struct {
	code   int
	reason string
	n      int
}

// PatchCall is one tables.patch or tables.update call that reached the fake
// (calls failed by [Server.FailNext] are not recorded).
type PatchCall struct {
	Project, Dataset, Table string
	Method                  string   // "tables.patch" or "tables.update"
	Added                   []string // dotted paths of the fields the new schema adds, in schema order
	ViewQuery               string   // the new view query, when the call sets one
	Code                    int      // the HTTP status answered: 200, or the error's
	Message                 string   // the error message, when Code is not 200
}

// Start starts a fake on 127.0.0.1. Close it when done.
func Start() *Server {
	s := &Server{
		datasets: map[string]*dataset{},
		requests: map[string]int{},
		failures: map[string]*failure{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL is the server's root URL, http://127.0.0.1:PORT (without [BasePath]).
func (s *Server) URL() string { return s.srv.URL }

// ClientOptions point a BigQuery client at the fake:
// option.WithEndpoint(URL + "/bigquery/v2/"), no authentication, and a
// plain HTTP client.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.srv.URL + BasePath),
		option.WithoutAuthentication(),
		option.WithHTTPClient(s.srv.Client()),
	}
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Requests counts the calls received by operation ("datasets.insert",
// "tables.get", "tabledata.insertAll", …), including the calls failed by
// [Server.FailNext] and those rejected as invalid or unsupported.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// Patches lists every tables.patch and tables.update call, in order.
func (s *Server) Patches() []PatchCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PatchCall, len(s.patches))
	for i, p := range s.patches {
		p.Added = slices.Clone(p.Added)
		out[i] = p
	}
	return out
}

// FailNext makes the next n calls of op (an operation name as in
// [Server.Requests]) fail with the HTTP status code and a Google JSON error
// of that reason, before anything else is done. A later FailNext of the
// same op replaces the earlier one; n <= 0 cancels it.
func (s *Server) FailNext(op string, code int, reason string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.failures, op)
		return
	}
	s.failures[op] = &failure{code: code, reason: reason, n: n}
}

// Latency delays every later call by d (0 for none). A call whose client
// gives up first is abandoned.
func (s *Server) Latency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// MaxRowsSeen is the largest number of rows in one tabledata.insertAll
// request so far, including requests that were rejected (except those over
// 10 MB, which are not parsed).
func (s *Server) MaxRowsSeen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxRows
}

// Rows returns every row stored in the table, in insert order, each the JSON
// object the client sent for it decoded with json.Number for numbers (so
// INTEGER values stay exact: an int64 arrives as json.Number("42")). It is
// nil when the table does not exist. The maps are the caller's own.
func (s *Server) Rows(project, datasetID, tableID string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.table(project, datasetID, tableID)
	if t == nil {
		return nil
	}
	out := make([]map[string]any, len(t.rows))
	for i, r := range t.rows {
		m, err := decodeValidObject(r.json) // validated on the way in
		if err != nil {
			panic(fmt.Sprintf("bqfake: stored row does not decode: %v", err)) // validated on the way in
		}
		out[i] = m
	}
	return out
}

// RowsJSON returns every row stored in the table, in insert order, as the
// bytes of its JSON object exactly as the client sent them in the request
// (re-encoded only when ignoreUnknownValues dropped fields of it). It is
// nil when the table does not exist. The slices are the caller's own.
func (s *Server) RowsJSON(project, datasetID, tableID string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.table(project, datasetID, tableID)
	if t == nil {
		return nil
	}
	out := make([][]byte, len(t.rows))
	for i, r := range t.rows {
		out[i] = slices.Clone(r.json)
	}
	return out
}

// InsertIDs returns the insertId of every stored row, in insert order ("" for
// a row sent without one). The fake never de-duplicates by insertId.
func (s *Server) InsertIDs(project, datasetID, tableID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.table(project, datasetID, tableID)
	if t == nil {
		return nil
	}
	out := make([]string, len(t.rows))
	for i, r := range t.rows {
		out[i] = r.insertID
	}
	return out
}

// Table returns a copy of the table's resource as stored: schema,
// timePartitioning, clustering, view, etag, numRows and the rest.
func (s *Server) Table(project, datasetID, tableID string) (*bq.Table, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.table(project, datasetID, tableID)
	if t == nil {
		return nil, false
	}
	return s.tableResource(t), true
}

// Dataset returns a copy of the dataset's resource as stored.
func (s *Server) Dataset(project, datasetID string) (*bq.Dataset, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.datasets[project+":"+datasetID]
	if d == nil {
		return nil, false
	}
	return cloneJSON(d.meta), true
}

// table finds a table; s.mu must be held.
func (s *Server) table(project, datasetID, tableID string) *table {
	d := s.datasets[project+":"+datasetID]
	if d == nil {
		return nil
	}
	return d.tables[tableID]
}

// apiError is an error answered in the Google JSON error format.
type apiError struct {
	code    int
	reason  string
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.message) }

func errorf(code int, reason, format string, args ...any) *apiError {
	return &apiError{code: code, reason: reason, message: fmt.Sprintf(format, args...)}
}

// statusNames are the google.rpc.Code names that BigQuery puts in
// error.status.
var statusNames = map[int]string{
	400: "INVALID_ARGUMENT",
	401: "UNAUTHENTICATED",
	403: "PERMISSION_DENIED",
	404: "NOT_FOUND",
	409: "ALREADY_EXISTS",
	412: "FAILED_PRECONDITION",
	413: "INVALID_ARGUMENT",
	429: "RESOURCE_EXHAUSTED",
	500: "INTERNAL",
	501: "UNIMPLEMENTED",
	502: "UNAVAILABLE",
	503: "UNAVAILABLE",
	504: "DEADLINE_EXCEEDED",
}

func writeError(w http.ResponseWriter, e *apiError) {
	status := statusNames[e.code]
	if status == "" {
		status = "UNKNOWN"
	}
	body := map[string]any{"error": map[string]any{
		"code":    e.code,
		"message": e.message,
		"errors": []map[string]any{{
			"message": e.message,
			"domain":  "global",
			"reason":  e.reason,
		}},
		"status": status,
	}}
	writeJSON(w, e.code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// injectedMessages are the messages of injected failures, by reason; others
// get a generic one.
var injectedMessages = map[string]string{
	"backendError":      "Error encountered during execution. Retrying may solve the problem.",
	"internalError":     "An internal error occurred and the request could not be completed.",
	"rateLimitExceeded": "Exceeded rate limits: too many api requests per user per method for this user_method.",
	"quotaExceeded":     "Quota exceeded: Your table exceeded quota for imports or query appends per table.",
}

// route is a parsed request: the operation and the path's resource IDs.
type route struct {
	op                      string
	project, dataset, table string
	handler                 func(*Server, *http.Request, route) (any, *apiError)
	unsupportedExplanation  string
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rt := parseRoute(r)

	s.mu.Lock()
	s.requests[rt.op]++
	delay := s.latency
	var injected *apiError
	if f := s.failures[rt.op]; f != nil {
		f.n--
		if f.n <= 0 {
			delete(s.failures, rt.op)
		}
		msg := injectedMessages[f.reason]
		if msg == "" {
			msg = "bqfake: injected " + f.reason + " failure of " + rt.op
		}
		injected = &apiError{code: f.code, reason: f.reason, message: msg}
	}
	s.mu.Unlock()

	if delay > 0 && !sleep(r.Context(), delay) {
		return // the client is gone
	}
	if injected != nil {
		writeError(w, injected)
		return
	}
	if rt.handler == nil {
		msg := rt.unsupportedExplanation
		if msg == "" {
			msg = fmt.Sprintf("bqfake does not support %s %s", r.Method, r.URL.Path)
		}
		writeError(w, errorf(http.StatusNotImplemented, "notImplemented", "%s", msg))
		return
	}
	res, apiErr := rt.handler(s, r, rt)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	if res == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// parseRoute maps a request to its operation. Unsupported but recognized
// operations get their name and no handler.
func parseRoute(r *http.Request) route {
	rest, ok := strings.CutPrefix(r.URL.Path, BasePath)
	if !ok {
		return route{op: "unknown", unsupportedExplanation: fmt.Sprintf("bqfake serves only %s…, not %s", BasePath, r.URL.Path)}
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	m := r.Method
	n := len(parts)
	if n < 2 || parts[0] != "projects" || parts[1] == "" {
		return route{op: "unknown"}
	}
	rt := route{project: parts[1]}
	switch {
	case n == 2:
		rt.op = "projects.get"
	case parts[2] == "jobs" || parts[2] == "queries":
		rt.op = "jobs." + strings.ToLower(m)
		if parts[2] == "queries" {
			rt.op = "jobs.query"
		}
		rt.unsupportedExplanation = "bqfake does not support jobs or queries (load, query, copy, extract)"
	case parts[2] == "datasets" && n == 3:
		switch m {
		case http.MethodPost:
			rt.op, rt.handler = "datasets.insert", (*Server).datasetsInsert
		case http.MethodGet:
			rt.op, rt.handler = "datasets.list", (*Server).datasetsList
		}
	case parts[2] == "datasets" && n == 4:
		rt.dataset = parts[3]
		switch m {
		case http.MethodGet:
			rt.op, rt.handler = "datasets.get", (*Server).datasetsGet
		case http.MethodDelete:
			rt.op, rt.handler = "datasets.delete", (*Server).datasetsDelete
		case http.MethodPatch:
			rt.op, rt.handler = "datasets.patch", (*Server).datasetsPatch
		case http.MethodPut:
			rt.op, rt.handler = "datasets.update", (*Server).datasetsPatch
		}
	case parts[2] == "datasets" && n == 5 && parts[4] == "tables":
		rt.dataset = parts[3]
		switch m {
		case http.MethodPost:
			rt.op, rt.handler = "tables.insert", (*Server).tablesInsert
		case http.MethodGet:
			rt.op, rt.handler = "tables.list", (*Server).tablesList
		}
	case parts[2] == "datasets" && n == 6 && parts[4] == "tables":
		rt.dataset, rt.table = parts[3], parts[5]
		switch m {
		case http.MethodGet:
			rt.op, rt.handler = "tables.get", (*Server).tablesGet
		case http.MethodPatch:
			rt.op, rt.handler = "tables.patch", (*Server).tablesPatch
		case http.MethodPut:
			rt.op, rt.handler = "tables.update", (*Server).tablesPatch
		case http.MethodDelete:
			rt.op, rt.handler = "tables.delete", (*Server).tablesDelete
		}
	case parts[2] == "datasets" && n == 7 && parts[4] == "tables":
		rt.dataset, rt.table = parts[3], parts[5]
		switch {
		case parts[6] == "insertAll" && m == http.MethodPost:
			rt.op, rt.handler = "tabledata.insertAll", (*Server).tabledataInsertAll
		case parts[6] == "data" && m == http.MethodGet:
			rt.op = "tabledata.list"
			rt.unsupportedExplanation = "bqfake does not support tabledata.list: read rows with Server.Rows"
		}
	}
	if rt.op == "" {
		rt.op = "unknown"
	}
	return rt
}

// decodeBody decodes a JSON request body into v.
func decodeBody(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, MaxInsertBytes))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "parseError", "Parse error: %v", err)
	}
	return nil
}

func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// cloneJSON deep-copies a resource through its JSON form.
func cloneJSON[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bqfake: marshal %T: %v", v, err))
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("bqfake: unmarshal %T: %v", v, err))
	}
	return out
}

// tick advances the modification clock; s.mu must be held. It returns a
// millisecond timestamp that grows strictly and a fresh etag.
func (s *Server) tick() (millis int64, etag string) {
	now := time.Now().UnixMilli()
	if now <= s.clock {
		now = s.clock + 1
	}
	s.clock = now
	return now, fmt.Sprintf("bqfake-%d", now)
}
