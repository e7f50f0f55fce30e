"""One explicit ``alicloud.Provider`` per region, shared by every service deployed there."""

from __future__ import annotations

import pulumi_alicloud as alicloud


class RegionalProviders:
    """Creates each region's provider on first use and hands the same one out after."""

    def __init__(self) -> None:
        self._providers: dict[str, alicloud.Provider] = {}

    def for_region(self, region: str) -> alicloud.Provider:
        """The provider for ``region``; credentials come from the usual Alibaba Cloud sources."""
        if region not in self._providers:
            self._providers[region] = alicloud.Provider(
                f"alicloud-{region}",
                region=region,
            )
        return self._providers[region]

    def all(self) -> list[alicloud.Provider]:
        """Every provider created so far, in the order of first use."""
        return list(self._providers.values())
