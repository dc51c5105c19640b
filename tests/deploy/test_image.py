"""The images, the charts, the pipelines and the pins name the same things; the bot's image
holds the bot only.

The image build itself runs in CI through scripts/offline-image-build.sh (`make image-offline`),
which also checks, inside the built images, what these tests check in the files: no
pipelines-only package in the bot's image, and its size under BOT_IMAGE_LIMIT_MB.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, distribution, version

import yaml
from packaging.requirements import Requirement

from pipelines.components import DEFAULT_IMAGE
from pipelines.steps.training import MODEL_PACKAGES
from tests.deploy.helm import BOT_CHART, ROOT, SERVING_CHART

DOCKERFILE = (ROOT / "Dockerfile").read_text()
OFFLINE_BUILD = (ROOT / "scripts" / "offline-image-build.sh").read_text()
README = (ROOT / "README.md").read_text()
# The science stack the pipelines' steps train and evaluate with: never in the bot's image.
PIPELINES_ONLY = {"mlflow", "scikit-learn", "pandas", "pyarrow", "scipy", "matplotlib", "numpy"}


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
    # `pipelines compile|submit|upload` default to the image the chart names for them
    repository = bot_values["image"]["repository"]
    assert f"{repository}-pipelines:{bot_chart['appVersion']}" == DEFAULT_IMAGE
    assert DEFAULT_IMAGE.startswith("approval-bot-pipelines:")


def installed_closure(requirements: list[str]) -> set[str]:
    """Every distribution these requirements install, read from the installed metadata."""
    found: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in found:
            continue
        found.add(name)
        try:
            requires = distribution(requirement.name).requires or []
        except PackageNotFoundError:
            continue
        extras = requirement.extras or {""}
        for line in requires:
            needed = Requirement(line)
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in extras):
                todo.append(needed)
    return found


def test_the_bots_dependencies_leave_out_the_pipelines_science_stack() -> None:
    """The bot's image installs pyproject's dependencies only (the Dockerfile's `deps`)."""
    bot = installed_closure(list(project()["dependencies"]))  # type: ignore[call-overload]
    extras = project()["optional-dependencies"]
    pipelines = installed_closure(extras["pipelines"])  # type: ignore[index]

    assert {"fastapi", "sqlalchemy", "kfp", "slack-bolt", "python-telegram-bot"} <= bot
    assert bot & PIPELINES_ONLY == set()
    assert {"mlflow", "scikit-learn", "pandas", "numpy", "scipy"} <= pipelines


def stage(name: str) -> str:
    """The Dockerfile's lines from ``FROM … AS name`` to the next FROM."""
    [found] = re.findall(rf"^FROM \S+ AS {name}\n.*?(?=^FROM |\Z)", DOCKERFILE, re.M | re.S)
    return str(found)


def test_only_the_pipelines_image_gets_the_pipelines_extra() -> None:
    """Both images are the `app` target; EXTRAS (empty by default) adds pyproject extras."""
    makefile = (ROOT / "Makefile").read_text()
    build = stage("build")
    image_rule = makefile[makefile.index("\nimage:") : makefile.index("\npipelines-image:")]
    pipelines_rule = makefile[makefile.index("\npipelines-image:") : makefile.index("\nserving")]

    assert 'ARG EXTRAS=""' in build
    assert '["project"]' in build and '["optional-dependencies"]' in build and '"$EXTRAS"' in build
    assert "COPY --from=build /opt/venv /opt/venv" in stage("app")
    assert DOCKERFILE.rstrip().endswith(
        'CMD ["approval-bot", "serve", "--host", "0.0.0.0", "--port", "8080"]'
    )
    assert "EXTRAS" not in image_rule
    assert "--build-arg EXTRAS=pipelines" in pipelines_rule
    assert "stage=(--target app --build-arg EXTRAS=pipelines)" in OFFLINE_BUILD


def test_ci_builds_the_three_images_and_holds_the_bot_image_to_its_limit() -> None:
    makefile = (ROOT / "Makefile").read_text()
    [limit] = re.findall(r"^BOT_IMAGE_LIMIT_MB=(\d+)$", OFFLINE_BUILD, re.M)
    [readme_limit] = re.findall(r"the bot's image must stay under (\d+) MB", README)

    assert 'TARGETS="app pipelines serving" scripts/offline-image-build.sh' in makefile
    assert "make image-offline" in (ROOT / ".ci" / "run").read_text()
    assert int(limit) == int(readme_limit) == 350
    assert "die \"the bot's image is $bot_mb MB, over its limit" in OFFLINE_BUILD
    assert 'PIPELINES_ONLY="mlflow sklearn pandas pyarrow scipy matplotlib"' in OFFLINE_BUILD
    assert "python3 /scripts/image-smoke.py" in OFFLINE_BUILD.split("enter pipelines", 1)[1]


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
