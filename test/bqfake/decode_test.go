package bqfake

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// decodeValidObject decodes every valid JSON value as decodeObject
// (encoding/json with UseNumber) does.
func TestDecodeValidObjectIsDecodeObject(t *testing.T) {
	cases := []string{
		`{}`, `null`, ` { } `, "\t{\n\"a\" :\r1 }\n", `{"a":{}}`, `{"a":[]}`, `{"a":[[],[{}]]}`,
		`{"a":1,"a":2}`, `{"a":{"x":1},"a":{"y":2}}`, `{"A":1,"a":2}`,
		`{"n":-0,"e":1e5,"E":1.5E-3,"big":123456789012345678901234567890,"neg":-12.5e+7}`,
		`{"t":true,"f":false,"z":null,"arr":[true,false,null,"s",1]}`,
		`{"s":"plain","u":"\u00e9\u2028","pair":"\ud83d\ude80","lone":"\ud800x","bad":"\udc00\ud800",` +
			`"esc":"\"\\\/\b\f\n\r\t","nul":"\u0000","html":"\u003c\u003e\u0026","utf8":"é🚀"}`,
		"{\"raw\":\"\xff\xfe\",\"mix\":\"a\xc3\",\"ok\":\"\xc3\xa9\",\"k\xff\":1}",
		`{"":""}`, `{"nested":{"deep":{"deeper":[{"x":[1,[2,[3]]]}]}}}`,
		// Not objects.
		`[]`, `[1]`, `"s"`, `1`, `true`,
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		b, err := json.Marshal(map[string]any{"v": randomValue(rng, 4), "w": randomValue(rng, 2)})
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		if !json.Valid([]byte(c)) {
			t.Fatalf("case %q is not valid JSON", c)
		}
		want, wantErr := decodeObject([]byte(c))
		got, err := decodeValidObject([]byte(c))
		if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeValidObject(%q) = %#v, %v; want %#v, %v", c, got, err, want, wantErr)
		}
	}
}

func randomValue(rng *rand.Rand, depth int) any {
	switch n := rng.IntN(8); {
	case depth == 0 || n == 0:
		const alphabet = "ab \"\\/\n\x01<>&é\u2028🚀\xff"
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteString(string([]rune(alphabet)[rng.IntN(len([]rune(alphabet)))]))
		}
		if rng.IntN(10) == 0 {
			sb.WriteByte(0xff) // invalid UTF-8, which json.Marshal replaces
		}
		return sb.String()
	case n == 1:
		return rng.Int64() - rng.Int64()
	case n == 2:
		return json.Number(strconv.FormatFloat(rng.NormFloat64()*1e6, 'g', -1, 64))
	case n == 3:
		return rng.IntN(2) == 0
	case n == 4:
		return nil
	case n == 5:
		a := make([]any, rng.IntN(4))
		for i := range a {
			a[i] = randomValue(rng, depth-1)
		}
		return a
	}
	m := map[string]any{}
	for range rng.IntN(5) {
		m[randomValue(rng, 0).(string)] = randomValue(rng, depth-1)
	}
	return m
}
