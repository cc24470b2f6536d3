"""The plugin kernel: fresh managers, entry points, misspelled hooks, duplicate names."""

from __future__ import annotations

import pluggy
import pytest
from sparkstacker import hookimpl
from sparkstacker.errors import PluginError
from sparkstacker.hookspecs import PROJECT
from sparkstacker.indicators import IndicatorSpec, InputSpec
from sparkstacker.model import OrderSubmission
from sparkstacker.plugins import make_plugin_manager
from sparkstacker.registry import Registry


def _spec(name: str) -> IndicatorSpec:
    return IndicatorSpec(
        name=name,
        summary="test",
        group="test",
        inputs=(InputSpec("real"),),
        params=(),
        outputs=("value",),
        compute=lambda inputs, params: {"value": inputs["real"]},
        lookback=lambda params: 0,
    )


def test_each_call_builds_a_fresh_manager() -> None:
    first, second = make_plugin_manager(), make_plugin_manager()
    assert first is not second
    assert isinstance(first, pluggy.PluginManager)
    assert first.project_name == PROJECT == "sparkstacker"


def test_misspelled_hook_is_an_error() -> None:
    class Typo:
        @hookimpl
        def register_indicator(self) -> list[object]:  # missing the trailing "s"
            return []

    with pytest.raises(PluginError, match="register_indicator"):
        make_plugin_manager(plugins=[Typo()])


def test_two_plugins_claiming_one_indicator_name_is_an_error_naming_both() -> None:
    class First:
        @hookimpl
        def register_indicators(self) -> list[IndicatorSpec]:
            return [_spec("twin")]

    class Second:
        @hookimpl
        def register_indicators(self) -> list[IndicatorSpec]:
            return [_spec("twin")]

    pm = make_plugin_manager(autoload=False, builtins=False, plugins=[First(), Second()])
    with pytest.raises(
        PluginError, match=r"'twin' is registered twice: by First-0 .* and by Second-1"
    ):
        Registry(pm)


def test_wrong_item_type_names_the_plugin() -> None:
    class Broken:
        @hookimpl
        def register_indicators(self) -> list[object]:
            return ["not a spec"]

    pm = make_plugin_manager(autoload=False, builtins=False, plugins=[Broken()])
    with pytest.raises(PluginError, match=r"Broken-0.*not a IndicatorSpec"):
        Registry(pm)


def test_unknown_name_suggests_close_matches() -> None:
    class Provider:
        @hookimpl
        def register_indicators(self) -> list[IndicatorSpec]:
            return [_spec("macd"), _spec("macdext")]

    registry = Registry(make_plugin_manager(autoload=False, builtins=False, plugins=[Provider()]))
    with pytest.raises(PluginError, match=r"unknown indicator 'mcad'; did you mean 'macd'"):
        registry.indicators.get("mcad")


def test_submit_order_wrapper_can_annotate_and_veto(order_factory) -> None:  # type: ignore[no-untyped-def]
    from sparkstacker.errors import OrderVetoed

    class Audit:
        @hookimpl(wrapper=True)
        def submit_order(self, submission: OrderSubmission):  # type: ignore[no-untyped-def]
            result = yield
            return result.annotate(audited="yes")

    class Veto:
        @hookimpl(wrapper=True)
        def submit_order(self, submission: OrderSubmission):  # type: ignore[no-untyped-def]
            if submission.order.size > 1:
                raise OrderVetoed("too big", check="veto-plugin")
            return (yield)

    pm = make_plugin_manager(autoload=False, builtins=False, plugins=[Audit(), Veto()])
    small = OrderSubmission(order=order_factory(size="0.5"))
    approved = pm.hook.submit_order(submission=small)
    assert approved.annotations == {"audited": "yes"}
    assert approved.order == small.order
    with pytest.raises(OrderVetoed, match="veto-plugin: too big"):
        pm.hook.submit_order(submission=OrderSubmission(order=order_factory(size="2")))
