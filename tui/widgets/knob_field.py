"""One knob of the form: its name, a one-line hint, the editor its kind calls for, and its error."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from engine.config.knobs import BOOL, CHOICE, FLOAT, INT, INT_LIST, STR_LIST, TABLE, FieldInfo


def dom_suffix(key: str) -> str:
    """`optim.lr` -> `optim-lr`: the part of a field's ids that names its knob."""
    return key.replace(".", "-")


def editor_id(key: str) -> str:
    """The id of a knob's editor, e.g. `knob-optim-lr`, `knob-name`; tests and the app query it."""
    return f"knob-{dom_suffix(key)}"


def field_id(key: str) -> str:
    """The id of the KnobField holding a knob, e.g. `field-optim-lr` (what gets hidden)."""
    return f"field-{dom_suffix(key)}"


def error_id(key: str) -> str:
    """The id of the line under a field that shows its error (present once it had one)."""
    return f"error-{dom_suffix(key)}"


# What may be typed into a number field, as a prefix of a value the knob's grammar reads
# (engine/config/knob_text.py): the field refuses a key that could never lead to a number, so `q`
# or `s` pressed by mistake in `lr` changes nothing (Textual checks the whole new text).
_INT = r"[-+]?(?:0[xX][0-9a-fA-F_]*|0[oO][0-7_]*|0[bB][01_]*|[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]*)?)"
_FLOAT = r"[-+]?(?:[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]*)?|(?i:i(?:n(?:f(?:i(?:n(?:i(?:t(?:y)?)?)?)?)?)?)?|n(?:a(?:n)?)?))"
_INT_LIST = rf"\s*\[?\s*(?:{_INT}\s*(?:,\s*{_INT}\s*)*)?\]?\s*"
RESTRICT = {INT: _INT, FLOAT: _FLOAT, INT_LIST: _INT_LIST}
FOCUS_MARK = "▸"


def _placeholder(info: FieldInfo) -> str:
    k = info.knob
    if k.kind == CHOICE:
        return " | ".join(k.choices) + (" | package.module:function" if k.open_choice else "")
    if k.kind == INT_LIST:
        return "comma-separated, e.g. 256, 128"
    if k.kind == STR_LIST:
        return "comma-separated, e.g. a, b"
    if k.kind == TABLE:
        return "TOML inline table, e.g. {n = 5}"
    if k.kind in (INT, FLOAT):
        return k.rule_text()
    return ""


def _tooltip(info: FieldInfo) -> str:
    k = info.knob
    rule = "TOML inline table, e.g. {n = 5}" if k.kind == TABLE else k.rule_text()
    return f"{k.help}\n{info.key}: {rule}"


class KnobField(Widget):
    """A labelled editor for one knob that reports only edits the user made.

    The field remembers the raw value it last reported or was given, so the echo of a value
    the form set itself (Textual posts `Changed` for programmatic updates too) never reaches
    the form as an edit.
    """

    DEFAULT_CSS = """
    KnobField {
        height: auto;
        width: 1fr;
        padding: 0 1 0 0;
        & > .knob-row { height: 1; width: 1fr; }
        & .knob-label { width: 18; text-style: bold; }
        & .knob-state { width: auto; padding: 0 1; color: $text-muted; }
        & .knob-editor { width: 1fr; }
        & Switch.knob-editor, & Switch.knob-editor:focus { border: none; height: 1; padding: 0 1; width: auto; }
        & Switch.knob-editor:focus { background-tint: $foreground 15%; }
        & > .knob-hint { color: $text-muted; height: 1; padding-left: 2; text-wrap: nowrap; text-overflow: ellipsis; }
        & > .knob-error { color: $text-error; display: none; height: auto; padding-left: 2; }
        &.-invalid > .knob-error { display: block; }
        &.-invalid .knob-label { color: $text-error; }
    }
    """

    class Edited(Message):
        """The user changed the knob's editor; `raw` is its new text (or bool for a switch)."""

        def __init__(self, field: KnobField, raw: str | bool) -> None:
            super().__init__()
            self.field = field
            self.raw = raw

        @property
        def control(self) -> KnobField:
            return self.field

    def __init__(self, info: FieldInfo, raw: str | bool, *, classes: str | None = None, built: bool = True) -> None:
        super().__init__(id=field_id(info.key), classes=classes)
        self.built = built  # its widgets are (to be) mounted; False: not until `build`
        self.info = info
        self._raw = raw
        self._message = ""
        self._editor = self._make_editor(raw)
        self._label = Label(f" {info.name}", classes="knob-label")
        # A switch's state in words beside it, not only as the slider's colour.
        self._state = Static(_on_off(bool(raw)), classes="knob-state") if isinstance(self._editor, Switch) else None
        # Composed up front and hidden by CSS until needed, so that an error never mounts a widget
        # while the user is typing.
        self._error = Static(classes="knob-error", markup=False, id=error_id(info.key))

    @property
    def key(self) -> str:
        return self.info.key

    @property
    def editor(self) -> Widget:
        return self._editor

    @property
    def raw(self) -> str | bool:
        """The editor's current content as the form parses it."""
        editor = self._editor
        if isinstance(editor, Switch):
            return editor.value
        if isinstance(editor, Select):
            return "" if editor.is_blank() else str(editor.value)
        assert isinstance(editor, Input)
        return editor.value

    def _make_editor(self, raw: str | bool) -> Widget:
        info = self.info
        k = info.knob
        common = {"id": editor_id(info.key), "classes": "knob-editor", "tooltip": _tooltip(info)}
        if k.kind == BOOL:
            return Switch(bool(raw), animate=False, **common)
        if k.kind == CHOICE and not k.open_choice:
            return Select([(c, c) for c in k.choices], allow_blank=False, value=str(raw),
                          compact=True, **common)
        suggester = SuggestFromList(k.choices) if k.kind == CHOICE else None
        return Input(str(raw), placeholder=_placeholder(info), suggester=suggester, compact=True,
                     select_on_focus=False, restrict=RESTRICT.get(k.kind), **common)

    def compose(self) -> ComposeResult:
        if self.built:
            yield from self._parts()

    def _parts(self) -> list[Widget]:
        row = [self._label, self._editor] + ([self._state] if self._state is not None else [])
        return [Horizontal(*row, classes="knob-row"), Static(self.info.knob.help, classes="knob-hint", markup=False),
                self._error]

    def build(self) -> None:
        """Mount the field's widgets now: a field hidden at start (it does not apply) is built only
        once shown, which halves what the cockpit mounts before its first frame."""
        if not self.built:
            self.built = True
            if self.is_attached:
                self.mount_all(self._parts())

    def set_raw(self, raw: str | bool) -> None:
        """Show a value the form decided on (a loaded config); not reported as an edit."""
        self._raw = raw
        editor = self._editor
        if isinstance(editor, Switch):
            editor.value = bool(raw)
            self._show_state()
        elif isinstance(editor, Select):
            editor.value = str(raw)
        else:
            assert isinstance(editor, Input)
            editor.value = str(raw)

    def set_error(self, message: str | None) -> None:
        """Show the rule this field breaks, or clear it."""
        self._message = message or ""
        self.set_class(bool(message), "-invalid")
        self._error.update(self._message)

    @property
    def error(self) -> str:
        """The message shown under the field ('' when none)."""
        return self._message

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _editor_changed(self, event: Message) -> None:
        event.stop()
        self._show_state()
        raw = self.raw
        if raw == self._raw:
            return
        self._raw = raw
        self.post_message(self.Edited(self, raw))

    def _show_state(self) -> None:
        if self._state is not None:
            self._state.update(_on_off(bool(self.raw)))

    # The field holding the focus says so in plain text, for terminals and eyes that miss the colour.
    def on_descendant_focus(self) -> None:
        self._label.update(f"{FOCUS_MARK}{self.info.name}")

    def on_descendant_blur(self) -> None:
        self._label.update(f" {self.info.name}")


def _on_off(value: bool) -> str:
    return "on" if value else "off"
