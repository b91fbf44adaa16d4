"""The module-wide rows of `module_rows` (conftest): built once, and every test rolls back to them.

The two tests run in file order: the first changes and adds rows, the second finds the module's
rows as they were built and none of the first test's.
"""

import pytest

from app.models import Client
from tests.conftest import Factory, build_world, get_one, in_app


@pytest.fixture(scope="module")
def world(module_rows):
    return build_world(Factory(module_rows))


def _client_names(app, agency):
    with in_app(app) as session:
        return sorted(c.first_name for c in session.query(Client).filter_by(agency_id=agency.id))


def test_a_test_may_change_the_module_rows(app, make, world):
    margaret = get_one(app, Client, id=world.client_a.id)
    margaret.first_name = "Changed"
    make.save(margaret)
    make.client(world.a, "Added Client")
    assert _client_names(app, world.a) == ["Added", "Changed", "Harold"]


def test_the_next_test_finds_them_as_built(app, world):
    assert _client_names(app, world.a) == ["Harold", "Margaret"]
