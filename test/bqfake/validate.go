package bqfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	bq "google.golang.org/api/bigquery/v2"
)

// RowError is one problem of a row, as BigQuery reports it in
// insertErrors[].errors[]: Reason "invalid", Location the field's path
// ("scan_id", "evidence[0].first_seen", "nodes[2]"), and Message.
type RowError struct{ Reason, Location, Message string }

func (e RowError) String() string { return e.Location + ": " + e.Message }

// field is a schema field of either schema representation.
type field struct {
	name, typ, mode string // typ and mode canonical
	fields          []*field
}

func canonType(t string) string {
	switch t = strings.ToUpper(t); t {
	case "INT64":
		return "INTEGER"
	case "FLOAT64":
		return "FLOAT"
	case "BOOL":
		return "BOOLEAN"
	case "STRUCT":
		return "RECORD"
	case "DECIMAL":
		return "NUMERIC"
	case "BIGDECIMAL":
		return "BIGNUMERIC"
	}
	return t
}

func canonMode(m string) string {
	if m == "" {
		return "NULLABLE"
	}
	return strings.ToUpper(m)
}

func fromClientSchema(s bigquery.Schema) []*field {
	out := make([]*field, 0, len(s))
	for _, f := range s {
		mode := "NULLABLE"
		switch {
		case f.Repeated:
			mode = "REPEATED"
		case f.Required:
			mode = "REQUIRED"
		}
		out = append(out, &field{name: f.Name, typ: canonType(string(f.Type)), mode: mode, fields: fromClientSchema(f.Schema)})
	}
	return out
}

func fromRESTSchema(s *bq.TableSchema) []*field {
	if s == nil {
		return nil
	}
	return fromRESTFields(s.Fields)
}

func fromRESTFields(fs []*bq.TableFieldSchema) []*field {
	out := make([]*field, 0, len(fs))
	for _, f := range fs {
		out = append(out, &field{name: f.Name, typ: canonType(f.Type), mode: canonMode(f.Mode), fields: fromRESTFields(f.Fields)})
	}
	return out
}

// ValidateRow checks one JSON row against a schema as tabledata.insertAll
// (or a NEWLINE_DELIMITED_JSON load) does and returns every problem, in
// schema field order (a RECORD's problems at its place), then the row's
// unknown fields in name order. Values are expected as encoding/json
// decodes them (nil, bool, float64 or json.Number, string, []any,
// map[string]any); other Go values are first converted through their JSON
// encoding. See the package documentation for the accepted encodings and the
// messages.
func ValidateRow(schema bigquery.Schema, row map[string]any) []RowError {
	return validateRow(fromClientSchema(schema), normalizeObject(row), false)
}

func validateRow(fields []*field, row map[string]any, ignoreUnknown bool) []RowError {
	v := validator{ignoreUnknown: ignoreUnknown}
	v.record(fields, row, "")
	return v.errs
}

type validator struct {
	ignoreUnknown bool
	errs          []RowError
}

func (v *validator) add(loc, format string, args ...any) {
	v.errs = append(v.errs, RowError{Reason: "invalid", Location: loc, Message: fmt.Sprintf(format, args...)})
}

// lookup finds a field's value, its name matched case-insensitively as
// BigQuery's column names are.
func lookup(row map[string]any, name string) (any, string, bool) {
	if v, ok := row[name]; ok {
		return v, name, true
	}
	for k, v := range row {
		if strings.EqualFold(k, name) {
			return v, k, true
		}
	}
	return nil, "", false
}

func (v *validator) record(fields []*field, row map[string]any, prefix string) {
	var buf [32]string
	used := buf[:0] // the row's keys that fields have, sorted below
	for _, f := range fields {
		val, key, present := lookup(row, f.name)
		if present {
			used = append(used, key)
		}
		v.field(f, val, present, prefix+f.name)
	}
	if v.ignoreUnknown {
		return
	}
	slices.Sort(used)
	if used = slices.Compact(used); len(used) == len(row) {
		return // every key is a field's
	}
	var unknown []string
	for k := range row {
		if _, ok := slices.BinarySearch(used, k); !ok {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		v.add(prefix+k, "no such field: %s.", k)
	}
}

func (v *validator) field(f *field, val any, present bool, loc string) {
	if !present || val == nil {
		if f.mode == "REQUIRED" {
			v.add(loc, "Missing required field: %s.", f.name)
		}
		return
	}
	arr, isArray := val.([]any)
	if f.mode == "REPEATED" {
		if !isArray {
			v.add(loc, "Non-array value specified for repeated field: %s.", f.name)
			return
		}
		for i, el := range arr {
			elLoc := fmt.Sprintf("%s[%d]", loc, i)
			if el == nil {
				v.add(elLoc, "Null value found in repeated field: %s.", f.name)
				continue
			}
			if _, ok := el.([]any); ok {
				v.add(elLoc, "Array specified for non-repeated field: %s.", f.name)
				continue
			}
			v.value(f, el, elLoc)
		}
		return
	}
	if isArray {
		v.add(loc, "Array specified for non-repeated field: %s.", f.name)
		return
	}
	v.value(f, val, loc)
}

func (v *validator) value(f *field, val any, loc string) {
	if f.typ == "RECORD" {
		m, ok := val.(map[string]any)
		if !ok {
			v.add(loc, "This field: %s is not a record.", f.name)
			return
		}
		v.record(f.fields, m, loc+".")
		return
	}
	if msg := checkScalar(f.typ, val); msg != "" {
		v.add(loc, "%s", msg)
	}
}

var (
	intRe     = regexp.MustCompile(`^[+-]?[0-9]+$`)
	decimalRe = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
	// TIMESTAMP strings: a date, optionally a time (T or space), optionally
	// a zone: Z, UTC or an offset.
	timestampRe = regexp.MustCompile(`^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})` +
		`(?:[Tt ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?)?` +
		`\s*(Z|z|UTC|[+-][0-9]{1,2}(?::?[0-9]{2})?)?$`)
	dateRe     = regexp.MustCompile(`^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$`)
	timeRe     = regexp.MustCompile(`^([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?$`)
	datetimeRe = regexp.MustCompile(`^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[Tt ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?)?$`)
)

// The range of TIMESTAMP, in seconds since the epoch.
const (
	minTimestampSeconds = -62135596800 // 0001-01-01 00:00:00 UTC
	maxTimestampSeconds = 253402300800 // 10000-01-01 00:00:00 UTC, exclusive
)

// checkScalar checks a non-null, non-array value of a scalar type and
// returns "" or the message.
func checkScalar(typ string, val any) string {
	text := valueText(val)
	switch typ {
	case "STRING":
		if _, ok := val.(string); !ok {
			return "Cannot convert value to string (bad value):" + text
		}
	case "INTEGER":
		if !isInteger(val) {
			return "Cannot convert value to integer (bad value):" + text
		}
	case "FLOAT":
		if !isFloat(val) {
			return "Cannot convert value to floating point (bad value):" + text
		}
	case "BOOLEAN":
		switch b := val.(type) {
		case bool:
		case string:
			if !strings.EqualFold(b, "true") && !strings.EqualFold(b, "false") {
				return "Cannot convert value to boolean (bad value):" + text
			}
		default:
			return "Cannot convert value to boolean (bad value):" + text
		}
	case "TIMESTAMP":
		return checkTimestamp(val, text)
	case "DATE":
		if s, ok := val.(string); !ok || !validCivil(dateRe, s, true, false) {
			return "Couldn't convert value to date: Could not parse '" + text + "' as a date. Required format is YYYY-MM-DD"
		}
	case "TIME":
		if s, ok := val.(string); !ok || !validCivil(timeRe, s, false, true) {
			return "Couldn't convert value to time: Could not parse '" + text + "' as a time. Required format is HH:MM[:SS[.SSSSSS]]"
		}
	case "DATETIME":
		if s, ok := val.(string); !ok || !validCivil(datetimeRe, s, true, true) {
			return "Couldn't convert value to datetime: Could not parse '" + text + "' as a datetime. Required format is YYYY-MM-DD[ HH:MM[:SS[.SSSSSS]]]"
		}
	case "NUMERIC", "BIGNUMERIC":
		ok := false
		switch n := val.(type) {
		case string:
			ok = decimalRe.MatchString(n)
		case json.Number, float64:
			ok = true
		}
		if !ok {
			return "Invalid " + typ + " value: " + text
		}
	case "BYTES":
		s, ok := val.(string)
		if ok {
			_, err := base64.StdEncoding.DecodeString(s)
			ok = err == nil
		}
		if !ok {
			return "Cannot convert value to bytes (bad value):" + text
		}
	case "GEOGRAPHY", "INTERVAL":
		if _, ok := val.(string); !ok {
			return "Cannot convert value to " + strings.ToLower(typ) + " (bad value):" + text
		}
	case "RANGE":
		if _, ok := val.(map[string]any); !ok {
			return "Cannot convert value to range (bad value):" + text
		}
	}
	// JSON and unknown types take any value.
	return ""
}

func isInteger(val any) bool {
	var s string
	switch n := val.(type) {
	case json.Number:
		s = string(n)
	case string:
		s = n
	case float64:
		return n == math.Trunc(n) && n >= math.MinInt64 && n < math.MaxInt64
	default:
		return false
	}
	if !intRe.MatchString(s) {
		return false
	}
	_, err := strconv.ParseInt(strings.TrimPrefix(s, "+"), 10, 64)
	return err == nil
}

func isFloat(val any) bool {
	switch n := val.(type) {
	case json.Number, float64:
		return true
	case string:
		switch n {
		case "NaN", "Infinity", "-Infinity", "+Infinity", "inf", "-inf", "+inf":
			return true
		}
		_, err := strconv.ParseFloat(n, 64)
		return err == nil && decimalRe.MatchString(n)
	}
	return false
}

func checkTimestamp(val any, text string) string {
	switch t := val.(type) {
	case json.Number, float64:
		f, ok := new(big.Float).SetString(text)
		if !ok {
			return "Cannot convert value to timestamp (bad value):" + text
		}
		if f.Cmp(big.NewFloat(minTimestampSeconds)) < 0 || f.Cmp(big.NewFloat(maxTimestampSeconds)) >= 0 {
			return "Timestamp field value is out of range:" + text
		}
		return ""
	case string:
		if validTimestamp(t) {
			return ""
		}
	}
	return "Couldn't convert value to timestamp: Could not parse '" + text + "' as a timestamp. Required format is YYYY-MM-DD HH:MM[:SS[.SSSSSS]]"
}

func validTimestamp(s string) bool {
	m := timestampRe.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	year, month, day := atoi(m[1]), atoi(m[2]), atoi(m[3])
	if year < 1 || !validDate(year, month, day) {
		return false
	}
	if m[4] != "" && (atoi(m[4]) > 23 || atoi(m[5]) > 59 || (m[6] != "" && atoi(m[6]) > 59)) {
		return false
	}
	if z := m[8]; z != "" && z != "Z" && z != "z" && z != "UTC" {
		digits := strings.ReplaceAll(z[1:], ":", "")
		h, mm := digits, "0"
		if len(digits) > 2 {
			h, mm = digits[:len(digits)-2], digits[len(digits)-2:]
		}
		if atoi(h) > 14 || atoi(mm) > 59 {
			return false
		}
	}
	return true
}

// validCivil checks a DATE, TIME or DATETIME string matched by re, whose
// groups are year, month, day (when hasDate) then hour, minute, second.
func validCivil(re *regexp.Regexp, s string, hasDate, hasTime bool) bool {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	i := 1
	if hasDate {
		if y := atoi(m[1]); y < 1 || !validDate(y, atoi(m[2]), atoi(m[3])) {
			return false
		}
		i = 4
	}
	if hasTime && m[i] != "" {
		if atoi(m[i]) > 23 || atoi(m[i+1]) > 59 || (m[i+2] != "" && atoi(m[i+2]) > 59) {
			return false
		}
	}
	return true
}

func validDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return t.Day() == d && int(t.Month()) == m
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// valueText is a value as BigQuery quotes it in messages: a string bare,
// anything else as JSON.
func valueText(val any) string {
	switch v := val.(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	b, err := json.Marshal(val)
	if err != nil {
		return fmt.Sprint(val)
	}
	return string(b)
}

// normalizeObject converts a row to the values encoding/json decodes.
func normalizeObject(row map[string]any) map[string]any {
	out := make(map[string]any, len(row))
	for k, v := range row {
		out[k] = normalize(v)
	}
	return out
}

func normalize(v any) any {
	switch x := v.(type) {
	case nil, bool, string, json.Number, float64:
		return v
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case map[string]any:
		return normalizeObject(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v // left as is: it fails every type check
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return v
	}
	return out
}

// pruneUnknown deletes, in place, the fields of a valid row that the schema
// does not have (ignoreUnknownValues) and reports whether it deleted any.
func pruneUnknown(fields []*field, row map[string]any) bool {
	pruned := false
	for k, val := range row {
		var f *field
		for _, c := range fields {
			if strings.EqualFold(c.name, k) {
				f = c
				break
			}
		}
		if f == nil {
			delete(row, k)
			pruned = true
			continue
		}
		if f.typ != "RECORD" {
			continue
		}
		switch x := val.(type) {
		case map[string]any:
			pruned = pruneUnknown(f.fields, x) || pruned
		case []any:
			for _, el := range x {
				if m, ok := el.(map[string]any); ok {
					pruned = pruneUnknown(f.fields, m) || pruned
				}
			}
		}
	}
	return pruned
}
