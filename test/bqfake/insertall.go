package bqfake

import (
	"encoding/json"
	"io"
	"net/http"
)

type insertAllRequest struct {
	Kind                string `json:"kind"`
	SkipInvalidRows     bool   `json:"skipInvalidRows"`
	IgnoreUnknownValues bool   `json:"ignoreUnknownValues"`
	TemplateSuffix      string `json:"templateSuffix"`
	TraceID             string `json:"traceId"`
	Rows                []struct {
		InsertID string          `json:"insertId"`
		JSON     json.RawMessage `json:"json"`
	} `json:"rows"`
}

// errorProto is BigQuery's ErrorProto as insertAll answers it: debugInfo is
// always there, empty.
type errorProto struct {
	Reason    string `json:"reason"`
	Location  string `json:"location"`
	DebugInfo string `json:"debugInfo"`
	Message   string `json:"message"`
}

type insertError struct {
	Index  int          `json:"index"`
	Errors []errorProto `json:"errors"`
}

type insertAllResponse struct {
	Kind         string        `json:"kind"`
	InsertErrors []insertError `json:"insertErrors,omitempty"`
}

// tabledataInsertAll serves tabledata.insertAll: every row validated
// against the table's schema; with skipInvalidRows false, one invalid row
// stores none of the request's rows and the valid ones are "stopped".
// Rows are never de-duplicated by insertId.
func (s *Server) tabledataInsertAll(r *http.Request, rt route) (any, *apiError) {
	body, err := readBody(r, MaxInsertBytes+1)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid", "Could not read the request: %v", err)
	}
	if len(body) > MaxInsertBytes {
		// Read the rest, as BigQuery does, so that the client gets the answer
		// rather than a reset connection (which it would retry).
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<30))
		return nil, errorf(http.StatusBadRequest, "badRequest", "Request payload size exceeds the limit: %d bytes.", MaxInsertBytes)
	}
	var req insertAllRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, errorf(http.StatusBadRequest, "parseError", "Parse error: %v", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxRows = max(s.maxRows, len(req.Rows))
	switch {
	case len(req.Rows) > MaxInsertRows:
		return nil, errorf(http.StatusBadRequest, "invalid", "too many rows present in the request, limit: %d row count: %d.", MaxInsertRows, len(req.Rows))
	case len(req.Rows) == 0:
		return nil, errorf(http.StatusBadRequest, "invalid", "No rows present in the request.")
	case req.TemplateSuffix != "":
		return nil, errorf(http.StatusNotImplemented, "notImplemented", "bqfake does not support templateSuffix (template tables)")
	}
	t, apiErr := s.lookupTable(rt)
	if apiErr != nil {
		return nil, apiErr
	}
	if t.meta.View != nil {
		return nil, errorf(http.StatusBadRequest, "invalid", "Cannot insert rows into a view: %s", t.meta.Id)
	}
	fields := fromRESTSchema(t.meta.Schema)

	type checked struct {
		row  storedRow
		errs []RowError
	}
	rows := make([]checked, len(req.Rows))
	invalid := 0
	for i, in := range req.Rows {
		c := checked{row: storedRow{insertID: in.InsertID, json: in.JSON}}
		m, err := decodeValidObject(in.JSON) // valid: json.Unmarshal read it
		switch {
		case err != nil || m == nil:
			c.errs = []RowError{{Reason: "invalid", Message: "Row is not a JSON object."}}
		default:
			c.errs = validateRow(fields, m, req.IgnoreUnknownValues)
			if len(c.errs) == 0 && req.IgnoreUnknownValues && pruneUnknown(fields, m) {
				b, err := json.Marshal(m)
				if err != nil {
					return nil, errorf(http.StatusInternalServerError, "internalError", "bqfake: re-encoding a row: %v", err)
				}
				c.row.json = b
			}
		}
		if len(c.errs) > 0 {
			invalid++
		}
		rows[i] = c
	}

	res := &insertAllResponse{Kind: "bigquery#tableDataInsertAllResponse"}
	for i, c := range rows {
		if len(c.errs) == 0 {
			continue
		}
		e := insertError{Index: i}
		for _, re := range c.errs {
			e.Errors = append(e.Errors, errorProto{Reason: re.Reason, Location: re.Location, Message: re.Message})
		}
		res.InsertErrors = append(res.InsertErrors, e)
	}
	if invalid > 0 && !req.SkipInvalidRows {
		// BigQuery lists the invalid rows first, then every other row as
		// stopped; nothing of the request is stored.
		for i, c := range rows {
			if len(c.errs) == 0 {
				res.InsertErrors = append(res.InsertErrors, insertError{Index: i, Errors: []errorProto{{Reason: "stopped"}}})
			}
		}
		return res, nil
	}
	for _, c := range rows {
		if len(c.errs) == 0 {
			t.rows = append(t.rows, c.row)
		}
	}
	return res, nil
}

// readBody reads at most limit bytes of the request's body, as io.ReadAll
// does but into a buffer of its Content-Length when it has one.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	n := int64(512)
	if r.ContentLength > 0 {
		n = min(r.ContentLength, limit) + 1 // +1: room for the read that sees EOF
	}
	lr := io.LimitReader(r.Body, limit)
	b := make([]byte, 0, n)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
