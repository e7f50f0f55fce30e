"""The hardware: what one replica of a service runs on, where there is stock for it, and whether
the model fits.

One entry decides it all: ``verdict.decide`` takes a service (spec, model, regions, the stock a
run knows, where and on what it runs now) and returns its ``HardwareVerdict`` (the candidates,
the region choice, sizing's verdict, and every reason, warning and problem). It calls the other
modules in one order:

- ``hardware_choice``: the one ordered list of instance types a service may use (listed,
  automatic from the hardware table, or kept from what runs: ``RunsOn``, ``REQUEST_LABEL``);
- ``facts``: each type's GPU figures and where they come from (the stack file, the EAS API, the
  table, the type's name);
- ``hardware_table``: the committed table (``components/core/data/*.csv``): GPUs, instance
  types, on-demand prices and GPU list prices, each row with its source;
- ``instance_types``: what an instance type gives one replica, from the table or its name;
- ``capabilities``: what a GPU can do (BF16, FP8), and what each engine does where it cannot;
- ``sizing``: the model arithmetic: the minimum-configuration table, the memory estimate;
- ``fitting``: sizing applied to a service: which types fit it, the automatic choice, the verdict;
- ``fixes``: what to change so that a service fits, each suggestion checked before it is offered;
- ``placement``: the first region whose stock has a type of the list (sticky where it runs).

Imports ``models``, ``stack`` and ``errors``; the plan reaches it through ``verdict`` (and the
cost, the service JSON and the lookups read its types and table).
"""
