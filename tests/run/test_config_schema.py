"""The value schema (rnnlab.run.schema) over the configuration space, with Hypothesis.

For each task, a key is drawn from its composed config (the leaves the schema can judge: numbers, bools, choices,
lists of numbers; not hydra.*, class paths or free-form text and paths), then a bad value: of the wrong kind, out of
range, empty, null. Validation must refuse it with one line that names the key. The values the table's rule refuses
are the bad ones; a key the table does not name must keep its kind. Valid configurations still pass: every task's
(and under ``-m slow`` every group option's: models, trainers, loggers, experiments, debug modes), and both ends of
each Optuna search space. Drawn examples also run as the user runs them, in a subprocess (one here, more under
``-m slow``): exit code 2, one `error:` line, no traceback, no run directory left.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT, TASKS, compose_config
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import DictConfig, ListConfig, OmegaConf

from rnnlab.errors import ConfigError
from rnnlab.run import rules, schema
from rnnlab.run.cli import check_overrides, remove_unused_run_dir
from rnnlab.run.config import CONFIG_DIR, validate

NOWHERE = Path("/nonexistent/rnnlab-run")  # validation writes nothing; paths.output_dir only has to resolve
# Kinds a bad value is drawn from, whatever the key: each is kept where the key's rule refuses it.
WRONG = ["abc", "", True, False, None, [1, 2], ["a"], [], {"a": 1}, math.nan, math.inf, -math.inf]
# The checks rnnlab.run.config.validate runs: a Checked key's range is enforced before training where it names one.
RUN_BY_VALIDATE = (
    schema.VALIDATE,
    "rnnlab.models.gate_init.check_gate_init",
    "rnnlab.lit.family_of",
    "rnnlab.lit.generator.check_decoding",
)
FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
MORE = settings(max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
# A task's composed config: an experiment, a debug mode or another group option adds keys and values to it.
GROUP_OPTIONS = [
    f"{group}={path.stem}"
    for group in ("model", "optimizer", "trainer", "logger", "callbacks", "experiment", "debug")
    for path in sorted((CONFIG_DIR / group).glob("*.yaml"))
]


@functools.cache
def composed(config_name: str, overrides: tuple[str, ...]) -> DictConfig:
    if config_name == "train":  # as the schema composes its reference (${hydra:…} paths stay unresolved: unread)
        return schema.composed(config_name, overrides)
    return compose_config(config_name, list(overrides), NOWHERE)


def _leaves(node: DictConfig, prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for name in node:
        key = f"{prefix}{name}"
        try:
            value = node[name]
        except Exception:
            continue  # ${hydra:…} outside a job
        if isinstance(value, DictConfig):
            found += _leaves(value, f"{key}.")
        else:
            found.append((key, OmegaConf.to_container(value) if isinstance(value, ListConfig) else value))
    return found


def _judged(key: str, value: Any, validated: bool) -> rules.Rule | str | None:
    """The rule a bad value of ``key`` must break: the table's, or, for a key the table does not name, the kind of
    its value; None for what the schema does not judge. A Checked key's range counts where ``validated`` (the
    script runs rnnlab.run.config.validate) and its check is one that validate runs; else only its kind."""
    rule = schema.rule_for(key)
    if rule is None:
        kind = schema.kind_of(value)
        numbers = isinstance(value, list) and value and all(schema.kind_of(v) == "a number" for v in value)
        return kind if kind in ("a number", "true or false") or numbers else None
    if isinstance(rule, rules.Checked) and validated and rule.by.startswith(RUN_BY_VALIDATE):
        rule = rule.rule
    inner = rule.rule if isinstance(rule, rules.Optional) else rule
    return None if isinstance(inner, rules.Free | rules.Node | rules.Text) else rule


def judged_keys(cfg: DictConfig, validated: bool = True) -> dict[str, rules.Rule | str]:
    """Every key of ``cfg`` whose values the schema judges, with the rule or kind it judges them by."""
    keys = {}
    for key, value in _leaves(cfg):
        if key.startswith(("hydra.", "paths.")):
            continue
        judged = _judged(key, value, validated)
        if judged is not None:
            keys[key] = judged
    return keys


def _breaks(judged: rules.Rule | str, value: Any) -> bool:
    if isinstance(judged, rules.Rule):
        return not judged.ok(value)
    return schema.kind_of(value) != judged if judged != "a number" else not rules.is_number(value)


def bad_values(judged: rules.Rule | str) -> st.SearchStrategy:
    """Values ``judged`` refuses: of another kind, empty, null, non-finite, and just outside each end of a range."""
    edges: list[Any] = []
    inner = judged.rule if isinstance(judged, rules.Optional) else judged
    for rule in inner.rules if isinstance(inner, rules.AnyOf) else (inner,):
        if isinstance(rule, rules.Int | rules.Number):
            step = 1 if isinstance(rule, rules.Int) else 0.5
            edges += [end + delta for end in (rule.min, rule.max) if end is not None for delta in (-step, 0, step)]
            edges.append(2.5)  # not an integer
        if isinstance(rule, rules.Choice):
            edges += ["not_one_of_them", 7]
        if isinstance(rule, rules.ListOf):
            edges += [[rule.item.example] * n for n in (0, 1, 3, 5)] + [[rule.item.example, "a"]]
    ranges = st.integers(-(2**40), 2**40) | st.floats(allow_nan=True, allow_infinity=True)
    return (st.sampled_from(WRONG + edges) | ranges).filter(lambda value: _breaks(judged, value))


def _with(cfg: DictConfig, key: str, value: Any) -> DictConfig:
    changed = copy.deepcopy(cfg)  # the composed config stays cached as it was
    OmegaConf.update(changed, key, value, merge=False)
    return changed


def _names_the_key(message: str, key: str) -> bool:
    return "\n" not in message and (f"{key}=" in message or f"{key} " in message)


@st.composite
def a_bad_setting(draw, config_names=("train",)) -> tuple[str, tuple[str, ...], str, Any]:
    config_name = draw(st.sampled_from(config_names))
    if config_name == "train":
        overrides: tuple[str, ...] = (f"task={draw(st.sampled_from(TASKS))}",)
    else:  # the scripts' own settings; the groups' keys are drawn from training configs
        overrides = ("task=translate", "ckpt_path=x")
    keys = judged_keys(composed(config_name, overrides), validated=config_name != "predict")
    if config_name != "train":
        keys = {k: v for k, v in keys.items() if "." not in k}
    key = draw(st.sampled_from(sorted(keys)))
    return config_name, overrides, key, draw(bad_values(keys[key]))


def _refuse(config_name: str, cfg: DictConfig) -> str:
    """The one-line message a script gives ``cfg`` before it builds anything (predict.py: the schema alone)."""
    with pytest.raises(ConfigError) as error:
        (schema.check if config_name == "predict" else validate)(cfg)
    return str(error.value)


@FAST
@given(a_bad_setting())
def test_a_bad_value_of_any_task_key_is_one_line_that_names_it(setting):
    config_name, overrides, key, value = setting
    message = _refuse(config_name, _with(composed(config_name, overrides), key, value))
    assert _names_the_key(message, key), message


@FAST
@given(a_bad_setting(("eval", "predict", "unroll")))
def test_a_bad_value_of_a_script_setting_is_one_line_that_names_it(setting):
    config_name, overrides, key, value = setting
    message = _refuse(config_name, _with(composed(config_name, overrides), key, value))
    assert _names_the_key(message, key), message


@pytest.mark.slow
@pytest.mark.heavy  # ~100 s for 600 examples
@MORE
@given(a_bad_setting(("train", "eval", "predict", "unroll")))
def test_many_more_bad_values(setting):
    config_name, overrides, key, value = setting
    message = _refuse(config_name, _with(composed(config_name, overrides), key, value))
    assert _names_the_key(message, key), message


@pytest.mark.parametrize("task", TASKS)
def test_the_table_names_every_task_and_model_number(task):
    # Their sizes and shares have ranges; a kind alone (the reference's) would let 0 or -3 through.
    cfg = composed("train", (f"task={task}",))
    numbers = [key for key, v in _leaves(cfg) if key.startswith(("task.", "model.")) and rules.is_number(v)]
    assert numbers and [key for key in numbers if schema.rule_for(key) is None] == []


@pytest.mark.parametrize(
    "overrides",
    [[f"task={task}"] for task in TASKS]
    + [pytest.param([option], marks=pytest.mark.slow) for option in GROUP_OPTIONS],  # docs' commands: most of them
)
def test_every_shipped_config_passes(overrides):
    # Without Hydra's record of the choices, the reference is the task's own default composition: the check is
    # sound only if no group option gives a key another kind than its default (the table names those that do).
    schema.check(composed("train", tuple(overrides)))


@pytest.mark.parametrize("search", sorted(p.stem for p in (CONFIG_DIR / "hparams_search").glob("*.yaml")))
@pytest.mark.parametrize("end", ["low", "high"])
def test_each_end_of_an_optuna_search_space_passes(search, end):
    params = OmegaConf.load(CONFIG_DIR / "hparams_search" / f"{search}.yaml").hydra.sweeper.params
    parser = OverridesParser.create()
    corner = []
    for key, sweep in params.items():
        space = parser.parse_override(f"{key}={sweep}").value()
        values = space.list if hasattr(space, "list") else [space.start, space.end]
        corner.append(f"{key}={values[0] if end == 'low' else values[-1]}")
    validate(composed("train", (f"hparams_search={search}", *corner)))


def test_coverage_of_the_table():
    # `pytest tests/run/test_config_schema.py -k coverage -s` prints what docs/configuration.md reports.
    configs = {f"train task={task}": composed("train", (f"task={task}",)) for task in TASKS}
    configs |= {name: composed(name, ("task=translate", "ckpt_path=x")) for name in ("eval", "predict", "unroll")}
    judged = {name: judged_keys(cfg, validated=name != "predict") for name, cfg in configs.items()}
    keys = set().union(*judged.values())
    by_kind = sorted(key for key in keys if schema.rule_for(key) is None)
    checked = set().union(*(schema.checked_keys(cfg) for cfg in configs.values()))
    per_task = [len(judged[name]) for name in configs if name.startswith("train")]
    print(
        f"\nschema: {len(schema.RULES)} patterns; the check looks at {len(checked)} distinct keys of the 12 tasks' "
        f"training configs and eval/predict/unroll's; the property tests draw from {len(keys)} of them "
        f"({min(per_task)}–{max(per_task)} per task): {len(keys) - len(by_kind)} judged by a table rule, "
        f"{len(by_kind)} by their reference's kind ({', '.join(by_kind)})"
    )
    assert len(keys) >= 100 and len(by_kind) < len(keys) / 4


# --- as the user runs it ------------------------------------------------------------------------------------------


def _typed(value: Any) -> str:
    """A value as typed on Hydra's command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"'{value}'" if value == "" or not value.isidentifier() else value
    if isinstance(value, list):
        return "[" + ",".join(_typed(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_typed(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _train(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RNNLAB_LOG_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "scripts/train.py", *overrides]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def _exits_with_one_line_and_leaves_nothing(result: subprocess.CompletedProcess, key: str, tmp_path: Path) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and key in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not any(tmp_path.iterdir()), "a run that fails validation leaves no run directory"


def _end_to_end(setting: tuple[str, tuple[str, ...], str, Any], log_dir: Path) -> None:
    _, overrides, key, value = setting
    _exits_with_one_line_and_leaves_nothing(_train(log_dir, *overrides, f"{key}={_typed(value)}"), key, log_dir)


@settings(max_examples=1, deadline=None, database=None)
@given(setting=a_bad_setting())
def test_a_drawn_bad_value_as_the_user_types_it(setting, tmp_path_factory):
    _end_to_end(setting, tmp_path_factory.mktemp("logs"))


@pytest.mark.slow
@settings(max_examples=10, deadline=None, database=None)
@given(setting=a_bad_setting())
def test_more_drawn_bad_values_as_the_user_types_them(setting, tmp_path_factory):
    _end_to_end(setting, tmp_path_factory.mktemp("logs"))


@pytest.mark.parametrize(
    ("script", "arguments", "key", "line"),
    [
        (
            "train.py",
            ["model.hidden_size=-1"],
            "model.hidden_size",
            "error: model.hidden_size=-1 must be a positive integer",
        ),
        # Checks that combine settings, before the task family's (which import Lightning).
        ("train.py", ["task.data.sizes.train=0"], "task.data.sizes.train", "error: task.data.sizes.train=0 must be"),
        ("train.py", ["task.head=many_to_few"], "task.head", "error: task.head='many_to_few' is not one of"),
        *(
            (script, ["ckpt_path=nowhere.ckpt"], "ckpt_path", "error: ckpt_path=nowhere.ckpt does not exist")
            for script in ("eval.py", "predict.py", "unroll.py", "units.py")
        ),
        ("units.py", [], "ckpt_path", "error: ckpt_path is not set (???)"),
    ],
)
def test_a_bad_setting_is_refused_before_lightning_is_imported(script, arguments, key, line, tmp_path):
    # Training, loading a checkpoint, and checking optimized_metric import Lightning: seconds a typo should not wait.
    code = (
        "import runpy, sys\n"
        f"sys.argv = {['scripts/' + script, *arguments]!r}\n"
        "try:\n"
        f"    runpy.run_path('scripts/{script}', run_name='__main__')\n"
        "finally:\n"
        "    print('lightning' in sys.modules)\n"
    )
    env = {**os.environ, "RNNLAB_LOG_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    _exits_with_one_line_and_leaves_nothing(done, key, tmp_path)
    assert line in done.stderr and done.stdout.split() == ["False"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("task=flip_strem", "task=flip_strem is not a task: did you mean flip_stream? (tasks: adding, "),
        ("model=foo", "model=foo is not a model (models: "),
        ("optimizer=adamw", "optimizer=adamw is not an optimizer: did you mean adam? (optimizers: adam, sgd)"),
        ("model.hiden_size=64", "Could not override 'model.hiden_size'"),
    ],
)
def test_an_unknown_choice_or_key_is_refused_before_hydra_composes(override, message):
    with pytest.raises(ConfigError) as error:
        check_overrides("train", [override])
    assert message in str(error.value) and "\n" not in str(error.value)


def test_sweeps_and_additions_are_checked_value_by_value():
    check_overrides("train", ["-m", "model=rnn,gru", "task.seq_len=5,10", "+trainer.max_time=00:00:01:00"])
    with pytest.raises(ConfigError, match="model=gruu is not a model: did you mean gru"):
        check_overrides("train", ["-m", "model=rnn,gruu"])


# --- a run that fails validation leaves no run directory ----------------------------------------------------------


@pytest.fixture
def hydra_job(tmp_path: Path):
    """A single run's directory as Hydra leaves it when the job starts (its .hydra/ and log), under a log dir."""
    log_dir = tmp_path / "outputs"
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", [f"paths.log_dir={log_dir}"], return_hydra_config=True)
    run_dir = log_dir / "flip_stream" / "train" / "2026-01-01_12-00-00_4242-ab12"
    (run_dir / ".hydra").mkdir(parents=True)
    OmegaConf.save({"paths": {"log_dir": str(log_dir)}}, run_dir / ".hydra" / "config.yaml")
    (run_dir / "train.log").write_text("")
    (log_dir / "flip_stream" / "train" / "an_earlier_run").mkdir()
    cfg.hydra.runtime.output_dir = str(run_dir)
    before = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(cfg)
    yield cfg, run_dir
    HydraConfig.instance().cfg = before


def test_a_run_directory_with_only_hydras_files_is_removed(hydra_job):
    _, run_dir = hydra_job
    assert remove_unused_run_dir() == run_dir.resolve()
    assert not run_dir.exists() and (run_dir.parent / "an_earlier_run").is_dir()


def test_the_empty_folders_above_it_go_too_but_not_the_log_dir(hydra_job):
    _, run_dir = hydra_job
    (run_dir.parent / "an_earlier_run").rmdir()
    remove_unused_run_dir()
    log_dir = run_dir.parents[2]
    assert log_dir.is_dir() and not any(log_dir.iterdir())


@pytest.mark.parametrize("written", ["checkpoints/last.ckpt", "metrics.json", "tensorboard/events"])
def test_a_run_directory_with_anything_else_stays(hydra_job, written):
    # e.g. resuming into the directory of the run being resumed (hydra.run.dir=<d> ckpt_path=<d>/…/last.ckpt)
    _, run_dir = hydra_job
    (run_dir / written).parent.mkdir(parents=True, exist_ok=True)
    (run_dir / written).write_text("")
    assert remove_unused_run_dir() is None and (run_dir / written).is_file()


def test_a_multirun_job_keeps_its_directory_for_failed_json(hydra_job):
    cfg, run_dir = hydra_job
    OmegaConf.set_readonly(cfg.hydra, False)
    cfg.hydra.mode = RunMode.MULTIRUN
    HydraConfig.instance().set_config(cfg)
    assert remove_unused_run_dir() is None and run_dir.is_dir()


def test_a_hydra_record_left_by_an_earlier_job_does_not_decide_the_reference():
    # Hydra's record outlives its job in the process (a notebook, this test suite): an unroll config composed
    # afterwards is still judged against unroll.yaml, not against the earlier training job's train.yaml.
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        earlier = compose("train", ["task=pos"], return_hydra_config=True)
    previous = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(earlier)
    try:
        message = _refuse("unroll", _with(composed("unroll", ("task=translate", "ckpt_path=x")), "trajectories", "abc"))
    finally:
        HydraConfig.instance().cfg = previous
    assert message == "trajectories='abc' must be a number, e.g. trajectories=64"
