package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"

	"cloud.google.com/go/bigquery"
	"github.com/googleapis/gax-go/v2/apierror"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/api/option/internaloption"
	htransport "google.golang.org/api/transport/http"
)

// InsertAll sends tabledata.insertAll requests that the Writer has encoded
// itself, over the HTTP client that bigquery.NewClient makes from the same
// options: the same transport, credentials and endpoint.
//
// Why not Client's Inserter: whatever the rows, it needs each as a map of
// its columns, copies that map, and encoding/json then encodes the row,
// copies it, and checks and copies it again as part of the request and
// once more as the body. With StructSavers, as the Writer used them, and a
// json.Marshal of each row to size the batches, 30,000 findings took some
// 430 MB and 1.4 s of CPU before a byte reached the server. InsertAll
// writes each row once, with the Writer's own encoding (rowPlan), into a
// buffer reused from request to request: 3 MB and 0.1 s
// (BenchmarkWrite30kFindings, server=discard). The bytes sent are the ones
// the Inserter sends for StructSavers; writer_test.go checks it.
type InsertAll struct {
	hc   *http.Client
	base string // the API's base URL, ending in /bigquery/v2/

	mu   sync.Mutex
	bufs [][]byte // request buffers free for reuse
}

// NewInsertAll makes an InsertAll from the options a bigquery.Client was
// (or would be) made with: option.WithEndpoint, credentials,
// option.WithHTTPClient and so on. With none it uses Application Default
// Credentials and bigquery.googleapis.com, as bigquery.NewClient does.
func NewInsertAll(ctx context.Context, opts ...option.ClientOption) (*InsertAll, error) {
	// What bigquery.NewClient and then bigquery/v2.NewService add around
	// the caller's options.
	o := []option.ClientOption{
		internaloption.WithDefaultScopes(bigquery.Scope),
		option.WithScopes(bigquery.Scope),
	}
	o = append(o, opts...)
	o = append(o,
		internaloption.WithDefaultEndpointTemplate("https://bigquery.UNIVERSE_DOMAIN/bigquery/v2/"),
		internaloption.WithDefaultMTLSEndpoint("https://bigquery.mtls.googleapis.com/bigquery/v2/"),
		internaloption.EnableNewAuthLibrary(),
	)
	hc, endpoint, err := htransport.NewClient(ctx, o...)
	if err != nil {
		return nil, fmt.Errorf("BigQuery insertAll client: %w", err)
	}
	if endpoint == "" {
		endpoint = defaultBasePath
	}
	return &InsertAll{hc: hc, base: endpoint}, nil
}

const defaultBasePath = "https://bigquery.googleapis.com/bigquery/v2/"

var apiClientHeader = "gl-go/" + strings.TrimPrefix(runtime.Version(), "go") + " fleetscan"

// buffer returns a request buffer, empty.
func (ia *InsertAll) buffer() []byte {
	ia.mu.Lock()
	defer ia.mu.Unlock()
	if n := len(ia.bufs); n > 0 {
		b := ia.bufs[n-1]
		ia.bufs = ia.bufs[:n-1]
		return b[:0]
	}
	return nil
}

// release returns a buffer that no request reads any more.
func (ia *InsertAll) release(b []byte) {
	if cap(b) == 0 {
		return
	}
	ia.mu.Lock()
	defer ia.mu.Unlock()
	if len(ia.bufs) < 4 {
		ia.bufs = append(ia.bufs, b[:0])
	}
}

// post sends one insertAll request whose body is body and answers its
// response. reusable reports whether body is free again: the transport may
// go on reading a request's body after the response is in, so it is only
// once the transport has closed it.
func (ia *InsertAll) post(ctx context.Context, project, dataset, table string, body []byte) (res *bq.TableDataInsertAllResponse, reusable bool, err error) {
	url := googleapi.ResolveRelative(ia.base, "projects/{+projectId}/datasets/{+datasetId}/tables/{+tableId}/insertAll") + "?alt=json&prettyPrint=false"
	rb := &requestBody{done: make(chan struct{})}
	rb.r.Reset(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, rb)
	if err != nil {
		return nil, true, err
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", googleapi.UserAgent)
	req.Header.Set("X-Goog-Api-Client", apiClientHeader)
	googleapi.Expand(req.URL, map[string]string{"projectId": project, "datasetId": dataset, "tableId": table})
	defer func() {
		select {
		case <-rb.done:
			reusable = true
		case <-ctx.Done(): // given up: leave the buffer to the transport
		}
	}()
	resp, err := ia.hc.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if err := googleapi.CheckResponse(resp); err != nil {
		// As the generated client answers it.
		var ge *googleapi.Error
		if ae, ok := apierror.ParseError(err, false); ok && errors.As(err, &ge) {
			ge.Wrap(ae)
		}
		return nil, false, err
	}
	res = &bq.TableDataInsertAllResponse{}
	if err := json.NewDecoder(resp.Body).Decode(res); err != nil {
		return nil, false, err
	}
	return res, false, nil
}

// requestBody is a request's body that tells when the transport is done
// with it.
type requestBody struct {
	r    bytes.Reader
	once sync.Once
	done chan struct{}
}

func (b *requestBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *requestBody) Close() error {
	b.once.Do(func() { close(b.done) })
	return nil
}

// putMultiError is the response's insertErrors as the client's Inserter
// returns them.
func putMultiError(ierrs []*bq.TableDataInsertAllResponseInsertErrors, n int, insertID func(int) string) error {
	if len(ierrs) == 0 {
		return nil
	}
	var errs bigquery.PutMultiError
	for _, e := range ierrs {
		if e.Index < 0 || int(e.Index) >= n {
			return fmt.Errorf("unexpected row index %d in insertErrors of %d rows", e.Index, n)
		}
		rie := bigquery.RowInsertionError{InsertID: insertID(int(e.Index)), RowIndex: int(e.Index)}
		for _, ep := range e.Errors {
			if ep == nil {
				continue
			}
			rie.Errors = append(rie.Errors, &bigquery.Error{Location: ep.Location, Message: ep.Message, Reason: ep.Reason})
		}
		errs = append(errs, rie)
	}
	return errs
}
