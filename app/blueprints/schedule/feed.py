"""The private calendar feed, `/schedule/feed/<token>.ics`: public, the secret URL is the credential.

No session is needed (calendar apps have none). The token is looked up by the host's agency and
its hash; anything else — tampered, unknown, revoked, another agency's — answers 404.
"""

from flask import abort, current_app, g, request
from flask_babel import force_locale

from app.blueprints.schedule import bp
from app.services import calendar_feed
from app.web.access import public

CACHE_SECONDS = 300


@bp.route("/schedule/feed/<token>.ics")
@public
def feed(token):
    user = calendar_feed.user_for_feed(g.agency, token)
    if user is None:
        abort(404)
    visits, several_clients = calendar_feed.feed_visits(user)
    with force_locale(user.language or current_app.config["BABEL_DEFAULT_LOCALE"]):
        body = calendar_feed.build_calendar(g.agency, visits, several_clients)
    response = current_app.response_class(body, mimetype="text/calendar")
    # Private: a shared cache must never hold one family's visits; a few minutes spare the database.
    response.cache_control.private = True
    response.cache_control.max_age = CACHE_SECONDS
    response.headers["Content-Disposition"] = 'inline; filename="visits.ics"'
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.add_etag()
    return response.make_conditional(request)
