"""Exit 1 unless every ``name==version`` line of the given requirements files is installed.

``python3 scripts/check-pins.py requirements/model.txt``: scripts/offline-image-build.sh runs it
inside the serving image, so the runtime holds exactly the model's pins.
"""

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def main(paths: list[str]) -> int:
    wrong = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            requirement = line.split("#")[0].strip()
            if "==" not in requirement:
                continue
            name, pinned = (part.strip() for part in requirement.split("=="))
            try:
                installed = version(name)
            except PackageNotFoundError:
                installed = "not installed"
            if installed != pinned:
                wrong.append(f"{name}: {installed}, pinned {pinned} in {path}")
    for problem in wrong:
        print(problem, file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
