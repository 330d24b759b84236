"""The tunedeck app: the app-wide services and what works on every screen; the cockpit is a screen.

The app holds the store, the one trial pool every trial trains through (manual and sweep, one
budget of cores), the inbox its events land in, the sweep control and the last [search] table
(tui/services.py), and hands them to the CockpitScreen, which owns the workspace's widgets, keys
and actions (tui/screens/cockpit.py). What is left here works from any screen: help, the command
palette (generated from the cockpit's bindings), quitting with its confirmation, and shutting the
pool down when the app ends.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from engine.config.groups import Config
from engine.execution.executors import Executor
from engine.execution.pool import EventInbox, TrialPool
from engine.store import Store
from engine.sweeps.control import SweepControl
from tui.cockpit_keys import key_sections, palette_entries
from tui.screens.cockpit import CockpitScreen, SweepTrialEnded
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen, Section, key_label
from tui.services import Services

QUIT_POLL_SECONDS = 0.1
_QUIT_TEXT = "quit; asks first while trials run, then stops them and records them as cancelled"
HELP = Binding("question_mark,f1", "help", "Help", tooltip="every key tunedeck knows (this help)")


class TunedeckApp(App[None]):
    CSS_PATH = "styles.tcss"
    TITLE = "tunedeck"
    BINDINGS = [
        HELP,
        Binding("q", "quit", "Quit", tooltip=_QUIT_TEXT),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, tooltip=_QUIT_TEXT),
    ]

    def __init__(self, config: Config, store: Store, executor: Executor, *, parallel: int = 1,
                 search: dict[str, Any] | None = None, threads: int | None = None) -> None:
        super().__init__()
        self.initial = config
        self.services = Services(store, executor, parallel=parallel, search=search, threads=threads,
                                 on_sweep_trial=self._sweep_trial_ended)
        self._cockpit: CockpitScreen | None = None

    def get_default_screen(self) -> Screen:
        self._cockpit = CockpitScreen(self.initial, self.services)
        return self._cockpit

    # --- the services, by name ------------------------------------------------------------------

    @property
    def cockpit(self) -> CockpitScreen:
        """The workspace screen, also while a dialog is on top of it."""
        if self._cockpit is None:
            raise RuntimeError("the cockpit is built when the app starts")
        return self._cockpit

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def pool(self) -> TrialPool:
        return self.services.pool

    @property
    def inbox(self) -> EventInbox:
        return self.services.inbox

    @property
    def sweeps(self) -> SweepControl:
        return self.services.sweeps

    @property
    def search(self) -> dict[str, Any] | None:
        """The [search] table the Sweep dialog starts from: the preset's, then the last one used."""
        return self.services.search

    @search.setter
    def search(self, table: dict[str, Any] | None) -> None:
        self.services.search = table

    def _sweep_trial_ended(self, trial_id: int) -> None:
        """From a pool thread: tell the cockpit without waiting for the UI (shutdown may be waiting on us)."""
        if self._cockpit is not None:
            self._cockpit.post_message(SweepTrialEnded(trial_id))

    # --- anywhere -------------------------------------------------------------------------------

    @classmethod
    def help_sections(cls) -> list[Section]:
        """The cockpit's keys by group, then the keys that work anywhere (this app's, Textual's)."""
        anywhere: list[Any] = [b for b in Screen.BINDINGS if isinstance(b, Binding) and b.action.startswith("app.focus")]
        anywhere.append(Binding(cls.COMMAND_PALETTE_BINDING, "command_palette", "Palette"))
        return [*key_sections(), ("Anywhere", [*anywhere, *cls.BINDINGS])]

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_sections()))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is self._cockpit:  # the cockpit's keys act on the cockpit, not on a dialog
            for title, help_text, action in palette_entries():
                yield SystemCommand(title, help_text, partial(self.run_action, action, screen))
        yield SystemCommand("Help: every key tunedeck knows", key_label(HELP.key), self.action_help)

    # --- quitting -------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        services = self.services
        if services.closing:
            return  # already stopping; the exit follows once everything has ended
        if not services.busy:
            self.exit()
            return

        def answered(stop: bool | None) -> None:
            if stop:
                self.stop_all_and_exit()

        sweep = " and a sweep" if services.sweeps.active else ""
        self.push_screen(ConfirmScreen(f"{services.running_count()} trial(s) running, {services.waiting_count()} "
                                       f"queued{sweep}. Stop them and quit? They are recorded as cancelled.",
                                       yes="Stop and quit", no="Keep training"), answered)

    def stop_all_and_exit(self) -> None:
        """Cancel everything, then exit once each trial has recorded how it ended (each stops within a
        batch); polled on a timer so that the UI keeps drawing meanwhile."""
        self.services.stop_all()
        self.notify("stopping trials…", timeout=5)
        self.set_interval(QUIT_POLL_SECONDS, self._exit_when_idle)

    def _exit_when_idle(self) -> None:
        if self.services.idle:
            self.exit()

    def on_unmount(self) -> None:
        self.services.shutdown()
