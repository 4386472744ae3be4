"""Every hook and template context processor of the app is a coroutine function.

Quart runs a plain function hook in a worker thread (``run_sync``): a thread hand-off on
every request, or on every page rendered, that cost a measurable share of a page's time
under load (docs/PERFORMANCE.md). Extensions add hooks too, so this looks at what the
finished app holds rather than at our own code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from quart import Quart


def _by_blueprint(kind: str, registry: Mapping[Any, Iterable[Callable[..., Any]]]) -> list[str]:
    return [
        f"{kind} {function.__module__}.{function.__qualname__}"
        for functions in registry.values()
        for function in functions
        if not inspect.iscoroutinefunction(function)
    ]


def plain_function_hooks(app: Quart) -> list[str]:
    registries: dict[str, Mapping[Any, Iterable[Callable[..., Any]]]] = {
        "before_request": app.before_request_funcs,
        "after_request": app.after_request_funcs,
        "teardown_request": app.teardown_request_funcs,
        "before_websocket": app.before_websocket_funcs,
        "after_websocket": app.after_websocket_funcs,
        "teardown_websocket": app.teardown_websocket_funcs,
        "context_processor": app.template_context_processors,
        "teardown_appcontext": {None: app.teardown_appcontext_funcs},
    }
    return [
        found for kind, registry in registries.items() for found in _by_blueprint(kind, registry)
    ]


async def test_no_hook_runs_in_a_thread(make_app: Callable[..., Quart]) -> None:
    assert plain_function_hooks(make_app()) == []


async def test_the_check_sees_a_plain_function_hook(make_app: Callable[..., Quart]) -> None:
    app = make_app()

    @app.after_request
    def plain(response: Any) -> Any:
        return response

    assert plain_function_hooks(app) == [f"after_request {__name__}.{plain.__qualname__}"]


async def test_templates_still_know_the_viewer(app: Quart) -> None:
    async with app.test_request_context("/"):
        context: dict[str, Any] = {}
        await app.update_template_context(context)
    assert context["viewer"] is None
