"""One web session's running state: its identifiers, clock and what went wrong so far."""

from __future__ import annotations

from producers.simulator.context import Context, Planned
from producers.simulator.incidents import Incident, IncidentName
from producers.simulator.population import Customer
from schemas.identifiers import Identifiers
from schemas.sources import WebPayload, WebTouchpoint

_FRESH_COOKIE = 0.2
"""Share of sessions on a new device or with cleared cookies: a new ``anonymous_id``."""


class Session:
    """Builds a session's events in time order; ``planned`` holds them (and follow-ups)."""

    def __init__(self, ctx: Context, customer: Customer, offset: float) -> None:
        rng = ctx.rng
        self.ctx = ctx
        self.customer = customer
        self.site = customer.site
        self.t = offset
        self.planned: list[Planned] = []
        self.logged_in = False
        self.frictions = 0
        self.failed_checkout = False
        self.failed_incident: IncidentName | None = None
        self.ordered = False
        self.visited_support = False
        self.session_id = ctx.token("sess")
        self.anonymous_id = customer.anonymous_id
        self._anonymous_ids: Identifiers | None = None
        self._member_ids: Identifiers | None = None
        if rng.random() < _FRESH_COOKIE:
            self.anonymous_id = f"anon-{rng.getrandbits(64):016x}"

    def ids(self, with_email: bool = False) -> Identifiers:
        """Cookie and session, plus the customer id once logged in (and the email on orders)."""
        if with_email:
            return self._build_ids(with_email=True)
        if self.logged_in:
            self._member_ids = self._member_ids or self._build_ids(with_email=False)
            return self._member_ids
        self._anonymous_ids = self._anonymous_ids or self._build_ids(with_email=False)
        return self._anonymous_ids

    def _build_ids(self, with_email: bool) -> Identifiers:
        return Identifiers(
            anonymous_id=self.anonymous_id,
            session_id=self.session_id,
            customer_id=self.customer.customer_id if self.logged_in else None,
            email_hash=self.customer.email_hash if with_email else None,
        )

    def think(self) -> None:
        """Advance the session clock by a reader's pause between pages."""
        self.t += self.ctx.gap(self.ctx.rng.uniform(3, 40))

    def login(self) -> None:
        """The login event: the one that carries both the cookie and the customer id."""
        self.logged_in = True
        self.emit("login", "login", "/account/login")
        self.think()

    def fail(self, step: str, status: int, code: str, incident: Incident | None) -> None:
        """A checkout step that errors out; the customer abandons the order."""
        self.failed_checkout = True
        self.failed_incident = incident.name if incident else None
        latency = self.ctx.rng.uniform(5_000, 30_000) if incident else None
        self.emit(
            "checkout",
            "error",
            f"/checkout/{step}",
            status=status,
            error_code=code,
            step=step,
            abandoned=True,
            latency=latency,
        )

    def emit(
        self,
        touchpoint: WebTouchpoint,
        kind: str,
        path: str,
        *,
        status: int = 200,
        error_code: str | None = None,
        rage_clicks: int = 0,
        step: str | None = None,
        abandoned: bool = False,
        value: float | None = None,
        latency: float | None = None,
    ) -> None:
        """Record one web event at the session's current time."""
        if touchpoint == "support_page":
            self.visited_support = True
        if latency is None:
            latency = self.ctx.rng.lognormvariate(5.2 if step is None else 5.8, 0.5)
        fields: dict[str, object] = {
            "kind": kind,
            "url_path": path,
            "latency_ms": round(latency, 1),
            "status_code": status,
        }
        if step is not None:
            fields.update(checkout_step=step, abandoned=abandoned, order_value=value)
        if error_code is not None:
            fields["error_code"] = error_code
        if rage_clicks:
            fields["rage_clicks"] = rage_clicks
        payload = WebPayload.model_validate(fields)
        ids = self.ids(with_email=step == "confirmation" and not abandoned)
        event = self.ctx.web(self.t, self.site, touchpoint, ids, payload)
        self.planned.append(Planned(self.t, event, self.customer.customer_id, self.failed_incident))
