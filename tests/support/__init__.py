"""Reusable test helpers: real servers on 127.0.0.1 and waiting with deadlines.

Modules:
    processes     -- free ports, ``wait_for`` (poll a condition until a deadline), child processes.
    mlflow_server -- a real ``mlflow server`` (sqlite backend, optional artifacts destination).
    moto_s3       -- moto's S3 server with dummy credentials, for ``s3://`` artifact paths.
    http_fake     -- a threaded HTTP server with routes and a request log, for protocol fakes.
"""
