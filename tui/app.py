"""The tunedeck app: the app-wide services and what works on every screen; the cockpit is a screen.

The app holds the store, its follower, the client of the store's supervisor (which trains every
trial and sweep, in a process of its own) and the last [search] table (tui/services.py), and hands
them to the CockpitScreen, which owns the workspace's widgets, keys and actions
(tui/screens/cockpit.py). What is left here works from any screen: help, the command palette
(generated from the cockpit's bindings) and quitting: training goes on in the background unless
the user asks to stop it.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from engine.config.groups import Config
from engine.errors import TunedeckError
from engine.store import Store
from engine.supervisor.client import SupervisorClient
from tui.cockpit_keys import key_sections, palette_entries
from tui.screens.cockpit import CockpitScreen
from tui.screens.help import HelpScreen, Section, key_label
from tui.screens.quit_dialog import QuitChoice, QuitScreen
from tui.services import Services

QUIT_POLL_SECONDS = 0.1
QUIT_WAIT_SECONDS = 10.0
_QUIT_TEXT = "quit; while trials run, asks whether they keep running in the background (the default) or stop"
HELP = Binding("question_mark,f1", "help", "Help", tooltip="every key tunedeck knows (this help)")


class TunedeckApp(App[None]):
    CSS_PATH = "styles.tcss"
    TITLE = "tunedeck"
    BINDINGS = [
        HELP,
        Binding("q", "quit", "Quit", tooltip=_QUIT_TEXT),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, tooltip=_QUIT_TEXT),
    ]

    def __init__(self, config: Config, store: Store, client: SupervisorClient, *, parallel: int | None = None,
                 search: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.initial = config
        self.services = Services(store, client, search=search)
        if parallel is not None:
            self.services.set_parallel(parallel)
        self._cockpit: CockpitScreen | None = None
        self._quit_deadline = 0.0

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
    def client(self) -> SupervisorClient:
        return self.services.client

    @property
    def search(self) -> dict[str, Any] | None:
        """The [search] table the Sweep dialog starts from: the preset's, then the last one used."""
        return self.services.search

    @search.setter
    def search(self, table: dict[str, Any] | None) -> None:
        self.services.search = table

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
        sweeps = len(services.active_sweeps())
        what = (f"{len(services.supervised_running())} trial(s) running, {len(services.queued())} queued"
                + (f", {sweeps} sweep(s) live" if sweeps else ""))

        def answered(choice: QuitChoice | None) -> None:
            if choice == "keep":
                self.exit()
            elif choice == "stop":
                self.stop_all_and_exit()

        self.push_screen(QuitScreen(what), answered)

    def stop_all_and_exit(self) -> None:
        """Ask the supervisor to stop everything, then exit once each trial has recorded how it ended
        (each stops within a batch; at most QUIT_WAIT_SECONDS), polled so that the UI keeps drawing."""
        self.services.closing = True
        try:
            self.client.stop_all("stopped: tunedeck quit")
        except TunedeckError as exc:
            self.notify(str(exc), title="Could not stop the trials", severity="error")
        self.notify("stopping trials…", timeout=5)
        self._quit_deadline = time.monotonic() + QUIT_WAIT_SECONDS
        self.set_interval(QUIT_POLL_SECONDS, self._exit_when_stopped)

    def _exit_when_stopped(self) -> None:
        services = self.services
        self.cockpit.monitor.take(services.follower.poll())
        if not services.busy or time.monotonic() > self._quit_deadline:
            self.exit()
