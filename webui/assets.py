"""Copy the front-end libraries the web UI needs from node_modules to webui/static/vendor.

Run by ``make assets`` after ``npm install``; the pages then load them from our own
server, never from a CDN (the people using Sanshe may be on closed networks).
"""
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = Path(__file__).resolve().parent / "static" / "vendor"

# (source under node_modules, destination under static/vendor)
FILES = [
    ("htmx.org/dist/htmx.min.js", "htmx.min.js"),
    ("bpmn-js/dist/bpmn-navigated-viewer.production.min.js", "bpmn-js/bpmn-navigated-viewer.production.min.js"),
    ("bpmn-js/dist/bpmn-modeler.production.min.js", "bpmn-js/bpmn-modeler.production.min.js"),
    ("bpmn-js/dist/assets/diagram-js.css", "bpmn-js/assets/diagram-js.css"),
    ("bpmn-js/dist/assets/bpmn-js.css", "bpmn-js/assets/bpmn-js.css"),
    ("bpmn-js/dist/assets/bpmn-font", "bpmn-js/assets/bpmn-font"),
]


def copy_assets(node_modules=NODE_MODULES, vendor=VENDOR):
    """Copy every file in FILES; returns the destination paths. Missing sources are an error."""
    missing = [src for src, _ in FILES if not (node_modules / src).exists()]
    if missing:
        raise FileNotFoundError(f"not in {node_modules} (run `npm install` first): {', '.join(missing)}")
    copied = []
    for src, dst in FILES:
        source, target = node_modules / src, vendor / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
        copied.append(target)
    return copied


def main():
    try:
        copied = copy_assets()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"copied {len(copied)} front-end assets to {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
