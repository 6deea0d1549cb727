"""Reading a YAML file so that a mistake in it names the file and the line (issue 25 defect 22).

PyYAML reports the position of a syntax error as ``in "<unicode string>", line L`` when it is given text;
here it is given the file's name, so the message says ``FILE line L, column C: <problem>``. A file that is
not a mapping where one is expected says what it holds instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


class YAMLFileError(ValueError):
    """A YAML file is missing, unreadable, malformed, or not of the expected shape."""


def read_yaml(path: str | os.PathLike, what: str = "YAML file", mapping: bool = True) -> Any:
    """The content of ``path`` (an empty file is ``{}`` when ``mapping``); :class:`YAMLFileError` naming
    the file, the line and column and PyYAML's problem for a syntax error, or the type found when
    ``mapping`` and the top level is not a mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YAMLFileError(f"{what} {path} not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise YAMLFileError(f"{what} {path} cannot be read ({error})") from None
    try:
        value = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(p) for p in (error.context, error.problem) if p)
        start = error.context_mark
        if start is not None and mark is not None and start.line != mark.line:
            problem += f" (the construct began at line {start.line + 1}, column {start.column + 1})"
        raise YAMLFileError(f"{what} {path}{where}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as error:
        raise YAMLFileError(f"{what} {path}: YAML syntax error: {error}") from None
    if mapping:
        value = {} if value is None else value
        if not isinstance(value, dict):
            raise YAMLFileError(f"{what} {path} must be a mapping of keys to values (key: value lines), "
                                f"but holds a {type(value).__name__}")
    return value
