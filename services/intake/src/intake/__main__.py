"""`python -m intake` runs the service."""

from intake.entrypoints.main import main

if __name__ == "__main__":
    main()
