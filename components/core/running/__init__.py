"""What already runs: whose an EAS service is, where it stays, what a deploy recorded of it.

- ``ownership``: whose a service of a given name is (the ownership labels), and what a run
  makes of the copies the lookup found: where each service stays, which it holds back and why,
  two-phase moves (``drain``), renames;
- ``deployed``: what a deployed stack's ``services`` output records (name, region, instance
  types, labels), so that an offline plan and ``make diff`` keep services where they run;
- ``service_status``: what an EAS service's ``Status`` means for a run (serving, on its way, not
  coming back by waiting).

``components.eas.running`` asks the EAS API; this package decides from the answers, purely.
Imports ``hardware`` (what a service runs on: ``RunsOn``), ``stack`` and ``errors``.
"""
