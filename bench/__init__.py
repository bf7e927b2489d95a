"""Benchmarks: run each as a module from the repository root, e.g. ``python -m bench.queue``
(``bench/queue.py`` run as a script would shadow the standard library's ``queue``)."""
