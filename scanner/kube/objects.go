// Package kube reads the Kubernetes objects of GKE clusters (kubectl dumps
// in dump.go, Cloud Asset Inventory in asset.go) and decides the known
// issues that need them: the catalog's kubernetes_api entries (rules.go).
package kube

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Objects are the Kubernetes objects of one cluster that the checks read:
// the kinds of `kubectl get daemonsets,services,networkpolicies,pods,
// deployments,statefulsets,replicasets,jobs,cronjobs -A -o json`.
type Objects struct {
	DaemonSets      []appsv1.DaemonSet
	Deployments     []appsv1.Deployment
	StatefulSets    []appsv1.StatefulSet
	ReplicaSets     []appsv1.ReplicaSet
	Jobs            []batchv1.Job
	CronJobs        []batchv1.CronJob
	Pods            []corev1.Pod
	Services        []corev1.Service
	NetworkPolicies []networkingv1.NetworkPolicy
}

// append adds every object of p to o.
func (o *Objects) append(p *Objects) {
	o.DaemonSets = append(o.DaemonSets, p.DaemonSets...)
	o.Deployments = append(o.Deployments, p.Deployments...)
	o.StatefulSets = append(o.StatefulSets, p.StatefulSets...)
	o.ReplicaSets = append(o.ReplicaSets, p.ReplicaSets...)
	o.Jobs = append(o.Jobs, p.Jobs...)
	o.CronJobs = append(o.CronJobs, p.CronJobs...)
	o.Pods = append(o.Pods, p.Pods...)
	o.Services = append(o.Services, p.Services...)
	o.NetworkPolicies = append(o.NetworkPolicies, p.NetworkPolicies...)
}

// PodTemplates calls fn for every pod spec of the cluster: each Pod's and
// each workload's template, with the object's kind and namespace/name.
func (o *Objects) PodTemplates(fn func(kind, name string, spec *corev1.PodSpec)) {
	for i := range o.Pods {
		p := &o.Pods[i]
		fn("Pod", p.Namespace+"/"+p.Name, &p.Spec)
	}
	for i := range o.DaemonSets {
		d := &o.DaemonSets[i]
		fn("DaemonSet", d.Namespace+"/"+d.Name, &d.Spec.Template.Spec)
	}
	for i := range o.Deployments {
		d := &o.Deployments[i]
		fn("Deployment", d.Namespace+"/"+d.Name, &d.Spec.Template.Spec)
	}
	for i := range o.StatefulSets {
		d := &o.StatefulSets[i]
		fn("StatefulSet", d.Namespace+"/"+d.Name, &d.Spec.Template.Spec)
	}
	for i := range o.ReplicaSets {
		d := &o.ReplicaSets[i]
		fn("ReplicaSet", d.Namespace+"/"+d.Name, &d.Spec.Template.Spec)
	}
	for i := range o.Jobs {
		d := &o.Jobs[i]
		fn("Job", d.Namespace+"/"+d.Name, &d.Spec.Template.Spec)
	}
	for i := range o.CronJobs {
		d := &o.CronJobs[i]
		fn("CronJob", d.Namespace+"/"+d.Name, &d.Spec.JobTemplate.Spec.Template.Spec)
	}
}
