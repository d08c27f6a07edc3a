"""Open the fine-tuning dialog on its own (screenshots, manual testing):
    python -m cw_desktop.dialogs.finetune [--data DIR] [--folder FOLDER] [--base SPEC]
"""

from __future__ import annotations

from cw_desktop.dialogs import standalone
from cw_desktop.dialogs.finetune.dialog import FineTuneDialog


def main(argv: list[str] | None = None) -> int:
    parser = standalone.parser("Open the fine-tuning dialog on its own.")
    parser.add_argument("--folder", help="folder to scan straight away")
    parser.add_argument("--base", help="base model spec to preselect")
    args = parser.parse_args(argv)
    app, paths, settings = standalone.start(args)
    if args.base:
        settings.model.spec = args.base
    dialog = FineTuneDialog(paths, settings)
    if args.folder:
        dialog.folder_page.folder_edit.setText(args.folder)
        dialog.scan()
    return standalone.run(app, dialog)


if __name__ == "__main__":
    raise SystemExit(main())
