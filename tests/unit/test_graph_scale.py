"""The scale benchmarks' generated tenants: the mix they claim, and a warmed stand-in that never serves stale
content (a cache that did would make every incremental figure a lie)."""

from __future__ import annotations

import statistics

from inventory_sync.domain.registry import BY_KEY
from invsync_dev.local.graph_scale import (
    ScaleStandIn,
    definition_value_count,
    presentation_value_count,
    settings_count,
    tenant_counts,
)


def test_generated_tenants_have_the_stated_mix() -> None:
    assert 390 <= sum(tenant_counts(400).values()) <= 410
    assert 1950 <= sum(tenant_counts(2000).values()) <= 2050
    catalog = [settings_count(i) for i in range(tenant_counts(2000)["settingsCatalogPolicy"])]
    assert min(catalog) >= 20 and max(catalog) <= 200 and 100 <= statistics.mean(catalog) <= 120
    templates = [definition_value_count(i) for i in range(tenant_counts(2000)["groupPolicyConfiguration"])]
    assert min(templates) >= 10 and max(templates) <= 50 and 25 <= statistics.mean(templates) <= 35
    assert {presentation_value_count(i, n) for i in range(10) for n in range(10)} == {1, 2, 3}


def test_the_stand_in_serves_the_generated_sizes_below_objects() -> None:
    standin = ScaleStandIn()
    tenant = standin.add_tenant("mix.example", "c", "s", tenant_counts(400))
    standin.warm("mix.example")
    template = BY_KEY["groupPolicyConfiguration"]
    values = standin.below(tenant, template, 3, ["definitionValues"]) or []
    assert len(values) == definition_value_count(3)
    presentation = standin.below(tenant, template, 3, ["definitionValues", values[1]["id"], "presentationValues"])
    assert presentation is not None and len(presentation) == presentation_value_count(3, 1)


def test_a_warmed_object_is_served_anew_once_it_changes() -> None:
    standin = ScaleStandIn()
    tenant = standin.add_tenant("cache.example", "c", "s", tenant_counts(400))
    standin.warm("cache.example")
    app, template = BY_KEY["mobileApp"], BY_KEY["groupPolicyConfiguration"]

    def listed(index: int) -> dict[str, object]:
        return standin.item(tenant, app, index, expand=True, detail=False)

    def presentation(index: int) -> object:
        first = (standin.below(tenant, template, index, ["definitionValues"]) or [])[0]["id"]
        return standin.below(tenant, template, index, ["definitionValues", first, "presentationValues"])

    changed, reassigned, untouched = listed(7), listed(8), listed(9)
    below = presentation(2)
    standin.modify_item("cache.example", "mobileApp", 7)
    standin.reassign_item("cache.example", "mobileApp", 8)
    standin.modify_item("cache.example", "groupPolicyConfiguration", 2)
    assert listed(7) != changed  # its setting moved
    assert listed(8)["assignments"] != reassigned["assignments"]
    assert listed(9) == untouched
    assert presentation(2) != below  # the configuration below the template moved
    standin.touch("cache.example")
    assert listed(9) != untouched  # noise moved
