"""Schemathesis against the whole local stack's gateway (`make fuzz`; a short run in `make test`)."""
