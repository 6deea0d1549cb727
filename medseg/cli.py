"""The ``medseg`` command.

``fit|validate|test|predict`` go to LightningCLI (the YAML is the experiment); the other subcommands are
plain functions whose signatures jsonargparse turns into options, so there is no hand-written argparse.
``medseg predict -i FILES -o OUT --model RUN_OR_PACKAGE`` (with ``-i`` or ``--input``, or ``--model`` without
``--config``) goes to :func:`medseg.engine.predict_files.predict_files` instead of LightningCLI.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import typing

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")

# subcommand -> "module:function" (or a nested dict for groups such as ``medseg data check``)
TOOLS: dict[str, str | dict[str, str]] = {
    "synth": "medseg.data.synth:synth",
    "data": {"check": "medseg.data.check:check"},
    "demo": "medseg.demo:demo",
    "summary": "medseg.nets.summary:summary",
    "sweep": "medseg.sweep:sweep",
    "report": "medseg.eval.report:report",
    "maps": "medseg.engine.maps:maps",
    "export": "medseg.engine.package:export",
}
PREDICT_FILES = "medseg.engine.predict_files:predict_files"
_INPUT_FLAGS = ("-i", "--input", "--inputs")


def _load(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _pack_list_positional(function, args: list[str]) -> list[str]:
    """``medseg report a b --out X``: jsonargparse reads a list positional only as one ``"[a, b]"``
    argument, so leading words before the first option are packed into that form."""
    params = list(inspect.signature(function).parameters)
    annotation = typing.get_type_hints(function).get(params[0]) if params else None
    takes_list = any(a is list or typing.get_origin(a) is list for a in (annotation, *typing.get_args(annotation)))
    end = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    if not takes_list or end < 2:
        return args
    return [json.dumps(args[:end]), *args[end:]]


def _wants_file_predict(args: list[str]) -> bool:
    """``medseg predict -i ...`` or ``medseg predict --model X`` without ``--config``: the file form."""
    flags = {a.split("=", 1)[0] for a in args if a.startswith("-")}
    return bool(flags & set(_INPUT_FLAGS)) or ("--model" in flags and "--config" not in flags)


def _file_predict_args(args: list[str]) -> list[str]:
    """``-i a b -i c -o OUT`` → ``--inputs '["a", "b", "c"]' --out OUT`` (jsonargparse reads a list as one value)."""
    inputs: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        flag, eq, value = args[i].partition("=")
        if flag in _INPUT_FLAGS:
            if eq:
                inputs.append(value)
                i += 1
            else:
                i += 1
                while i < len(args) and not args[i].startswith("-"):
                    inputs.append(args[i])
                    i += 1
            continue
        rest.append("--out" + eq + value if flag == "-o" else args[i])
        i += 1
    return ["--inputs", json.dumps(inputs), *rest]


def _call_with_own_config(function, args: list[str], prog: str):
    """Run a tool whose function has its own ``config`` parameter (``medseg summary --config X.yaml``).

    jsonargparse's ``CLI`` pops every ``config`` key before calling the function (it reserves the name for
    its config-file option), so such a parameter silently stayed ``None`` (issue 25 defect 1). Here the
    function's arguments are parsed by a plain ``ArgumentParser`` and passed on whole."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(prog=prog, description=inspect.getdoc(function))
    parser.add_function_arguments(function, as_group=False, as_positional=True, sub_configs=True)
    init = parser.instantiate(parser.parse_args(args))
    return function(**{name: init[name] for name in inspect.signature(function).parameters if name in init})


def _usage() -> str:
    names = list(LIGHTNING_SUBCOMMANDS) + [
        f"{k} {sub}" if isinstance(v, dict) else k for k, v in TOOLS.items() for sub in (v if isinstance(v, dict) else [""])
    ]
    return "usage: medseg {" + ",".join(n.strip() for n in names) + "} [options]   (medseg SUBCOMMAND --help)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "predict" and _wants_file_predict(rest):
        from jsonargparse import CLI

        result = CLI(_load(PREDICT_FILES), args=_file_predict_args(rest), prog="medseg predict", as_positional=False)
        return int(result) if isinstance(result, int) else 0
    if command in LIGHTNING_SUBCOMMANDS:
        from medseg.engine.cli import lightning_main

        return lightning_main([command, *rest])
    if command not in TOOLS:
        print(f"medseg: unknown subcommand {command!r}\n{_usage()}", file=sys.stderr)
        return 2
    from jsonargparse import CLI

    target = TOOLS[command]
    if isinstance(target, dict):
        functions = {name: _load(t) for name, t in target.items()}
        result = CLI(functions, args=rest, prog=f"medseg {command}", as_positional=True)
    else:
        function = _load(target)
        args, prog = _pack_list_positional(function, rest), f"medseg {command}"
        if "config" in inspect.signature(function).parameters:
            result = _call_with_own_config(function, args, prog)
        else:
            result = CLI(function, args=args, prog=prog, as_positional=True)
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
