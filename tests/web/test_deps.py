"""A route's database session is committed before its answer goes out: a client acting on the answer
(the next page after a saved form) finds the change."""

import importlib
import pkgutil

from fastapi import APIRouter
from fastapi.routing import APIRoute

import mailer.web
from mailer.web.deps import db_session


def _routes():
    for info in pkgutil.walk_packages(mailer.web.__path__, "mailer.web."):
        router = getattr(importlib.import_module(info.name), "router", None)
        if isinstance(router, APIRouter):
            yield from (r for r in router.routes if isinstance(r, APIRoute))


def _session_dependencies(dependant):
    for sub in dependant.dependencies:
        if sub.call is db_session:
            yield sub
        yield from _session_dependencies(sub)


def test_every_route_s_session_ends_before_its_answer():
    """Declared with scope="function" wherever it is declared, in a route or in one of its dependencies
    (the login check): by default FastAPI ends a yield dependency after the response is sent."""
    found = [
        (route.path, sub.scope)
        for route in _routes()
        for sub in _session_dependencies(route.dependant)
    ]
    assert len({path for path, _ in found}) > 20  # the desk's and the public pages
    assert [(path, scope) for path, scope in found if scope != "function"] == []
