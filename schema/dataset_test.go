package schema

import "testing"

func TestParseDataset(t *testing.T) {
	tests := []struct {
		in, project, dataset, err string
	}{
		{in: "my-project.fleetscan", project: "my-project", dataset: "fleetscan"},
		{in: "example.com:my-project.fleet_scan_2", project: "example.com:my-project", dataset: "fleet_scan_2"},
		{in: "my-project", err: `"my-project" is not PROJECT.DATASET`},
		{in: "my-project.", err: `"my-project.": "" is not a dataset ID (letters, digits and underscores)`},
		{in: "my-project.fleet`scan", err: "\"my-project.fleet`scan\": \"fleet`scan\" is not a dataset ID (letters, digits and underscores)"},
		{in: "my-project.a` UNION SELECT 1 --", err: "\"my-project.a` UNION SELECT 1 --\": \"a` UNION SELECT 1 --\" is not a dataset ID (letters, digits and underscores)"},
		{in: "my-pro`ject.fleetscan", err: "\"my-pro`ject.fleetscan\": \"my-pro`ject\" is not a project ID"},
		{in: "exa`mple.com:my-project.fleetscan", err: "\"exa`mple.com:my-project.fleetscan\": \"exa`mple.com:my-project\" is not a project ID"},
		{in: "example com:my-project.fleetscan", err: `"example com:my-project.fleetscan": "example com:my-project" is not a project ID`},
		{in: ":my-project.fleetscan", err: `":my-project.fleetscan": ":my-project" is not a project ID`},
		{in: "My_Proj.fleetscan", err: `"My_Proj.fleetscan": "My_Proj" is not a project ID`},
	}
	for _, tc := range tests {
		p, d, err := ParseDataset(tc.in)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("ParseDataset(%q) error = %v, want %s", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || p != tc.project || d != tc.dataset):
			t.Errorf("ParseDataset(%q) = %q, %q, %v; want %q, %q", tc.in, p, d, err, tc.project, tc.dataset)
		}
	}
}
