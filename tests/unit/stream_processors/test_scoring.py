from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from producers.simulator.catalogue import COMMENTS
from schemas.events import CallCenterEvent, ShopEvent, SurveyEvent, TouchpointEvent, WebEvent
from schemas.identifiers import Identifiers
from schemas.sources import (
    CallCenterPayload,
    CallCenterTouchpoint,
    ShopPayload,
    ShopTouchpoint,
    SurveyPayload,
    SurveyTouchpoint,
    WebPayload,
    WebTouchpoint,
)
from stream_processors.scoring.interaction import ScoredInteraction, score_event
from stream_processors.scoring.rules import BUNDLED_RULES, RulesError, load_rules, parse_rules
from tests.builders import NOW

RULES = load_rules()
IDS = Identifiers(customer_id="cust-000001")


def literals(model: type[BaseModel], field: str) -> list[Any]:
    """The Literal values a payload field allows (None left out)."""
    found: list[Any] = []

    def walk(annotation: Any) -> None:
        if get_origin(annotation) is Literal:
            found.extend(get_args(annotation))
        else:
            for inner in get_args(annotation):
                walk(inner)

    walk(model.model_fields[field].annotation)
    return found


def one_of_literals(model: type[BaseModel], field: str) -> st.SearchStrategy[Any]:
    return st.sampled_from(literals(model, field))


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


SECONDS = st.floats(0, 86_400)  # NonNegativeSeconds
COMMENT_TEXTS = [comment for comments in COMMENTS.values() for comment in comments]

# Payloads drawn within each model's constraints (schemas/sources.py).
WEB_PAYLOADS = st.builds(
    WebPayload,
    kind=one_of_literals(WebPayload, "kind"),
    url_path=st.just("/checkout/payment"),
    latency_ms=maybe(st.floats(0, 600_000)),
    status_code=maybe(st.integers(100, 599)),
    checkout_step=maybe(one_of_literals(WebPayload, "checkout_step")),
    error_code=maybe(st.just("render_timeout")),
    rage_clicks=st.integers(0, 1000),
    abandoned=st.booleans(),
    order_value=maybe(st.floats(0, 1e7)),
)
SHOP_PAYLOADS = st.builds(
    ShopPayload,
    kind=one_of_literals(ShopPayload, "kind"),
    wait_seconds=maybe(SECONDS),
    queue_length=maybe(st.integers(0, 10_000)),
    basket_value=maybe(st.floats(0, 1e7)),
    currency=maybe(st.just("EUR")),
    items=maybe(st.integers(0, 10_000)),
    out_of_stock=st.booleans(),
    outcome=maybe(one_of_literals(ShopPayload, "outcome")),
    register_id=maybe(st.just("reg-1")),
)
CALL_PAYLOADS = st.builds(
    CallCenterPayload,
    call_id=st.just("call-1"),
    queue=st.sampled_from(["billing", "orders", "returns", "loyalty", "unlisted"]),
    wait_seconds=SECONDS,
    talk_seconds=SECONDS,
    hold_seconds=SECONDS,
    transfers=st.integers(0, 100),
    ivr_outcome=maybe(one_of_literals(CallCenterPayload, "ivr_outcome")),
    disposition=one_of_literals(CallCenterPayload, "disposition"),
    agent_id=maybe(st.just("agent-7")),
)
SURVEY_PAYLOADS = st.builds(
    SurveyPayload,
    survey_id=st.just("srv-1"),
    about_touchpoint=st.just("agent_call"),
    csat=maybe(st.integers(1, 5)),
    nps=maybe(st.integers(0, 10)),
    ces=maybe(st.integers(1, 7)),
    comment=maybe(st.sampled_from(COMMENT_TEXTS) | st.text(max_size=200)),
    language=maybe(st.sampled_from(["en", "pl", "el", "de"])),
)


def envelope(**fields: Any) -> dict[str, Any]:
    return {"event_id": uuid.uuid4(), "occurred_at": NOW, "identifiers": IDS, **fields}


def web(payload: WebPayload, touchpoint: str = "checkout") -> WebEvent:
    return WebEvent(**envelope(location="site:www", source="web", touchpoint=touchpoint, payload=payload))  # fmt: skip


def shop(payload: ShopPayload, touchpoint: str = "queue") -> ShopEvent:
    return ShopEvent(**envelope(location="store-003", source="shop", touchpoint=touchpoint, payload=payload))  # fmt: skip


def call(payload: CallCenterPayload, touchpoint: str = "agent_call") -> CallCenterEvent:
    return CallCenterEvent(**envelope(location=f"queue:{payload.queue}", source="call_center", touchpoint=touchpoint, payload=payload))  # fmt: skip


def survey(payload: SurveyPayload, touchpoint: str = "post_call_survey") -> SurveyEvent:
    return SurveyEvent(**envelope(location="queue:billing", source="survey", touchpoint=touchpoint, payload=payload))  # fmt: skip


EVENTS: st.SearchStrategy[TouchpointEvent] = st.one_of(
    st.builds(web, WEB_PAYLOADS, st.sampled_from(get_args(WebTouchpoint))),
    st.builds(shop, SHOP_PAYLOADS, st.sampled_from(get_args(ShopTouchpoint))),
    st.builds(call, CALL_PAYLOADS, st.sampled_from(get_args(CallCenterTouchpoint))),
    st.builds(survey, SURVEY_PAYLOADS, st.sampled_from(get_args(SurveyTouchpoint))),
)


def with_payload(event: TouchpointEvent, **changes: Any) -> TouchpointEvent:
    """The same event with some payload fields changed (values must stay valid)."""
    payload = event.payload.model_copy(update=changes)
    return event.model_copy(update={"payload": payload})


def points(score: ScoredInteraction) -> dict[str, float]:
    return {driver.name: driver.points for driver in score.drivers}


# --- Invariants ---------------------------------------------------------------


@given(EVENTS)
def test_any_valid_event_scores_within_0_100_with_drivers_summing_to_score_minus_base(event: TouchpointEvent) -> None:  # fmt: skip
    result = score_event(event, RULES)
    assert 0 <= result.score <= 100
    assert math.isclose(result.unclamped, RULES.base + sum(d.points for d in result.drivers), abs_tol=1e-9)  # fmt: skip
    assert result.score == round(min(100.0, max(0.0, result.unclamped)), 1)
    if 0 <= result.unclamped <= 100:  # unclamped: the drivers explain the score exactly
        assert math.isclose(result.score, RULES.base + sum(d.points for d in result.drivers), abs_tol=1e-6)  # fmt: skip
    assert all(d.points != 0 and d.points == round(d.points, 1) for d in result.drivers)
    impacts = [abs(d.points) for d in result.drivers]
    assert impacts == sorted(impacts, reverse=True)
    assert result.rules_version == "v1"
    assert result.event_id == event.event_id
    assert result == score_event(event, RULES)  # deterministic


@given(EVENTS)
def test_the_experience_class_follows_the_thresholds(event: TouchpointEvent) -> None:
    result = score_event(event, RULES)
    expected = "bad" if result.score < 50 else "good" if result.score >= 75 else "neutral"
    assert result.experience == expected


def test_a_clamped_score_keeps_the_drivers_and_the_unclamped_sum() -> None:
    delighted = score_event(survey(SurveyPayload(survey_id="s", about_touchpoint="agent_call", csat=5, nps=10, ces=1, comment="Great help, thank you!")), RULES)  # fmt: skip
    assert delighted.score == 100.0
    assert delighted.unclamped == pytest.approx(80 + 15 + 15 + 10 + 11.2)
    furious = score_event(survey(SurveyPayload(survey_id="s", about_touchpoint="agent_call", csat=1, nps=0, ces=7, comment="Terrible, waited too long.")), RULES)  # fmt: skip
    assert furious.score == 0.0
    assert furious.unclamped < 0
    assert furious.unclamped == pytest.approx(RULES.base + sum(d.points for d in furious.drivers))


# --- Monotonicity ---------------------------------------------------------------


@given(CALL_PAYLOADS, SECONDS, SECONDS)
def test_a_longer_call_wait_never_scores_higher(payload: CallCenterPayload, a: float, b: float) -> None:  # fmt: skip
    event = call(payload)
    shorter, longer = sorted((a, b))
    assert score_event(with_payload(event, wait_seconds=longer), RULES).score <= score_event(with_payload(event, wait_seconds=shorter), RULES).score  # fmt: skip


@given(SHOP_PAYLOADS, SECONDS, SECONDS, st.sampled_from(get_args(ShopTouchpoint)))
def test_a_longer_shop_wait_never_scores_higher(payload: ShopPayload, a: float, b: float, touchpoint: str) -> None:  # fmt: skip
    event = shop(payload, touchpoint)
    shorter, longer = sorted((a, b))
    assert score_event(with_payload(event, wait_seconds=longer), RULES).score <= score_event(with_payload(event, wait_seconds=shorter), RULES).score  # fmt: skip


@given(WEB_PAYLOADS, st.floats(0, 600_000), st.floats(0, 600_000))
def test_a_slower_page_never_scores_higher(payload: WebPayload, a: float, b: float) -> None:
    event = web(payload)
    faster, slower = sorted((a, b))
    assert score_event(with_payload(event, latency_ms=slower), RULES).score <= score_event(with_payload(event, latency_ms=faster), RULES).score  # fmt: skip


@given(WEB_PAYLOADS, st.integers(200, 299), st.integers(500, 599))
def test_a_5xx_never_scores_higher_than_a_2xx(payload: WebPayload, ok: int, failed: int) -> None:
    event = web(payload)
    assert score_event(with_payload(event, status_code=failed), RULES).score <= score_event(with_payload(event, status_code=ok), RULES).score  # fmt: skip


@given(SURVEY_PAYLOADS, st.integers(1, 5), st.integers(1, 5))
def test_a_higher_csat_never_scores_lower(payload: SurveyPayload, a: int, b: int) -> None:
    event = survey(payload)
    lower, higher = sorted((a, b))
    assert score_event(with_payload(event, csat=higher), RULES).score >= score_event(with_payload(event, csat=lower), RULES).score  # fmt: skip


# --- What moves a score, by example ----------------------------------------------


def test_an_abandoned_call_after_three_times_the_sla_shows_both_drivers() -> None:
    result = score_event(call(CallCenterPayload(call_id="c", queue="billing", wait_seconds=360, disposition="abandoned")), RULES)  # fmt: skip
    assert result.score == 30.0
    assert result.experience == "bad"
    assert [(d.signal, d.points) for d in result.drivers] == [("call_abandoned", -25.0), ("wait_over_target", -25.0)]  # fmt: skip
    assert result.drivers[1].name == "wait in billing queue 360s, 3.0x target 120s"


def test_a_wait_penalty_grows_linearly_up_to_its_cap() -> None:
    def wait_points(wait: float) -> float:
        result = score_event(call(CallCenterPayload(call_id="c", queue="loyalty", wait_seconds=wait, disposition="transferred")), RULES)  # fmt: skip
        return sum(d.points for d in result.drivers)

    assert wait_points(60) == 0.0  # at the loyalty SLA
    assert wait_points(90) == -6.2  # half a target over: -6.25, rounded
    assert wait_points(180) == -25.0  # 3x the SLA
    assert wait_points(3600) == -40.0  # capped


def test_a_checkout_503_names_the_error_and_the_abandonment() -> None:
    payload = WebPayload(kind="error", url_path="/checkout/payment", checkout_step="payment", status_code=503, error_code="payment_gateway_unavailable", abandoned=True, latency_ms=400)  # fmt: skip
    result = score_event(web(payload), RULES)
    assert points(result) == {"checkout error 503 (payment_gateway_unavailable)": -35.0, "abandoned at payment": -20.0}  # fmt: skip
    assert result.score == 25.0


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (web(WebPayload(kind="checkout_step", url_path="/checkout/confirmation", checkout_step="confirmation", status_code=200, latency_ms=300)), {"order confirmed": 10.0}),
        (web(WebPayload(kind="page_view", url_path="/", status_code=404), "home"), {"home error 404": -15.0}),
        (web(WebPayload(kind="click", url_path="/p/1", rage_clicks=9, latency_ms=3000), "product_page"), {"9 rage clicks": -20.0, "product_page latency 3000ms, 3.0x target 1000ms": -20.0}),
        (shop(ShopPayload(kind="pos_transaction", outcome="completed", out_of_stock=True), "checkout_counter"), {"purchase completed": 10.0, "out of stock": -15.0}),
        (shop(ShopPayload(kind="queue_reading", wait_seconds=540, outcome="abandoned")), {"queue wait 540s, 3.0x target 180s": -25.0, "queue reading abandoned at queue": -25.0}),
        (shop(ShopPayload(kind="return", wait_seconds=100, outcome="failed"), "returns_desk"), {"return failed": -30.0}),
        (call(CallCenterPayload(call_id="c", queue="orders", talk_seconds=60, ivr_outcome="failed", disposition="unresolved"), "ivr_menu"), {"IVR failed": -20.0, "call unresolved": -20.0}),
        (call(CallCenterPayload(call_id="c", queue="orders", talk_seconds=1200, hold_seconds=180, transfers=2, disposition="resolved")), {"call resolved": 10.0, "transferred 2x": -16.0, "on hold 180s, 3.0x target 60s": -10.0, "agent_call handle time 1200s, 2.0x target 600s": -5.0}),
        (survey(SurveyPayload(survey_id="s", about_touchpoint="checkout_counter", csat=2, ces=6)), {"CSAT 2": -25.0, "CES 6": -25.0}),
        (survey(SurveyPayload(survey_id="s", about_touchpoint="agent_call", comment="Nikt nie potrafił mi pomóc.", language="pl")), {"comment sentiment -0.50 (pl)": -7.5}),
    ],
)  # fmt: skip
def test_each_rule_fires_with_its_points(
    event: TouchpointEvent, expected: dict[str, float]
) -> None:
    assert points(score_event(event, RULES)) == expected


# --- The rules file ------------------------------------------------------------------


def test_the_bundled_rules_file_loads() -> None:
    assert RULES.version == "v1"
    assert RULES.base == 80.0
    assert RULES.call_center.wait_seconds.target_for("orders") == 90.0
    assert RULES.call_center.wait_seconds.target_for("unlisted") == 120.0


BROKEN = {
    'version = "v1"': 'version = "one"\ncolour = "red"',
    "bad_below = 50.0": "bad_below = 90.0",
    "server_error = -35.0": "server_error = 30.0",
    "billing = 120.0": "billing = -1",
    "overrides = { ivr_menu = 180.0 }": "overrides = { ivr = 180.0 }",
    "csat = { 1 = -40.0, 2 = -25.0, 3 = -10.0,": "csat = { 1 = -40.0, 2 = -25.0,",
    "ces = { 1 = 10.0, 2 = 5.0,": "ces = { 1 = 10.0, 2 = 15.0,",
    "half_life_hours = 1.0": "half_life_hours = 0",
}


def test_a_bad_rules_file_reports_every_error_at_once(tmp_path: Path) -> None:
    text = BUNDLED_RULES.read_text(encoding="utf-8")
    for good, bad in BROKEN.items():
        assert good in text
        text = text.replace(good, bad)
    path = tmp_path / "scoring-broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    places = [problem.split(":")[0] for problem in caught.value.problems]
    assert places == ["version", "experience", "web.server_error", "call_center.wait_seconds.overrides.billing", "call_center.talk_seconds", "survey.csat", "survey.ces", "journey.half_life_hours", "colour"]  # fmt: skip
    assert str(path) in str(caught.value)


def test_rules_that_let_a_5xx_cost_less_than_another_error_are_refused() -> None:
    document = _bundled()
    document["web"]["error_event"] = -40.0
    with pytest.raises(RulesError, match="server_error must cost at least as much"):
        parse_rules(document)


def test_a_file_that_is_not_toml_is_a_rules_error(tmp_path: Path) -> None:
    path = tmp_path / "scoring.toml"
    path.write_text("version = \n", encoding="utf-8")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_rules(path)


def _bundled() -> dict[str, Any]:
    import tomllib

    return tomllib.loads(BUNDLED_RULES.read_text(encoding="utf-8"))
