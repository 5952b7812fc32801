package schema

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
)

// AppendJSONString is encoding/json's string encoding, with HTML escaping
// (json.Marshal) and without (an Encoder with SetEscapeHTML(false)): every
// byte, every rune class, and random byte strings.
func TestAppendJSONStringIsEncodingJSON(t *testing.T) {
	var cases []string
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}), "a"+string([]byte{byte(b)})+"z")
	}
	for _, r := range []rune{0x7f, 0x80, 0xa0, 0x7ff, 0x800, 0x2027, 0x2028, 0x2029, 0x202a, 0xd7ff, 0xe000, 0xfffd, 0xfffe, 0xffff, 0x10000, 0x10ffff} {
		cases = append(cases, string(r), "x"+string(r)+"<y>")
	}
	cases = append(cases, "", "plain", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "é\xe2\x80", strings.Repeat("<&>", 100))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = byte(rng.IntN(256))
			} else {
				const alphabet = "a<>&\"\\\n\x01\xe2\x80\xa8\xff"
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString([]byte("prefix"), s, true); string(got) != "prefix"+string(want) {
			t.Errorf("AppendJSONString(%q, escapeHTML) = %s, want %s", s, got[len("prefix"):], want)
		}
		var plain bytes.Buffer
		enc := json.NewEncoder(&plain)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString([]byte("prefix"), s, false); string(got)+"\n" != "prefix"+plain.String() {
			t.Errorf("AppendJSONString(%q) = %s, want %s", s, got[len("prefix"):], plain.Bytes())
		}
	}
}

type textKind int64

func (k textKind) MarshalText() ([]byte, error) {
	return []byte("kind<" + string(rune('a'+k)) + ">"), nil
}

type inner struct {
	Name  string     `bigquery:"name"`
	At    *time.Time `bigquery:"at"`
	Tags  []string   `bigquery:"tags"`
	Score float64    `bigquery:"score"`
}

type Embedded struct {
	Flag bool   `bigquery:"flag"`
	Tiny int8   `bigquery:"tiny"`
	U16  uint16 `bigquery:"u16"`
}

type allKinds struct {
	Embedded
	Untagged   string
	Skipped    string       `bigquery:"-"`
	When       time.Time    `bigquery:"when"`
	F32        float32      `bigquery:"f32"`
	F64        float64      `bigquery:"f64"`
	U32        uint32       `bigquery:"u32"`
	Raw        []byte       `bigquery:"raw"`
	Kind       textKind     `bigquery:"kind"`
	Kinds      []textKind   `bigquery:"kinds"`
	Times      []time.Time  `bigquery:"times"`
	Ptrs       []*time.Time `bigquery:"ptrs"`
	Floats     []float64    `bigquery:"floats"`
	One        inner        `bigquery:"one"`
	Many       []inner      `bigquery:"many"`
	unexported string
}

// A plan encodes any row the schema inference accepts as the client's
// StructSaver and encoding/json do: the map the StructSaver makes, encoded.
func TestRowPlanIsStructSaver(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("", -90*60))
	rows := []allKinds{
		{},
		{
			Embedded: Embedded{Flag: true, Tiny: -128, U16: 65535}, Untagged: "<u>", Skipped: "never", unexported: "never",
			When: at, F32: 1e-7, F64: 1e21, U32: math.MaxUint32, Raw: []byte("raw<>"), Kind: 2,
			Kinds: []textKind{0, 1}, Times: []time.Time{at, {}}, Ptrs: []*time.Time{&at, nil},
			Floats: []float64{0, -0.5, 123456789, 1e-9, math.MaxFloat64},
			One:    inner{Name: "one", At: &at, Tags: []string{"a", ""}, Score: 3.25},
			Many:   []inner{{}, {Name: "\u2028", Tags: []string{}}},
		},
		{Raw: []byte{}, Kinds: []textKind{}, Times: []time.Time{}, Many: []inner{}, F64: -1e-7, F32: 3.4e38},
	}
	s, p := allKindsPlan(t)
	for i, r := range rows {
		m, _, err := (&bigquery.StructSaver{Schema: s, Struct: r}).Save()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.appendObject(nil, reflect.ValueOf(&r).Elem())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("row %d (-StructSaver +plan):\n%s", i, diff)
		}
		if !utf8.Valid(got) || !json.Valid(got) {
			t.Errorf("row %d: not valid JSON: %s", i, got)
		}
		// The columns one by one, as the Inserter path sends them.
		cols := map[string]json.RawMessage{}
		if _, err := p.appendColumns(nil, reflect.ValueOf(&r).Elem(), func(name string, v []byte) { cols[name] = v }); err != nil {
			t.Fatal(err)
		}
		if b, err := json.Marshal(cols); err != nil || string(b) != string(want) {
			t.Errorf("row %d columns = %s, %v; want %s", i, b, err, want)
		}
	}
}

// allKindsPlan is allKinds' schema, as the tables' are made, and its row
// plan.
func allKindsPlan(t *testing.T) (bigquery.Schema, *rowPlan) {
	t.Helper()
	rt := reflect.TypeFor[allKinds]()
	s, err := inferSchema(rt)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newRowPlan(rt, s)
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

// A field with no BigQuery type is refused, named by the struct that
// declares it, also inside an embedded struct.
func TestInferSchemaErrors(t *testing.T) {
	type Embedded struct {
		OK  string
		Bad map[string]int
	}
	type outer struct {
		Embedded
		Name string
	}
	type nested struct{ Rows [][]string }
	for _, tc := range []struct {
		rt   reflect.Type
		want string
	}{
		{reflect.TypeFor[outer](), "Embedded.Bad: unsupported type map[string]int"},
		{reflect.TypeFor[nested](), "nested.Rows: nested repeated type [][]string"},
	} {
		if _, err := inferSchema(tc.rt); err == nil || err.Error() != tc.want {
			t.Errorf("inferSchema(%s) = %v, want %s", tc.rt, err, tc.want)
		}
	}
}

// An unencodable value fails as encoding/json fails on the StructSaver's
// map.
func TestRowPlanErrors(t *testing.T) {
	s, p := allKindsPlan(t)
	for i, r := range []allKinds{
		{F64: math.NaN()},
		{Floats: []float64{1, math.Inf(1)}},
		{When: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Many: []inner{{At: new(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}}},
	} {
		m, _, err := (&bigquery.StructSaver{Schema: s, Struct: r}).Save()
		if err != nil {
			t.Fatal(err)
		}
		_, want := json.Marshal(m)
		_, err = p.appendObject(nil, reflect.ValueOf(&r).Elem())
		if err == nil || want == nil || err.Error() != want.Error() {
			t.Errorf("case %d: appendObject error = %v, want %v", i, err, want)
		}
	}
}

// The tables' plans come from their row types and schemas.
func TestTablePlans(t *testing.T) {
	for _, tb := range Tables() {
		p, err := planFor(tb)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range p.cols {
			names = append(names, c.name)
		}
		var want []string
		for _, f := range tb.Schema() {
			want = append(want, f.Name)
		}
		if len(names) != len(want) {
			t.Errorf("%s: plan has columns %v, want those of %v", tb.Name, names, want)
		}
	}
}

// With no endpoint option, InsertAll posts to BigQuery's own.
func TestNewInsertAllEndpoint(t *testing.T) {
	for _, tc := range []struct {
		opts []option.ClientOption
		want string
	}{
		{[]option.ClientOption{option.WithoutAuthentication()}, "https://bigquery.googleapis.com/bigquery/v2/"},
		{[]option.ClientOption{option.WithoutAuthentication(), option.WithEndpoint("http://127.0.0.1:9/bigquery/v2/")}, "http://127.0.0.1:9/bigquery/v2/"},
	} {
		ia, err := NewInsertAll(t.Context(), tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if ia.base != tc.want {
			t.Errorf("base = %s, want %s", ia.base, tc.want)
		}
	}
}
