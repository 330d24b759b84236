"""The form's Params group: shown only for a config that declares params, validated like every field."""
from __future__ import annotations

from textual.widgets import Collapsible, Select

from engine.config.groups import Config
from tests.tui.test_knob_form import Host, drive, type_into
from tui.widgets.knob_field import KnobField
from tui.widgets.knob_form import KnobForm, editor_id

DECLARED = Config.from_dict({
    "params_spec": {"heads": {"type": "int", "default": 4, "low": 1, "high": 16, "help": "attention heads"},
                    "norm": {"type": "str", "default": "layer", "choices": ["layer", "batch"]}},
})


def test_the_params_group_shows_and_refuses_a_bad_value() -> None:
    async def body(app: Host, form: KnobForm, pilot) -> None:
        group = app.query_one("#group-params", Collapsible)
        assert group.title == "Params"
        assert [f.key for f in group.query(KnobField)] == ["params.heads", "params.norm"]
        assert isinstance(app.query_one(f"#{editor_id('params.norm')}"), Select)
        await type_into(pilot, "params.heads", "32")
        assert form.config is None
        assert form.errors == {"params.heads": 'must be <= 16, got 32'}
        assert form.field("params.heads").error == 'must be <= 16, got 32'
        await type_into(pilot, "params.heads", "8")
        assert form.config is not None and form.config.params == {"heads": 8, "norm": "layer"}
        assert app.changes[-1].config == form.config

    drive(body, DECLARED)


def test_no_params_group_without_declarations_and_loading_one_adds_it() -> None:
    async def body(app: Host, form: KnobForm, pilot) -> None:
        assert not app.query("#group-params")
        form.load(DECLARED.with_updates({"params.heads": 2}))
        await pilot.pause()
        assert app.query_one("#group-params", Collapsible)
        assert form.field("params.heads").raw == "2"
        assert form.config is not None and form.config.params["heads"] == 2
        form.load(Config())
        await pilot.pause()
        assert not app.query("#group-params") and form.config == Config()

    drive(body)
