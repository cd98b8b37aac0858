"""Unaligned many-to-many data: dates written in many human formats → ISO 8601, generated.

Every day from ``first_year`` to ``last_year`` belongs to exactly one split (a permutation by ``split_seed``),
so no test date, in any format, is ever seen in training. Each example draws a day of its split and a format;
a split's examples are a pure function of (seed, split, its size), so runs reproduce exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import torch
from torch import Tensor

from rnnlab.data.alphabet import Alphabet, Alphabets, pad_ids, teacher_forcing
from rnnlab.data.in_memory import InMemoryDataModule
from rnnlab.data.splits import SPLITS
from rnnlab.errors import ConfigError

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")  # fmt: skip
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# Each writes a date one way; no string can be read two ways (the numeric ones use distinct separators).
FORMATS: tuple[Callable[[dt.date], str], ...] = (
    lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",  # tuesday, march 3, 1998
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",  # 3 mar 1998
    lambda d: f"{d.year} {MONTHS[d.month - 1]} {ordinal(d.day)}",  # 1998 march 3rd
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",  # march 3, 1998
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",  # 3 march 1998
    lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",  # 03/03/1998 (month first)
    lambda d: f"{d.day}.{d.month}.{d.year}",  # 3.3.1998 (day first)
    lambda d: f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}",  # mar 3 1998
    lambda d: f"the {ordinal(d.day)} of {MONTHS[d.month - 1]}, {d.year}",  # the 3rd of march, 1998
    lambda d: f"{WEEKDAYS[d.weekday()][:3]} {d.day} {MONTHS[d.month - 1][:3]} {d.year}",  # tue 3 mar 1998
    lambda d: f"{d.year}{d.month:02d}{d.day:02d}",  # 19980303
)
SOURCE_ALPHABET = Alphabet.of([*MONTHS, *WEEKDAYS, "0123456789 ,./", "stndrdth of the"])
TARGET_ALPHABET = Alphabet.of(["0123456789-"], markers=True)


def days(first_year: int, last_year: int) -> list[dt.date]:
    start, stop = dt.date(first_year, 1, 1), dt.date(last_year, 12, 31)
    return [start + dt.timedelta(n) for n in range((stop - start).days + 1)]


class DateTranslationDataModule(InMemoryDataModule):
    def __init__(
        self,
        sizes: dict[str, int],
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        first_year: int = 1950,
        last_year: int = 2049,
        split_seed: int = 0,
        vocab: dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if first_year > last_year or first_year < 1 or last_year > 9999:
            raise ConfigError(f"task.data years {first_year}..{last_year} must be an increasing range within 1..9999")
        self.sizes, self.fractions, self.split_seed = dict(sizes), tuple(fractions), split_seed
        self.first_year, self.last_year = first_year, last_year
        self.vocab = Alphabets.from_dict(vocab) if vocab else Alphabets(TARGET_ALPHABET, SOURCE_ALPHABET)
        self._days: dict[str, list[dt.date]] | None = None

    def split_days(self) -> dict[str, list[dt.date]]:
        """The days of each split: disjoint, together every day of the year range."""
        if self._days is None:
            every = days(self.first_year, self.last_year)
            order = torch.randperm(len(every), generator=torch.Generator().manual_seed(self.split_seed)).tolist()
            cuts = torch.tensor([0.0, *self.fractions]).cumsum(0).mul(len(every)).round().long().tolist()
            self._days = {name: sorted(every[j] for j in order[cuts[i] : cuts[i + 1]]) for i, name in enumerate(SPLITS)}
        return self._days

    def pairs(self, name: str) -> list[tuple[str, str]]:
        """(human date, ISO date) pairs of one split."""
        pool = self.split_days()[name]
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + SPLITS.index(name))
        chosen = torch.randint(len(pool), (self.sizes[name],), generator=generator).tolist()
        styles = torch.randint(len(FORMATS), (self.sizes[name],), generator=generator).tolist()
        return [(FORMATS[s](pool[i]), pool[i].isoformat()) for i, s in zip(chosen, styles, strict=True)]

    def generate(self, name: str) -> dict[str, Tensor]:
        pairs = self.pairs(name)
        sources = [self.vocab.source.encode(source, f"{name} date") for source, _ in pairs]
        decoder_input, target = teacher_forcing(self.vocab.target, [iso for _, iso in pairs])
        return {
            "source": pad_ids(sources, 0),
            "source_lengths": torch.tensor([len(s) for s in sources]),
            "decoder_input": decoder_input,
            "target": target,
        }
