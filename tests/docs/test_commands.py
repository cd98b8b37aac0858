"""Every command README.md and docs/*.md show works as pasted.

A command is each line of a ```bash block (``\\`` continuations joined), each `$ ` line of a ```console block, and
each inline `python scripts/…` in the text. It is split as the shell splits it; `<placeholder>`s are the only
substitution, each replaced by a real value made here. For a Hydra script, every override goes through Hydra's own
parser, the script's config is composed with them (with -m, once per value of each swept key), and the checks the
script runs before training (`check_optimized_metric`, `validate`) run on it. A command shown failing, with the
comment `# error: …` or `# hint: …` right after it, must fail with that message. Other commands (pip, pytest,
tensorboard, shell scripts) are checked as far as they can be without running them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import DATA_DIR, REPO_ROOT, compose_config
from helpers.docs import PAGES, Command, all_commands
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf
from packaging.requirements import Requirement

from rnnlab.errors import RnnlabError
from rnnlab.run import config as run_config
from rnnlab.run.cli import key_hint

COMMANDS = all_commands()
PLACEHOLDER = re.compile(r"<([A-Za-z][\w .-]*)>")
# Variables a fresh shell has; any other one a command reads must be set by its own block.
SHELL_DEFAULTS = ("HOME", "PATH", "PWD", "USER")


@pytest.fixture(scope="module")
def placeholders(tmp_path_factory) -> dict[str, str]:
    """A real value for each placeholder the pages use: files and folders made here, names as rnnlab writes them."""
    folder = tmp_path_factory.mktemp("placeholders")
    run_name = "2026-01-01_12-00-00_4242-ab12"  # <date>_<time>_<pid>-<random>, as paths.log_dir holds runs
    values = {
        "date": "2026-01-01",
        "time": "12-00-00",
        "pid": "4242",
        "random": "ab12",
        "run": run_name,
        "stamp": run_name,
        "sweep": run_name,
        "task": "flip_stream",
        "model": "rnn",
        "partition": "gpu",
        "data_dir": str(DATA_DIR),
    }
    text_file = folder / "text.txt"
    text_file.write_text("hello world\n" * 100)
    values["file"] = str(text_file)
    for name in ("unclipped run", "clipped run"):
        run_dir = folder / name.replace(" ", "_")
        (run_dir / "csv").mkdir(parents=True)
        (run_dir / "csv" / "metrics.csv").write_text("step,train/loss\n0,0.7\n")
        values[name] = str(run_dir)
    return values


def resolve(text: str, values: dict[str, str], page_name: str) -> str:
    """Replace each `<placeholder>` by its value. One named by its kind (`<best checkpoint>`, `<sweep directory>`,
    `<long sentence file>`) becomes a checkpoint file, a folder or a text file made for it."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        made = Path(values["file"]).parent / re.sub(r"\W+", "_", name)
        if name.endswith("checkpoint"):
            made.with_suffix(".ckpt").touch()
            return str(made.with_suffix(".ckpt"))
        if name.endswith("directory"):
            made.mkdir(exist_ok=True)
            return str(made)
        if name.endswith(" file"):
            made.write_text(Path(values["file"]).read_text())
            return str(made)
        if name not in values:
            pytest.fail(f"{page_name}: <{name}> has no value in test_commands.placeholders: add one")
        return values[name]

    return PLACEHOLDER.sub(value, text)


def scan(text: str) -> tuple[str, str, str]:
    """(the command without its comment, the parts the shell expands variables in: all but single-quoted text,
    the parts it also expands braces and globs in: unquoted text only)."""
    expanded, bare, quote = [], [], None
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
            if quote == '"':
                expanded.append(ch)
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip(), "".join(expanded), "".join(bare)
        else:
            expanded.append(ch)
            bare.append(ch)
    return text, "".join(expanded), "".join(bare)


def shell_words(command: Command, values: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(environment, words) of a command as the shell runs it: its block's variables expanded, `NAME=value`
    prefixes taken as its environment."""
    raw, expanded, bare = scan(command.text)
    braces = re.search(r"\{[^{}\s]*,[^{}\s]*\}", bare)
    assert not braces, f"{command.where}: the shell expands {braces.group(0)} into several words; quote it"
    used = re.findall(r"\$\{?([A-Za-z_]\w*)", expanded)
    unset = [name for name in used if name not in command.variables and name not in SHELL_DEFAULTS]
    assert not unset, f"{command.where}: ${unset[0]} is unset in a fresh shell; set it in the block or drop it"
    for name, value in command.variables.items():
        raw = re.sub(rf"\$\{{{name}\}}|\${name}\b", lambda _, v=value: v, raw)
    words = shlex.split(resolve(raw, values, command.where), comments=True)
    env = {name: command.variables[name] for name in command.exported}
    while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def hydra_config_name(script: Path) -> str | None:
    match = re.search(r"@hydra\.main\(.*config_name=\"(\w+)\"", script.read_text())
    return match.group(1) if match else None


def compositions(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The override lists to compose: one for a single run; with -m, enough that every swept value is composed."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    sweeps = [o for o in parsed if o.is_sweep_override()]
    if not multirun or not sweeps:
        return [overrides]  # a sweep outside -m is Hydra's "Ambiguous value" error: composing shows it
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    values = [list(o.sweep_string_iterator()) for o in sweeps]
    return [
        fixed + [f"{o.get_key_element()}={vals[i % len(vals)]}" for o, vals in zip(sweeps, values, strict=True)]
        for i in range(max(len(vals) for vals in values))
    ]


def check_hydra_script(command: Command, script: Path, args: list[str], tmp_path: Path) -> None:
    config_name = hydra_config_name(script)
    multirun = any(arg in ("-m", "--multirun") for arg in args)
    overrides = [arg for arg in args if arg not in ("-m", "--multirun")]
    flags = [arg for arg in overrides if arg.startswith("-")]
    assert not flags, f"{command.where}: Hydra flags other than -m are not checked here: {flags}"
    source = script.read_text()
    checks = [check for check in ("check_optimized_metric", "validate") if f"{check}(cfg)" in source]
    message = None
    try:
        for i, composed in enumerate(compositions(overrides, multirun)):
            cfg = compose_config(config_name, composed, tmp_path / str(i))
            for check in checks:
                getattr(run_config, check)(cfg)
            if command.output and script.stem == "show_data":  # the one script fast enough to run here
                check_output(command, cfg)
    except (HydraException, RnnlabError) as error:
        hint = key_hint(config_name, overrides) if isinstance(error, HydraException) else None
        message = f"{error}\nhint: {hint}" if hint else str(error)
    if command.expected is None:
        assert message is None, f"{command.where}: `{command.text}` fails:\n{message}"
    else:
        shown = command.expected.split(":", 1)[1].split("…")[0].strip()
        assert message is not None, f"{command.where}: `{command.text}` is shown failing, but it works"
        assert shown in message, f"{command.where}: shown failing with '{shown}', but it says:\n{message}"


def check_output(command: Command, cfg) -> None:
    from rnnlab.run.show_data import print_examples

    printed = io.StringIO()
    print_examples(cfg, printed)
    assert printed.getvalue().splitlines() == command.output, f"{command.where}: the output shown is not what it prints"


def check_argparse_script(command: Command, script: Path, args: list[str]) -> None:
    """An argparse script: its own parser accepts the arguments where it has a parse_args(); otherwise every
    option named is one the script defines."""
    source = script.read_text()
    options = [arg.split("=", 1)[0] for arg in args if arg.startswith("--")]
    for option in options:
        assert f'"{option}"' in source, f"{command.where}: {script.name} has no option {option}"
    if "\ndef parse_args(" not in source:
        return
    spec = importlib.util.spec_from_file_location(f"doc_script_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = sys.argv
    sys.argv = [str(script), *args]
    try:
        module.parse_args()
    except SystemExit as exit_:
        pytest.fail(f"{command.where}: {script.name} rejects {args} (exit {exit_.code})")
    finally:
        sys.argv = argv


def check_pip(command: Command, args: list[str]) -> None:
    assert args[:1] == ["install"], f"{command.where}: only `pip install` is expected"
    # What pip reads from pyproject.toml, as the editable install recorded it.
    extras = importlib.metadata.metadata("rnnlab").get_all("Provides-Extra")
    words = iter(args[1:])
    for word in words:
        if word == "--index-url":
            assert next(words).startswith("https://"), f"{command.where}: an index URL must be https"
        elif word == "-e":
            target, _, extra = next(words).partition("[")
            assert (REPO_ROOT / target / "pyproject.toml").is_file(), f"{command.where}: nothing to install at {target}"
            missing = [e for e in extra.rstrip("]").split(",") if e and e not in extras]
            assert not missing, f"{command.where}: pyproject.toml has no extra {missing}"
        else:
            requirement = Requirement(word)  # a malformed one raises
            if requirement.name == "torch" and requirement.specifier:
                (pin,) = [spec.version for spec in requirement.specifier]
                (needed,) = [r for r in map(Requirement, importlib.metadata.requires("rnnlab")) if r.name == "torch"]
                assert needed.specifier.contains(pin), f"{command.where}: torch {pin} is not {needed.specifier}"


def check_pytest(command: Command, args: list[str], declared: list[str]) -> None:
    markers = {line.split(":")[0] for line in declared}
    words = iter(args)
    for word in words:
        if word == "-m":
            named = set(re.findall(r"\w+", next(words))) - {"not", "and", "or"}
            assert named <= markers, f"{command.where}: markers {named - markers} are not declared"
        elif word == "-k":
            next(words)
        elif not word.startswith("-"):
            assert (REPO_ROOT / word.split("::")[0]).exists(), f"{command.where}: {word} does not exist"


def check_shell_script(command: Command, script: Path) -> None:
    assert script.is_file() and os.access(script, os.X_OK), f"{command.where}: {script} is not an executable file"
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, f"{command.where}: {script} does not parse: {result.stderr}"


def test_the_pages_show_commands():
    # Guards the collection itself: every page but the index shows commands, so finding none means a parsing bug.
    pages = {command.page for command in COMMANDS}
    assert len(COMMANDS) >= 50 and pages == set(PAGES) - {REPO_ROOT / "docs" / "README.md"}


@pytest.mark.parametrize("command", COMMANDS, ids=[c.where for c in COMMANDS])
def test_command_works_as_pasted(command, placeholders, tmp_path, monkeypatch, pytestconfig):
    env, words = shell_words(command, placeholders)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    program, *args = words
    if program == "python":
        script, *args = args
        path = REPO_ROOT / script
        assert script.startswith("scripts/") and path.is_file(), f"{command.where}: no script {script}"
        if hydra_config_name(path):
            check_hydra_script(command, path, args, tmp_path)
        else:
            check_argparse_script(command, path, args)
    elif program == "pip":
        check_pip(command, args)
    elif program == "pytest":
        check_pytest(command, args, pytestconfig.getini("markers"))
    elif program == "tensorboard":
        assert args[:1] == ["--logdir"] and importlib.util.find_spec("tensorboard"), command.where
    elif program.endswith(".sh"):
        check_shell_script(command, REPO_ROOT / program)
    else:
        pytest.fail(f"{command.where}: no check for `{program}` commands; add one to test_commands.py")
    assert command.expected is None or program == "python", f"{command.where}: only scripts are shown failing"


def test_a_value_with_commas_must_be_quoted_for_hydra():
    # The sentiment example as it used to be shown: Hydra reads the commas as a sweep and refuses a single run.
    with pytest.raises(HydraException, match="Ambiguous value"):
        compose_config("predict", ["task=sentiment", "ckpt_path=x", "text=a gorgeous , witty , seductive movie ."])
    cfg = compose_config("predict", ["task=sentiment", "ckpt_path=x", 'text="a gorgeous , witty , seductive movie ."'])
    assert OmegaConf.select(cfg, "text") == "a gorgeous , witty , seductive movie ."
