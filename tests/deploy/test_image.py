"""The image, the charts, the pipelines and the pins name the same things.

The image build itself runs in CI through scripts/offline-image-build.sh (`make image-offline`).
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

import yaml

from pipelines.components import DEFAULT_IMAGE
from pipelines.steps.training import MODEL_PACKAGES
from tests.deploy.helm import BOT_CHART, ROOT, SERVING_CHART

DOCKERFILE = (ROOT / "Dockerfile").read_text()
OFFLINE_BUILD = (ROOT / "scripts" / "offline-image-build.sh").read_text()


def pins(name: str) -> dict[str, str]:
    lines = (ROOT / "requirements" / name).read_text().splitlines()
    found = dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in found.items()}


def project() -> dict[str, object]:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"])


def test_versions_agree_across_pyproject_charts_and_the_pipelines_image() -> None:
    project_version = project()["version"]
    bot_chart = yaml.safe_load((BOT_CHART / "Chart.yaml").read_text())
    serving_chart = yaml.safe_load((SERVING_CHART / "Chart.yaml").read_text())
    bot_values = yaml.safe_load((BOT_CHART / "values.yaml").read_text())

    assert bot_chart["appVersion"] == serving_chart["appVersion"] == project_version
    # `pipelines compile|submit|upload` default to the chart's default image
    assert f"{bot_values['image']['repository']}:{bot_chart['appVersion']}" == DEFAULT_IMAGE


def test_the_offline_base_is_what_the_dockerfile_from_names() -> None:
    [default_base] = re.findall(r"^ARG BASE_IMAGE=(\S+)", DOCKERFILE, re.M)
    python, release = re.fullmatch(r".*/python:(\d+\.\d+)-slim-(\w+)", default_base).groups()

    assert (python, release) == ("3.11", "bookworm")
    assert f"SUITE={release}" in OFFLINE_BUILD
    assert f'"Python {python}."*' in OFFLINE_BUILD  # the debootstrapped python3 is checked
    assert re.findall(r"^FROM \$\{BASE_IMAGE\}", DOCKERFILE, re.M)  # every stage uses the arg


def test_the_final_stage_is_the_bot_as_a_non_root_user() -> None:
    final = DOCKERFILE[DOCKERFILE.rindex("\nFROM ") :]

    assert re.search(r"^USER 10001:10001$", final, re.M)
    assert 'CMD ["approval-bot", "serve", "--host", "0.0.0.0"' in final
    assert "pip install" not in final and "apt-get" not in final


def test_the_model_pins_are_what_the_tests_train_with() -> None:
    model = pins("model.txt")
    direct = dict(
        re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[.*\])?==(.+)", d).groups()  # type: ignore[union-attr]
        for d in project()["dependencies"]  # type: ignore[attr-defined]
    )

    assert {name: version(name) for name in model} == model  # `make venv` installs with them
    assert set(MODEL_PACKAGES) <= set(model)  # what a logged model lists as its requirements
    for name in set(model) & set(direct):
        assert model[name] == direct[name], f"{name}: pyproject and requirements/model.txt differ"


def test_serving_installs_the_model_pins() -> None:
    serving_lines = (ROOT / "requirements" / "serving.txt").read_text().splitlines()

    assert "-r model.txt" in serving_lines
    assert not set(pins("serving.txt")) & set(pins("model.txt"))  # pinned once, in model.txt
