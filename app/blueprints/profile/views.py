"""Profile views."""

from app.blueprints.profile import bp
from app.web.htmx import render_page


@bp.route("/profile/contact")
def contact():
    return render_page("coming_later.html", heading="Contact information")


@bp.route("/profile/picture")
def picture():
    return render_page("coming_later.html", heading="Profile picture")


@bp.route("/profile/settings")
def settings():
    return render_page("coming_later.html", heading="Personal settings")
