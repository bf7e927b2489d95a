"""The end-to-end tests drive the whole stack as `make run` starts it (the `stack` fixture of
tests/conftest.py: separate processes on free ports, a fresh data dir per test module)."""
