"""CityOps dispatch (派遣): decides which department receives each filed case.

It owns the responsibility matrix (权责清单) and the dispatch decisions; it
consumes ``cityops.intake.case.filed`` and publishes
``cityops.dispatch.case.{dispatched,unroutable}``.
"""

NAME = "dispatch"
