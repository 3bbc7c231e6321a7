"""`python -m workorders`."""

from workorders.entrypoints.main import main

main()
