package catalog

import (
	"slices"
	"strings"
	"testing"
)

// TestFieldsRead: the fields a condition can read, as dotted JSON names
// from Cluster, each read whole at its end.
func TestFieldsRead(t *testing.T) {
	for _, tc := range []struct {
		expr string
		pool bool
		want []string // nil with all
		all  bool
	}{
		{expr: `cluster.addonsConfig.gcsFuseCsiDriverConfig.enabled`, want: []string{"addonsConfig.gcsFuseCsiDriverConfig.enabled"}},
		{expr: `pool.config.machineType == "a3-highgpu-8g"`, pool: true, want: []string{"nodePools.config.machineType"}},
		{expr: `pool.config.linuxNodeConfig.cgroupMode == google.container.v1.LinuxNodeConfig.CgroupMode.CGROUP_MODE_V1`, pool: true,
			want: []string{"nodePools.config.linuxNodeConfig.cgroupMode"}},
		{expr: `cluster.nodePools.exists(p, p.config.accelerators.size() > 0 || p.config.machineType.startsWith("a4x"))`,
			want: []string{"nodePools.config.accelerators", "nodePools.config.machineType"}},
		{expr: `has(cluster.autopilot.enabled)`, want: []string{"autopilot.enabled"}},
		{expr: `has(cluster.autopilot)`, want: []string{"autopilot"}},
		{expr: `cluster.resourceLabels.team == "a"`, want: []string{"resourceLabels"}},
		{expr: `cluster.resourceLabels["team"] == "a"`, want: []string{"resourceLabels"}},
		{expr: `cluster.resourceLabels.exists(k, k == "team")`, want: []string{"resourceLabels"}},
		{expr: `cluster.locations.exists(l, l.endsWith("-a"))`, want: []string{"locations"}},
		{expr: `cluster.nodePools.exists(p, true)`, want: []string{"nodePools"}},                                                // the length alone
		{expr: `cluster.nodePools.exists(p, p == cluster.nodePools[0])`, want: []string{"nodePools", "nodePools", "nodePools"}}, // an element read whole, the list indexed, and nothing of an element by path
		{expr: `cluster.nodePools.exists(cluster, cluster.name == "x") && cluster.description == ""`, want: []string{"description", "nodePools.name"}},
		{expr: `cluster.nodePools.map(p, p.config).exists(c, c.machineType == "x")`, want: []string{"nodePools.config"}},
		{expr: `[cluster].exists(c, c.description != "")`, all: true},
		{expr: `pool.config.machineType == "x" && size(cluster.nodePools) > 1`, pool: true, want: []string{"nodePools", "nodePools.config.machineType"}},
	} {
		paths, all := fieldsRead(compileCondition(t, tc.expr, tc.pool).NativeRep().Expr(), tc.pool)
		var got []string
		for _, p := range paths {
			var names []string
			for _, fd := range p {
				names = append(names, fd.JSONName())
			}
			got = append(got, strings.Join(names, "."))
		}
		slices.Sort(got)
		if all != tc.all || !all && !slices.Equal(got, tc.want) {
			t.Errorf("%s: fields %q, all %v; want %q, all %v", tc.expr, got, all, tc.want, tc.all)
		}
	}
}

// TestReadFields: the embedded catalog's conditions read only fields, and
// a catalog of only issues without conditions reads none.
func TestReadFields(t *testing.T) {
	cat, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	paths, all := cat.ReadFields()
	if all || len(paths) < len(cat.celIssues) {
		t.Errorf("the embedded catalog: %d paths for %d conditions, all %v", len(paths), len(cat.celIssues), all)
	}
	dpv2, err := cat.Narrow(nil, []string{"Networking"})
	if err != nil {
		t.Fatal(err)
	}
	if paths, all := dpv2.ReadFields(); paths != nil || all {
		t.Errorf("the Networking issues (no conditions): %d paths, all %v", len(paths), all)
	}
}

func TestReadFieldsNil(t *testing.T) {
	var c *Catalog
	if paths, all := c.ReadFields(); paths != nil || all {
		t.Errorf("a nil catalog reads %d paths, all %v; want none", len(paths), all)
	}
}
