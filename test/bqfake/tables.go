package bqfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

var (
	datasetIDRe = regexp.MustCompile(`^[A-Za-z0-9_]+$`)                        // and at most 1024 bytes
	tableIDRe   = regexp.MustCompile(`^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]+$`) // and at most 1024 bytes
)

func notFoundDataset(project, datasetID string) *apiError {
	return errorf(http.StatusNotFound, "notFound", "Not found: Dataset %s:%s", project, datasetID)
}

func notFoundTable(project, datasetID, tableID string) *apiError {
	return errorf(http.StatusNotFound, "notFound", "Not found: Table %s:%s.%s", project, datasetID, tableID)
}

// checkIfMatch honours an If-Match precondition (the client's etag
// argument of Update).
func checkIfMatch(r *http.Request, etag string) *apiError {
	want := r.Header.Get("If-Match")
	if want == "" || want == "*" || want == etag {
		return nil
	}
	return errorf(http.StatusPreconditionFailed, "conditionNotMet", "Precondition check failed.")
}

func (s *Server) selfLink(parts ...string) string {
	return s.srv.URL + BasePath + strings.Join(parts, "/")
}

// ---- datasets ----

func (s *Server) datasetsInsert(r *http.Request, rt route) (any, *apiError) {
	var ds bq.Dataset
	if err := decodeBody(r, &ds); err != nil {
		return nil, err
	}
	if ds.DatasetReference == nil || ds.DatasetReference.DatasetId == "" {
		return nil, errorf(http.StatusBadRequest, "invalid", "Required parameter is missing: datasetReference.datasetId")
	}
	if p := ds.DatasetReference.ProjectId; p != "" && p != rt.project {
		return nil, errorf(http.StatusBadRequest, "invalid", "Dataset project %s does not match the request's project %s", p, rt.project)
	}
	id := ds.DatasetReference.DatasetId
	if !datasetIDRe.MatchString(id) || len(id) > 1024 {
		return nil, errorf(http.StatusBadRequest, "invalid", "Invalid dataset ID %q. Dataset IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long.", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := rt.project + ":" + id
	if s.datasets[key] != nil {
		return nil, errorf(http.StatusConflict, "duplicate", "Already Exists: Dataset %s", key)
	}
	millis, etag := s.tick()
	ds.Kind = "bigquery#dataset"
	ds.Id = key
	ds.DatasetReference = &bq.DatasetReference{ProjectId: rt.project, DatasetId: id}
	ds.Etag = etag
	ds.CreationTime, ds.LastModifiedTime = millis, millis
	ds.SelfLink = s.selfLink("projects", rt.project, "datasets", id)
	ds.Type = "DEFAULT"
	if ds.Location == "" {
		ds.Location = "US"
	}
	s.datasets[key] = &dataset{meta: cloneJSON(&ds), tables: map[string]*table{}}
	return cloneJSON(&ds), nil
}

func (s *Server) datasetsGet(_ *http.Request, rt route) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.datasets[rt.project+":"+rt.dataset]
	if d == nil {
		return nil, notFoundDataset(rt.project, rt.dataset)
	}
	return cloneJSON(d.meta), nil
}

func (s *Server) datasetsList(_ *http.Request, rt route) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := &bq.DatasetList{Kind: "bigquery#datasetList"}
	for _, d := range s.datasets {
		if d.meta.DatasetReference.ProjectId != rt.project {
			continue
		}
		list.Datasets = append(list.Datasets, &bq.DatasetListDatasets{
			Kind: "bigquery#dataset", Id: d.meta.Id, Location: d.meta.Location,
			DatasetReference: d.meta.DatasetReference, FriendlyName: d.meta.FriendlyName,
			Labels: d.meta.Labels, Type: d.meta.Type,
		})
	}
	sort.Slice(list.Datasets, func(i, j int) bool { return list.Datasets[i].Id < list.Datasets[j].Id })
	return list, nil
}

func (s *Server) datasetsDelete(r *http.Request, rt route) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := rt.project + ":" + rt.dataset
	d := s.datasets[key]
	if d == nil {
		return nil, notFoundDataset(rt.project, rt.dataset)
	}
	if len(d.tables) > 0 && r.URL.Query().Get("deleteContents") != "true" {
		return nil, errorf(http.StatusBadRequest, "resourceInUse", "Dataset %s is still in use", key)
	}
	delete(s.datasets, key)
	return nil, nil
}

func (s *Server) datasetsPatch(r *http.Request, rt route) (any, *apiError) {
	var patch map[string]any
	if err := decodeBody(r, &patch); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.datasets[rt.project+":"+rt.dataset]
	if d == nil {
		return nil, notFoundDataset(rt.project, rt.dataset)
	}
	if err := checkIfMatch(r, d.meta.Etag); err != nil {
		return nil, err
	}
	cur := patch
	if r.Method == http.MethodPatch {
		cur = toMap(d.meta)
		mergePatch(cur, patch)
	}
	var ds bq.Dataset
	if err := fromMap(cur, &ds); err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid", "Invalid dataset: %v", err)
	}
	old := d.meta
	ds.Kind, ds.Id, ds.DatasetReference, ds.SelfLink, ds.Type = old.Kind, old.Id, old.DatasetReference, old.SelfLink, old.Type
	ds.CreationTime, ds.Location = old.CreationTime, old.Location
	ds.LastModifiedTime, ds.Etag = s.tick()
	d.meta = cloneJSON(&ds)
	return cloneJSON(&ds), nil
}

// ---- tables ----

func (s *Server) tablesInsert(r *http.Request, rt route) (any, *apiError) {
	var t bq.Table
	if err := decodeBody(r, &t); err != nil {
		return nil, err
	}
	if t.TableReference == nil || t.TableReference.TableId == "" {
		return nil, errorf(http.StatusBadRequest, "invalid", "Required parameter is missing: tableReference.tableId")
	}
	id := t.TableReference.TableId
	if !tableIDRe.MatchString(id) || len(id) > 1024 {
		return nil, errorf(http.StatusBadRequest, "invalid", "Invalid table ID %q.", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.datasets[rt.project+":"+rt.dataset]
	if d == nil {
		return nil, notFoundDataset(rt.project, rt.dataset)
	}
	if d.tables[id] != nil {
		return nil, errorf(http.StatusConflict, "duplicate", "Already Exists: Table %s:%s.%s", rt.project, rt.dataset, id)
	}
	if t.Schema != nil && t.View != nil && t.View.Query != "" {
		return nil, errorf(http.StatusBadRequest, "invalid", "Schema field shouldn't be used as input with a view")
	}
	if msg := checkTable(&t); msg != "" {
		return nil, errorf(http.StatusBadRequest, "invalid", "%s", msg)
	}
	millis, etag := s.tick()
	t.Kind = "bigquery#table"
	t.Id = fmt.Sprintf("%s:%s.%s", rt.project, rt.dataset, id)
	t.TableReference = &bq.TableReference{ProjectId: rt.project, DatasetId: rt.dataset, TableId: id}
	t.SelfLink = s.selfLink("projects", rt.project, "datasets", rt.dataset, "tables", id)
	t.Type = "TABLE"
	if t.View != nil {
		t.Type = "VIEW"
	}
	t.Location = d.meta.Location
	t.Etag = etag
	t.CreationTime, t.LastModifiedTime = millis, uint64(millis)
	t.NumRows, t.NumBytes, t.StreamingBuffer = 0, 0, nil
	nt := &table{meta: cloneJSON(&t)}
	d.tables[id] = nt
	return s.tableResource(nt), nil
}

func (s *Server) tablesGet(_ *http.Request, rt route) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookupTable(rt)
	if err != nil {
		return nil, err
	}
	return s.tableResource(t), nil
}

func (s *Server) tablesList(_ *http.Request, rt route) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.datasets[rt.project+":"+rt.dataset]
	if d == nil {
		return nil, notFoundDataset(rt.project, rt.dataset)
	}
	list := &bq.TableList{Kind: "bigquery#tableList"}
	for _, id := range slices.Sorted(maps.Keys(d.tables)) {
		m := d.tables[id].meta
		list.Tables = append(list.Tables, &bq.TableListTables{
			Kind: m.Kind, Id: m.Id, TableReference: m.TableReference, Type: m.Type,
			FriendlyName: m.FriendlyName, Labels: m.Labels, CreationTime: m.CreationTime,
			ExpirationTime: m.ExpirationTime, TimePartitioning: m.TimePartitioning,
			RangePartitioning: m.RangePartitioning, Clustering: m.Clustering,
		})
	}
	list.TotalItems = int64(len(list.Tables))
	return cloneJSON(list), nil
}

func (s *Server) tablesDelete(_ *http.Request, rt route) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.lookupTable(rt); err != nil {
		return nil, err
	}
	delete(s.datasets[rt.project+":"+rt.dataset].tables, rt.table)
	return nil, nil
}

// tablesPatch serves tables.patch (PATCH: the body's fields replace the
// table's, nested objects merged, null clearing) and tables.update (PUT: the
// body replaces the table; an absent schema or timePartitioning is kept).
// Stored rows survive either.
func (s *Server) tablesPatch(r *http.Request, rt route) (any, *apiError) {
	var patch map[string]any
	if err := decodeBody(r, &patch); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	call := PatchCall{Project: rt.project, Dataset: rt.dataset, Table: rt.table, Method: rt.op, Code: http.StatusOK}
	res, added, viewQuery, apiErr := s.patchTable(r, rt, patch)
	call.Added, call.ViewQuery = added, viewQuery
	if apiErr != nil {
		call.Code, call.Message = apiErr.code, apiErr.message
	}
	s.patches = append(s.patches, call)
	return res, apiErr
}

// patchTable applies a patch or update; s.mu must be held.
func (s *Server) patchTable(r *http.Request, rt route, patch map[string]any) (res any, added []string, viewQuery string, _ *apiError) {
	t, err := s.lookupTable(rt)
	if err != nil {
		return nil, nil, "", err
	}
	if err := checkIfMatch(r, t.meta.Etag); err != nil {
		return nil, nil, "", err
	}
	old := t.meta
	var cur map[string]any
	if r.Method == http.MethodPatch {
		cur = toMap(old)
		mergePatch(cur, patch)
	} else {
		cur = patch
		oldMap := toMap(old)
		for _, k := range []string{"schema", "timePartitioning", "rangePartitioning"} {
			if _, ok := cur[k]; !ok && oldMap[k] != nil {
				cur[k] = oldMap[k]
			}
		}
	}
	var nt bq.Table
	if err := fromMap(cur, &nt); err != nil {
		return nil, nil, "", errorf(http.StatusBadRequest, "invalid", "Invalid table: %v", err)
	}
	if v, ok := patch["view"].(map[string]any); ok {
		if q, ok := v["query"].(string); ok {
			viewQuery = q
		}
	}
	name := fmt.Sprintf("%s:%s.%s", rt.project, rt.dataset, rt.table)
	if old.View == nil && nt.View != nil {
		return nil, nil, viewQuery, errorf(http.StatusBadRequest, "invalid", "Table %s is not a view: its view query cannot be set", name)
	}
	if old.View != nil && (nt.View == nil || nt.View.Query == "") {
		return nil, nil, viewQuery, errorf(http.StatusBadRequest, "invalid", "View %s must keep a query", name)
	}
	var oldFields, newFields []*bq.TableFieldSchema
	if old.Schema != nil {
		oldFields = old.Schema.Fields
	}
	if nt.Schema != nil {
		newFields = nt.Schema.Fields
	}
	if old.View == nil {
		var msg string
		added, msg = evolveSchema(oldFields, newFields, "")
		if msg != "" {
			return nil, added, viewQuery, errorf(http.StatusBadRequest, "invalid", "Provided Schema does not match Table %s. %s", name, msg)
		}
	}
	if !samePartitioning(old.TimePartitioning, nt.TimePartitioning) {
		return nil, added, viewQuery, errorf(http.StatusBadRequest, "invalid", "Cannot change the time partitioning of table %s", name)
	}
	if msg := checkTable(&nt); msg != "" {
		return nil, added, viewQuery, errorf(http.StatusBadRequest, "invalid", "%s", msg)
	}
	// Read-only fields stay as they were.
	nt.Kind, nt.Id, nt.TableReference, nt.SelfLink, nt.Type = old.Kind, old.Id, old.TableReference, old.SelfLink, old.Type
	nt.CreationTime, nt.Location = old.CreationTime, old.Location
	nt.NumRows, nt.NumBytes, nt.StreamingBuffer = 0, 0, nil
	millis, etag := s.tick()
	nt.LastModifiedTime, nt.Etag = uint64(millis), etag
	t.meta = cloneJSON(&nt)
	return s.tableResource(t), added, viewQuery, nil
}

func samePartitioning(a, b *bq.TimePartitioning) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return strings.EqualFold(a.Type, b.Type) && a.Field == b.Field
}

// lookupTable finds the route's table (a partition decorator "$…" ignored);
// s.mu must be held.
func (s *Server) lookupTable(rt route) (*table, *apiError) {
	d := s.datasets[rt.project+":"+rt.dataset]
	if d == nil {
		return nil, notFoundDataset(rt.project, rt.dataset)
	}
	id, _, _ := strings.Cut(rt.table, "$")
	t := d.tables[id]
	if t == nil {
		return nil, notFoundTable(rt.project, rt.dataset, id)
	}
	return t, nil
}

// tableResource is the table as answered: a copy of the stored resource
// with numRows, numBytes and streamingBuffer from the stored rows (every row
// stays in the streaming buffer); s.mu must be held.
func (s *Server) tableResource(t *table) *bq.Table {
	out := cloneJSON(t.meta)
	if len(t.rows) > 0 {
		var n uint64
		for _, r := range t.rows {
			n += uint64(len(r.json))
		}
		out.NumRows, out.NumBytes = uint64(len(t.rows)), int64(n)
		out.StreamingBuffer = &bq.Streamingbuffer{EstimatedRows: uint64(len(t.rows)), EstimatedBytes: n, OldestEntryTime: uint64(t.meta.CreationTime)}
	}
	return out
}

// ---- schema checks ----

var knownTypes = map[string]bool{
	"STRING": true, "BYTES": true, "INTEGER": true, "FLOAT": true, "BOOLEAN": true,
	"TIMESTAMP": true, "DATE": true, "TIME": true, "DATETIME": true, "NUMERIC": true,
	"BIGNUMERIC": true, "GEOGRAPHY": true, "JSON": true, "INTERVAL": true, "RANGE": true,
	"RECORD": true,
}

// checkTable checks what BigQuery checks of a new or changed table: the
// schema's names, types and modes, time partitioning and clustering. It
// returns "" or the error message.
func checkTable(t *bq.Table) string {
	var fields []*bq.TableFieldSchema
	if t.Schema != nil {
		fields = t.Schema.Fields
	}
	if msg := checkFields(fields, ""); msg != "" {
		return msg
	}
	if tp := t.TimePartitioning; tp != nil {
		switch strings.ToUpper(tp.Type) {
		case "DAY", "HOUR", "MONTH", "YEAR":
		default:
			return fmt.Sprintf("Invalid value for timePartitioning.type: %q is not a valid value", tp.Type)
		}
		if tp.Field != "" {
			f := findField(fields, tp.Field)
			if f == nil {
				return fmt.Sprintf("The field specified for partitioning cannot be found in the schema: %s", tp.Field)
			}
			switch canonType(f.Type) {
			case "TIMESTAMP", "DATE", "DATETIME":
			default:
				return fmt.Sprintf("The field specified for time partitioning can only be of type TIMESTAMP, DATE or DATETIME. The type found is: %s.", canonType(f.Type))
			}
			if canonMode(f.Mode) == "REPEATED" {
				return fmt.Sprintf("The field specified for time partitioning cannot be REPEATED: %s", tp.Field)
			}
		}
	}
	if c := t.Clustering; c != nil {
		if len(c.Fields) > 4 {
			return fmt.Sprintf("Too many clustering fields: %d, only 4 allowed.", len(c.Fields))
		}
		for _, name := range c.Fields {
			f := findField(fields, name)
			if f == nil {
				return fmt.Sprintf("The field specified for clustering cannot be found in the schema.  Invalid field: %s.", name)
			}
			switch ty := canonType(f.Type); {
			case canonMode(f.Mode) == "REPEATED":
				return fmt.Sprintf("Clustering field %s cannot be REPEATED.", name)
			case ty == "RECORD" || ty == "FLOAT" || ty == "JSON" || ty == "INTERVAL" || ty == "RANGE":
				return fmt.Sprintf("Clustering field %s has unsupported type %s.", name, ty)
			}
		}
	}
	return ""
}

func checkFields(fields []*bq.TableFieldSchema, prefix string) string {
	seen := map[string]string{}
	for _, f := range fields {
		path := prefix + f.Name
		if f.Name == "" {
			return fmt.Sprintf("Empty field name in the schema under %q.", prefix)
		}
		if other, ok := seen[strings.ToLower(f.Name)]; ok {
			return fmt.Sprintf("Duplicate(Case Insensitive) field names: %s and %s.", other, f.Name)
		}
		seen[strings.ToLower(f.Name)] = f.Name
		ty := canonType(f.Type)
		if !knownTypes[ty] {
			return fmt.Sprintf("Invalid value for type: %s is not a valid value (field: %s)", f.Type, path)
		}
		switch canonMode(f.Mode) {
		case "NULLABLE", "REQUIRED", "REPEATED":
		default:
			return fmt.Sprintf("Invalid value for mode: %s is not a valid value (field: %s)", f.Mode, path)
		}
		if ty == "RECORD" {
			if len(f.Fields) == 0 {
				return fmt.Sprintf("Field %s is type RECORD but has no schema.", path)
			}
			if msg := checkFields(f.Fields, path+"."); msg != "" {
				return msg
			}
		} else if len(f.Fields) > 0 {
			return fmt.Sprintf("Field %s is of type %s and cannot have subfields.", path, ty)
		}
	}
	return ""
}

func findField(fields []*bq.TableFieldSchema, name string) *bq.TableFieldSchema {
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

// evolveSchema checks that the new schema only adds NULLABLE or REPEATED
// fields (or relaxes REQUIRED to NULLABLE), as BigQuery's tables.patch and
// tables.update require. It returns the dotted paths of the added fields and
// "" or what is wrong (after "Provided Schema does not match Table T. ").
func evolveSchema(old, new []*bq.TableFieldSchema, prefix string) (added []string, msg string) {
	for _, of := range old {
		path := prefix + of.Name
		nf := findField(new, of.Name)
		if nf == nil {
			return added, fmt.Sprintf("Field %s is missing in new schema", path)
		}
		ot, nt := canonType(of.Type), canonType(nf.Type)
		if ot != nt {
			return added, fmt.Sprintf("Field %s has changed type from %s to %s", path, ot, nt)
		}
		om, nm := canonMode(of.Mode), canonMode(nf.Mode)
		if om != nm && !(om == "REQUIRED" && nm == "NULLABLE") {
			return added, fmt.Sprintf("Field %s has changed mode from %s to %s", path, om, nm)
		}
		if ot == "RECORD" {
			a, m := evolveSchema(of.Fields, nf.Fields, path+".")
			added = append(added, a...)
			if m != "" {
				return added, m
			}
		}
	}
	for _, nf := range new {
		if findField(old, nf.Name) != nil {
			continue
		}
		path := prefix + nf.Name
		if canonMode(nf.Mode) == "REQUIRED" {
			return added, fmt.Sprintf("Cannot add required fields to an existing schema. (field: %s)", path)
		}
		added = append(added, path)
	}
	return added, ""
}

// ---- JSON maps ----

// toMap is a resource's JSON object.
func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bqfake: marshal %T: %v", v, err))
	}
	m, err := decodeObject(b)
	if err != nil {
		panic(fmt.Sprintf("bqfake: decode %T: %v", v, err))
	}
	return m
}

func fromMap(m map[string]any, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// mergePatch applies a JSON merge patch (RFC 7396), the semantics of a
// Google API PATCH: objects merge, null clears, anything else replaces.
func mergePatch(dst, patch map[string]any) {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			if dv, ok := dst[k].(map[string]any); ok {
				mergePatch(dv, pv)
				continue
			}
			fresh := map[string]any{}
			mergePatch(fresh, pv)
			dst[k] = fresh
		default:
			dst[k] = v
		}
	}
}
