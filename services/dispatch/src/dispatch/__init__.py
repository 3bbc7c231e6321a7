"""CityOps dispatch (派遣): makes the right department responsible for each filed case.

It owns the responsibility catalogue (权责清单, versioned), the working-time
calendars, the dispatch decisions (lead and assisting departments, teams),
returns and arbitration, extensions, 挂账 and the 督办 timers. See
``docs/dispatch.md``.
"""

NAME = "dispatch"
