// Package gcpfake is an in-process fake of the four Google Cloud gRPC APIs
// that fleetscan calls, serving a [fleetgen.Fleet] so that the real Go
// clients can be tested and benchmarked against it without a network or
// credentials. [Start] runs one gRPC server on 127.0.0.1 for all four
// services; [Server.ClientOptions] points a client at it.
//
// The fake supports:
//
//   - Cloud Asset v1 AssetService.ListAssets of container.googleapis.com/Cluster
//     assets with content type RESOURCE, under organizations/N, folders/N
//     (nested folders included), projects/ID or projects/NUMBER. Each asset
//     has the name //container.googleapis.com/projects/ID/locations/L/clusters/N
//     (L being the region, or the zone of a zonal cluster), ancestors, and
//     resource.data built from the cluster's REST JSON. Assets come in
//     project ID then cluster name order.
//   - Cloud Asset v1 ListAssets of the Kubernetes objects of the fleet's
//     clusters ([fleetgen.Fleet.Kube]): any non-empty set of the asset types
//     k8s.io/Service, k8s.io/Pod, apps.k8s.io/DaemonSet,
//     apps.k8s.io/Deployment, apps.k8s.io/StatefulSet,
//     apps.k8s.io/ReplicaSet, batch.k8s.io/Job, batch.k8s.io/CronJob and
//     networking.k8s.io/NetworkPolicy (a repeated type counts once), with
//     the same parents, content type and Deny as cluster assets. Each
//     object is an asset named CLUSTER/k8s/namespaces/NS/RESOURCE/NAME,
//     CLUSTER being its cluster's asset name and RESOURCE services, pods,
//     apps/daemonsets, apps/deployments, apps/statefulsets,
//     apps/replicasets, batch/jobs, batch/cronjobs or
//     networking.k8s.io/networkpolicies. Its resource has version v1, the
//     Kind as discovery_name, the Kubernetes OpenAPI spec as
//     discovery_document_uri, the cluster's asset name as parent, the
//     cluster's location, and as data the object's JSON without apiVersion
//     and kind (as Cloud Asset Inventory serves it); its ancestors are the
//     cluster's. Assets come by asset type in the order of the request's
//     asset_types, then in name order. A fleet without objects lists none.
//   - Container v1 ClusterManager.ListClusters for projects/P/locations/- and
//     projects/P/locations/L (an exact match on the cluster's location), P
//     being a project ID or number.
//   - Container v1 ClusterManager.GetServerConfig for projects/P/locations/L,
//     P being a project ID or number of the fleet and L any location: the
//     fleet's config of L ([fleetgen.Fleet.ServerConfig]), the same in
//     every project; a location without clusters gets the fleet's default
//     config. Options.Deny, latency, transient failures and OnCall
//     ("container.GetServerConfig") apply as to every method, and
//     [Server.Calls] counts it. An unknown project is NOT_FOUND, as the
//     API answers it.
//   - Resource Manager v3 Projects.ListProjects and Folders.ListFolders (the
//     direct children of organizations/N or folders/N), Projects.GetProject
//     (projects/ID or projects/NUMBER) and Folders.GetFolder. Every project
//     and folder is ACTIVE.
//   - Logging v2 LoggingServiceV2.ListLogEntries over resource_names of the
//     form projects/P, in ascending timestamp order, with a filter in this
//     subset of the Logging query language: whitespace-separated terms, all
//     of which must match (an implicit AND), each one of
//     log_id("X"), resource.type="X", resource.labels.KEY="X",
//     jsonPayload.FIELD="X" (case-sensitive equality with a string field;
//     FIELD may be a dotted path such as source.component),
//     jsonPayload.FIELD:"X" (case-insensitive substring),
//     textPayload="X" and textPayload:"X" (the same on an entry's text
//     payload; an entry with another payload matches neither),
//     timestamp>=, <=, > or < "RFC3339", and a parenthesized disjunction of
//     such terms, (TERM OR TERM …). Whitespace may stand around an
//     operator. Values are double-quoted strings in which \\ and \" are the
//     only escapes.
//   - Pagination as the APIs do it: page_size 0 takes the API's default (100,
//     or 50 for Logging), more than 1000 is INVALID_ARGUMENT, and page tokens
//     are opaque, signed by the server and bound to the request they came
//     from (a forged token, or one of another request, is INVALID_ARGUMENT).
//   - Faults and costs from [Options]: a latency added to every call,
//     transient UNAVAILABLE and RESOURCE_EXHAUSTED failures at a given
//     deterministic rate, and a per-project, per-folder or organization
//     error code ([Options.Deny]) for every call that names it (listings
//     that merely include it still show it).
//   - Counting: [Server.Calls] per method, and [Server.Filters] records every
//     Logging filter received, both including calls failed by injection.
//
// The fake does not support, and answers INVALID_ARGUMENT (or, for methods
// it does not implement, UNIMPLEMENTED) rather than silently ignoring:
//
//   - any other method of the four services (SearchAllResources,
//     GetCluster, SearchProjects, WriteLogEntries, TailLogEntries, …) or any
//     other service;
//   - other asset types (Kubernetes Namespaces, Nodes, Ingresses, …, or
//     regular expressions), container.googleapis.com/Cluster together with
//     Kubernetes types, content types other than RESOURCE, read_time or
//     relationship_types in ListAssets;
//   - the deprecated project_id and zone fields of ListClusters and
//     GetServerConfig, and locations/- in GetServerConfig;
//   - in Logging filters: the AND and NOT keywords, implicit AND and OR
//     mixed in one sequence without parentheses, negation (-), global restrictions (a
//     bare word or string), any other field (logName, severity, labels,
//     protoPayload, …), any other operator (!=, =~, !~, or = on timestamp),
//     unquoted values, escapes other than \\ and \", and functions other
//     than log_id;
//   - Logging resource names other than projects/P (organizations, folders,
//     billing accounts, log views) and order_by other than "timestamp asc";
//   - changes: the fleet is read-only, and nothing is ever created, deleted
//     or written. Resource Manager's show_deleted is accepted and ignored as
//     nothing is deleted.
//
// Unknown resources are answered as the real APIs answer a caller without
// access: NOT_FOUND from Cloud Asset and GetServerConfig, PERMISSION_DENIED
// from the others.
//
// The server must not be given a fleet that is changed while it runs: it
// serves the fleet's own Cluster and LogEntry messages, and builds each
// Kubernetes asset's resource.data from its object's JSON when it serves it.
package gcpfake
