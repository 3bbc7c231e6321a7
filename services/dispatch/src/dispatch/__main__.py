"""``python -m dispatch``: run the service, or a command-line query."""

from dispatch.entrypoints.main import main

if __name__ == "__main__":
    main()
