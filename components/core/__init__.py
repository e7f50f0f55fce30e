"""The pure core: every decision about a service, from the stack file to the service JSON.

No Pulumi and no network (``tests/test_layout.py`` checks): the component, the offline plan
and the policy pack all reuse it, and its tests need no mocks. ``planning`` is the entry; its
docstring gives the order in which a service flows through the other modules.
"""
