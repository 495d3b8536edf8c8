"""drive.py: transfers need only the small Drive protocol, never the controller class."""

from __future__ import annotations

import ast
from pathlib import Path

from drivewidget.holds import Holds
from drivewidget.transfer import __file__ as transfer_init
from drivewidget.transfer import stage, sync_back
from tests.transfer import contents, make_tree

TRANSFER = Path(transfer_init).parent


def test_no_transfer_module_imports_the_controller_or_the_widgets() -> None:
    """Layers run one way: widgets -> controller -> transfer. Not even under TYPE_CHECKING."""
    for module in sorted(TRANSFER.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = "." * node.level + (node.module or "")
                assert "controller" not in name and "ui" not in name.split("."), f"{module.name}: {name}"
                assert not any(alias.name in ("controller", "ui") for alias in node.names), module.name
            if isinstance(node, ast.Import):
                assert not any("controller" in a.name or ".ui" in a.name for a in node.names), module.name


class _Backend:
    label = "a folder"
    confirms_uploads = True

    def __init__(self) -> None:
        self.flushed: list[str] = []

    def flush(self, mountpoint: str, progress: object = None) -> None:
        self.flushed.append(mountpoint)


class FolderAsDrive:
    """The least an object needs to be staged from and synced back to."""

    def __init__(self, folder: Path) -> None:
        self.mountpoint = self.root = str(folder)
        self.readonly = False
        self.backend = _Backend()
        self.holds = Holds()

    def refresh(self) -> str:
        return "mounted"

    def describe_state(self) -> str:
        return f"Mounted at {self.mountpoint}."


def test_stage_and_sync_back_with_a_plain_object(tmp_path: Path) -> None:
    folder = tmp_path / "drive"
    files = make_tree(folder / "data", utf8_only=True)
    drive = FolderAsDrive(folder)
    local = tmp_path / "local"
    result = stage(drive, "data", local)
    assert result.ok and result.copied == len(files)
    assert contents(local) == contents(folder / "data")
    assert len(drive.holds) == 1  # the unmount guard was registered with it
    (local / "result.txt").write_text("done")
    back = sync_back(drive, local, "results")
    assert back.ok and (folder / "results" / "result.txt").read_text() == "done"
    assert drive.backend.flushed == [str(folder)]
