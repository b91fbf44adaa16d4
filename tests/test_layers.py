"""Layers point down: blueprints → app/web → app/services → app/auth → models, with app/i18n.py,
app/tenancy.py and app/extensions.py at the bottom. No blueprint imports another blueprint.

Every import in every module of app/ is read (those inside functions too), so an upward import
fails here the day it is written. app/__init__.py and app/cli.py assemble the app and may import
anything.
"""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
BOTTOM = ("app.extensions", "app.i18n", "app.models")
# layer → the layers it may import (besides itself)
MAY_IMPORT = {
    "app.extensions": (),
    "app.i18n": (),
    "app.models": ("app.extensions", "app.i18n"),
    "app.tenancy": ("app.extensions", "app.models"),
    "app.auth": (*BOTTOM,),
    "app.services": (*BOTTOM, "app.tenancy", "app.auth"),
    "app.web": (*BOTTOM, "app.tenancy", "app.auth", "app.services"),
    "app.demo": (*BOTTOM, "app.tenancy", "app.auth", "app.services"),
}
ASSEMBLY = {"app", "app.cli"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name == "app" or name.startswith("app.")]


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[:2] == ["app", "blueprints"] and len(parts) > 2:
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def _allowed(importer: str, imported: str) -> bool:
    source, target = _layer(importer), _layer(imported)
    if importer in ASSEMBLY or source == target:
        return True
    if source.startswith("app.blueprints."):
        return not target.startswith("app.blueprints")
    return target in MAY_IMPORT.get(source, ())


MODULES = sorted(APP.rglob("*.py"))


def test_every_module_is_in_a_known_layer():
    unknown = {
        _layer(_module_name(p))
        for p in MODULES
        if _module_name(p) not in ASSEMBLY
        and not _layer(_module_name(p)).startswith("app.blueprints")
        and _layer(_module_name(p)) not in MAY_IMPORT
    }
    assert unknown == set(), "add the new top-level module to MAY_IMPORT in tests/test_layers.py"


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) for p in MODULES])
def test_no_module_imports_upward(path):
    module = _module_name(path)
    upward = [
        f"{path.relative_to(APP.parent)}:{line} imports {name}" for line, name in _imports(path, module)
    ]
    upward = [
        text
        for text, (_, name) in zip(upward, _imports(path, module), strict=True)
        if not _allowed(module, name)
    ]
    assert upward == []


def test_the_checker_catches_an_upward_import():
    assert not _allowed("app.models.user", "app.web.i18n._")
    assert not _allowed("app.services.audit", "app.web.htmx.render_page")
    assert not _allowed("app.auth.sessions", "app.services.audit")
    assert not _allowed("app.blueprints.dashboard.views", "app.blueprints.schedule.services.x")
    assert _allowed("app.blueprints.schedule.views", "app.blueprints.schedule.services")
    assert _allowed("app.web.portal", "app.auth.policies.PortalAccess")


# Services, models, the demo and the tenancy net take what they need as arguments: they never read
# the request, the signed-in user or `g` (app/auth/sessions.py is the one module that manages the
# browser session, so it may).
REQUEST_STATE = {"flask.g", "flask.request", "flask.session", "flask_login.current_user"}
REQUEST_FREE = [
    p
    for p in MODULES
    if _layer(_module_name(p)) in ("app.services", "app.models", "app.demo", "app.tenancy", "app.auth")
    and _module_name(p) != "app.auth.sessions"
]


def _request_state_read(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module in ("flask", "flask_login"):
            found += [
                f"{node.lineno}: {node.module}.{a.name}"
                for a in node.names
                if f"{node.module}.{a.name}" in REQUEST_STATE
            ]
    return found


@pytest.mark.parametrize("path", REQUEST_FREE, ids=[_module_name(p) for p in REQUEST_FREE])
def test_services_and_models_never_read_the_request(path):
    assert _request_state_read(path) == []


def test_the_request_check_catches_current_user(tmp_path):
    module = tmp_path / "service.py"
    module.write_text("from flask import current_app, g\nfrom flask_login import current_user\n")
    assert _request_state_read(module) == ["1: flask.g", "2: flask_login.current_user"]
