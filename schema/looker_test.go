package schema

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The Looker model in looker/ is checked against the tables and views it
// reads: every ${TABLE}.column is a real column, every explore and join names
// a view with a file, every ${view.field} names a declared field, and every
// file's braces balance. LookML is scanned with a small parser here, not a
// LookML library.

// sqlViewColumns are the output columns of each SQL view of views/*.sql, kept
// by hand: cols are listed (and must occur in the view's SQL), star names a
// table whose columns the view passes through with alias.*.
var sqlViewColumns = map[string]struct {
	cols []string
	star string
}{
	"complete_scans":  {cols: []string{"scan_id", "scope", "organization_id", "started_at", "finished_at", "shards"}},
	"latest_scans":    {cols: []string{"scope", "scan_id", "organization_id", "started_at", "finished_at"}},
	"latest_findings": {cols: []string{"scope"}, star: TableFindings},
	"latest_clusters": {cols: []string{"scope"}, star: TableClusters},
	"fleet_summary": {cols: []string{"scope", "issue_id", "title", "severity", "status", "affected_clusters",
		"affected_node_pools", "clusters_scanned", "dataplane_v2_clusters", "affected_share"}},
	"finding_history": {cols: []string{"finding_key", "scope", "issue_id", "title", "project_id", "location", "cluster",
		"node_pool", "severity", "first_seen", "last_seen", "scans_seen", "current_status"}},
	"upgrade_plan": {cols: []string{"scope", "scan_id", "project_id", "location", "cluster", "cluster_id", "release_channel",
		"master_version", "node_version", "upgrade_control_plane_to", "node_pools", "upgrade_steps", "upgrade_clears",
		"upgrade_reason", "findings_cleared", "most_severe"}},
}

// The explores of the model and their joins, as "view:relationship".
var wantExplores = map[string][]string{
	"findings":        {"clusters:many_to_one", "finding_evidence:one_to_many"},
	"finding_history": {},
	"fleet_summary":   {},
	"upgrade_plan":    {},
	"scans":           {"scan_errors:many_to_many"},
	"clusters":        {"latest_scans:many_to_one", "cluster_node_pools:one_to_many"},
}

// lkNode is one LookML parameter: "key: value", "key: name { ... }" or
// "key: { ... }".
type lkNode struct {
	key, name, value string
	block            bool
	children         []*lkNode
	line             int
}

func (n *lkNode) all(key string) []*lkNode {
	var out []*lkNode
	for _, c := range n.children {
		if c.key == key {
			out = append(out, c)
		}
	}
	return out
}

func (n *lkNode) get(key string) string {
	for _, c := range n.children {
		if c.key == key {
			return c.value
		}
	}
	return ""
}

// walk calls f on n and every node below it.
func (n *lkNode) walk(f func(*lkNode)) {
	f(n)
	for _, c := range n.children {
		c.walk(f)
	}
}

type lkParser struct {
	src  string
	pos  int
	file string
}

func (p *lkParser) errorf(format string, args ...any) error {
	line := 1 + strings.Count(p.src[:p.pos], "\n")
	return fmt.Errorf("%s:%d: %s", p.file, line, fmt.Sprintf(format, args...))
}

func (p *lkParser) line() int { return 1 + strings.Count(p.src[:p.pos], "\n") }

func (p *lkParser) skip() {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

var lkIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*`)

// parseLookML parses a LookML file into its top-level parameters. It fails on
// unbalanced braces, an SQL parameter without ;; and an unterminated string.
func parseLookML(file, src string) (*lkNode, error) {
	p := &lkParser{src: src, file: file}
	root := &lkNode{block: true}
	if err := p.body(root, false); err != nil {
		return nil, err
	}
	return root, nil
}

// body parses parameters into n up to its closing brace (inBlock) or the end.
func (p *lkParser) body(n *lkNode, inBlock bool) error {
	for {
		p.skip()
		if p.pos >= len(p.src) {
			if inBlock {
				return p.errorf("unbalanced braces: %s: %s is not closed", n.key, n.name)
			}
			return nil
		}
		if p.src[p.pos] == '}' {
			if !inBlock {
				return p.errorf("unbalanced braces: } without {")
			}
			p.pos++
			return nil
		}
		key := lkIdent.FindString(p.src[p.pos:])
		if key == "" {
			return p.errorf("want a parameter name, have %q", firstLine(p.src[p.pos:]))
		}
		c := &lkNode{key: key, line: p.line()}
		p.pos += len(key)
		p.skip()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return p.errorf("want : after %s", key)
		}
		p.pos++
		if err := p.value(c); err != nil {
			return err
		}
		n.children = append(n.children, c)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func (p *lkParser) value(c *lkNode) error {
	if strings.HasPrefix(c.key, "sql") || c.key == "html" {
		end := strings.Index(p.src[p.pos:], ";;")
		if end < 0 {
			return p.errorf("%s: no closing ;;", c.key)
		}
		c.value = strings.TrimSpace(p.src[p.pos : p.pos+end])
		p.pos += end + 2
		return nil
	}
	p.skip()
	if p.pos >= len(p.src) {
		return p.errorf("%s: no value", c.key)
	}
	switch p.src[p.pos] {
	case '"':
		start := p.pos
		p.pos++
		for p.pos < len(p.src) && p.src[p.pos] != '"' {
			if p.src[p.pos] == '\\' {
				p.pos++
			}
			p.pos++
		}
		if p.pos >= len(p.src) {
			p.pos = start
			return p.errorf("%s: unterminated string", c.key)
		}
		p.pos++
		c.value = p.src[start+1 : p.pos-1]
		return nil
	case '[':
		end := strings.IndexByte(p.src[p.pos:], ']')
		if end < 0 {
			return p.errorf("%s: no closing ]", c.key)
		}
		c.value = p.src[p.pos : p.pos+end+1]
		p.pos += end + 1
		return nil
	case '{':
		p.pos++
		c.block = true
		return p.body(c, true)
	}
	word := regexp.MustCompile(`^[^\s{}\[\]]+`).FindString(p.src[p.pos:])
	if word == "" {
		return p.errorf("%s: no value", c.key)
	}
	p.pos += len(word)
	p.skip()
	if p.pos < len(p.src) && p.src[p.pos] == '{' {
		p.pos++
		c.name, c.block = word, true
		return p.body(c, true)
	}
	c.value = word
	return nil
}

// firstOf returns the first non-empty string.
func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// listItems splits a LookML list "[a, b: "x", c*]" into its items.
func listItems(v string) []string {
	v = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "["), "]"))
	if v == "" {
		return nil
	}
	var out []string
	for _, it := range strings.Split(v, ",") {
		out = append(out, strings.TrimSpace(it))
	}
	return out
}

// bqField is a column of tables/*.json.
type bqField struct {
	Name   string    `json:"name"`
	Type   string    `json:"type"`
	Mode   string    `json:"mode"`
	Fields []bqField `json:"fields"`
}

type lkModel struct {
	files     map[string]*lkNode // by path under looker/
	views     map[string]*lkNode
	viewFiles map[string]string
	model     *lkNode
}

func loadLooker(t *testing.T) lkModel {
	t.Helper()
	m := lkModel{files: map[string]*lkNode{}, views: map[string]*lkNode{}, viewFiles: map[string]string{}}
	err := filepath.WalkDir("looker", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".lkml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		root, err := parseLookML(path, string(b))
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("looker", path)
		m.files[filepath.ToSlash(rel)] = root
		for _, v := range root.all("view") {
			if _, dup := m.views[v.name]; dup {
				return fmt.Errorf("%s: view %s declared twice", path, v.name)
			}
			m.views[v.name] = v
			m.viewFiles[v.name] = filepath.ToSlash(rel)
		}
		if strings.HasSuffix(path, ".model.lkml") {
			if m.model != nil {
				return fmt.Errorf("%s: a second model", path)
			}
			m.model = root
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.model == nil {
		t.Fatal("no looker/*.model.lkml")
	}
	return m
}

// fields lists the field names a view declares, dimension groups expanded
// to their timeframes.
func viewFields(v *lkNode) map[string]bool {
	out := map[string]bool{}
	for _, c := range v.children {
		switch c.key {
		case "dimension", "measure", "filter", "parameter":
			out[c.name] = true
		case "dimension_group":
			for _, tf := range listItems(c.get("timeframes")) {
				out[c.name+"_"+tf] = true
			}
			for _, iv := range listItems(c.get("intervals")) {
				out[iv+"s_"+c.name] = true
			}
		}
	}
	return out
}

func viewSets(v *lkNode) map[string]bool {
	out := map[string]bool{}
	for _, s := range v.all("set") {
		out[s.name] = true
	}
	return out
}

// Every lkml file parses: braces balance, SQL ends with ;;, strings close.
func TestLookMLParses(t *testing.T) {
	var paths []string
	err := filepath.WalkDir("looker", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".lkml") {
			paths = append(paths, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no looker/**/*.lkml files")
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parseLookML(path, string(b)); err != nil {
				t.Error(err)
			}
			// The same with plain counting, comments aside: ${…}, @{…} and
			// {{ … }} are balanced too, so the totals must match.
			depth := 0
			for i, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "#") {
					continue
				}
				depth += strings.Count(line, "{") - strings.Count(line, "}")
				if depth < 0 {
					t.Errorf("%s:%d: } without {", path, i+1)
					depth = 0
				}
			}
			if depth != 0 {
				t.Errorf("%s: %d unclosed {", path, depth)
			}
		})
	}
}

// The hand-kept output columns of the SQL views match the views.
func TestLookMLSQLViewColumns(t *testing.T) {
	var names, want []string
	for _, v := range Views() {
		names = append(names, v.Name)
	}
	for n := range sqlViewColumns {
		want = append(want, n)
	}
	sort.Strings(names)
	sort.Strings(want)
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("views with a column list in this test (-listed +Views()):\n%s", diff)
	}
	for _, v := range Views() {
		t.Run(v.Name, func(t *testing.T) {
			sv := sqlViewColumns[v.Name]
			for _, c := range sv.cols {
				if !regexp.MustCompile(`\b` + c + `\b`).MatchString(v.SQL) {
					t.Errorf("column %s is not in the SQL of %s", c, v.Name)
				}
			}
			if sv.star != "" {
				if !regexp.MustCompile(`\w+\.\*`).MatchString(v.SQL) || !strings.Contains(v.SQL, "${dataset}."+sv.star+"`") {
					t.Errorf("%s does not pass through the columns of %s with alias.*", v.Name, sv.star)
				}
			}
		})
	}
}

// columnsOf returns the columns of a table or SQL view of the dataset.
func columnsOf(t *testing.T, name string) (map[string]bqField, bool) {
	t.Helper()
	out := map[string]bqField{}
	b, err := os.ReadFile(filepath.Join("tables", name+".json"))
	if err == nil {
		var fs []bqField
		if err := json.Unmarshal(b, &fs); err != nil {
			t.Fatalf("tables/%s.json: %v", name, err)
		}
		for _, f := range fs {
			out[f.Name] = f
		}
		return out, true
	}
	sv, ok := sqlViewColumns[name]
	if !ok {
		return nil, false
	}
	if sv.star != "" {
		star, ok := columnsOf(t, sv.star)
		if !ok {
			t.Fatalf("view %s: no table %s", name, sv.star)
		}
		for k, f := range star {
			out[k] = f
		}
	}
	for _, c := range sv.cols {
		out[c] = bqField{Name: c}
	}
	return out, true
}

var (
	reSource    = regexp.MustCompile("`@\\{PROJECT\\}\\.@\\{DATASET\\}\\.(\\w+)`")
	reTableCol  = regexp.MustCompile(`\$\{TABLE\}\.(\w+)`)
	reUnnest    = regexp.MustCompile(`(?i)UNNEST\(\$\{(\w+)\.(\w+)\}\)\s+AS\s+(\w+)`)
	reRef       = regexp.MustCompile(`\$\{([^}]*)\}`)
	reConstant  = regexp.MustCompile(`@\{(\w*)\}`)
	reFieldName = regexp.MustCompile(`^\w+$`)
)

// sourceColumns resolves what a view reads: its table or SQL view, or for a
// nested view the RECORD column that a join UNNESTs into it.
func (m lkModel) sourceColumns(t *testing.T, name string) (map[string]bqField, string) {
	t.Helper()
	v := m.views[name]
	if tn := v.get("sql_table_name"); tn != "" {
		sm := reSource.FindStringSubmatch(tn)
		if sm == nil {
			t.Fatalf("view %s: sql_table_name %q is not `@{PROJECT}.@{DATASET}.name`", name, tn)
		}
		cols, ok := columnsOf(t, sm[1])
		if !ok {
			t.Fatalf("view %s reads %s, which is not a table or view of the dataset", name, sm[1])
		}
		return cols, sm[1]
	}
	var found []string
	for _, e := range m.model.all("explore") {
		for _, j := range e.all("join") {
			if sm := reUnnest.FindStringSubmatch(j.get("sql")); sm != nil && sm[3] == name && j.name == name {
				found = append(found, sm[1]+"."+sm[2])
			}
		}
	}
	found = slices.Compact(found)
	if len(found) != 1 {
		t.Fatalf("view %s has no sql_table_name and is UNNESTed by %d joins (%v), want 1", name, len(found), found)
	}
	parent, field, _ := strings.Cut(found[0], ".")
	pv, ok := m.views[parent]
	if !ok {
		t.Fatalf("view %s is UNNESTed from view %s, which does not exist", name, parent)
	}
	var col string
	for _, d := range pv.all("dimension") {
		if d.name == field {
			if sm := regexp.MustCompile(`^\$\{TABLE\}\.(\w+)$`).FindStringSubmatch(d.get("sql")); sm != nil {
				col = sm[1]
			}
		}
	}
	if col == "" {
		t.Fatalf("view %s is UNNESTed from %s.%s, which is not a dimension with sql: ${TABLE}.column", name, parent, field)
	}
	pcols, _ := m.sourceColumns(t, parent)
	f, ok := pcols[col]
	if !ok || f.Type != "RECORD" || f.Mode != "REPEATED" {
		t.Fatalf("view %s is UNNESTed from %s column %s, which is not a REPEATED RECORD", name, parent, col)
	}
	out := map[string]bqField{}
	for _, sf := range f.Fields {
		out[sf.Name] = sf
	}
	return out, parent + "." + col
}

// Every ${TABLE}.column of a view is a column of what the view reads.
func TestLookMLColumns(t *testing.T) {
	m := loadLooker(t)
	if len(m.views) == 0 {
		t.Fatal("no views")
	}
	for name, v := range m.views {
		t.Run(name, func(t *testing.T) {
			cols, source := m.sourceColumns(t, name)
			var bad []string
			v.walk(func(n *lkNode) {
				for _, sm := range reTableCol.FindAllStringSubmatch(n.value, -1) {
					if _, ok := cols[sm[1]]; !ok {
						bad = append(bad, fmt.Sprintf("line %d: %s", n.line, sm[1]))
					}
				}
			})
			if len(bad) > 0 {
				t.Errorf("view %s (%s): ${TABLE}.column names a column %s does not have: %v", name, source, source, bad)
			}
		})
	}
}

// Views have one file each under views/, the model includes them, and the
// explores and joins are the wanted ones and name existing views.
func TestLookMLExplores(t *testing.T) {
	m := loadLooker(t)
	for name, file := range m.viewFiles {
		if want := "views/" + name + ".view.lkml"; file != want {
			t.Errorf("view %s is in %s, want %s", name, file, want)
		}
	}
	var included []string
	for _, inc := range m.model.all("include") {
		matches, err := filepath.Glob(filepath.Join("looker", filepath.FromSlash(strings.TrimPrefix(inc.value, "/"))))
		if err != nil || len(matches) == 0 {
			t.Errorf("include %q matches no file", inc.value)
		}
		for _, f := range matches {
			rel, _ := filepath.Rel("looker", f)
			included = append(included, filepath.ToSlash(rel))
		}
	}
	for name, file := range m.viewFiles {
		if !slices.Contains(included, file) {
			t.Errorf("view %s (%s) is not included by the model", name, file)
		}
	}
	if c := m.model.get("connection"); c == "" {
		t.Error("the model has no connection")
	}

	got := map[string][]string{}
	for _, e := range m.model.all("explore") {
		t.Run(e.name, func(t *testing.T) {
			base := e.name
			if f := firstOf(e.get("from"), e.get("view_name")); f != "" {
				base = f
			}
			if _, ok := m.views[base]; !ok {
				t.Errorf("explore %s: view %s has no file", e.name, base)
			}
			joins := []string{}
			for _, j := range e.all("join") {
				jv := firstOf(j.get("from"), j.get("view_name"), j.name)
				if _, ok := m.views[jv]; !ok {
					t.Errorf("explore %s: join %s: view %s has no file", e.name, j.name, jv)
				}
				if j.get("sql_on") == "" && j.get("sql") == "" && j.get("foreign_key") == "" {
					t.Errorf("explore %s: join %s has no sql_on", e.name, j.name)
				}
				joins = append(joins, j.name+":"+j.get("relationship"))
			}
			for _, aj := range listItems(e.get("always_join")) {
				if !slices.ContainsFunc(e.all("join"), func(j *lkNode) bool { return j.name == aj }) {
					t.Errorf("explore %s: always_join %s is not one of its joins", e.name, aj)
				}
			}
			got[e.name] = joins
		})
	}
	if diff := cmp.Diff(wantExplores, got); diff != "" {
		t.Errorf("explores and joins (-want +model):\n%s", diff)
	}
}

// Every ${view.field}, ${field}, field list, order_by_field and filter names a
// declared field; every @{constant} is declared in the manifest; every view
// has one primary key.
func TestLookMLFieldRefs(t *testing.T) {
	m := loadLooker(t)
	fields := map[string]map[string]bool{}
	for name, v := range m.views {
		fields[name] = viewFields(v)
	}
	// A join can alias a view with from: its fields are the view's.
	for _, e := range m.model.all("explore") {
		for _, j := range e.all("join") {
			if f := j.get("from"); f != "" {
				fields[j.name] = fields[f]
			}
		}
	}
	constants := map[string]bool{}
	if man, ok := m.files["manifest.lkml"]; ok {
		for _, c := range man.all("constant") {
			constants[c.name] = true
		}
	}

	paths := make([]string, 0, len(m.files))
	for p := range m.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		root := m.files[path]
		t.Run(path, func(t *testing.T) {
			check := func(view string, n *lkNode) {
				for _, sm := range reRef.FindAllStringSubmatch(n.value, -1) {
					ref := sm[1]
					if ref == "TABLE" {
						if view == "" {
							t.Errorf("line %d: ${TABLE} outside a view", n.line)
						}
						continue
					}
					v, f, dotted := strings.Cut(ref, ".")
					if !dotted {
						v, f = view, ref
					}
					if v == "" {
						t.Errorf("line %d: ${%s} needs a view outside a view", n.line, ref)
						continue
					}
					vf, ok := fields[v]
					if !ok {
						t.Errorf("line %d: ${%s}: no view %s", n.line, ref, v)
					} else if !vf[f] {
						t.Errorf("line %d: ${%s}: view %s has no field %s", n.line, ref, v, f)
					}
				}
				for _, sm := range reConstant.FindAllStringSubmatch(n.value+" "+n.name, -1) {
					if !constants[sm[1]] {
						t.Errorf("line %d: @{%s} is not a constant of manifest.lkml", n.line, sm[1])
					}
				}
			}
			for _, top := range root.children {
				view := ""
				if top.key == "view" {
					view = top.name
				}
				top.walk(func(n *lkNode) { check(view, n) })
				if top.key != "view" {
					continue
				}
				vf, sets := fields[view], viewSets(top)
				field := func(line int, what, f string) {
					if !reFieldName.MatchString(f) || !vf[f] {
						t.Errorf("line %d: %s %q: view %s has no such field", line, what, f, view)
					}
				}
				pks := 0
				top.walk(func(n *lkNode) {
					switch n.key {
					case "primary_key":
						if n.value == "yes" {
							pks++
						}
					case "order_by_field":
						field(n.line, n.key, n.value)
					case "filters":
						for _, it := range listItems(n.value) {
							f, _, _ := strings.Cut(it, ":")
							field(n.line, n.key, strings.TrimSpace(f))
						}
					case "fields", "drill_fields":
						for _, it := range listItems(n.value) {
							if s, ok := strings.CutSuffix(it, "*"); ok {
								if !sets[s] {
									t.Errorf("line %d: %s: view %s has no set %s", n.line, n.key, view, s)
								}
								continue
							}
							field(n.line, n.key, it)
						}
					}
				})
				if pks != 1 {
					t.Errorf("view %s has %d primary keys, want 1", view, pks)
				}
			}
		})
	}
}
