"""Regional insights: three incidents in two local authorities and two months, and an exercise.

* A, Birmingham stabbing, opened Wed 14 Oct 2026 20:00 BST, tension high. Police acknowledge in
  10 min, the youth service in 20; the children's trust escalates to its deputy at 16 min, who
  acknowledges at 30. The 4-hour check-in asks the three; the youth service answers (high, detached
  youth work delivered), the police answer (low, practitioner debrief declined), the trust does not;
  the early help offer is accepted.
* B, Birmingham shooting, opened Thu 5 Nov 2026 21:00 GMT, tension medium. Police acknowledge in
  4 min. A manager lowers tension to low, then the incident is stood down and closed.
* C, Coventry stabbing, opened Fri 20 Nov 2026 22:00 GMT, tension critical. Police acknowledge in
  6 min, the youth service in 12.
* D, a Coventry exercise on Sat 21 Nov 2026, tension low; police acknowledge in 1 min.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from freezegun import freeze_time

from responder.check_ins.service import CheckInAnswer, record_check_in_answer
from responder.extensions import db
from responder.incidents import lifecycle
from responder.incidents.access import visible_incidents
from responder.insights.figures import Filters, insights
from responder.models import ActionKind, CheckIn, OfferActivation, OfferState, ResponseChannel, TimedAction
from responder.playbooks.registry import current_playbooks
from responder.responses.acknowledgements import acknowledge
from responder.responses.escalation import alert_next_level
from responder.scheduling.firing import fire_timed_action

from .export_scenario import activation_for

A_OPENED = datetime(2026, 10, 14, 19, 0, tzinfo=UTC)
B_OPENED = datetime(2026, 11, 5, 21, 0, tzinfo=UTC)
C_OPENED = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
D_OPENED = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
VIEWED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PERIOD = "first=1&first=10&first=2026&last=30&last=11&last=2026"


@dataclass
class Region:
    offers: dict[str, int]  # offers each incident made, as its playbook chose them


def _ack(incident, agency_key: str, after: timedelta, clock, opened: datetime, deputy: bool = False) -> None:
    clock.move_to(opened + after)
    activation = activation_for(incident, agency_key)
    acknowledge(
        activation, activation.deputy_contact if deputy else activation.lead_contact, ResponseChannel.LINK
    )
    db.session.commit()


def _check_in(incident, agency_key: str) -> CheckIn:
    activation = activation_for(incident, agency_key)
    return db.session.scalar(sa.select(CheckIn).where(CheckIn.activation_id == activation.id))


@pytest.fixture
def region(app, make_incident, make_user) -> Region:
    manager = make_user("manager")
    with freeze_time(A_OPENED) as clock:
        a = make_incident(tension="high", occurred_at=A_OPENED - timedelta(minutes=20))
        _ack(a, "wmp-birmingham", timedelta(minutes=10), clock, A_OPENED)
        clock.move_to(A_OPENED + timedelta(minutes=16))
        alert_next_level(
            activation_for(a, "bham-childrens-trust"), reason="nobody acknowledged within 15 minutes"
        )
        db.session.commit()
        _ack(a, "bham-youth-service", timedelta(minutes=20), clock, A_OPENED)
        _ack(a, "bham-childrens-trust", timedelta(minutes=30), clock, A_OPENED, deputy=True)
        clock.move_to(A_OPENED + timedelta(hours=4))
        action = db.session.scalars(
            sa.select(TimedAction).where(
                TimedAction.incident_id == a.id, TimedAction.kind == ActionKind.CHECK_IN
            )
        ).all()
        assert fire_timed_action(next(x for x in action if x.details.get("step") == "4h").id) is not None
        clock.move_to(A_OPENED + timedelta(hours=4, minutes=30))
        record_check_in_answer(
            _check_in(a, "bham-youth-service"),
            CheckInAnswer("Out tonight", "high", offers={"bham-detached-youth-work": "delivered"}),
        )
        clock.move_to(A_OPENED + timedelta(hours=5))
        record_check_in_answer(
            _check_in(a, "wmp-birmingham"),
            CheckInAnswer("Patrols in place", "low", offers={"bham-practitioner-debrief": "declined"}),
        )
        # A check-in reports offers delivered or declined; an offer accepted and not yet delivered
        # comes from elsewhere (no page sets it yet), and is counted as accepted when it does.
        early_help = next(offer for offer in a.offers if offer.offer_key == "bham-family-support")
        early_help.state = OfferState.ACCEPTED
        db.session.commit()
    with freeze_time(B_OPENED) as clock:
        b = make_incident(type="shooting", tension="medium", occurred_at=B_OPENED - timedelta(minutes=10))
        _ack(b, "wmp-birmingham", timedelta(minutes=4), clock, B_OPENED)
        clock.move_to(B_OPENED + timedelta(hours=1))
        lifecycle.change_tension(b, manager, "low", "Arrests made")
        lifecycle.stand_down(b, manager, "Calm")
        lifecycle.close(b, manager, "Done")
        db.session.commit()
    with freeze_time(C_OPENED) as clock:
        c = make_incident(
            local_authority="coventry", tension="critical", occurred_at=C_OPENED - timedelta(hours=1)
        )
        _ack(c, "wmp-coventry", timedelta(minutes=6), clock, C_OPENED)
        _ack(c, "cov-youth-service", timedelta(minutes=12), clock, C_OPENED)
    with freeze_time(D_OPENED) as clock:
        d = make_incident(
            local_authority="coventry",
            tension="low",
            exercise=True,
            occurred_at=D_OPENED - timedelta(hours=1),
        )
        _ack(d, "wmp-coventry", timedelta(minutes=1), clock, D_OPENED)
    offers = dict(
        db.session.execute(
            sa.select(OfferActivation.incident_id, sa.func.count()).group_by(OfferActivation.incident_id)
        ).all()
    )
    return Region(
        {name: offers.get(incident.id, 0) for name, incident in zip("ABCD", (a, b, c, d), strict=True)}
    )


@pytest.fixture
def manager_client(client, make_user, login):
    with freeze_time(VIEWED):
        login(make_user("manager"))
    return client


def figures_for(user, **filters):
    values = {"first": date(2026, 10, 1), "last": date(2026, 11, 30), **filters}
    return insights(visible_incidents(user), Filters(**values), current_playbooks())


def rows(result, key: str) -> list[tuple]:
    return list(result.figure(key).rows)


def test_every_figure_for_three_incidents_in_two_areas_and_two_months(region, make_user):
    result = figures_for(make_user("manager"))
    assert result.incidents == 3 and result.months == ("Oct 2026", "Nov 2026")
    assert rows(result, "incidents-by-month") == [
        ("Oct 2026", 1, 0, 0, 0, 0, 1),
        ("Nov 2026", 1, 1, 0, 0, 0, 2),
    ]
    by_area = rows(result, "incidents-by-local-authority")
    assert by_area[0] == ("Birmingham", 1, 1, 0, 0, 0, 2)
    assert by_area[1] == ("Coventry", 1, 0, 0, 0, 0, 1)
    assert all(row[-1] == 0 for row in by_area[2:]) and len(by_area) == 7

    # Minutes: police 10 (Oct), 4 and 6 (Nov); youth service 20 (Oct), 12 (Nov); trust 30 (Oct).
    # Percentiles interpolate between ranks: the 90th of 4, 6, 10 is 6 + 0.8 x 4 = 9.2.
    assert rows(result, "acknowledgement-by-sector") == [
        ("Police", "Oct 2026", 1, 10.0, 10.0),
        ("Police", "Nov 2026", 2, 5.0, 5.8),
        ("Police", "All months", 3, 6.0, 9.2),
        ("Children's social care", "Oct 2026", 1, 30.0, 30.0),
        ("Children's social care", "All months", 1, 30.0, 30.0),
        ("Youth service", "Oct 2026", 1, 20.0, 20.0),
        ("Youth service", "Nov 2026", 1, 12.0, 12.0),
        ("Youth service", "All months", 2, 16.0, 19.2),
    ]
    assert rows(result, "acknowledgement-by-local-authority") == [
        ("Birmingham", "Oct 2026", 3, 20.0, 28.0),
        ("Birmingham", "Nov 2026", 1, 4.0, 4.0),
        ("Birmingham", "All months", 4, 15.0, 27.0),
        ("Coventry", "Nov 2026", 2, 9.0, 11.4),
        ("Coventry", "All months", 2, 9.0, 11.4),
    ]
    assert rows(result, "escalations") == [("Oct 2026", 1, 1, 1.0), ("Nov 2026", 2, 0, 0.0)]
    assert rows(result, "check-ins") == [("Oct 2026", 3, 2, 66.7), ("Nov 2026", 0, 0, None)]
    offers = region.offers
    assert rows(result, "support-offers") == [
        ("Oct 2026", offers["A"], 2, 1),
        ("Nov 2026", offers["B"] + offers["C"], 0, 0),
    ]
    # Opening: A high, B medium (its first reading, though a manager lowered it), C critical.
    # B closed at low; A (lowered by the police check-in) and C are still open.
    assert rows(result, "tension") == [
        ("Low", 0, 1, 1),
        ("Medium", 1, 0, 0),
        ("High", 1, 0, 0),
        ("Critical", 1, 0, 1),
    ]


def test_exercises_count_only_when_asked_for(region, make_user):
    manager = make_user("manager")
    assert figures_for(manager).incidents == 3
    with_exercises = figures_for(manager, include_exercises=True)
    assert with_exercises.incidents == 4
    assert rows(with_exercises, "incidents-by-month")[1] == ("Nov 2026", 2, 1, 0, 0, 0, 3)
    assert ("Police", "Nov 2026", 3, 4.0, 5.6) in rows(with_exercises, "acknowledgement-by-sector")
    assert rows(with_exercises, "tension")[0] == ("Low", 1, 1, 2)


def test_one_local_authority(region, make_user):
    result = figures_for(make_user("manager"), local_authority="coventry")
    assert result.incidents == 1
    assert rows(result, "incidents-by-local-authority") == [("Coventry", 1, 0, 0, 0, 0, 1)]
    assert rows(result, "acknowledgement-by-local-authority") == [
        ("Coventry", "Nov 2026", 2, 9.0, 11.4),
        ("Coventry", "All months", 2, 9.0, 11.4),
    ]


def test_an_area_limited_user_sees_only_their_areas(region, make_user):
    officer = make_user("officer")
    officer.local_authorities = ["coventry"]
    db.session.commit()
    result = figures_for(officer)
    assert result.incidents == 1
    assert [row[0] for row in rows(result, "incidents-by-local-authority") if row[-1]] == ["Coventry"]
    assert {row[0] for row in rows(result, "acknowledgement-by-local-authority")} == {"Coventry"}
    assert rows(result, "escalations") == [("Oct 2026", 0, 0, None), ("Nov 2026", 1, 0, 0.0)]


def test_a_fixed_number_of_statements_however_many_incidents(region, make_user, make_incident):
    manager = make_user("manager")

    def statements_for_the_figures() -> tuple[int, int]:
        assert manager.role  # the user loaded first: only the figures' own statements counted
        statements = []
        counting = lambda *args: statements.append(args[2])  # noqa: E731 - a listener, named for removal
        sa.event.listen(db.engine, "before_cursor_execute", counting)
        try:
            incidents = figures_for(manager).incidents
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", counting)
        return incidents, len(statements)

    assert statements_for_the_figures() == (3, 8)
    with freeze_time(C_OPENED + timedelta(days=1)):
        for _ in range(3):
            make_incident(local_authority="coventry")
    assert statements_for_the_figures() == (6, 8)


# --- the page ------------------------------------------------------------------------------


def page_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_the_page_draws_every_chart_with_its_table(region, manager_client):
    with freeze_time(VIEWED):
        response = manager_client.get(f"/insights?{PERIOD}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    charts = re.findall(
        r'<img class="app-chart__image" src="data:image/svg\+xml;base64,[^"]+" alt="([^"]+)"', html
    )
    assert len(charts) == 8 and charts[0] == "Chart: incidents by month. The table below gives its numbers."
    text = page_text(html)
    assert "3 incidents opened from 1 October 2026 to 30 November 2026 in all seven local authorities" in text
    assert "Police Oct 2026 1 10.0 10.0" in text and "Police All months 3 6.0 9.2" in text
    assert "Oct 2026 3 2 66.7" in text and "Nov 2026 0 0 –" in text
    assert "<svg" not in html  # images only: no inline styles under the page's Content-Security-Policy


def test_the_default_period_is_the_last_twelve_months(region, manager_client):
    with freeze_time(VIEWED):
        text = page_text(manager_client.get("/insights").get_data(as_text=True))
    assert "3 incidents opened from 1 January 2026 to 1 December 2026" in text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("first=31&first=2&first=2026&last=1&last=3&last=2026", "Enter a real start date"),
        (
            "first=1&first=&first=2026&last=1&last=3&last=2026",
            "Enter the start date, with day, month and year",
        ),
        ("first=1&first=3&first=2026&last=1&last=2&last=2026", "The end date must be the same as or after"),
        ("first=1&first=1&first=2020&last=1&last=3&last=2026", "Choose a period of 36 months or less"),
        (PERIOD + "&local_authority=atlantis", "Select a local authority from the list"),
        ("first=x&last=1", "Enter the start date, with day, month and year"),
        ("first=1&first=1&first=9999&last=31&last=12&last=9999", "with a year from 2000 to 2100"),
    ],
)
def test_bad_filters_are_form_errors(manager_client, query, message):
    with freeze_time(VIEWED):
        response = manager_client.get(f"/insights?{query}")
    assert response.status_code == 400
    text = page_text(response.get_data(as_text=True))
    assert "There is a problem" in text and message in text
    assert response.get_data(as_text=True).count('class="govuk-error-message"') >= 1
    with freeze_time(VIEWED):
        assert manager_client.get(f"/insights/escalations.csv?{query}").status_code == 400


def test_each_csv_download_matches_its_table(region, manager_client, make_user):
    result = figures_for(make_user("manager"))
    for figure in result.figures:
        with freeze_time(VIEWED):
            response = manager_client.get(f"/insights/{figure.key}.csv?{PERIOD}")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="{figure.key}-2026-10-01-to-2026-11-30.csv"'
        )
        read = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        assert tuple(read[0]) == figure.columns
        assert read[1:] == [["" if cell is None else str(cell) for cell in row] for row in figure.rows]


def test_unknown_figure_is_not_found(manager_client):
    with freeze_time(VIEWED):
        assert manager_client.get("/insights/nothing.csv").status_code == 404


def test_officers_may_not_see_insights(client, make_user, login):
    with freeze_time(VIEWED):
        login(make_user("officer"))
        assert client.get("/insights").status_code == 403
        assert client.get("/insights/tension.csv").status_code == 403
