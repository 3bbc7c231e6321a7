"""`python -m detection` runs the service."""

from detection.entrypoints.main import main

if __name__ == "__main__":
    main()
