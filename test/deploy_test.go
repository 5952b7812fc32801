package test

import (
	"archive/zip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/fleetscan/fleetscan"
	fsfunction "github.com/fleetscan/fleetscan/function"
	"github.com/fleetscan/fleetscan/scanner/kube"
	"github.com/fleetscan/fleetscan/schema"
	"github.com/fleetscan/fleetscan/test/testkit"
)

// Terraform cannot download providers here, so terraform validate cannot
// run; these tests check the module's structure offline with hcl/v2.

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// tfModule is the parsed deploy/ module.
type tfModule struct {
	dir       string
	bodies    []*hclsyntax.Body
	variables map[string]bool
	locals    map[string]hcl.Expression
	resources map[string]*hclsyntax.Block // "TYPE.NAME"
	data      map[string]bool             // "data.TYPE.NAME"
}

func parseDeploy(t *testing.T) *tfModule {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "deploy")
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf files in %s: %v", dir, err)
	}
	m := &tfModule{dir: dir, variables: map[string]bool{}, locals: map[string]hcl.Expression{},
		resources: map[string]*hclsyntax.Block{}, data: map[string]bool{}}
	p := hclparse.NewParser()
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		body := file.Body.(*hclsyntax.Body)
		m.bodies = append(m.bodies, body)
		for _, b := range body.Blocks {
			switch b.Type {
			case "variable":
				m.variables[b.Labels[0]] = true
			case "locals":
				for name, a := range b.Body.Attributes {
					m.locals[name] = a.Expr
				}
			case "resource":
				m.resources[b.Labels[0]+"."+b.Labels[1]] = b
			case "data":
				m.data["data."+b.Labels[0]+"."+b.Labels[1]] = true
			}
		}
	}
	return m
}

// local evaluates a local whose expression is a literal.
func (m *tfModule) local(t *testing.T, name string) cty.Value {
	t.Helper()
	e, ok := m.locals[name]
	if !ok {
		t.Fatalf("local.%s is not declared", name)
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("local.%s is not a literal: %v", name, diags)
	}
	return v
}

// Every var., local., data. and resource reference names something declared.
func TestTerraformReferences(t *testing.T) {
	m := parseDeploy(t)
	for _, a := range m.attributes() {
		for _, tr := range a.Expr.Variables() {
			root := tr.RootName()
			attr := func(i int) string {
				if i < len(tr) {
					if a, ok := tr[i].(hcl.TraverseAttr); ok {
						return a.Name
					}
				}
				return ""
			}
			var ok bool
			switch {
			case root == "var":
				ok = m.variables[attr(1)]
			case root == "local":
				_, ok = m.locals[attr(1)]
			case root == "data":
				ok = m.data["data."+attr(1)+"."+attr(2)]
			case root == "each" || root == "path" || root == "count" || root == "self" || root == "terraform":
				ok = true
			case strings.HasPrefix(root, "google_"):
				_, ok = m.resources[root+"."+attr(1)]
			default:
				t.Errorf("%s: unknown reference %s", tr.SourceRange(), root)
				continue
			}
			if !ok {
				t.Errorf("%s: reference to undeclared %s", tr.SourceRange(), strings.TrimSuffix(root+"."+attr(1)+"."+attr(2), "."))
			}
		}
	}
	for name := range m.variables {
		if !usedAnywhere(m, "var."+name) {
			t.Errorf("variable %s is declared but never used", name)
		}
	}
}

func usedAnywhere(m *tfModule, ref string) bool {
	for _, a := range m.attributes() {
		for _, tr := range a.Expr.Variables() {
			if len(tr) > 1 {
				if at, ok := tr[1].(hcl.TraverseAttr); ok && tr.RootName()+"."+at.Name == ref {
					return true
				}
			}
		}
	}
	return false
}

// attributes are every attribute of the module, nested blocks included,
// except a variable's type (a type expression, not references).
func (m *tfModule) attributes() []*hclsyntax.Attribute {
	var out []*hclsyntax.Attribute
	var walk func(b *hclsyntax.Body, variable bool)
	walk = func(b *hclsyntax.Body, variable bool) {
		for name, a := range b.Attributes {
			if !(variable && name == "type") {
				out = append(out, a)
			}
		}
		for _, c := range b.Blocks {
			walk(c.Body, c.Type == "variable")
		}
	}
	for _, b := range m.bodies {
		walk(b, false)
	}
	return out
}

// Every file(), templatefile() and filemd5() path exists, for each key of a
// for_each over a local.
func TestTerraformFilePaths(t *testing.T) {
	m := parseDeploy(t)
	tables := m.local(t, "tables")
	checked := 0
	for _, body := range m.bodies {
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			call, ok := n.(*hclsyntax.FunctionCallExpr)
			if !ok || !slices.Contains([]string{"file", "templatefile", "filemd5"}, call.Name) {
				return nil
			}
			arg := call.Args[0]
			if slices.ContainsFunc(arg.Variables(), func(tr hcl.Traversal) bool { return tr.RootName() == "var" }) {
				return nil // a user's path, e.g. the packaged archive
			}
			keys := []string{""}
			if slices.ContainsFunc(arg.Variables(), func(tr hcl.Traversal) bool { return tr.RootName() == "each" }) {
				keys = nil
				for k := range tables.AsValueMap() {
					keys = append(keys, k)
				}
			}
			for _, k := range keys {
				ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
					"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(m.dir)}),
					"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(k)}),
				}}
				v, diags := arg.Value(ctx)
				if diags.HasErrors() {
					t.Errorf("%s: %v", call.Range(), diags)
					continue
				}
				if _, err := os.Stat(v.AsString()); err != nil {
					t.Errorf("%s: %s(%q): %v", call.Range(), call.Name, v.AsString(), err)
				}
				checked++
			}
			return nil
		})
	}
	if checked < len(schema.Tables())+len(schema.Views()) {
		t.Errorf("checked %d paths, want at least one per table and view", checked)
	}
}

// The function resource deploys what the code registers and reads: the
// entry point, the go126 runtime, exactly the environment variables.
func TestTerraformFunctionMatchesCode(t *testing.T) {
	m := parseDeploy(t)
	fn := m.resources["google_cloudfunctions2_function.scanner"]
	if fn == nil {
		t.Fatal("no google_cloudfunctions2_function.scanner")
	}
	block := func(b *hclsyntax.Block, typ string) *hclsyntax.Block {
		for _, c := range b.Body.Blocks {
			if c.Type == typ {
				return c
			}
		}
		t.Fatalf("no %s block", typ)
		return nil
	}
	literal := func(b *hclsyntax.Block, name string) string {
		a := b.Body.Attributes[name]
		if a == nil {
			t.Fatalf("no attribute %s", name)
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("%s is not a literal: %v", name, diags)
		}
		return v.AsString()
	}
	build := block(fn, "build_config")
	if got := literal(build, "entry_point"); got != fleetscan.EntryPoint {
		t.Errorf("entry_point = %q, the code registers %q", got, fleetscan.EntryPoint)
	}
	if got := literal(build, "runtime"); got != "go126" {
		t.Errorf("runtime = %q, want go126", got)
	}
	// The binary fleetbench measures is the one deployed.
	benv, ok := build.Body.Attributes["environment_variables"].Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("build_config.environment_variables is not an object")
	}
	var ldflags []string
	for _, item := range benv.Items {
		k, kd := item.KeyExpr.Value(nil)
		v, vd := item.ValueExpr.Value(nil)
		if kd.HasErrors() || vd.HasErrors() {
			t.Fatalf("build_config.environment_variables: %v %v", kd, vd)
		}
		if k.AsString() == "GOOGLE_GOLDFLAGS" {
			ldflags = append(ldflags, v.AsString())
		}
	}
	if want := []string{testkit.DeployedLDFlags}; !slices.Equal(ldflags, want) {
		t.Errorf("build_config GOOGLE_GOLDFLAGS = %q, want %q (testkit.DeployedLDFlags, what fleetbench measures)", ldflags, want)
	}
	svc := block(fn, "service_config")
	if got := svc.Body.Attributes["timeout_seconds"].Expr.(*hclsyntax.LiteralValueExpr).Val; !got.Equals(cty.NumberIntVal(540)).True() {
		t.Errorf("timeout_seconds = %v, want 540", got.GoString())
	}
	if got := literal(svc, "ingress_settings"); got != "ALLOW_INTERNAL_ONLY" {
		t.Errorf("ingress_settings = %q", got)
	}
	obj, ok := svc.Body.Attributes["environment_variables"].Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("environment_variables is not an object")
	}
	var got []string
	for _, item := range obj.Items {
		k, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		got = append(got, k.AsString())
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(fsfunction.EnvVars))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment variables (-code +terraform):\n%s", diff)
	}
}

// Every table of schema/ has a Terraform table with the same partitioning
// and clustering, and every view is created from its SQL file, in order.
func TestTerraformTablesMatchSchema(t *testing.T) {
	m := parseDeploy(t)
	tables := m.local(t, "tables").AsValueMap()
	for _, tb := range schema.Tables() {
		v, ok := tables[tb.Name]
		if !ok {
			t.Errorf("table %s has no Terraform table (local.tables)", tb.Name)
			continue
		}
		if p := v.GetAttr("partition").AsString(); p != tb.Partition {
			t.Errorf("%s partition = %s, want %s", tb.Name, p, tb.Partition)
		}
		var cl []string
		for _, c := range v.GetAttr("clustering").AsValueSlice() {
			cl = append(cl, c.AsString())
		}
		if diff := cmp.Diff(tb.Clustering, cl); diff != "" {
			t.Errorf("%s clustering (-writer +terraform):\n%s", tb.Name, diff)
		}
	}
	if len(tables) != len(schema.Tables()) {
		t.Errorf("local.tables has %d tables, schema/ %d", len(tables), len(schema.Tables()))
	}
	var views []string
	for _, v := range m.local(t, "views").AsValueSlice() {
		views = append(views, v.AsString())
	}
	var want []string
	for _, v := range schema.Views() {
		want = append(want, v.Name)
		if m.resources["google_bigquery_table."+v.Name] == nil {
			t.Errorf("view %s has no google_bigquery_table.%s", v.Name, v.Name)
		}
	}
	if diff := cmp.Diff(want, views); diff != "" {
		t.Errorf("views (-schema +terraform):\n%s", diff)
	}
	for _, req := range []string{"google_storage_bucket.state", "google_pubsub_topic.dead_letter", "google_pubsub_subscription.trigger",
		"google_cloud_scheduler_job.scan", "google_service_account.scanner", "google_service_account.invoker"} {
		if m.resources[req] == nil {
			t.Errorf("missing %s", req)
		}
	}
}

// make package builds the archive as deployed; unpacked, it builds the way
// the Go buildpack builds it, and holds no test files or test data.
func TestPackagedArchiveBuilds(t *testing.T) {
	endToEnd(t)
	if _, err := exec.LookPath("zip"); err != nil {
		t.Skip("zip is not installed; make package needs it")
	}
	root := repoRoot(t)
	out := t.TempDir()
	cmd := exec.Command("make", "-s", "package", "ARCHIVE="+filepath.Join(out, "function.zip"))
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, b)
	}
	zr, err := zip.OpenReader(filepath.Join(out, "function.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	src := filepath.Join(out, "src")
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if strings.HasSuffix(f.Name, "_test.go") || strings.Contains(f.Name, "testdata/") || strings.HasPrefix(f.Name, "test/") {
			t.Errorf("archive holds %s", f.Name)
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(src, f.Name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		w, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(w, r)
		w.Close()
		r.Close()
	}
	for _, must := range []string{"go.mod", "go.sum", "fleetscan.go", "function/function.go", "scanner/catalog/issues/DPV2-IPAM-LEAK.yaml", "schema/views/latest_findings.sql"} {
		if !slices.Contains(names, must) {
			t.Errorf("archive lacks %s", must)
		}
	}
	if _, err := buildBuildpackMain(src); err != nil {
		t.Fatalf("the unpacked archive does not build like the buildpack: %v", err)
	}
}

// The kubernetes variable takes the sources the code knows, and api (the
// only one that reads clusters' own APIs) grants roles/container.viewer.
func TestTerraformKubernetesSource(t *testing.T) {
	m := parseDeploy(t)
	var validation *hclsyntax.Block
	for _, body := range m.bodies {
		for _, b := range body.Blocks {
			if b.Type == "variable" && b.Labels[0] == "kubernetes" {
				for _, c := range b.Body.Blocks {
					if c.Type == "validation" {
						validation = c
					}
				}
			}
		}
	}
	if validation == nil {
		t.Fatal("variable kubernetes has no validation block")
	}
	eval := func(e hcl.Expression, source string) (cty.Value, error) {
		v, diags := e.Value(&hcl.EvalContext{
			Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{"kubernetes": cty.StringVal(source)})},
			Functions: map[string]function.Function{"contains": stdlib.ContainsFunc, "concat": stdlib.ConcatFunc},
		})
		if diags.HasErrors() {
			return cty.NilVal, diags
		}
		return v, nil
	}
	for _, source := range append([]string{""}, kube.Sources...) {
		if v, err := eval(validation.Body.Attributes["condition"].Expr, source); err != nil || !v.True() {
			t.Errorf("kubernetes = %q: validation rejects a source the code takes (%v)", source, err)
		}
	}
	if v, err := eval(validation.Body.Attributes["condition"].Expr, "kubectl"); err != nil || v.True() {
		t.Errorf(`kubernetes = "kubectl": validation accepts a source the code rejects (%v)`, err)
	}
	read := m.resources["google_organization_iam_member.scanner_read"]
	if read == nil {
		t.Fatal("no google_organization_iam_member.scanner_read")
	}
	call, ok := read.Body.Attributes["for_each"].Expr.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "toset" || len(call.Args) != 1 {
		t.Fatal("scanner_read.for_each is not toset(…)")
	}
	for _, source := range append([]string{""}, kube.Sources...) {
		v, err := eval(call.Args[0], source)
		if err != nil {
			t.Fatalf("kubernetes = %q: for_each: %v", source, err)
		}
		var roles []string
		for _, r := range v.AsValueSlice() {
			roles = append(roles, r.AsString())
		}
		if got, want := slices.Contains(roles, "roles/container.viewer"), source == kube.SourceAPI; got != want {
			t.Errorf("kubernetes = %q: roles/container.viewer granted = %t, want %t (roles %v)", source, got, want, roles)
		}
		if !slices.Contains(roles, "roles/cloudasset.viewer") {
			t.Errorf("kubernetes = %q: roles/cloudasset.viewer not granted: %v", source, roles)
		}
	}
}
