# approval-bot: the bot's image, and the image the KFP components of pipelines/ run in.
#
#   docker build -t approval-bot:0.1.0 .                                          # `make image`
#   docker build --build-arg EXTRAS=pipelines -t approval-bot-pipelines:0.1.0 .   # `make pipelines-image`
#   docker build --target serving -t approval-bot-serving:0.1.0 .                 # the KServe runtime
#
# The bot's image (`approval-bot serve`) holds the bot and pyproject's dependencies only: no
# MLflow, scikit-learn, pandas, pyarrow or scipy (a web service needs none of them;
# tests/deploy/test_image.py and the offline build check it). The pipelines' image is the same
# target with the `pipelines` extra: KFP runs every component in it with its own command
# (`python3 -m kfp.dsl.executor_main`, importing `pipelines`), so nothing is pip-installed at run
# time; it holds the bot too (the chart runs the `local` launcher in it). README "Deploy on
# Kubernetes" has the rest.
#
# BASE_IMAGE: Debian bookworm with Python 3.11 as `python3` and its venv module. Users build
# from the public Python image; scripts/offline-image-build.sh builds the same file from a base
# it makes with debootstrap (no container registry is reachable there).
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

# --- build: a virtualenv with the pinned dependencies (and EXTRAS), and the project -----------
FROM ${BASE_IMAGE} AS build
# EXTRAS: pyproject extras to install as well, comma-separated ("" for the bot's image).
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# binutils' strip, for this stage only: manylinux wheels ship their shared objects with symbol
# tables (ICU's alone carries 8.8 MB), which the image does not need at run time.
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Dependencies first, so that a source change does not reinstall them.
COPY pyproject.toml ./
COPY requirements/ requirements/
RUN python3 -c 'import sys, tomllib; project = tomllib.load(open("pyproject.toml", "rb"))["project"]; extras = [e for e in sys.argv[1].split(",") if e]; print("\n".join(project["dependencies"] + [d for e in extras for d in project["optional-dependencies"][e]]))' "$EXTRAS" \
        > /tmp/dependencies.txt \
    && pip install --requirement /tmp/dependencies.txt --constraint requirements/model.txt \
    && find /opt/venv -type f \( -name '*.so' -o -name '*.so.*' \) -exec strip --strip-unneeded {} + \
    && find /opt/venv -depth -type d -name tests -path '*/site-packages/*/tests' -exec rm -rf {} +
COPY README.md alembic.ini ./
COPY migrations/ migrations/
COPY pipelines/ pipelines/
COPY bot/ bot/
# Editable, so that the package stays beside migrations/ as in the repository; then byte-compile
# (the root filesystem is read-only at run time) and drop the installers.
RUN pip install --no-deps --editable . \
    && python3 -m compileall -q bot pipelines migrations \
    && pip uninstall --yes pip setuptools wheel

# --- serving: MLServer + its MLflow runtime on the model's pins (requirements/serving.txt) ---
FROM ${BASE_IMAGE} AS serving-build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/serving
COPY requirements/ /tmp/requirements/
RUN /opt/serving/bin/pip install --requirement /tmp/requirements/serving.txt \
    && /opt/serving/bin/pip uninstall --yes pip setuptools wheel

FROM ${BASE_IMAGE} AS serving
RUN groupadd --gid 10001 mlserver \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin mlserver
COPY --from=serving-build /opt/serving /opt/serving
ENV PATH=/opt/serving/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MLSERVER_MODELS_DIR=/mnt/models
WORKDIR /tmp
USER 10001:10001
EXPOSE 8080 9000
CMD ["mlserver", "start", "/mnt/models"]

# --- the image (default target; both the bot's and the pipelines'): non-root, no compilers, no pip
FROM ${BASE_IMAGE} AS app
RUN groupadd --gid 10001 approval-bot \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin approval-bot
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# var/ holds the SQLite database and kfp.local runs when they are used; mount a volume there
# (the chart mounts emptyDirs on /app/var and /tmp and keeps the root filesystem read-only).
RUN install --directory --owner 10001 --group 10001 /app/var
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001:10001
EXPOSE 8080
CMD ["approval-bot", "serve", "--host", "0.0.0.0", "--port", "8080"]
