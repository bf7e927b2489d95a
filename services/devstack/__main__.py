"""``python -m services.devstack`` (``make run``): the whole platform in the foreground."""

from services.devstack.stack import main

if __name__ == "__main__":
    main()
