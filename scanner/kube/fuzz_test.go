package kube

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

// FuzzReadDump: a kubectl dump never panics the reader, reads the same
// twice, and what it reads the rules can always evaluate.
func FuzzReadDump(f *testing.F) {
	seeds, _ := filepath.Glob("../../testdata/demo/kube/*.json")
	rules, _ := filepath.Glob("testdata/rules/*.json")
	for _, p := range append(seeds, rules...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{``, `{}`, `{"kind":"List","items":[]}`, `{"kind":"Service","spec":{"type":"NodePort"}}`,
		`{"kind":"List","items":[{"kind":"DaemonSet","spec":{"template":{"spec":{"containers":[{"image":"ip-masq-agent:v2.12.0"}]}}}}]}`, `[1,2]`} {
		f.Add([]byte(s))
	}
	cat, err := catalog.Embedded()
	if err != nil {
		f.Fatal(err)
	}
	checks := cat.KubernetesChecks()
	f.Fuzz(func(t *testing.T, data []byte) {
		var a, b Objects
		errA, errB := ReadDump("fuzz.json", data, &a), ReadDump("fuzz.json", data, &b)
		if (errA == nil) != (errB == nil) || (errA != nil && errA.Error() != errB.Error()) {
			t.Fatalf("not deterministic: %v, then %v", errA, errB)
		}
		if diff := cmp.Diff(a, b, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("not deterministic (-first +second):\n%s", diff)
		}
		for _, k := range checks {
			v := Evaluate(k, &a)
			if len(v.Objects) > maxObjects || v.Count < len(v.Objects) {
				t.Fatalf("%s: verdict %+v", k.Rule, v)
			}
		}
	})
}
