"""The four KFP v2 pipelines of the iris example and their CLI.

    data       → data_run_id
    training   (data_run_id, model_name)          → model_version (@challenger), accuracy
    staging    (model_name, data_run_id, ...)     → gate values, approval_request_id
    promotion  (model_name, model_version, data_run_id, approval_request_id, ...)
               → champion_version, storage_uri

Layout: ``steps/`` holds the logic as plain functions (tested directly), ``components`` wraps
them as KFP components, ``definitions`` wires the pipelines, ``runner`` compiles / runs locally /
submits, ``cli`` is ``python -m pipelines``. Importing this package connects to nothing.
"""
