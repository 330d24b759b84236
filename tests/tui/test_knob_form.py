"""The knob form, driven through Pilot in a tiny host app."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Collapsible, Input, Select, Switch

from engine.config.groups import GROUP_TITLES, GROUPS, Config, iter_fields
from engine.config.presets import load_preset, shipped_names
from tui.formvalues import format_value
from tui.widgets.knob_field import KnobField
from tui.widgets.knob_form import KnobForm, editor_id

SIZE = (100, 60)


class Host(App[None]):
    """Just the form, recording what it tells its parent."""

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.initial = config
        self.changes: list[KnobForm.Changed] = []

    def compose(self) -> ComposeResult:
        yield KnobForm(self.initial, id="form")

    def on_knob_form_changed(self, message: KnobForm.Changed) -> None:
        self.changes.append(message)


def drive(body: Callable[[Host, KnobForm, Pilot], Awaitable[None]], config: Config | None = None) -> None:
    async def main() -> None:
        app = Host(config)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await body(app, app.query_one(KnobForm), pilot)

    asyncio.run(main())


async def type_into(pilot: Pilot, key: str, text: str) -> None:
    """Focus an Input as Tab would, clear it and type `text` key by key."""
    editor = pilot.app.query_one(f"#{editor_id(key)}", Input)
    editor.focus()
    await pilot.pause()
    editor.clear()
    await pilot.press(*text)
    await pilot.pause()


def shown(app: App, key: str) -> bool:
    field = app.query_one(f"#field-{key.replace('.', '-')}", KnobField)
    return field.display


def test_one_editor_per_knob_grouped_under_the_six_titles() -> None:
    async def body(app: Host, form: KnobForm, pilot: Pilot) -> None:
        fields = list(app.query(KnobField))
        keys = [info.key for info in iter_fields()]
        assert [f.key for f in fields] == ["name", *keys]
        # Every knob has its editor; those that do not apply are mounted only once shown (a faster start).
        assert [form.editor(k).id for k in ["name", *keys]] == [editor_id(k) for k in ["name", *keys]]
        editors = list(app.query("Input.knob-editor, Select.knob-editor, Switch.knob-editor"))
        applies = [k for k in ["name", *keys] if form.state.applies.get(k, True)]
        assert {e.id for e in editors} == {editor_id(k) for k in applies} and len(applies) < len(keys)
        for field in fields:
            assert field.built == (field.key in applies) and bool(field.display) == (field.key in applies)
        for k in keys:
            form.reveal(k)  # a hidden knob's editor is built when it is shown
        await pilot.pause(0.3)
        editors = list(app.query("Input.knob-editor, Select.knob-editor, Switch.knob-editor"))
        assert {e.id for e in editors} == {editor_id(k) for k in ["name", *keys]}
        sections = list(app.query(Collapsible))
        assert [s.title for s in sections] == [GROUP_TITLES[g] for g in GROUPS]
        assert [s.title for s in sections] == ["Task", "Model", "Optimization", "Regularization",
                                               "Early stopping", "Run"]
        assert not any(s.collapsed for s in sections)
        for info in iter_fields():
            section = app.query_one(f"#{editor_id(info.key)}").query_ancestor(Collapsible)
            assert section.id == f"group-{info.group}"
        assert isinstance(form.editor("optim.lr"), Input)
        assert isinstance(form.editor("optim.optimizer"), Select)
        assert isinstance(form.editor("task.lowercase"), Switch)
        assert isinstance(form.editor("task.name"), Input)  # open choice: plugins must be typable
        assert form.editor("optim.lr").tooltip is not None
        assert form.config == Config()

    drive(body)


def test_loading_presets_fills_every_field_and_round_trips() -> None:
    async def body(app: Host, form: KnobForm, pilot: Pilot) -> None:
        for name in shipped_names():
            config = load_preset(name, ["task.path=x.csv"] if name.startswith("surnames") else [])
            before = len(app.changes)
            form.load(config)
            await pilot.pause()
            assert form.errors == {}, name
            assert form.config == config, name
            assert len(app.changes) == before + 1, name  # one message per load, not one per field
            assert app.changes[-1].config == config
            for info in iter_fields():
                editor = form.editor(info.key)
                assert editor.value == format_value(info, config.get(info.key)), (name, info.key)
            assert form.editor("name").value == config.name

    drive(body)


def test_typing_a_learning_rate_with_an_exponent() -> None:
    async def body(app: Host, form: KnobForm, pilot: Pilot) -> None:
        await type_into(pilot, "optim.lr", "1e-3")
        assert form.editor("optim.lr").value == "1e-3"
        assert form.config is not None and form.config.optim.lr == 0.001
        assert app.changes and app.changes[-1].config == form.config

        await type_into(pilot, "optim.lr", "-1")
        assert form.config is None
        assert not form.is_valid
        assert "must be > 0" in form.errors["optim.lr"]
        field = form.field("optim.lr")
        assert "must be > 0" in field.error
        error_line = app.query_one("#error-optim-lr")
        assert error_line.display and "must be > 0" in str(error_line.render())
        assert app.changes[-1].config is None and "optim.lr" in app.changes[-1].errors

        form.editor("optim.lr").value = "3e-4"  # a paste: one change
        await pilot.pause()
        assert form.config is not None and form.config.optim.lr == 0.0003
        assert not app.query_one("#error-optim-lr").display

    drive(body)


def test_fields_that_do_not_apply_are_hidden() -> None:
    surnames = load_preset("surnames-mlp", ["task.path=x.csv"])

    async def body(app: Host, form: KnobForm, pilot: Pilot) -> None:
        assert shown(app, "model.hidden") and not shown(app, "model.channels")
        assert shown(app, "task.path") and shown(app, "task.text_column")

        kind = form.editor("model.kind")
        kind.focus()
        await pilot.press("enter", "down", "enter")  # mlp -> cnn, by keyboard
        await pilot.pause()
        assert kind.value == "cnn"
        assert shown(app, "model.channels") and shown(app, "model.kernel_size")
        assert not shown(app, "model.hidden")

        await type_into(pilot, "task.name", "toy2d")
        assert not shown(app, "task.path") and not shown(app, "task.text_column")
        assert shown(app, "task.n_samples")
        assert form.config is None and "model.kind" in form.errors  # a CNN needs text-csv

        form.editor("optim.lr").focus()
        await pilot.press("tab")  # momentum and nesterov do not apply to adam: Tab skips them to adam's betas
        assert app.focused is form.editor("optim.beta1")

    drive(body, surnames)


def test_cross_field_error_shows_under_the_key_it_names() -> None:
    async def body(app: Host, form: KnobForm, pilot: Pilot) -> None:
        form.editor("model.kind").value = "cnn"
        await pilot.pause()
        assert form.config is None
        assert list(form.errors) == ["model.kind"]
        assert "needs task.name = 'text-csv'" in form.field("model.kind").error
        assert app.query_one("#error-model-kind").display
        assert not form.field("task.name").error

        form.editor("model.kind").value = "mlp"
        await pilot.pause()
        assert form.is_valid and form.errors == {}
        assert not app.query_one("#error-model-kind").display

    drive(body)
