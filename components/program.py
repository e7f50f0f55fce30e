"""The Pulumi program: read the stack's config, plan every service, register components.

``__main__.py`` calls ``main()``; the offline plan runs the same ``__main__.py`` on Pulumi's
mock runtime, so what ``make plan`` shows is what ``pulumi up`` sends.

A service no region can run now (or whose current region cannot be told) is held back by name
while the others deploy; the run then fails at its end (``pulumi up`` only: a preview warns),
so the pipeline goes red and the engine deletes nothing the program did not register.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from .core.errors import StackConfigError
from .core.plan import stack_plan
from .core.stack import stack_config, stack_file
from .eas import running, stock
from .providers import RegionalProviders
from .service import Qwen3EasService, Qwen3EasServiceArgs


def _all_config() -> dict[str, Any]:
    """Every config key of the stack (Pulumi's public API reads keys one by one only)."""
    merged: dict[str, Any] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return merged


STACK_CONFIG_DIR = Path(__file__).resolve().parents[1] / "stacks"
"""Pulumi.yaml's ``stackConfigDir``: where ``pulumi up`` reads ``Pulumi.<stack>.yaml``."""


def duplicate_key_error(stack: str) -> str | None:
    """The stack file's duplicate keys, if the CLI that started the program let them through.

    The Pulumi CLI refuses such a file before the program runs (yaml.v3, see
    ``components.core.stack.stack_file``); this check is for a CLI that decodes more leniently, which
    would hand the program the second of two equal keys only.
    """
    given = os.environ.get(stack_file.PATH_ENV)
    path = Path(given) if given else STACK_CONFIG_DIR / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return None
    found = stack_file.duplicate_keys(path.read_text(encoding="utf-8"))
    return "\n".join(f"{path.name}: {d.describe()}" for d in found) or None


class Registered(dict[str, Qwen3EasService]):
    """The services a run registered, by key; ``held_back`` names those it did not, and why;
    ``deferred`` those it keeps where they run for the first run of a two-phase move."""

    held_back: dict[str, str]
    deferred: dict[str, str]

    def __init__(self) -> None:
        super().__init__()
        self.held_back = {}
        self.deferred = {}


def main() -> Registered:
    """Register one ``Qwen3EasService`` per configured service and export their facts."""
    stack = pulumi.get_stack()
    duplicates = duplicate_key_error(stack)
    if duplicates:
        raise pulumi.RunError(duplicates)
    try:
        loaded = stack_config.load(stack, _all_config())
        capacity = stock.capacity_for(stack_plan.probed_regions(loaded))
        # Whose a service is: the labels every service of this stack carries (issue 22).
        owner = running.Owner(pulumi.get_project(), stack, frozenset(loaded.config.adopt),
                              renamed=stack_plan.renames(loaded))
        found = running.where_running(stack_plan.lookup_targets(loaded), owner=owner, drains=stack_plan.drains(loaded),
                                      former=stack_plan.former_names(loaded))
        result = stack_plan.plan_services(loaded, capacity, lookup=found, project=pulumi.get_project())
    except (StackConfigError, stock.CapacityError, running.ServiceLookupError) as exc:
        # RunError ends the program with the message alone: no traceback for a user mistake.
        raise pulumi.RunError(str(exc)) from None
    for key, notes in sorted(found.notes.items()):
        for note in notes:
            pulumi.log.warn(f"{key}: {note}")

    providers = RegionalProviders()
    services = Registered()
    # Read by the offline plan run as a preview (`make diff`): what this run holds back, and which
    # two-phase moves it only prepares (their second run moves them).
    services.held_back = {key: problem.message for key, problem in sorted(result.held_back.items())}
    services.deferred = dict(sorted(result.deferred.items()))
    for key, plan in result.plans.items():
        for warning in plan.warnings:
            pulumi.log.warn(f"{key}: {warning}")
        services[key] = Qwen3EasService(
            key,
            Qwen3EasServiceArgs(plan=plan, workspace_id=loaded.config.workspace_id),
            # Each service gets its region's explicit provider, the way components take one. A
            # renamed key keeps the old key's resources: the alias covers the component, and the
            # engine carries it to the children, whose names start with the component's.
            opts=pulumi.ResourceOptions(providers=[providers.for_region(plan.region)],
                                        aliases=[pulumi.Alias(name=plan.renamed_from)] if plan.renamed_from else None),
        )
    pulumi.export(
        "services",
        {
            key: {
                # What the plan knows is exported as plain values, not Outputs: the SDK's outputs loop
                # visits every pending Output on each pass (docs/benchmarks.md, issue 32).
                "serviceName": svc.plan.name,
                "internetEndpoint": svc.internet_endpoint,
                "intranetEndpoint": svc.intranet_endpoint,
                "openaiBaseUrl": svc.openai_base_url,
                "region": svc.plan.region,
                "servedModelName": svc.plan.served_model_name,
                "instanceTypes": list(svc.plan.json_placement.instance_types),
                # With instanceTypes, what `make diff OUTPUTS=` needs to plan what runs (core/running/deployed.py).
                "resourceKind": svc.plan.json_placement.kind,
                "status": svc.service.status,
                "features": svc.plan.features,
                # The smoke test judges a service by what its engine offers (BladeLLM: no /v1/models).
                "engine": svc.plan.engine,
            }
            for key, svc in services.items()
        },
    )
    # Apart from `services`: one secret value would make the whole map secret, and `make pin`
    # and reviewers need the rest in the clear.
    pulumi.export("tokens", {key: svc.token for key, svc in services.items()})
    # This stack's services that run under no key of the stack file (kept on delete, then removed):
    # billed and outside the state. Adding the key back takes the service back; `make diff` reads
    # this from the deploy's record to say so.
    pulumi.export("outsideTheStack", {
        label: {"serviceName": copies[0].name, "region": copies[0].region}
        for label, copies in sorted(found.outside.items())})
    for label, copies in sorted(found.outside.items()):
        for copy in copies:
            pulumi.log.warn(f"{label}: EAS service {copy.region}/{copy.name} carries this stack's labels, but the stack "
                            f"file has no service {label!r} (kept on delete, then removed): it runs, and bills, outside "
                            f"the stack. Add {label!r} back to take it back, or delete it: `aliyun eas DeleteService "
                            f"--ClusterId {copy.region} --ServiceName {copy.name}`")
    # What the stack may cost per hour (components.core.plan.cost): the offline plan's plan.stack.json.
    pulumi.export("cost", result.cost.as_dict())
    over_limit = result.cost.over_limit()
    if over_limit:  # a service's own cost warnings are logged with its other warnings above
        pulumi.log.warn(f"cost: {over_limit}")
    _wait_for_registrations(services, providers)
    failures: list[str] = []
    if result.held_back:
        message = f"not deployed this run: {', '.join(sorted(result.held_back))}\n" + result.held_back_message(stack)
        if pulumi.runtime.is_dry_run() and not result.uncertain:
            # Nothing of these runs (none was found), so nothing the preview lists goes: it warns,
            # and shows the others as they will be.
            pulumi.log.warn(message)
        else:
            # `pulumi up` (CI runs it with --skip-preview: no preview half) fails after every other
            # service is registered, and the engine skips deletions after a failed program. A
            # preview fails too when a held-back service may run: unregistered, it would be listed
            # as deleted.
            failures.append(message)
    for key, why in sorted(result.deferred.items()):
        words = f"{key}: {why}"
        if pulumi.runtime.is_dry_run():
            pulumi.log.warn(words)
        else:
            failures.append(f"not moved this run: {words}")
    if failures:
        raise pulumi.RunError("\n".join(failures))
    return services


class RegistrationWait:
    """The program's async entry point (``pulumi.run``): wait for its own registrations, one await each.

    After a program's code, the SDK waits in ``wait_for_rpcs`` (pulumi 3.272.0 ``runtime/stack.py``).
    Its first loop, over the registrations, finds their list empty: each registration task adds itself
    when it first runs (``runtime/rpc_manager.py`` line 71), and a program whose code never yields
    has let none run yet. So everything is waited for by the second loop, which calls
    ``asyncio.wait(pending, FIRST_COMPLETED)`` again after each completion, each call visiting every
    pending Output: with about 27 per service until the engine answers, O(N^2) for N services, on
    every preview and up (docs/benchmarks.md, issue 32). The SDK awaits this entry point after the
    program's code and before that loop; it awaits each resource's URN once, which the engine's
    answer resolves together with the resource's other outputs, so the loop finds little left. A
    failed registration is left to the SDK to report, as before (``return_exceptions``); when a
    deployment fails, the engine answers every registration still waiting (it cancels its resource
    monitor: pulumi v3.276.0 ``pkg/resource/deploy/source_eval.go``, ``resmon.Cancel``), so the wait
    ends and the SDK reports the failure, once the others are answered rather than at the first.
    """

    def __init__(self, resources: list[pulumi.Resource]) -> None:
        self.resources = resources

    async def __call__(self) -> None:
        await asyncio.gather(*(resource.urn.future() for resource in self.resources), return_exceptions=True)


def _wait_for_registrations(services: Registered, providers: RegionalProviders) -> None:
    """Hand the SDK a ``RegistrationWait`` for every resource this run registered."""
    resources: list[pulumi.Resource] = [*providers.all()]
    for svc in services.values():
        resources += [svc, svc.service, svc.endpoint, *([svc.drained] if svc.drained is not None else [])]
    # Pulumi's mock runtime (the offline plan, tests) closes the stack to async entry points before
    # the program runs; its registrations answer at once, so there is nothing to wait for there.
    with contextlib.suppress(pulumi.RunError):
        pulumi.run(RegistrationWait(resources))
