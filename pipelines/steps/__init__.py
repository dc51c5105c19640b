"""Plain-Python logic of the pipeline steps (no KFP imports).

``pipelines.components`` wraps each public step in a KFP component; tests call the steps
directly. Modules: ``dataset`` (iris frame, validation, split), ``data`` (MLflow data runs),
``training``, ``staging`` (latency/shadow gates, notification), ``promotion`` (approval guard,
alias moves, KServe deploy), ``approvals`` (the bot's HTTP API), ``kube`` (Kubernetes client).
"""
