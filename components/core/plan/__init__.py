"""The plan: every decision about one service and about the stack, and the files that show them.

- ``planning``: one service's plan, its stages in order (the model's rules, the hardware
  verdict, the image and release, the bid, the flags and the start script, the cost, the JSON);
- ``service_plan``: ``ServicePlan``, everything decided about one service (its tags, its entry
  in ``plan.json``), what the component deploys;
- ``stack_plan``: every service of a stack planned together with what the run learned (stock,
  where services run), and what a run holds back;
- ``service_json``: the EAS service JSON, built as data and serialised once;
- ``live_values``: what a run sends back exactly as EAS holds it, and what it removes;
- ``removals``: the settings a new service JSON drops, which EAS's merge update would keep;
- ``cost``: what a service, and the stack, may cost per hour;
- ``bids``: whether a spot bid is a price at all (limits per GPU class);
- ``steps``: the step the Pulumi engine takes for each service when a stack changes (``make diff``);
- ``report``: the offline plan's ``plan.json`` and ``plan.md``.

The top of the core: it may import every other package. The component's program, the offline
plan, ``make diff``, the benches and the conformance matrix start from here.
"""
