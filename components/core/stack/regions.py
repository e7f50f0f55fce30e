"""The regions where EAS runs: one list for the stack check, the plan and ``qwen3-eas capacity``.

Source (read 2026-11-25 through the project's documentation search; nothing added by guess):

- Alibaba Cloud, "Platform For AI: Regions and zones", section "Elastic Algorithm Service (EAS)
  computing resources" (https://www.alibabacloud.com/help/pt-br/pai/product-overview/regions-and-zones,
  page dated 2026-06-27): Hangzhou, Shanghai, Beijing, Zhangjiakou, Ulanqab, Shenzhen, Heyuan,
  Chengdu, Hong Kong, Tokyo, Singapore, Jakarta, Frankfurt, Silicon Valley, Virginia.
- Alibaba Cloud, "EAS 2021-07-01 endpoints"
  (https://www.alibabacloud.com/help/en/pai/developer-reference/api-eas-2021-07-01-endpoint):
  gives the region ID of each of those names (``pai-eas.<region>.aliyuncs.com``) and lists three
  more regions with an EAS API endpoint: Seoul, Guangzhou and Kuala Lumpur.

A region on neither page is refused: a typo such as ``cn-hangzou`` would otherwise plan, and name
a registry and an OSS bucket in a region that does not exist. Industry-cloud regions (for example
``cn-shanghai-finance-1``) are on neither page, so they are refused too; add one here, with its
source, when Alibaba documents EAS there.
"""

from __future__ import annotations

import difflib
from typing import Optional

EAS_REGIONS: dict[str, str] = {
    # On both pages (EAS computing resources, and an EAS API endpoint).
    "cn-hangzhou": "China (Hangzhou)",
    "cn-shanghai": "China (Shanghai)",
    "cn-beijing": "China (Beijing)",
    "cn-zhangjiakou": "China (Zhangjiakou)",
    "cn-wulanchabu": "China (Ulanqab)",
    "cn-shenzhen": "China (Shenzhen)",
    "cn-heyuan": "China (Heyuan)",
    "cn-chengdu": "China (Chengdu)",
    "cn-hongkong": "China (Hong Kong)",
    "ap-northeast-1": "Japan (Tokyo)",
    "ap-southeast-1": "Singapore",
    "ap-southeast-5": "Indonesia (Jakarta)",
    "eu-central-1": "Germany (Frankfurt)",
    "us-west-1": "US (Silicon Valley)",
    "us-east-1": "US (Virginia)",
    # On the endpoint page only (an EAS API endpoint; not in the computing-resources list).
    "cn-guangzhou": "China (Guangzhou)",
    "ap-northeast-2": "South Korea (Seoul)",
    "ap-southeast-3": "Malaysia (Kuala Lumpur)",
}
"""Region ID -> Alibaba's name for it, for every region where EAS runs (see the module docstring)."""

SOURCE = "Alibaba Cloud's PAI 'Regions and zones' and EAS endpoint pages, read 2026-11-25"


def is_eas_region(region: str) -> bool:
    """True when ``region`` is one where EAS runs."""
    return region in EAS_REGIONS


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest single-character insertions, deletions and substitutions."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


MAX_TYPO = 3
"""Edits a region ID may be off by and still read as a typo of one in the same geography."""


def region_hint(region: str) -> str:
    """What to write instead of ``region``: the nearest region ID of the same geography (its
    prefix: ``cn``, ``ap``, ``eu``, ``us``) by edit distance, else that geography's regions, else
    the whole list. Difflib's similarity once offered ``us-west-1`` for ``eu-west-1``: a continent
    away, where a typo of the prefix is far less likely than a region EAS does not run in."""
    geography = region.split("-", 1)[0]
    same = sorted(r for r in EAS_REGIONS if r.split("-", 1)[0] == geography)
    if same:
        nearest = min(same, key=lambda r: (edit_distance(region, r), r))
        if edit_distance(region, nearest) <= MAX_TYPO or len(same) == 1:
            return f"did you mean {nearest!r}?"
        return f"EAS runs in these {geography} regions: " + ", ".join(same)
    if len(geography) == 2 and geography.isalpha():  # a geography EAS has no region in
        return f"EAS runs in no {geography} region; use one of " + ", ".join(sorted(EAS_REGIONS))
    near = difflib.get_close_matches(region, list(EAS_REGIONS), n=1, cutoff=0.75)
    if near:
        return f"did you mean {near[0]!r}?"
    return "use one of " + ", ".join(sorted(EAS_REGIONS))


def unknown_region(region: str) -> Optional[str]:
    """Why ``region`` cannot be used (None when EAS runs there)."""
    if is_eas_region(region):
        return None
    return f"{region!r} is not a region where EAS runs"
