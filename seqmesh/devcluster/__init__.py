"""A real Kubernetes control plane on loopback (etcd, kube-apiserver, kube-controller-manager),
started envtest-style from binaries built by hack/build-k8s.sh; for tests and for people."""
