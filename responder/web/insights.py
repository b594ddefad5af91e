"""Regional insights (managers): charts with their tables, filters, and each table as CSV.

``GET /insights`` shows every figure for the filters in the address (the last
twelve months by default); ``GET /insights/<figure>.csv`` downloads one
figure's table for the same filters. Both read only the incidents the user
may see (responder.incidents.access.visible_incidents).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user

from responder.clock import now_utc, to_local
from responder.exports.chronology_csv import csv_chunks
from responder.incidents.access import visible_incidents
from responder.insights.charts import chart_uri
from responder.insights.figures import FIGURE_KEYS, FigureTable, insights
from responder.insights.forms import InsightsForm, default_period
from responder.models import Role
from responder.playbooks.registry import current_playbooks
from responder.web.access import role_required

bp = Blueprint("insights", __name__)


@bp.get("/insights")
@role_required(Role.MANAGER)
def index():
    form = _form()
    if form.errors:
        return render_template("insights/index.html", form=form, result=None, charts={}), 400
    result = insights(visible_incidents(current_user), form.filters(), current_playbooks())
    charts = {figure.key: chart_uri(figure, result.months) for figure in result.figures}
    return render_template(
        "insights/index.html", form=form, result=result, charts=charts, query=request.query_string.decode()
    )


@bp.get("/insights/<key>.csv")
@role_required(Role.MANAGER)
def figure_csv(key: str):
    if key not in FIGURE_KEYS:
        abort(404)
    form = _form()
    if form.errors:
        return render_template("insights/index.html", form=form, result=None, charts={}), 400
    filters = form.filters()
    figure = insights(visible_incidents(current_user), filters, current_playbooks()).figure(key)
    response = Response(csv_chunks(csv_rows(figure), figure.columns), content_type="text/csv; charset=utf-8")
    name = f"{key}-{filters.first}-to-{filters.last}{'-' + filters.local_authority if filters.local_authority else ''}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


def csv_rows(figure: FigureTable) -> list[tuple]:
    """The table's rows as the CSV has them: a figure that cannot be worked out is an empty cell."""
    return [tuple("" if cell is None else cell for cell in row) for row in figure.rows]


def _form() -> InsightsForm:
    """The filters from the address, validated; with none given, the last twelve months."""
    form = InsightsForm(request.args)
    if not any(key in request.args for key in ("first", "last", "local_authority", "exercises")):
        first, last = default_period(to_local(now_utc()).date())
        form = InsightsForm(data={"first": first, "last": last})
        return form
    form.validate()
    return form
