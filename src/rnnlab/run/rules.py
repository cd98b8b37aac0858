"""The kinds and ranges a setting may have, each with the one line that names what a bad value should be.

A :class:`Rule` says whether a value is of its kind (:meth:`~Rule.kind_ok`) and within its range
(:meth:`~Rule.ok`), and describes both: :class:`Int`, :class:`Number` (ends open or closed), :class:`Bool`,
:class:`Choice`, :class:`Text`, :class:`Duration` (Lightning's ``max_time``), :class:`ListOf`, :class:`Node` (a group
of settings), combined with :class:`Optional` (null allowed) and :class:`AnyOf`; :class:`Checked` and :class:`Free`
mark keys checked elsewhere or not at all. :mod:`rnnlab.run.schema` maps every setting to one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

TIMEDELTA_UNITS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds", "microseconds")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def shown(value: Any, limit: int = 60, quote: bool = True) -> str:
    """A value on one line, as Hydra's command line writes it; text in quotes, unless ``quote`` is off and it
    needs none (an example to type: ``trainer.max_time=00:12:00:00``)."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, DictConfig | ListConfig):
        text = shown(OmegaConf.to_container(value, resolve=False), limit, quote)
    elif isinstance(value, list):
        text = "[" + ",".join(shown(item, limit, quote) for item in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ",".join(f"{k}:{shown(v, limit, quote)}" for k, v in value.items()) + "}"
    elif isinstance(value, str) and not quote and re.fullmatch(r"[\w./:<>@+-]+", value):
        text = value
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Rule:
    """What a value may be: :meth:`kind_ok` (its type), :meth:`ok` (type and range) and :meth:`describe`."""

    example: Any = None

    def kind_ok(self, value: Any) -> bool:
        raise NotImplementedError

    def ok(self, value: Any) -> bool:
        return self.kind_ok(value)

    def describe(self) -> str:
        raise NotImplementedError

    def message(self, key: str, value: Any, example: Any) -> str:
        text = f"{key}={shown(value)} must be {self.describe()}"
        return text if example is None else f"{text}, e.g. {key}={shown(example, quote=False)}"


@dataclass(frozen=True)
class Int(Rule):
    min: int | None = None
    max: int | None = None
    note: str = ""  # what a special value means, e.g. "-1: no limit"

    def kind_ok(self, value: Any) -> bool:
        return _is_int(value)

    def ok(self, value: Any) -> bool:
        return _is_int(value) and _within(value, self.min, self.max)

    def describe(self) -> str:
        if self.min == 1 and self.max is None:
            text = "a positive integer"
        elif self.max is None:
            text = "an integer" if self.min is None else f"an integer >= {self.min}"
        else:
            text = f"an integer <= {self.max}" if self.min is None else f"an integer in [{self.min}, {self.max}]"
        return f"{text} ({self.note})" if self.note else text

    @property
    def example(self) -> int:
        return max(self.min if self.min is not None else 1, 1)


@dataclass(frozen=True)
class Number(Rule):
    """An integer or a float, finite. ``min_open`` / ``max_open``: the end itself is excluded."""

    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    note: str = ""

    def kind_ok(self, value: Any) -> bool:
        return is_number(value) and math.isfinite(value)  # nan and inf are no setting's number

    def ok(self, value: Any) -> bool:
        if not self.kind_ok(value):
            return False
        low = self.min is None or (value > self.min if self.min_open else value >= self.min)
        high = self.max is None or (value < self.max if self.max_open else value <= self.max)
        return low and high

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            left, right = "(" if self.min_open else "[", ")" if self.max_open else "]"
            text = f"a number in {left}{self.min:g}, {self.max:g}{right}"
        elif self.min is not None:
            text = f"a number {'>' if self.min_open else '>='} {self.min:g}"
        elif self.max is not None:
            text = f"a number {'<' if self.max_open else '<='} {self.max:g}"
        else:
            text = "a finite number"
        return f"{text} ({self.note})" if self.note else text

    @property
    def example(self) -> float:
        if self.min is not None and self.max is not None:
            return (self.min + self.max) / 2
        return (self.min or 0) + 1 if self.max is None else self.max - 1


@dataclass(frozen=True)
class Bool(Rule):
    example: Any = True

    def kind_ok(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "true or false"


def _among(value: Any, choices: tuple[Any, ...]) -> bool:
    # type and value both: True == 1, but a bool is not the integer 1 here
    return any(type(value) is type(choice) and value == choice for choice in choices)


@dataclass(frozen=True)
class Choice(Rule):
    """One of ``options``: a tuple, or a function that returns one (a library's registry, read when needed).
    ``usual``: options known without calling that function, so that a usual value does not wait for it."""

    options: tuple[Any, ...] | Callable[[], tuple[Any, ...]]
    usual: tuple[Any, ...] = ()

    @property
    def values(self) -> tuple[Any, ...]:
        return self.options() if callable(self.options) else self.options

    def kind_ok(self, value: Any) -> bool:
        return _among(value, self.usual) or type(value) in {type(choice) for choice in self.values}

    def ok(self, value: Any) -> bool:
        return _among(value, self.usual) or _among(value, self.values)

    def describe(self) -> str:
        return f"one of {self.listed()}"

    def listed(self) -> str:
        return ", ".join(dict.fromkeys(str(choice) for choice in self.values))  # 16 and "16" alike: once

    def message(self, key: str, value: Any, example: Any) -> str:
        return f"{key}={shown(value)} is not one of {self.listed()}"


@dataclass(frozen=True)
class Text(Rule):
    """A string, non-empty unless ``empty``; ``pattern``: one it must match in full. ``what`` describes it."""

    empty: bool = False
    pattern: str | None = None
    what: str = ""
    example: Any = None

    def kind_ok(self, value: Any) -> bool:
        return isinstance(value, str)

    def ok(self, value: Any) -> bool:
        if not isinstance(value, str) or not (self.empty or value.strip()):
            return False
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None

    def describe(self) -> str:
        return self.what or ("text" if self.empty else "non-empty text")


@dataclass(frozen=True)
class Duration(Rule):
    """Lightning's ``max_time``: ``"DD:HH:MM:SS"``, or a dict of :class:`datetime.timedelta`'s arguments."""

    example: Any = "00:12:00:00"

    def kind_ok(self, value: Any) -> bool:
        return isinstance(value, str | DictConfig | dict)

    def ok(self, value: Any) -> bool:
        if isinstance(value, str):
            return re.fullmatch(r"\d+:\d\d:\d\d:\d\d", value.strip()) is not None
        return (
            isinstance(value, DictConfig | dict)
            and len(value) > 0
            and all(unit in TIMEDELTA_UNITS and is_number(amount) and amount >= 0 for unit, amount in value.items())
        )

    def describe(self) -> str:
        return "a duration DD:HH:MM:SS or {days:…,hours:…,minutes:…}"


@dataclass(frozen=True)
class ListOf(Rule):
    item: Rule
    length: int | None = None
    min_length: int = 0

    def kind_ok(self, value: Any) -> bool:
        return isinstance(value, list | ListConfig) and all(self.item.kind_ok(v) for v in value)

    def ok(self, value: Any) -> bool:
        if not isinstance(value, list | ListConfig) or len(value) < self.min_length:
            return False
        return (self.length is None or len(value) == self.length) and all(self.item.ok(v) for v in value)

    def describe(self) -> str:
        size = f"{self.length} " if self.length else "at least one " if self.min_length else ""
        return f"a list of {size}items, each {self.item.describe()}"

    @property
    def example(self) -> list:
        return [self.item.example] * (self.length or max(self.min_length, 1))


@dataclass(frozen=True)
class Node(Rule):
    """A group of settings (its keys are checked one by one)."""

    def kind_ok(self, value: Any) -> bool:
        return isinstance(value, DictConfig | dict)

    def describe(self) -> str:
        return "a group of settings"


@dataclass(frozen=True)
class Optional(Rule):
    rule: Rule
    null: str = ""  # what null means

    def kind_ok(self, value: Any) -> bool:
        return value is None or self.rule.kind_ok(value)

    def ok(self, value: Any) -> bool:
        return value is None or self.rule.ok(value)

    def describe(self) -> str:
        return f"{self.rule.describe()}, or null" + (f" ({self.null})" if self.null else "")

    def message(self, key: str, value: Any, example: Any) -> str:
        if isinstance(self.rule, Choice):
            return f"{self.rule.message(key, value, example)}, or null"
        return super().message(key, value, example)

    @property
    def example(self) -> Any:
        return self.rule.example


@dataclass(frozen=True)
class AnyOf(Rule):
    rules: tuple[Rule, ...]
    what: str = ""  # a shorter description than the rules' own, joined

    def kind_ok(self, value: Any) -> bool:
        return any(rule.kind_ok(value) for rule in self.rules)

    def ok(self, value: Any) -> bool:
        return any(rule.ok(value) for rule in self.rules)

    def describe(self) -> str:
        if self.what:
            return self.what
        texts = [rule.describe() for rule in self.rules]
        return ", ".join(texts[:-1]) + f" or {texts[-1]}"

    @property
    def example(self) -> Any:
        return self.rules[0].example


@dataclass(frozen=True)
class Checked(Rule):
    """``rule`` is what the key may be, enforced in range by ``by``, whose message the docs quote; the schema only
    checks the kind, since ``by`` would stumble over a wrong one."""

    rule: Rule
    by: str

    def kind_ok(self, value: Any) -> bool:
        return self.rule.kind_ok(value)

    def describe(self) -> str:
        return self.rule.describe()

    def message(self, key: str, value: Any, example: Any) -> str:
        return self.rule.message(key, value, example)

    @property
    def example(self) -> Any:
        return self.rule.example


@dataclass(frozen=True)
class Free(Rule):
    """Anything: a class path, a strategy name or object, a file name pattern."""

    def kind_ok(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return "anything"


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)
