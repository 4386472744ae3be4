"""Exact counting and unranking of the strings that meet a set of rules.

Pure combinatorics: no policy fields, no randomness. Two tables, one contract: ``count``
is how many strings the rules allow, and ``unrank(rank)`` is the rank-th of them, a
bijection from ``range(count)`` onto those strings. A uniform rank (``secrets.randbelow``)
then gives every allowed string the same probability, exactly, with no retry loop.

``ClassTable``: the characters fall in disjoint classes, each with a least and a most
count, and nothing else matters. Then the number of strings of length j over the first
i classes is W_i(j) = sum over allowed k of C(j, k) * s_i**k * W_{i-1}(j - k): choose the
k places of class i, fill them, fill the rest with the earlier classes. Cheap: the common
policies use it.

``PositionTable``: everything else (a requirement over several classes, "characters from
at least N classes", "no character more than N times in a row", what the first character
may be) depends on where characters fall, so it counts place by place. The characters are
split into *atoms*, sets whose characters every rule treats alike; a *state* is what the
rules need to know of the places filled so far: each counter's value, capped where no rule
needs more, and, under a run limit, the atom of the last character and its run length.
F(j, state), the number of ways to fill the places from j on, is summed backwards from
the end, and unranking walks forwards choosing among the moves in proportion to F.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

# States the position table may hold, times the places and the atoms: at the limit about
# a quarter of a second of work, and a table of some 250,000 numbers (25 MB) with four
# atoms. A policy past it is refused (``TooComplex``), never approximated; real systems'
# rules need a few thousand.
WORK_LIMIT = 1_000_000


class TooComplex(ValueError):
    """The rules need more states than ``WORK_LIMIT`` allows to count exactly."""


@dataclass(frozen=True)
class Group:
    """Disjoint characters with a least and (None: no) most count, for ``ClassTable``."""

    chars: str
    minimum: int = 0
    maximum: int | None = None


@dataclass(frozen=True)
class Atom:
    """Characters every rule treats alike, for ``PositionTable``."""

    chars: str
    counters: tuple[int, ...]  # the counters a character of this atom adds one to
    may_start: bool = True  # may be the first character


@dataclass(frozen=True)
class Counter:
    """How many characters fell in some atoms: at least ``minimum``, at most ``maximum``."""

    minimum: int = 0
    maximum: int | None = None


# Class table --------------------------------------------------------------------------------


def _ways(
    sizes: tuple[int, ...], bounds: tuple[tuple[int, int], ...], length: int
) -> tuple[tuple[int, ...], ...]:
    table: list[tuple[int, ...]] = []
    previous = (1,) + (0,) * length  # no classes: only the empty string
    for size, (low, high) in zip(sizes, bounds, strict=True):
        row = tuple(
            sum(math.comb(j, k) * size**k * previous[j - k] for k in range(low, min(high, j) + 1))
            for j in range(length + 1)
        )
        table.append(row)
        previous = row
    return tuple(table)


def _subset(rank: int, size: int, k: int) -> list[int]:
    """The ``rank``-th k-subset of range(size), in the combinatorial number system."""
    chosen = []
    for position in range(size - 1, -1, -1):
        if k == 0:
            break
        step = math.comb(position, k)
        if rank >= step:
            chosen.append(position)
            rank -= step
            k -= 1
    return chosen


class ClassTable:
    def __init__(self, length: int, groups: Sequence[Group]) -> None:
        self.length = length
        self.groups = tuple(groups)
        self._bounds = tuple(
            (g.minimum, length if g.maximum is None else g.maximum) for g in self.groups
        )
        self.ways = _ways(tuple(len(g.chars) for g in self.groups), self._bounds, length)
        self._cumulative: dict[tuple[int, int], tuple[int, ...]] = {}

    @property
    def count(self) -> int:
        return self.ways[-1][self.length] if self.groups else 0

    @property
    def size(self) -> int:
        """How many numbers the table holds (what it costs to keep)."""
        return len(self.groups) * (self.length + 1)

    def _cumulative_weights(self, index: int, remaining: int) -> tuple[int, ...]:
        """Running totals of the weights of giving group ``index`` k of ``remaining`` places."""
        key = (index, remaining)
        if key not in self._cumulative:
            size = len(self.groups[index].chars)
            low, high = self._bounds[index]
            before = self.ways[index - 1] if index > 0 else (1,) + (0,) * self.length
            self._cumulative[key] = tuple(
                accumulate(
                    math.comb(remaining, k) * size**k * before[remaining - k]
                    if low <= k <= high
                    else 0
                    for k in range(remaining + 1)
                )
            )
        return self._cumulative[key]

    def unrank(self, rank: int) -> str:
        """Mirrors the count: how many places the last group takes, which places, and its
        characters there, then the rest the same way."""
        password = [""] * self.length
        free = list(range(self.length))
        for index in range(len(self.groups) - 1, -1, -1):
            chars = self.groups[index].chars
            size, left = len(chars), len(free)
            totals = self._cumulative_weights(index, left)
            k = bisect_right(totals, rank)
            rank -= totals[k - 1] if k > 0 else 0
            rank, subset_rank = divmod(rank, math.comb(left, k))
            rank, fill = divmod(rank, size**k)
            if k == left:  # the first group takes every place left: no choice
                for place in free:
                    fill, digit = divmod(fill, size)
                    password[place] = chars[digit]
                break
            places = _subset(subset_rank, left, k)
            for place in places:
                fill, digit = divmod(fill, size)
                password[free[place]] = chars[digit]
            if k:
                taken = set(places)
                free = [slot for i, slot in enumerate(free) if i not in taken]
        return "".join(password)


# Position table -----------------------------------------------------------------------------

# How a move picks its character: any of the atom's, the last character again, or any of
# the atom's but the last character.
ANY, SAME, OTHER = 0, 1, 2
_NO_ATOM = -1

State = tuple[int, ...]  # the counters' values, then (under a run limit) last atom and run
Move = tuple[int, int, int, int]  # (next state's number, characters it may be, atom, how)


class PositionTable:
    def __init__(
        self,
        length: int,
        atoms: Sequence[Atom],
        counters: Sequence[Counter],
        *,
        nonzero: tuple[tuple[int, ...], int] = ((), 0),
        run_limit: int | None = None,
    ) -> None:
        """``nonzero``: at least that many of those counters must be above zero ("from at
        least N classes"). ``run_limit``: no character more than that many times in a row."""
        self.length = length
        self.atoms = tuple(atoms)
        self.counters = tuple(counters)
        self._nonzero_set, self._nonzero_need = nonzero
        self._run_limit = run_limit if run_limit is not None and run_limit < length else None
        self._caps = tuple(
            c.maximum
            if c.maximum is not None
            else max(c.minimum, 1 if i in self._nonzero_set else 0)
            for i, c in enumerate(self.counters)
        )
        # The moves do not depend on the place, but for the first (what it may be): the
        # states form one graph, and F(place) is F(place + 1) carried back along its moves.
        self._states: dict[State, int] = {}
        self._moves: list[tuple[Move, ...]] = []
        start = (0,) * len(self.counters)
        if self._run_limit:
            start = (*start, _NO_ATOM, 0)
        self._first = self._explore(start, first=True)
        # completions[place][number]: ways to fill places place..length-1 from that state.
        self._completions = self._count_back()

    @property
    def size(self) -> int:
        """How many numbers the table holds (what it costs to keep)."""
        return len(self._states) * self.length

    @property
    def count(self) -> int:
        after = self._completions[1]
        return sum(size * after[target] for target, size, _, _ in self._first)

    def _satisfied(self, values: State) -> bool:
        present = sum(1 for i in self._nonzero_set if values[i] > 0)
        return present >= self._nonzero_need and all(
            value >= counter.minimum for value, counter in zip(values, self.counters, strict=False)
        )

    def _values_after(self, values: State, atom: int) -> State | None:
        """The counters after one more character of ``atom``; None past a maximum."""
        result = list(values)
        for index in self.atoms[atom].counters:
            value = result[index] + 1
            maximum = self.counters[index].maximum
            if maximum is not None and value > maximum:
                return None
            result[index] = min(value, self._caps[index])
        return tuple(result)

    def _moves_from(self, state: State, first: bool) -> list[tuple[State, int, int, int]]:
        """Each move from ``state``: (next state, characters it may be, atom, how)."""
        width = len(self.counters)
        values = state[:width]
        found = []
        for index, atom in enumerate(self.atoms):
            if first and not atom.may_start:
                continue
            after = self._values_after(values, index)
            if after is None:
                continue
            size = len(atom.chars)
            if self._run_limit is None:
                found.append((after, size, index, ANY))
                continue
            last, run = state[width], state[width + 1]
            if index != last:
                found.append(((*after, index, 1), size, index, ANY))
                continue
            if run < self._run_limit:
                found.append(((*after, index, run + 1), 1, index, SAME))
            if size > 1:
                found.append(((*after, index, 1), size - 1, index, OTHER))
        return found

    def _number(self, state: State, waiting: list[State]) -> int:
        if state not in self._states:
            self._states[state] = len(self._states)
            waiting.append(state)
            if len(self._states) * self.length * max(1, len(self.atoms)) > WORK_LIMIT:
                raise TooComplex(f"more than {WORK_LIMIT:,} steps to count")
        return self._states[state]

    def _explore(self, start: State, *, first: bool) -> tuple[Move, ...]:
        """Number every state reachable after the first place, and record their moves."""
        waiting: list[State] = []
        first_moves = tuple(
            (self._number(after, waiting), size, atom, how)
            for after, size, atom, how in self._moves_from(start, first)
        )
        done = 0
        while done < len(waiting):
            state = waiting[done]
            done += 1
            moves = tuple(
                (self._number(after, waiting), size, atom, how)
                for after, size, atom, how in self._moves_from(state, False)
            )
            self._moves.append(moves)
        return first_moves

    def _count_back(self) -> list[list[int]]:
        final = [1 if self._satisfied(state[: len(self.counters)]) else 0 for state in self._states]
        completions: list[list[int]] = [[] for _ in range(self.length)] + [final]
        for place in range(self.length - 1, 0, -1):
            after = completions[place + 1]
            completions[place] = [
                sum(size * after[target] for target, size, _, _ in moves) for moves in self._moves
            ]
        return completions

    def unrank(self, rank: int) -> str:
        """Place by place: the moves from the state so far, each weighing as many
        passwords as it can be finished into; the rank falls in one of them."""
        chars: list[str] = []
        moves = self._first
        for place in range(self.length):
            after = self._completions[place + 1]
            for move in moves:
                block = move[1] * after[move[0]]
                if rank < block:
                    break
                rank -= block
            target, _, atom, how = move
            pick, rank = divmod(rank, after[target])
            letters = self.atoms[atom].chars
            if how == SAME:
                chars.append(chars[-1])
            elif how == OTHER:
                skipped = letters.index(chars[-1])
                chars.append(letters[pick if pick < skipped else pick + 1])
            else:
                chars.append(letters[pick])
            moves = self._moves[target]
        return "".join(chars)
