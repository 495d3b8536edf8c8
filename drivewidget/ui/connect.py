"""ConnectPanel: get from nothing to a mountable cloud by clicking (off Colab).

Pick a service, fill in its form (secrets in password boxes), or paste the token that
``rclone authorize "drive"`` printed on a computer with a browser, or upload a service
account's key; Connect checks the credentials by listing the remote (bounded in time) and
only then saves them privately. Saved connections are listed with Use, Check, Rename and
Forget; Use hands a ready backend to ``on_use`` (the DrivePanel swaps its controller's backend).

Widget values are synced to the browser and can be saved into the notebook with the widget
state, so secrets never stay in a widget: each secret box and upload is read once, on the
click, and cleared at once, whatever happens next; no other widget ever receives a secret
(messages are built from typed errors that carry none).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..backends.base import Backend
from ..connect import (
    PROVIDERS,
    Connected,
    Connection,
    InvalidConnection,
    OcamlfuseConnection,
    Provider,
    RcloneConfig,
    RcloneConnection,
    begin_ocamlfuse_signin,
    complete_ocamlfuse_signin,
    connect_ocamlfuse,
    connect_rclone,
    short_name,
)
from ..connect.providers import provider_from_rclone, rclone_types, url_credentials
from ..errors import DriveError
from ..status.mounttable import read_mounts
from ..timeouts import CHECK_TIMEOUT
from ._compat import empty_upload, uploaded_files
from .actions import ActionRunner, explain
from .message import MessageBox
from .saved_connections import SavedConnections
from .tree import close_tree

OTHER = "other"
METHODS = (
    ("Upload state file", "state"),
    ("Service account key", "service"),
    ("Sign in (OAuth client)", "signin"),
)
_MUTED = "color:#77767b"

_FULL = widgets.Layout(width="auto")  # stretches to the box; 100% plus a description overflows it
_LABEL_STYLE = {"description_width": "11em"}


def default_in_use(connection: Connection) -> bool:
    """Whether a mount of this connection is in the mount table (never touches the mount)."""
    return connection.mounted_in(read_mounts())


class ConnectPanel(SavedConnections, widgets.VBox):  # type: ignore[misc]
    """Connect a cloud (rclone remotes, google-drive-ocamlfuse labels) and manage saved connections.

    ``on_use(backend)`` receives a ready backend when the user clicks Use. ``config`` is the
    private rclone config (default: drivewidget's own). ``message`` is where outcomes are shown
    (default: a MessageBox of its own, :attr:`message`). ``in_use(connection)`` says whether a
    connection is mounted (Rename and Forget refuse then). ``ocamlfuse`` holds keyword
    arguments for :class:`OcamlfuseBackend` (e.g. ``program``). With ``threaded`` the network
    checks run on a worker thread so the kernel stays responsive; :meth:`wait` joins it.
    """

    def __init__(
        self,
        *,
        on_use: Callable[[Backend], None] | None = None,
        config: RcloneConfig | None = None,
        message: MessageBox | None = None,
        in_use: Callable[[Connection], bool] | None = None,
        ocamlfuse: dict[str, Any] | None = None,
        include_user_config: bool = True,
        check_timeout: float = CHECK_TIMEOUT,
        threaded: bool = True,
        **kwargs: Any,
    ) -> None:
        self.on_use = on_use
        self.config = config if config is not None else RcloneConfig()
        self.message = message if message is not None else MessageBox()
        self.in_use = in_use if in_use is not None else default_in_use
        self.ocamlfuse_options = dict(ocamlfuse or {})
        self._backend_options: dict[type[Connection], dict[str, Any]] = {
            OcamlfuseConnection: self.ocamlfuse_options,
            RcloneConnection: {"program": self.config.rclone_program} if self.config.rclone_program else {},
        }
        """Keyword arguments for each kind's backend (and its check), by connection type."""
        self.include_user_config = include_user_config
        self.check_timeout = check_timeout
        self.threaded = threaded
        self.backend: Backend | None = None
        """The backend made by the last Use click."""
        self._actions = ActionRunner(self.message.show)
        self._signin: Any = None  # an OcamlfuseBackend waiting for the sign-in answer (not a trait)
        self._armed: str | None = None
        self._listed: dict[str, Connection] = {}
        self._suggested = ""

        options = [(p.name, p.key) for p in PROVIDERS.values()] + [
            ("Another service rclone supports...", OTHER)
        ]
        self.provider_dropdown = widgets.Dropdown(
            options=options, value="drive", description="Service", style=_LABEL_STYLE, layout=_FULL
        )
        self.other_type = widgets.Dropdown(
            options=[],
            description="rclone type",
            style=_LABEL_STYLE,
            layout=widgets.Layout(width="100%", display="none"),
        )
        self.name_box = widgets.Text(description="Connection name", style=_LABEL_STYLE, layout=_FULL)
        self.help_view = widgets.HTML()
        self.authorize_view = widgets.HTML()
        self.method = widgets.ToggleButtons(
            options=METHODS, value="state", layout=widgets.Layout(display="none")
        )
        self.fields_box = widgets.VBox(layout=_FULL)
        self.inputs: dict[str, widgets.ValueWidget] = {}
        self.upload = widgets.FileUpload(accept=".json", multiple=False, description="Service account key")
        self.upload_note = widgets.HTML()
        self.signin_button = widgets.Button(description="Get sign-in link", icon="sign-in")
        self.signin_link = widgets.HTML()
        self.answer_box = widgets.Password(
            description="Address or code", style=_LABEL_STYLE, layout=_FULL,
            placeholder="http://127.0.0.1:8080/oauth2callback?code=...",
        )  # fmt: skip
        self.signin_box = widgets.VBox([self.signin_button, self.signin_link, self.answer_box])
        self.connect_button = widgets.Button(description="Connect", icon="link", button_style="primary")

        self.provider_dropdown.observe(lambda _: self._show_provider(), names="value")
        self.other_type.observe(lambda _: self._show_provider(), names="value")
        self.method.observe(lambda _: self._show_provider(), names="value")
        self.connect_button.on_click(lambda _: self.connect())
        self.signin_button.on_click(lambda _: self.begin_signin())

        form = widgets.VBox(
            [self.provider_dropdown, self.other_type, self.name_box, self.help_view, self.authorize_view,
             self.method, self.fields_box, widgets.HBox([self.upload, self.upload_note]), self.signin_box,
             self.connect_button]
        )  # fmt: skip
        saved = self._build_saved()
        children = [form, saved] if message is not None else [form, self.message, saved]
        super().__init__(children, **kwargs)
        self.add_class("drivewidget-connect")
        self._show_provider()
        self.refresh_connections()

    # -- the form ---------------------------------------------------------------------

    @property
    def provider(self) -> Provider:
        """The catalogue entry the form shows."""
        key = self.provider_dropdown.value
        if key == OTHER:
            if not self.other_type.value:
                raise InvalidConnection("Choose the kind of service (rclone type) first.")
            return provider_from_rclone(self.other_type.value, self.config.rclone_program)
        return PROVIDERS[key]

    def select_provider(self, key: str) -> None:
        """Show the form of a catalogue entry (``drive``, ``s3``, ``webdav``, ...) or any rclone type."""
        if key in PROVIDERS:
            self.provider_dropdown.value = key
            return
        self._fill_other_types()
        self.provider_dropdown.value = OTHER
        self.other_type.value = key

    def _fill_other_types(self) -> None:
        if self.other_type.options:
            return
        try:
            choices = [(f"{desc} ({name})", name) for name, desc in rclone_types(self.config.rclone_program)]
        except DriveError as exc:
            self.message.show(explain(exc), "error")
            choices = []
        self.other_type.options = choices

    def _show_provider(self) -> None:
        other = self.provider_dropdown.value == OTHER
        self.other_type.layout.display = "" if other else "none"
        if other:
            self._fill_other_types()
        try:
            provider = self.provider
        except DriveError as exc:
            self._set_fields(())
            self.help_view.value = f"<span style='{_MUTED}'>{html.escape(str(exc))}</span>"
            self.authorize_view.value = ""
            return
        ocaml = provider.own_signin
        self.method.layout.display = "" if ocaml else "none"
        method = self.method.value if ocaml else ""
        fields = provider.fields if (not ocaml or method == "signin") else ()
        self._set_fields(fields)
        self.signin_box.layout.display = "" if method == "signin" else "none"
        self._cancel_signin()
        shows_upload = (provider.service_account and not ocaml) or method in ("state", "service")
        self.upload.layout.display = "" if shows_upload else "none"
        self.upload_note.layout.display = self.upload.layout.display
        if ocaml and method == "state":
            self.upload.description, self.upload.accept = "State file", ""
            self.upload_note.value = f"<span style='{_MUTED}'>~/.gdfuse/&lt;label&gt;/state from a computer where you signed in</span>"
        else:
            self.upload.description, self.upload.accept = "Service account key", ".json"
            self.upload_note.value = (
                f"<span style='{_MUTED}'>optional: instead of a token</span>" if not ocaml else ""
            )
        self._clear_upload()
        self.name_box.description = "Label" if ocaml else "Connection name"
        self._suggest_name(provider)
        docs = f" <a href='{html.escape(provider.docs)}' target='_blank'>Help</a>" if provider.docs else ""
        self.help_view.value = f"<span style='{_MUTED}'>{html.escape(provider.help)}</span>{docs}"
        if provider.oauth and not ocaml:
            self._render_authorize()
            for key in ("client_id", "scope"):
                if key in self.inputs:
                    self.inputs[key].observe(lambda _: self._render_authorize(), names="value")
        elif ocaml and method == "signin":
            self.authorize_view.value = (
                "Enter your OAuth client (type <i>Desktop app</i>), click <i>Get sign-in link</i>, open it and "
                "sign in. Google then sends your browser to <code>http://127.0.0.1:8080/...</code>, which may "
                "not load: paste that page's whole address below and click Connect."
            )
        else:
            self.authorize_view.value = ""
        self.connect_button.description = "Connect"

    @property
    def authorize_command(self) -> str:
        """The ``rclone authorize`` command the form shows (with the client ID typed, if any)."""
        try:
            provider = self.provider
        except DriveError:
            return ""
        client = self.inputs.get("client_id")
        scope = self.inputs.get("scope")
        return provider.authorize_command(
            str(client.value).strip() if client is not None else "",
            scope=str(scope.value) if scope is not None else "",
        )

    def _render_authorize(self) -> None:
        command = html.escape(self.authorize_command, quote=False)
        self.authorize_view.value = (
            "On a computer with a web browser (and rclone), run "
            f"<code style='user-select:all'>{command}</code>, sign in, and paste what it prints into "
            "<i>Token</i> below."
        )

    def _set_fields(self, fields: tuple[Any, ...]) -> None:
        previous = list(self.inputs.values())
        for old in previous:
            if isinstance(old, widgets.Password):
                old.value = ""
        self.inputs = {}
        for item in fields:
            common = {"description": item.label, "style": _LABEL_STYLE, "layout": _FULL}
            if item.choices:
                widget: widgets.ValueWidget = widgets.Dropdown(
                    options=list(item.choices), value=item.default or item.choices[0], **common
                )
            elif item.secret:
                widget = widgets.Password(placeholder=item.placeholder, **common)
            else:
                widget = widgets.Text(value=item.default, placeholder=item.placeholder, **common)
            widget.tooltip = item.help or None
            self.inputs[item.key] = widget
        self.fields_box.children = tuple(self.inputs.values())
        for old in previous:
            old.close()

    def _suggest_name(self, provider: Provider) -> None:
        current = self.name_box.value.strip()
        if current and current != self._suggested:
            return  # the user typed a name: keep it
        taken = {c.name for c in self._listed.values() if not c.external}
        base = provider.suggested_name
        name, n = base, 2
        while name in taken:
            name, n = f"{base}{n}", n + 1
        self._suggested = name
        self.name_box.value = name

    def _take_values(self) -> dict[str, str]:
        """Every field's value; secret boxes are emptied right away, whatever happens next."""
        values = {}
        for key, widget in self.inputs.items():
            values[key] = str(widget.value or "")
            if isinstance(widget, widgets.Password):
                widget.value = ""
            elif isinstance(widget.value, str) and url_credentials(widget.value)[2]:
                widget.value = url_credentials(widget.value)[0]  # a password typed into an address
        return values

    def _take_upload(self) -> bytes | None:
        files = uploaded_files(self.upload)
        self._clear_upload()
        return files[0][1] if files else None

    def _clear_upload(self) -> None:
        empty_upload(self.upload)

    def clear_secrets(self) -> None:
        """Empty every secret box and the upload (also done on each click that reads them)."""
        for widget in (*self.inputs.values(), self.answer_box):
            if isinstance(widget, widgets.Password):
                widget.value = ""
        self._clear_upload()

    # -- connect ----------------------------------------------------------------------

    def connect(self) -> None:
        """The Connect button: check the credentials, then save them (nothing saved on failure)."""
        values = self._take_values()
        upload = self._take_upload()
        answer = self.answer_box.value
        self.answer_box.value = ""
        name = self.name_box.value.strip()
        try:
            provider = self.provider
        except DriveError as exc:
            self.message.show(explain(exc), "error")
            return
        if provider.own_signin:
            method = self.method.value
            if method == "signin":
                self._run(lambda: self._complete_signin(answer), "connect")
            else:
                state, key = (upload, None) if method == "state" else (None, upload)
                if upload is None:
                    what = "the state file" if method == "state" else "the service account's JSON key"
                    self.message.show(f"Upload {what} first, then click Connect.", "error")
                    return
                self._run(lambda: self._connected(connect_ocamlfuse(
                    name or "default", state_file=state, service_account=key, timeout=max(self.check_timeout, 30),
                    **self.ocamlfuse_options)), "connect")  # fmt: skip
            return
        self.message.show(f"Checking the connection to {short_name(provider)}...", "info")

        def run() -> None:
            try:
                done = connect_rclone(
                    provider, name, values, service_account=upload, config=self.config,
                    timeout=self.check_timeout, program=self.config.rclone_program,
                )  # fmt: skip
            finally:
                values.clear()
            self._connected(done)

        self._run(run, "connect")

    def _connected(self, done: Connected) -> None:
        self.message.show(done.message, "success")
        self.name_box.value = ""
        self._suggested = ""
        self.refresh_connections(select=done.connection)
        self._show_provider()

    def begin_signin(self) -> None:
        """google-drive-ocamlfuse loopback sign-in: store the client, show the link to open."""
        values = self._take_values()
        label = self.name_box.value.strip() or "default"

        def start() -> None:
            self._cancel_signin()
            try:
                backend, url = begin_ocamlfuse_signin(
                    label,
                    values.get("client_id", ""),
                    values.get("client_secret", ""),
                    **self.ocamlfuse_options,
                )
            finally:
                values.clear()
            if url is None:
                backend.close()
                self.message.show(
                    f"Label {label!r} is already signed in: it is listed below; click Use.", "success"
                )
                self.refresh_connections()
                return
            self._signin = backend
            self.signin_link.value = f"<a href='{html.escape(url)}' target='_blank' rel='noopener'>Open the Google sign-in page</a>"
            self.message.show(
                "Sign in on the page that opens, then paste the address it ends on and click Connect.", "info"
            )

        self._run(start, "sign-in")

    def _complete_signin(self, answer: str) -> None:
        backend, self._signin = self._signin, None
        if backend is None:
            raise InvalidConnection("Click 'Get sign-in link' first, sign in, then paste the address here.")
        self.signin_link.value = ""
        self._connected(complete_ocamlfuse_signin(backend, answer, timeout=max(self.check_timeout, 30)))

    def _cancel_signin(self) -> None:
        backend, self._signin = self._signin, None
        if backend is not None:
            backend.close()
        self.signin_link.value = ""

    # -- running ------------------------------------------------------------------------

    def _run(self, action: Callable[[], object], name: str) -> None:
        button = self.connect_button if name in ("connect", "sign-in") else self.check_button
        label = button.description

        def guarded() -> None:
            button.disabled = True
            button.description = "Checking..." if name != "sign-in" else "Starting..."
            try:
                action()
            finally:
                button.disabled = False
                button.description = label

        self._actions.run(guarded, name=name, inline=not self.threaded)

    def wait(self, timeout: float | None = 120) -> None:
        """Wait for a running Connect or Check (scripts and tests)."""
        self._actions.wait(timeout)

    def close(self) -> None:
        """Empty the secret boxes, stop a waiting sign-in, and close every widget of the panel."""
        self.clear_secrets()
        self._cancel_signin()
        for child in self.children:
            if child is not self.message:
                close_tree(child)
        super().close()
