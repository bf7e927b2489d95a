"""The whole stack as `make run` starts it: separate processes on free ports, a fresh data dir."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.devstack.launch import SERVICES, Stack, start_stack

__all__ = ["SERVICES", "Stack", "start_stack"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
