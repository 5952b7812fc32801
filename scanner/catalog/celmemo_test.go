package catalog

import (
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
)

// memoPaths memoizes what reads the objects through field paths alone,
// and leaves everything else to CEL.
func TestMemoPaths(t *testing.T) {
	for _, tc := range []struct {
		pool  bool
		expr  string
		memo  bool
		paths string // each path's fields, "+size" or "[…]" for the element paths
	}{
		{true, `pool.config.machineType == "a3-highgpu-8g"`, true, "pool.config.machineType"},
		{true, `pool.config.machineType.startsWith("a4x") && cluster.addonsConfig.gcsFuseCsiDriverConfig.enabled`, true,
			"pool.config.machineType cluster.addonsConfig.gcsFuseCsiDriverConfig.enabled"},
		{true, `pool.config.linuxNodeConfig.cgroupMode == google.container.v1.LinuxNodeConfig.CgroupMode.CGROUP_MODE_V1`, true, "pool.config.linuxNodeConfig.cgroupMode"},
		{true, `pool.config.accelerators.size() > 0 || size(pool.config.labels) > 2`, true, "pool.config.accelerators+size pool.config.labels+size"},
		{false, `cluster.nodePools.exists(p, p.config.accelerators.size() > 0 || p.config.machineType.matches("^(a2|a3)-"))`, true,
			"cluster.nodePools[config.accelerators+size config.machineType]"},
		{false, `cluster.nodePools.all(p, p.config.diskSizeGb >= 100)`, true, "cluster.nodePools[config.diskSizeGb]"},
		{false, `cluster.nodePools.exists(p, true)`, true, "cluster.nodePools[]"},
		{false, `cluster.workloadIdentityConfig.workloadPool != ""`, true, "cluster.workloadIdentityConfig.workloadPool"},
		// Left to CEL:
		{true, `has(pool.config.machineType)`, false, ""},
		{true, `pool.config == pool.config`, false, ""},
		{true, `pool.config.labels["env"] == "prod"`, false, ""},
		{false, `cluster.nodePools[0].name == "default-pool"`, false, ""},
		{false, `cluster.nodePools.exists(p, p == cluster.nodePools[0])`, false, ""},
		{true, `pool.config.oauthScopes.exists(s, s.endsWith("cloud-platform"))`, false, ""},
		{false, `cluster.resourceLabels.exists(k, k == "env")`, false, ""},
		{false, `cluster.nodePools.exists(p, p.config.taints.exists(t, t.key == "x"))`, true, "cluster.nodePools[config.taints[key]]"},
	} {
		paths, memo := memoPaths(compileCondition(t, tc.expr, tc.pool))
		if memo != tc.memo {
			t.Errorf("%s: memoized %v, want %v", tc.expr, memo, tc.memo)
			continue
		}
		if got := pathsString(paths); memo && got != tc.paths {
			t.Errorf("%s: paths %q, want %q", tc.expr, got, tc.paths)
		}
	}
}

// compileCondition type-checks expr as a condition of scope node_pool
// (pool) or cluster.
func compileCondition(t *testing.T, expr string, pool bool) *cel.Ast {
	t.Helper()
	clusterEnv, poolEnv, err := celEnvs()
	if err != nil {
		t.Fatal(err)
	}
	env := clusterEnv
	if pool {
		env = poolEnv
	}
	tree, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("%s: %v", expr, iss.Err())
	}
	return tree
}

func pathsString(paths []readPath) string {
	var out []string
	for _, p := range paths {
		var names []string
		if p.root != "" {
			names = append(names, p.root)
		}
		for _, fd := range p.fields {
			names = append(names, fd.JSONName())
		}
		s := strings.Join(names, ".")
		switch {
		case p.size:
			s += "+size"
		case p.fields[len(p.fields)-1].IsList() && p.fields[len(p.fields)-1].Message() != nil:
			s += "[" + pathsString(p.each) + "]"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// Every condition of the embedded catalog is memoized: the memo is what
// a scan's clusters use.
func TestEmbeddedConditionsMemoized(t *testing.T) {
	cat, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, is := range cat.Issues {
		if is.cel == nil {
			continue
		}
		n++
		if !is.cel.memo {
			t.Errorf("%s: its condition is not memoized: %s", is.ID, is.cel.text)
		}
	}
	if n < 10 {
		t.Fatalf("%d conditions, want the embedded catalog's", n)
	}
}

// FuzzFactsMemo: for any cluster, the facts a memo shared with every
// cluster before it gives are CEL's: two clusters that differ in what a
// condition reads never share an outcome.
func FuzzFactsMemo(f *testing.F) {
	cat, err := Embedded()
	if err != nil {
		f.Fatal(err)
	}
	for _, is := range cat.Issues {
		if is.cel == nil {
			continue
		}
		for _, ex := range []map[string]any{is.Examples.Holds, is.Examples.Fails} {
			pc, err := ExampleCluster(ex)
			if err != nil {
				f.Fatal(err)
			}
			raw, err := protojson.Marshal(pc)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(raw)
		}
	}
	fm := NewFactsMemo() // shared by every input of the run
	f.Fuzz(func(t *testing.T, raw []byte) {
		var pc containerpb.Cluster
		if (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, &pc) != nil {
			return
		}
		if diff := cmp.Diff(cat.Facts(&pc), cat.FactsWith(&pc, fm)); diff != "" {
			t.Fatalf("the memo's facts differ from CEL's (-CEL +memo):\n%s\ncluster %s", diff, raw)
		}
	})
}
