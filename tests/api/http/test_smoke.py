"""The app starts on every backend, serves its OpenAPI document and answers a first command and read."""

from __future__ import annotations

from typing import Any

from tests.builders import World


def test_a_requestor_creates_a_permit_and_finds_it_in_the_list(site: World, as_person: Any) -> None:
    req = as_person("req")
    start = site.clock.now().replace(microsecond=0)
    created = req.post(
        "/permits",
        json={
            "template_key": "hot-work",
            "content": {
                "description": "Weld a bracket",
                "area": "A1",
                "planned_start": (start.replace(hour=10)).isoformat(),
                "planned_end": (start.replace(hour=16)).isoformat(),
                "probability": 2,
                "severity": 3,
            },
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["permit_number"] == "NORTH-2026-00001"
    assert created.headers["ETag"] == '"1"'
    listed = req.get("/permits", params={"q": "bracket"})
    assert listed.status_code == 200
    assert [i["number"] for i in listed.json()["items"]] == ["NORTH-2026-00001"]
    assert listed.json()["as_of_position"] >= body["position"]
