package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fleetscan/fleetscan/scanner"
)

// ReadDump adds the objects of one kubectl JSON dump to o: the List that
// `kubectl get daemonsets,services,networkpolicies,pods,deployments,
// statefulsets,replicasets,jobs,cronjobs -A -o json` prints, or a single
// object. Items of other kinds are ignored; name is used in messages.
func ReadDump(name string, data []byte, o *Objects) error {
	var head struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return fmt.Errorf("%s: empty file: want the JSON of kubectl get ... -A -o json", name)
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("%s: not a kubectl JSON dump: %v", name, err)
	}
	items := head.Items
	switch {
	case head.Kind == "List" || strings.HasSuffix(head.Kind, "List"):
	case head.Kind != "":
		items = []json.RawMessage{data}
	default:
		return fmt.Errorf("%s: no \"kind\": want a kubectl List (kubectl get ... -A -o json) or one object", name)
	}
	var errs []error
	for i, raw := range items {
		if err := o.add(raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: item %d: %v", name, i, err))
		}
	}
	return errors.Join(errs...)
}

// add decodes one object by its kind.
func (o *Objects) add(raw json.RawMessage) error {
	var meta struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return err
	}
	return o.addKind(meta.Kind, raw)
}

// addKind is add for an object whose kind is known.
func (o *Objects) addKind(kind string, raw json.RawMessage) error {
	switch kind {
	case "DaemonSet":
		return appendItem(raw, &o.DaemonSets)
	case "Deployment":
		return appendItem(raw, &o.Deployments)
	case "StatefulSet":
		return appendItem(raw, &o.StatefulSets)
	case "ReplicaSet":
		return appendItem(raw, &o.ReplicaSets)
	case "Job":
		return appendItem(raw, &o.Jobs)
	case "CronJob":
		return appendItem(raw, &o.CronJobs)
	case "Pod":
		return appendItem(raw, &o.Pods)
	case "Service":
		return appendItem(raw, &o.Services)
	case "NetworkPolicy":
		return appendItem(raw, &o.NetworkPolicies)
	case "":
		return errors.New("no \"kind\"")
	}
	return nil // a kind the checks do not read
}

func appendItem[T any](raw json.RawMessage, dst *[]T) error {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	*dst = append(*dst, v)
	return nil
}

// ContextName is the kubeconfig context that `gcloud container clusters
// get-credentials` creates for a cluster, and the name of its dump.
func ContextName(k scanner.ClusterKey) string {
	return "gke_" + k.ProjectID + "_" + k.Location + "_" + k.Name
}

// parseContext reads a context name back into a cluster key.
func parseContext(s string) (scanner.ClusterKey, bool) {
	rest, ok := strings.CutPrefix(s, "gke_")
	parts := strings.Split(rest, "_")
	if !ok || len(parts) != 3 || !scanner.ValidProjectID(parts[0]) || parts[1] == "" || parts[2] == "" {
		return scanner.ClusterKey{}, false
	}
	return scanner.ClusterKey{ProjectID: parts[0], Location: parts[1], Name: parts[2]}, true
}

// Dumps are the kubectl dumps of a directory (--kube-objects DIR), by
// cluster: DIR/gke_PROJECT_LOCATION_CLUSTER.json, or a folder of that name
// holding several JSON files.
type Dumps struct {
	objects map[scanner.ClusterKey]*Objects
	paths   map[scanner.ClusterKey]string
}

// LoadDumps reads every dump of dir. Any problem (a name that is not a
// context name, a malformed file) is an error naming the file; every
// problem is reported at once.
func LoadDumps(dir string) (*Dumps, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("kube objects: %w", err)
	}
	d := &Dumps{objects: map[scanner.ClusterKey]*Objects{}, paths: map[scanner.ClusterKey]string{}}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		key, ok := parseContext(strings.TrimSuffix(name, ".json"))
		if !ok || (!e.IsDir() && !strings.HasSuffix(name, ".json")) {
			errs = append(errs, fmt.Errorf("%s: not gke_PROJECT_LOCATION_CLUSTER.json or a folder of that name (the kubeconfig context of gcloud container clusters get-credentials)", path))
			continue
		}
		if prev, dup := d.paths[key]; dup {
			errs = append(errs, fmt.Errorf("%s: cluster %s also has %s", path, key, prev))
			continue
		}
		files := []string{path}
		if e.IsDir() {
			files, err = filepath.Glob(filepath.Join(path, "*.json"))
			if err != nil || len(files) == 0 {
				errs = append(errs, fmt.Errorf("%s: folder holds no .json dump", path))
				continue
			}
			slices.Sort(files)
		}
		o := &Objects{}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err == nil {
				err = ReadDump(f, data, o)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		d.objects[key], d.paths[key] = o, path
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}
