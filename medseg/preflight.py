"""What ``medseg sweep`` checks once, before it starts any run: each run's base config and dataset.

Without it a sweep over a missing dataset started every run, and each failed after about a minute of
start-up with a traceback in its fit.log (issue 25, part 1 item 5). Checked per distinct
``(data.manifest, data.root)`` of the runs to start: the key is set, the manifest parses under the
manifest rules (:func:`medseg.data.manifest.parse_manifest`, the ones data check, fit, test and predict
apply) and every image and label file it lists exists. File contents are left to ``medseg data check``
and to the runs (reading every volume would take as long as the runs' own start-up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from medseg.data.manifest import ManifestError, parse_manifest

SHOWN = 5  # problems listed per manifest before "... and N more"


def _data_section(config: dict) -> dict[str, Any]:
    data = config.get("data")
    return data if isinstance(data, dict) else {}


def manifest_problems(manifest: str, root: str | None) -> list[str]:
    """Why the runs could not load ``manifest`` (empty when they can, as far as a header-free look tells)."""
    path = Path(manifest)
    if not path.is_file():
        return [f"data.manifest {manifest} does not exist" + (" (it is a folder)" if path.is_dir() else "")]
    try:
        parsed, problems = parse_manifest(path, root)
    except ManifestError as error:
        return [str(error)]
    subjects = [s for split in parsed.splits.values() for s in split]
    missing = [f"{p}: {kind} of subject {s.id!r} not found" for s in subjects
               for kind, p in (("image", s.image), ("label", s.label)) if p is not None and not Path(p).exists()]
    return problems + missing


def preflight(configs: Iterable[dict], prepare: str | None = None) -> str | None:
    """One message saying what is wrong with the runs' inputs and what to run first, or None when nothing is.

    ``configs``: the merged configs of the runs to start; ``prepare``: the grid's ``prepare:`` command
    (the one that makes its dataset, e.g. ``medseg synth --kind brain --out data/brain ...``)."""
    seen: dict[tuple[str | None, str | None], list[str]] = {}
    for config in configs:
        if not isinstance(config, dict):
            return f"the base config must be a mapping of sections (model:, data:, trainer:), got {type(config).__name__}"
        data = _data_section(config)
        key = (data.get("manifest"), data.get("root"))
        if key not in seen:
            seen[key] = ["the config has no data.manifest (the dataset's manifest JSON)"] if not key[0] else \
                manifest_problems(str(key[0]), None if key[1] is None else str(key[1]))
    bad = {k: v for k, v in seen.items() if v}
    if not bad:
        return None
    lines = []
    for (manifest, _), problems in bad.items():
        lines += [f"  {p}" for p in problems[:SHOWN]]
        if len(problems) > SHOWN:
            lines.append(f"  ... and {len(problems) - SHOWN} more (medseg data check {manifest} lists them all)")
    missing_only = all(len(v) == 1 and v[0].endswith("does not exist") for v in bad.values())
    if prepare:
        first = f"make the dataset first:\n  {prepare}\nthen run this sweep again"
    elif missing_only:
        first = ("make the dataset first (e.g. `medseg synth --kind malc|visceral|brain --out FOLDER ...`, see README "
                 "\"Data: manifests and phantoms\"), or point data.manifest at it; then run this sweep again")
    else:
        first = "fix the dataset (`medseg data check MANIFEST` lists every problem), then run this sweep again"
    return "sweep: no run started: the runs' dataset is not usable:\n" + "\n".join(lines) + "\n" + first
