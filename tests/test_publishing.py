"""Publishing and adoption: the workflow that deploys the site, the licences, the citation
file, the changelog and the version, checked statically (the workflow cannot run here).

The workflow and CITATION.cff are validated against the schemas check-jsonschema ships
(SchemaStore's GitHub-workflow schema and the Citation File Format 1.2.0 schema), offline.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from datetime import date
from importlib import metadata
from pathlib import Path

import pytest
import yaml

import lib

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"
CITATION = ROOT / "CITATION.cff"
CHANGELOG = ROOT / "CHANGELOG.md"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _validate(path: Path, schema: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           f"vendor.{schema}", str(path)], capture_output=True, text=True)


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _steps() -> list[dict]:
    return [s for job in _workflow()["jobs"].values() for s in job.get("steps", [])]


def _changelog_versions() -> list[tuple[str, str]]:
    return re.findall(r"^## (\d+\.\d+\.\d+) — (\d{4}-\d\d-\d\d)$",
                      CHANGELOG.read_text(encoding="utf-8"), re.M)


# --- the workflow -----------------------------------------------------------------------------

def test_workflow_is_valid():
    result = _validate(WORKFLOW, "github-workflows")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_workflow(tmp_path):
    broken = _workflow()
    broken["jobs"]["test"]["runs-on"] = {"machine": "ubuntu"}      # not a runner label
    broken["jobs"]["test"]["steps"].append({"uses": "actions/checkout@v4", "run": "true"})
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    assert _validate(path, "github-workflows").returncode != 0


def test_workflow_runs_the_ci_check_before_it_deploys():
    runs = [s["run"].strip() for s in _steps() if "run" in s]
    assert runs == ["bash .ci/run"]          # the whole check, nothing else
    jobs = _workflow()["jobs"]
    assert jobs["deploy"]["needs"] == "test"
    upload = next(s for s in jobs["test"]["steps"]
                  if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@")
               for s in jobs["deploy"]["steps"])
    # deploy only from main, never from a pull request
    for where in (upload["if"], jobs["deploy"]["if"]):
        assert "refs/heads/main" in where and "pull_request" in where
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def test_ci_runs_the_make_targets_the_readme_documents():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    targets = re.findall(r"^make ([\w-]+)$", ci, re.M)
    assert targets == ["test", "book", "site-test", "lab-test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in targets:
        assert f"make {target}" in README, target
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "jupyter-book build . --all --warningiserror --nitpick --keep-going" in makefile
    assert "_build/html" in makefile


def test_workflow_python_matches_binder_runtime():
    setup = next(s for s in _steps() if s.get("uses", "").startswith("actions/setup-python@"))
    runtime = (ROOT / "runtime.txt").read_text(encoding="utf-8").strip()
    assert runtime == f"python-{setup['with']['python-version']}"


def test_make_publish_pushes_the_built_site_with_ghp_import():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^publish: .*?(?=^\S|\Z)", makefile, re.M | re.S).group(0)
    assert "ghp-import" in recipe and "_build/html" in recipe and "--push" in recipe
    assert "ghp-import==" in (ROOT / "requirements.txt").read_text(encoding="utf-8")


def test_readme_takes_a_maintainer_from_clone_to_published_site():
    section = README.split("## Publishing", 1)[1].split("\n## ", 1)[0]
    for needed in ("repository.url", "Settings", "Pages", "GitHub Actions",
                   ".github/workflows/publish.yml", "make publish", "gh-pages"):
        assert needed in section, needed


# --- licences ---------------------------------------------------------------------------------

def test_code_licence_is_the_one_pyproject_declares():
    with open(ROOT / "pyproject.toml", "rb") as f:
        declared = tomllib.load(f)["project"]["license"]
    assert declared == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_text_licence_is_stated_in_the_repository_and_on_the_site():
    url = "https://creativecommons.org/licenses/by/4.0/"
    content = (ROOT / "LICENSE-CONTENT.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in content and url in content
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert url in config["html"]["extra_footer"]
    assert "LICENSE-CONTENT.md" in README and url in README


# --- version, citation, changelog ---------------------------------------------------------------

def test_one_version_everywhere():
    version = lib.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert metadata.version("llm-inference-book") == version   # pyproject reads lib's
    assert _changelog_versions()[0][0] == version
    citation = yaml.safe_load(CITATION.read_text(encoding="utf-8"))
    assert str(citation["version"]) == version
    assert citation["preferred-citation"]["edition"] == version
    assert f"version {version}," in (ROOT / "LICENSE-CONTENT.md").read_text(encoding="utf-8")


def test_citation_file_is_valid_and_matches_the_changelog():
    result = _validate(CITATION, "citation-file-format")
    assert result.returncode == 0, result.stdout + result.stderr
    citation = yaml.safe_load(CITATION.read_text(encoding="utf-8"))
    released = dict(_changelog_versions())[str(citation["version"])]
    assert str(citation["date-released"]) == released
    assert citation["license"] == ["MIT", "CC-BY-4.0"]


def test_the_validator_rejects_a_broken_citation(tmp_path):
    citation = yaml.safe_load(CITATION.read_text(encoding="utf-8"))
    del citation["message"]                                   # required by CFF 1.2.0
    citation["license"] = ["CC BY 4.0"]                       # not an SPDX identifier
    path = tmp_path / "CITATION.cff"
    path.write_text(yaml.safe_dump(citation), encoding="utf-8")
    assert _validate(path, "citation-file-format").returncode != 0


def test_changelog_versions_descend_with_dates():
    found = _changelog_versions()
    assert len(found) >= 2
    versions = [tuple(int(x) for x in v.split(".")) for v, _ in found]
    dates = [date.fromisoformat(d) for _, d in found]
    assert versions == sorted(versions, reverse=True)
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize("name", ["LICENSE", "LICENSE-CONTENT.md", "CITATION.cff",
                                  "CHANGELOG.md"])
def test_adoption_files_are_named_in_the_readme(name):
    assert name in README


@pytest.mark.parametrize("path", ["README.md", "pages/instructors.md", "LICENSE-CONTENT.md"])
def test_examples_name_the_current_version(path):
    """The pinning and credit examples quote the version a reader would pin today."""
    text = (ROOT / path).read_text(encoding="utf-8")
    quoted = set(re.findall(r"(?:\bv|version |@v)(\d+\.\d+\.\d+)", text))
    assert quoted <= {lib.__version__}, f"{path} quotes {sorted(quoted)}"
