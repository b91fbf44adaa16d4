"""Absolute links to an agency's portal, for mail, calendar feeds and anything that leaves the site.

Built from the agency's own configured address (`Agency.host`, PREFERRED_URL_SCHEME and, on a
development machine, PUBLIC_PORT) and never from the request: a request's Host header is the
sender's to choose, and a reset link built from it would mail an attacker's address to a victim.
Works without a request, so the outbox worker can build links too.
"""

from flask import current_app


class AgencyHasNoAddress(RuntimeError):
    """The agency has no host configured, so no link to it can be built."""


def agency_url(agency, endpoint: str, **values) -> str:
    """The absolute URL of `endpoint` on this agency's own address."""
    scheme, server = _address(agency)
    root = current_app.config["APPLICATION_ROOT"]
    adapter = current_app.url_map.bind(server, script_name=root, url_scheme=scheme)
    return adapter.build(endpoint, values, force_external=True)


def _address(agency) -> tuple[str, str]:
    if not agency.host:
        raise AgencyHasNoAddress(f"agency {agency.slug!r} has no host; set Agency.host to its address")
    config = current_app.config
    port = config.get("PUBLIC_PORT")
    return config["PREFERRED_URL_SCHEME"], f"{agency.host}:{port}" if port else agency.host
