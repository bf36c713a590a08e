@_exported import SessionClusterCore

// The I/O shell around `SessionClusterCore`: event loop and transport (Transport/), authenticated encryption
// (Security/), the embeddable `ClusterNode` API (Node/) and the cluster file (Configuration/).
