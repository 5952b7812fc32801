package catalog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
	"cloud.google.com/go/container/apiv1/containerpb"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// CELExpr is a condition written in CEL, the language of Kubernetes
// ValidatingAdmissionPolicy, over the Container API objects by their JSON
// field names: `cluster` (google.container.v1.Cluster) and, for an issue of
// scope node_pool, `pool` (google.container.v1.NodePool). An enum field
// compares with its value's full name, e.g.
// pool.config.linuxNodeConfig.cgroupMode ==
// google.container.v1.LinuxNodeConfig.CgroupMode.CGROUP_MODE_V1.
type CELExpr struct {
	Text string
	line int // in the issue file, for messages
}

// UnmarshalYAML keeps the expression's line.
func (e *CELExpr) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: conditions.cel is not a string", n.Line)
	}
	e.Text, e.line = n.Value, n.Line
	return nil
}

// CELCostLimit bounds a condition's worst-case cost, in CEL's cost units,
// as Kubernetes bounds a ValidatingAdmissionPolicy expression
// (PerCallLimit): estimated when the catalog loads, for clusters at the
// sizes of celSizes, an expression above it is refused. So no evaluation
// needs runtime cost tracking, which would double its time.
const CELCostLimit = 1_000_000

// celSizes bound what a condition can read, for the cost estimate: more
// node pools, accelerators or labels than GKE allows, and strings longer
// than any name or image type.
type celSizes struct{}

func (celSizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	switch n.Type().Kind() {
	case types.ListKind:
		return &cost.SizeEstimate{Min: 0, Max: 1000}
	case types.MapKind:
		return &cost.SizeEstimate{Min: 0, Max: 256}
	case types.StringKind, types.BytesKind:
		return &cost.SizeEstimate{Min: 0, Max: 1024}
	}
	return nil
}

func (celSizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// alwaysPresent are the message fields that every cluster the Container
// API returns has, as seen in the real dumps of testdata (gcpdiag, Forseti)
// and the API's own output: an input without one of them is trimmed, so a
// condition that reads it is UNKNOWN, not false. Any other field that is
// absent reads as its default, as the API leaves out false and empty
// values.
var alwaysPresent = map[string][]string{
	"cluster": {"addonsConfig", "ipAllocationPolicy", "masterAuth", "networkConfig"},
	"pool":    {"config", "management"},
}

// celCondition is a compiled conditions.cel.
type celCondition struct {
	prg  cel.Program
	text string // the expression, one line: conditions with the same text are evaluated once
	pool bool   // scope node_pool: `pool` is declared
	// reads are the alwaysPresent fields it reads: of Cluster, or of
	// NodePool (pool true).
	reads []readField
	index int // in a Facts' slices
	// maxMinor is the highest minor of the issue's affected ranges: a
	// subject on a later minor is never affected, now or after an upgrade,
	// so its fact is not evaluated.
	maxMinor Minor
	// memo: the expression reads the objects through paths alone, so its
	// outcome is kept by their values (FactsMemo).
	memo  bool
	paths []readPath
	// fields are the Cluster fields it can read (ReadFields); allFields:
	// any of them.
	fields    []FieldPath
	allFields bool
}

type readField struct {
	pool bool
	fd   protoreflect.FieldDescriptor
}

var (
	celEnvOnce          sync.Once
	celCluster, celPool *cel.Env
	celEnvErr           error
)

func celEnvs() (cluster, pool *cel.Env, err error) {
	celEnvOnce.Do(func() {
		base := []cel.EnvOption{
			cel.Types(&containerpb.Cluster{}),
			cel.JSONFieldNames(true),
			cel.Variable("cluster", cel.ObjectType("google.container.v1.Cluster")),
		}
		if celCluster, celEnvErr = cel.NewEnv(base...); celEnvErr != nil {
			return
		}
		celPool, celEnvErr = celCluster.Extend(cel.Variable("pool", cel.ObjectType("google.container.v1.NodePool")))
	})
	return celCluster, celPool, celEnvErr
}

// compileCEL type-checks the issue's conditions.cel and plans it. Its
// errors name the expression's line in the file and the column in it.
func (is *Issue) compileCEL() []string {
	e := is.Conditions.CEL
	at := "conditions.cel"
	if e.line > 0 {
		at = fmt.Sprintf("line %d: conditions.cel", e.line)
	}
	if is.DecidedBy != ContainerAPI || is.Support != nil {
		return []string{at + " is only for issues decided by container_api from versions (affected)"}
	}
	clusterEnv, poolEnv, err := celEnvs()
	if err != nil {
		return []string{fmt.Sprintf("%s: CEL environment: %v", at, err)}
	}
	env := clusterEnv
	if is.Scope == ScopeNodePool {
		env = poolEnv
	}
	tree, iss := env.Compile(e.Text)
	if iss.Err() != nil {
		var p []string
		for _, ce := range iss.Errors() {
			p = append(p, fmt.Sprintf("%s: %s at column %d of: %s", at, ce.Message, ce.Location.Column()+1, oneLine(e.Text)))
		}
		msg := iss.Err().Error()
		if is.Scope == ScopeCluster && strings.Contains(msg, "undeclared reference to 'pool'") {
			p = append(p, at+": `pool` is declared only for scope node_pool")
		}
		if strings.Contains(msg, "applied to '(int, string)'") || strings.Contains(msg, "applied to '(string, int)'") {
			p = append(p, at+": an enum field is an int: compare it with its value's full name, e.g. google.container.v1.LinuxNodeConfig.CgroupMode.CGROUP_MODE_V1")
		}
		return p
	}
	if f := versionRead(tree); f != "" {
		return []string{fmt.Sprintf("%s: the expression reads %s: versions are the affected ranges' business (minors, from, through, fixed_in), so that upgrade plans can move them: %s", at, f, oneLine(e.Text))}
	}
	if !tree.OutputType().IsExactType(types.BoolType) {
		return []string{fmt.Sprintf("%s: the expression gives %s, not bool: %s", at, tree.OutputType(), oneLine(e.Text))}
	}
	est, err := env.EstimateCost(tree, celSizes{})
	if err != nil {
		return []string{fmt.Sprintf("%s: cost: %v", at, err)}
	}
	if est.Max > CELCostLimit {
		return []string{fmt.Sprintf("%s: worst-case cost %d is above the limit of %d (for 1,000 node pools and 1,024-character strings): %s", at, est.Max, CELCostLimit, oneLine(e.Text))}
	}
	prg, err := env.Program(tree, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", at, err)}
	}
	is.cel = &celCondition{prg: prg, text: oneLine(e.Text), pool: is.Scope == ScopeNodePool, reads: readsOf(tree)}
	is.cel.paths, is.cel.memo = memoPaths(tree)
	is.cel.fields, is.cel.allFields = fieldsRead(tree.NativeRep().Expr(), is.cel.pool)
	return is.checkExamples()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// versionFields are the Container API's version fields: a condition must
// not read them (Facts are evaluated once, at the versions read).
var versionFields = []string{"currentMasterVersion", "currentNodeVersion", "initialClusterVersion", "version"}

// versionRead is the first version field the expression selects, or "".
func versionRead(tree *cel.Ast) string {
	found := ""
	ast.PostOrderVisit(tree.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() == ast.SelectKind && found == "" && slices.Contains(versionFields, e.AsSelect().FieldName()) {
			found = e.AsSelect().FieldName()
		}
	}))
	return found
}

// readsOf lists the alwaysPresent fields that the expression selects
// (has() alone does not read a field's value).
func readsOf(tree *cel.Ast) []readField {
	messages := map[string]protoreflect.MessageDescriptor{
		"cluster": (&containerpb.Cluster{}).ProtoReflect().Descriptor(),
		"pool":    (&containerpb.NodePool{}).ProtoReflect().Descriptor(),
	}
	var out []readField
	ast.PostOrderVisit(tree.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.SelectKind {
			return
		}
		sel := e.AsSelect()
		op := sel.Operand()
		if sel.IsTestOnly() || op.Kind() != ast.IdentKind {
			return
		}
		root := op.AsIdent()
		if !slices.Contains(alwaysPresent[root], sel.FieldName()) {
			return
		}
		r := readField{pool: root == "pool", fd: messages[root].Fields().ByJSONName(sel.FieldName())}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}))
	return out
}

// Fact is what a conditions.cel gave for one cluster or node pool.
type Fact struct {
	State FactState
	// Why, for FactUndecided, completes a sentence about the subject: the
	// field the input lacks, or the evaluation's error.
	Why string
}

// FactState is a Fact's outcome.
type FactState uint8

const (
	FactUnevaluated FactState = iota // no Container API object was evaluated
	FactTrue
	FactFalse
	FactUndecided
)

// Facts are a cluster's conditions.cel outcomes, evaluated once when the
// cluster is read (Catalog.Facts), so that matching it, and planning its
// upgrade at other versions, never evaluates CEL again: no condition may
// read a version (versions are the affected ranges' business).
type Facts struct {
	Cluster []Fact   // by condition index, for scope cluster issues
	Pools   [][]Fact // by node pool index, then condition index
}

// For is the fact of is for the cluster (pool < 0) or its pool'th node
// pool.
func (f *Facts) For(is *Issue, pool int) Fact {
	c := is.cel
	switch {
	case c == nil:
		return Fact{State: FactTrue}
	case f == nil:
		return Fact{}
	case !c.pool:
		if c.index < len(f.Cluster) {
			return f.Cluster[c.index]
		}
	case pool < 0:
		return Fact{State: FactUndecided, Why: "lists no node pools to evaluate the condition on"}
	case pool < len(f.Pools) && c.index < len(f.Pools[pool]):
		return f.Pools[pool][c.index]
	}
	return Fact{}
}

// AppendFactsKey appends to b the facts of the cluster and of its pool'th
// node pool (pool < 0: none) that can decide anything at a version of
// minor m, those of the issues whose affected ranges hold m (Covers): what
// a memo of decisions at a version keys on. With b on the caller's stack, a
// lookup by string(key) allocates nothing.
func (c *Catalog) AppendFactsKey(b []byte, f *Facts, pool int, m Minor) []byte {
	if f == nil {
		return b
	}
	for _, is := range c.celIssues {
		if !is.CoversMinor(m) {
			continue
		}
		x := f.For(is, pool)
		b = append(b, byte(is.cel.index), '0'+byte(x.State))
		if is.cel.pool {
			b = append(b, 'p')
		}
	}
	return b
}

// hasCEL reports whether any issue states a conditions.cel.
func (c *Catalog) hasCEL() bool { return c.celCluster+c.celPool > 0 }

// Facts evaluates every conditions.cel of the catalog on a cluster: those
// of scope cluster once, those of scope node_pool once per node pool.
// A nil pc (no object read) gives nil: every condition is then undecided.
func (c *Catalog) Facts(pc *containerpb.Cluster) *Facts { return c.FactsWith(pc, nil) }

// FactsWith is Facts, each outcome taken from fm when the values its
// condition reads were seen in an earlier cluster (fm nil: none kept).
func (c *Catalog) FactsWith(pc *containerpb.Cluster, fm *FactsMemo) *Facts {
	if pc == nil || !c.hasCEL() {
		return nil
	}
	f := &Facts{Cluster: make([]Fact, c.celCluster)}
	pools := pc.GetNodePools()
	if len(pools) > 0 && c.celPool > 0 {
		f.Pools = make([][]Fact, len(pools))
		for j := range f.Pools {
			f.Pools[j] = make([]Fact, c.celPool)
		}
	}
	vars := &celVars{cluster: pc}
	cm := pc.ProtoReflect()
	master, masterErr := ParseVersion(pc.GetCurrentMasterVersion())
	var done [16]evaluated // conditions with the same text are evaluated once per subject
	seen := done[:0]
	for _, is := range c.celIssues {
		k := is.cel
		if k.pool {
			continue
		}
		if masterErr == nil && k.maxMinor.Compare(master.MinorLine()) < 0 {
			continue // never affected: left unevaluated
		}
		f.Cluster[k.index], seen = k.evalSeen(seen, fm, vars, cm, nil)
	}
	for j, np := range pools {
		vars.pool = np
		pm := np.ProtoReflect()
		v, verr := ParseVersion(np.GetVersion())
		seen = done[:0]
		for _, is := range c.celIssues {
			k := is.cel
			if !k.pool {
				continue
			}
			if verr == nil && k.maxMinor.Compare(v.MinorLine()) < 0 {
				continue
			}
			var fact Fact
			fact, seen = k.evalSeen(seen, fm, vars, cm, pm)
			f.Pools[j][k.index] = fact
		}
	}
	return f
}

// evaluated is one condition text's fact for the subject being evaluated.
type evaluated struct {
	text string
	fact Fact
}

// evalSeen is eval, unless a condition with the same text was evaluated
// for this subject (seen, which it returns with this one added).
func (k *celCondition) evalSeen(seen []evaluated, fm *FactsMemo, vars *celVars, cluster, pool protoreflect.Message) (Fact, []evaluated) {
	for _, e := range seen {
		if e.text == k.text {
			return e.fact, seen
		}
	}
	f := fm.eval(k, vars, cluster, pool)
	return f, append(seen, evaluated{k.text, f})
}

// celVars binds `cluster` and `pool` for an evaluation, without a map.
type celVars struct{ cluster, pool any }

func (v *celVars) ResolveName(name string) (any, bool) {
	switch {
	case name == "cluster":
		return v.cluster, true
	case name == "pool" && v.pool != nil:
		return v.pool, true
	}
	return nil, false
}

func (v *celVars) Parent() interpreter.Activation { return nil }

func (k *celCondition) eval(vars *celVars, cluster, pool protoreflect.Message) Fact {
	if f, missing := k.missing(cluster, pool); missing {
		return f
	}
	return k.evalPresent(vars)
}

// missing is the fact of a subject that lacks a section every real
// cluster has and the condition reads.
func (k *celCondition) missing(cluster, pool protoreflect.Message) (Fact, bool) {
	for _, r := range k.reads {
		m := cluster
		if r.pool {
			m = pool
		}
		if !m.Has(r.fd) {
			return Fact{State: FactUndecided, Why: "has no " + r.fd.JSONName() + " in the input (a trimmed dump?), which the issue's condition reads"}, true
		}
	}
	return Fact{}, false
}

// evalPresent runs the condition on a subject that has what it reads.
func (k *celCondition) evalPresent(vars *celVars) Fact {
	out, _, err := k.prg.Eval(vars)
	if err != nil {
		return Fact{State: FactUndecided, Why: "could not be evaluated against the issue's condition: " + err.Error()}
	}
	if out == types.True {
		return Fact{State: FactTrue}
	}
	return Fact{State: FactFalse}
}

// indexCEL numbers the catalog's compiled conditions, per scope.
func (c *Catalog) indexCEL() {
	for _, is := range c.Issues {
		if is.cel != nil {
			c.celIssues = append(c.celIssues, is)
		}
		switch {
		case is.cel == nil:
		case is.cel.pool:
			is.cel.index = c.celPool
			c.celPool++
		default:
			is.cel.index = c.celCluster
			c.celCluster++
		}
	}
}

// ExampleCluster is an example of Examples completed: the sections every
// cluster has are added where missing, and each node pool gets its config,
// management and a name.
func ExampleCluster(example map[string]any) (*containerpb.Cluster, error) {
	full := map[string]any{"name": "example"}
	for _, f := range alwaysPresent["cluster"] {
		full[f] = map[string]any{}
	}
	for k, v := range example {
		full[k] = v
	}
	if pools, ok := full["nodePools"].([]any); ok {
		cp := make([]any, len(pools)) // the example itself stays as written
		for i, p := range pools {
			in, ok := p.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("nodePools[%d] is not an object", i)
			}
			pm := make(map[string]any, len(in)+3)
			for k, v := range in {
				pm[k] = v
			}
			cp[i] = pm
			for _, f := range alwaysPresent["pool"] {
				if _, ok := pm[f]; !ok {
					pm[f] = map[string]any{}
				}
			}
			if _, ok := pm["name"]; !ok {
				pm["name"] = fmt.Sprintf("pool-%d", i)
			}
		}
		full["nodePools"] = cp
	}
	raw, err := json.Marshal(full)
	if err != nil {
		return nil, err
	}
	var pc containerpb.Cluster
	if err := protojson.Unmarshal(raw, &pc); err != nil {
		return nil, fmt.Errorf("not a Container API cluster: %s", strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\u00a0", " "), "proto: "))
	}
	return &pc, nil
}

// checkExamples proves the compiled condition on the issue's examples.
func (is *Issue) checkExamples() []string {
	ex := is.Examples
	if ex == nil || ex.Holds == nil || ex.Fails == nil {
		return []string{"examples.holds and examples.fails are missing: conditions.cel needs a cluster for which it holds and one for which it does not"}
	}
	var p []string
	for _, c := range []struct {
		name    string
		example map[string]any
		want    FactState
	}{{"holds", ex.Holds, FactTrue}, {"fails", ex.Fails, FactFalse}} {
		pc, err := ExampleCluster(c.example)
		if err != nil {
			p = append(p, fmt.Sprintf("examples.%s: %v", c.name, err))
			continue
		}
		var f Fact
		if is.cel.pool {
			if len(pc.GetNodePools()) == 0 {
				p = append(p, fmt.Sprintf("examples.%s: no nodePools: a condition of scope node_pool is evaluated on the first", c.name))
				continue
			}
			np := pc.GetNodePools()[0]
			f = is.cel.eval(&celVars{cluster: pc, pool: np}, pc.ProtoReflect(), np.ProtoReflect())
		} else {
			f = is.cel.eval(&celVars{cluster: pc}, pc.ProtoReflect(), nil)
		}
		if f.State != c.want {
			got := map[FactState]string{FactTrue: "true", FactFalse: "false", FactUndecided: "undecided: the cluster " + f.Why}[f.State]
			p = append(p, fmt.Sprintf("examples.%s: the condition gives %s, want %t", c.name, got, c.want == FactTrue))
		}
	}
	return p
}
