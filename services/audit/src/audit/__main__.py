"""`python -m audit [serve | verify-ledger]`."""

from audit.entrypoints.main import main

if __name__ == "__main__":
    main()
