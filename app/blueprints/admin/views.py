"""Admin home: what needs the office's attention, each a count that links to its list."""

from flask import g

from app.auth.policies import AREA_HOME
from app.blueprints.admin import area, bp
from app.services import office
from app.web.htmx import render_page


@bp.route("/")
@area(AREA_HOME)
def index():
    counts = office.attention(g.agency, g.agency.today())
    return render_page("admin/index.html", counts=counts, cap=office.COUNT_CAP)
