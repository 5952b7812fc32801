package catalog

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// safeStem is a fuzzed file name that can be written as is.
var safeStem = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// FuzzLoadCatalog fuzzes one issue file as fleetscan catalog --catalog DIR
// reads it (LoadDir over the embedded catalog) and as the embedded catalog
// is read (Load of an fs.FS): loading never panics, gives an error or a
// catalog that validates and whose issues all have IDs, and gives the same
// result every time.
func FuzzLoadCatalog(f *testing.F) {
	seed := func(name string, data []byte) {
		f.Add(strings.TrimSuffix(filepath.Base(name), ".yaml"), data)
	}
	issues, err := fs.Glob(embedded, "issues/*.yaml")
	if err != nil || len(issues) == 0 {
		f.Fatalf("no embedded issues: %v", err)
	}
	for _, p := range issues {
		data, err := fs.ReadFile(embedded, p)
		if err != nil {
			f.Fatal(err)
		}
		seed(p, data)
	}
	bad, err := filepath.Glob("testdata/bad/*/*.yaml")
	if err != nil || len(bad) == 0 {
		f.Fatalf("no testdata/bad files: %v", err)
	}
	for _, p := range bad {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seed(p, data)
	}
	seed("TEST-ISSUE", []byte("id: TEST-ISSUE\n"))
	seed("TEST-ISSUE", []byte("[1, 2]\n"))
	seed("TEST-ISSUE", []byte("a: &a [*a]\n"))
	seed("TEST-ISSUE", []byte("id: TEST-ISSUE\n---\nid: TEST-ISSUE\n"))
	seed("TEST-ISSUE", []byte("idd: TEST-ISSUE\n---\n# end\n---\n[\n"))

	// The embedded catalog the CLI adds --catalog DIR to, read once: LoadDir
	// only validates its issues again, which changes nothing.
	base, err := Embedded()
	if err != nil {
		f.Fatalf("Embedded(): %v", err)
	}

	f.Fuzz(func(t *testing.T, stem string, data []byte) {
		if !safeStem.MatchString(stem) {
			stem = "TEST-ISSUE"
		}
		name := stem + ".yaml"

		// The CLI's --catalog DIR.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := LoadDir(dir, base)
		checkLoaded(t, got, err)
		again, err2 := LoadDir(dir, base)
		sameLoad(t, got, err, again, err2)

		// The embedded catalog's way: Load of an fs.FS.
		fsys := fstest.MapFS{name: {Data: data}}
		got, err = Load(fsys)
		checkLoaded(t, got, err)
		again, err2 = Load(fsys)
		sameLoad(t, got, err, again, err2)
	})
}

func checkLoaded(t *testing.T, c *Catalog, err error) {
	t.Helper()
	if err != nil {
		if c != nil {
			t.Fatalf("a catalog and an error: %v", err)
		}
		return
	}
	if c == nil {
		t.Fatal("neither a catalog nor an error")
	}
	if len(c.Version) != 12 {
		t.Fatalf("Version = %q, want 12 hex digits", c.Version)
	}
	if err := Validate(c.Issues); err != nil {
		t.Fatalf("loaded catalog does not validate:\n%v", err)
	}
	for i, is := range c.Issues {
		if is.ID == "" {
			t.Fatalf("issue %d has no ID", i)
		}
		if c.Issue(is.ID) != is {
			t.Fatalf("Issue(%q) is not the listed issue", is.ID)
		}
	}
}

var catalogCmp = []cmp.Option{
	cmp.AllowUnexported(Catalog{}, Issue{}, Range{}, Symptom{}, KubernetesCheck{}, SupportMinor{}, CELExpr{}, versionIndex{}, IssueSet{}),
	// A compiled condition is the same when it reads the same fields at the
	// same index: its program is a function of the expression compared above.
	cmp.Comparer(func(a, b *celCondition) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.pool == b.pool && a.index == b.index && slices.Equal(a.reads, b.reads) && a.text == b.text
	}),
	cmp.Comparer(func(a, b *regexp.Regexp) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.String() == b.String()
	}),
}

func sameLoad(t *testing.T, c1 *Catalog, err1 error, c2 *Catalog, err2 error) {
	t.Helper()
	if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
		t.Fatalf("not deterministic: error %v, then %v", err1, err2)
	}
	if diff := cmp.Diff(c1, c2, catalogCmp...); diff != "" {
		t.Fatalf("not deterministic (-first +second):\n%s", diff)
	}
}
