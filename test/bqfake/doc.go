// Package bqfake is an in-process fake of the BigQuery REST API v2, enough
// of it for the real Go client cloud.google.com/go/bigquery to create
// fleetscan's dataset, tables and views, evolve their schemas and stream
// rows with Inserter.Put, so that the writer can be tested without a
// network or credentials. [Start] serves it on 127.0.0.1 under
// /bigquery/v2/ ([BasePath]); [Server.ClientOptions] points a client at it:
//
//	s := bqfake.Start()
//	defer s.Close()
//	client, err := bigquery.NewClient(ctx, "my-proj", s.ClientOptions()...)
//
// # Supported
//
//   - datasets.insert (409 duplicate "Already Exists: Dataset P:D"), get
//     (404 notFound "Not found: Dataset P:D"), list (one page), delete
//     (deleteContents honoured, else 400 resourceInUse), patch and update.
//   - tables.insert (409 duplicate "Already Exists: Table P:D.T"; 404 when
//     the dataset does not exist), get (404 "Not found: Table P:D.T"), list
//     (one page), delete, patch (the client's Table.Update: JSON merge
//     semantics, null clears) and update (PUT: replaces, but an absent schema
//     or timePartitioning is kept). Both honour If-Match (412 conditionNotMet
//     "Precondition check failed." on a stale etag); every change gives a new
//     etag and lastModifiedTime. New tables are checked as BigQuery does:
//     field names unique (case-insensitively), known types and modes, RECORDs
//     with subfields, a time-partitioning field that is a top-level
//     TIMESTAMP, DATE or DATETIME, at most 4 clustering fields, each a
//     top-level non-repeated field of a clusterable type.
//   - Schema evolution on patch/update: a change may only add NULLABLE or
//     REPEATED fields (at the top level or inside a RECORD) or relax
//     REQUIRED to NULLABLE, as BigQuery allows; anything else is 400 invalid
//     "Provided Schema does not match Table P:D.T. " followed by
//     "Cannot add required fields to an existing schema. (field: a.b)",
//     "Field a.b is missing in new schema",
//     "Field a.b has changed type from STRING to INTEGER" or
//     "Field a.b has changed mode from NULLABLE to REQUIRED". Changing the
//     time partitioning is refused. Patching a view's query replaces it.
//     Stored rows survive. [Server.Patches] records every call.
//   - tabledata.insertAll into a table (a "$YYYYMMDD" partition decorator is
//     accepted and ignored): every row checked with the rules of
//     [ValidateRow]; with skipInvalidRows false (the client's default) one
//     invalid row stores nothing of the request, and insertErrors lists each
//     invalid row ({index, errors:[{reason:"invalid", location, debugInfo:"",
//     message}]}) and then every other row with reason "stopped" (empty
//     location and message), as BigQuery answers. skipInvalidRows stores the
//     valid rows; ignoreUnknownValues drops unknown fields (at any depth)
//     before storing. Rows are stored as the client sent them, with their
//     insertId, and are NEVER de-duplicated by insertId (the worst case of
//     BigQuery's best-effort de-duplication). Limits: more than 50,000 rows
//     is 400 invalid "too many rows present in the request, limit: 50000
//     row count: N."; a body over 10 MB is 400 badRequest "Request payload
//     size exceeds the limit: 10485760 bytes."; no rows is 400 invalid
//     "No rows present in the request.". Tables report numRows, numBytes
//     and a streamingBuffer for the stored rows.
//   - Error bodies in the Google JSON error format
//     {"error":{"code","message","errors":[{"message","domain":"global",
//     "reason"}],"status"}}, so that the client returns a *googleapi.Error
//     with Code and Errors[0].Reason.
//   - Faults and inspection: [Server.FailNext] (the next n calls of an
//     operation fail with a given code and reason), [Server.Latency],
//     [Server.Requests] (calls by operation, e.g. "tabledata.insertAll",
//     including failed ones), [Server.Rows], [Server.RowsJSON] (the rows'
//     bytes as sent), [Server.InsertIDs],
//     [Server.Table], [Server.Dataset], [Server.MaxRowsSeen].
//
// # Not supported
//
// Jobs and queries (jobs.*: query, load, copy, extract; so no SQL, and
// views are stored but never evaluated, and have no schema),
// tabledata.list (read rows with [Server.Rows]), template tables
// (templateSuffix), the Storage Read and Write APIs (gRPC), models,
// routines, row access policies, IAM, paging (lists come in one page),
// table expiration and partition pruning. They answer 501 notImplemented,
// which the client does not retry.
//
// # Row validation
//
// [ValidateRow] (and insertAll) accept exactly what the Go client sends for
// insertAll, plus what bq load accepts in NEWLINE_DELIMITED_JSON:
//
//   - STRING: a JSON string (a number or bool is refused).
//   - INTEGER: a JSON number without fraction or exponent, or a string of
//     decimal digits, within int64 (a float64 given to [ValidateRow] must be
//     integral). The Go client sends int64 as a JSON number, not a string.
//   - FLOAT: a JSON number, a numeric string, or "NaN", "Infinity",
//     "-Infinity" (how the client sends NullFloat64's non-finite values).
//   - BOOLEAN: true, false, or the strings "true"/"false" (any case).
//   - TIMESTAMP: a string YYYY-MM-DD[(T| )HH:MM[:SS[.F{1,9}]]] with an
//     optional zone Z, " UTC" or ±HH[:MM] (RFC 3339, as the client sends
//     time.Time with nanoseconds, and "2024-01-02 03:04:05.123456 UTC" both
//     pass), or a JSON number of seconds since the epoch, within
//     0001-01-01 to 9999-12-31.
//   - DATE "YYYY-MM-DD", TIME "HH:MM[:SS[.F]]", DATETIME
//     "YYYY-MM-DD[(T| )HH:MM[:SS[.F]]]", NUMERIC/BIGNUMERIC a decimal string
//     or number, BYTES a base64 string, GEOGRAPHY/INTERVAL a string, RANGE
//     an object, JSON anything.
//   - RECORD: a JSON object, checked recursively.
//   - REPEATED: a JSON array (null or absent is empty) whose elements are
//     each checked and may not be null. The client omits an empty repeated
//     field altogether.
//   - NULLABLE: null or absent is fine; REQUIRED: null or absent is not.
//   - Field names match case-insensitively; unknown fields are errors.
//
// Each problem is a [RowError] with Reason "invalid", Location the path of
// the value (top-level "scan_id"; inside a RECORD "rec.field"; inside a
// REPEATED field "evidence[0].first_seen" or "nodes[2]", the form
// BigQuery uses), and one of these Messages (NAME is the field's own name,
// V the value: a string bare, anything else as JSON):
//
//	no such field: NAME.                                   (confirmed)
//	Missing required field: NAME.                          (prefix confirmed)
//	Array specified for non-repeated field: NAME.          (confirmed)
//	Non-array value specified for repeated field: NAME.    (bqfake's)
//	Null value found in repeated field: NAME.              (bqfake's)
//	This field: NAME is not a record.                      (bqfake's)
//	Cannot convert value to integer (bad value):V          (confirmed)
//	Cannot convert value to floating point (bad value):V   (bqfake's, after integer's)
//	Cannot convert value to boolean (bad value):V          (bqfake's, after integer's)
//	Cannot convert value to string (bad value):V           (bqfake's, after integer's)
//	Couldn't convert value to timestamp: Could not parse 'V' as a timestamp. Required format is YYYY-MM-DD HH:MM[:SS[.SSSSSS]]
//	                                                       (prefix confirmed)
//	Timestamp field value is out of range:V                (confirmed)
//	Invalid NUMERIC value: V                               (confirmed)
//
// and similar ones for DATE, TIME, DATETIME, BYTES, GEOGRAPHY, INTERVAL and
// RANGE. Problems come in schema field order (a RECORD's at its place),
// then the unknown fields in name order. "Confirmed" means seen in
// BigQuery answers quoted in public issue threads or Google's own tooling;
// the others are bqfake's wording. BigQuery itself may report fewer
// problems per row than bqfake does.
package bqfake
