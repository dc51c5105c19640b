"""The registry ↔ serving watch's adapters: Kubernetes (KServe), the local launcher's runs,
MLflow's @champion, its settings and its wiring (docs/watch.md)."""
