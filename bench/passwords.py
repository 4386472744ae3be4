"""Benchmark: our exact generator against the retry-until-valid recipe, side by side.

Not a test. Run: ``.venv/bin/python bench/passwords.py`` (add ``--seconds 2`` per cell for
steadier numbers). Prints a table; results go in docs/PERFORMANCE.md.

The retry recipe is the one in Python's ``secrets`` documentation: draw every character
from the whole alphabet and start again until the rules hold. It is uniform too, but its
cost grows with how rarely a random string meets the rules.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import platform
import secrets
import time
from collections.abc import Callable

from quartapp.passwords.generator import (
    PasswordPolicy,
    _compile,
    compile_policy,
    generate_compiled,
    requirement_chars,
)

POLICIES = {
    "default (16, all classes, >=1 each)": PasswordPolicy(),
    "analyst (10, lower+upper+digits, >=3 digits)": PasswordPolicy(
        length=10, symbols=False, min_symbols=0, min_digits=3
    ),
    "strict (12, >=4 digits, >=4 of 8 symbols, 3 classes, max 2 in a row)": PasswordPolicy(
        length=12,
        min_lowercase=0,
        min_uppercase=0,
        min_digits=4,
        min_symbols=4,
        symbol_set="!@#$%^&*",
        min_classes=3,
        max_consecutive=2,
    ),
    "chase-like (20, a letter, a digit, max 2 in a row, starts with a letter)": PasswordPolicy(
        length=20,
        min_lowercase=0,
        min_uppercase=0,
        min_symbols=0,
        require=("lower, upper",),
        max_consecutive=2,
        first_character="letter",
    ),
}


# Rules that only matter for the counting's cost: the longest password under a run limit,
# and a most per class that keeps every count up to 40 apart.
COMPILE_ONLY = {
    "128, max 2 in a row, 3 classes": PasswordPolicy(length=128, max_consecutive=2, min_classes=3),
    "128, max 2 in a row, 4 classes, a letter first, <=40 symbols": PasswordPolicy(
        length=128,
        max_consecutive=2,
        min_classes=4,
        first_character="letter",
        require=("lower, upper",),
        max_symbols=40,
    ),
}


def retry_recipe(policy: PasswordPolicy) -> Callable[[], str]:
    """Draw from the whole alphabet until every rule holds, each checked as written."""
    compiled = compile_policy(policy)
    alphabet = "".join(c.chars for c in compiled.classes)
    named = [set(c.chars) for c in compiled.classes if c.name != "include"]
    rules = [(set(c.chars), c.minimum) for c in compiled.classes if c.minimum]
    rules += [(set(requirement_chars(r, {c.name: c.chars for c in compiled.classes})), 1)
              for r in policy.require]  # fmt: skip
    run = policy.max_consecutive

    def meets(password: str) -> bool:
        if not all(sum(ch in chars for ch in password) >= need for chars, need in rules):
            return False
        if sum(1 for chars in named if not chars.isdisjoint(password)) < policy.min_classes:
            return False
        if run is not None and any(len(list(g)) > run for _, g in itertools.groupby(password)):
            return False
        return policy.first_character != "letter" or password[0].isalpha()

    def draw() -> str:
        while True:
            password = "".join(secrets.choice(alphabet) for _ in range(policy.length))
            if meets(password):
                return password

    return draw


def rate(function: Callable[[], str], seconds: float, rounds: int = 3) -> float:
    """Passwords per second: the best of ``rounds`` rounds of ``seconds / rounds`` each (the
    round least disturbed by the rest of the machine, as ``timeit`` advises)."""
    best = 0.0
    for _ in range(rounds):
        done, start = 0, time.perf_counter()
        deadline = start + seconds / rounds
        while True:
            for _ in range(20):
                function()
            done += 20
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, done / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per cell")
    args = parser.parse_args()
    print(f"# {platform.python_implementation()} {platform.python_version()} on "
          f"{platform.machine()}, {os.cpu_count()} CPUs, one process, one core")  # fmt: skip
    header = f"| {'policy':<72} | {'acceptance':>10} | {'ours µs':>8} | {'ours /s':>9} " \
             f"| {'retry µs':>9} | {'retry /s':>9} | {'speed-up':>8} |"  # fmt: skip
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for name, policy in POLICIES.items():
        compiled = compile_policy(policy)
        alphabet_size = sum(len(c.chars) for c in compiled.classes)
        acceptance = compiled.count / alphabet_size**policy.length
        ours = rate(functools.partial(generate_compiled, compiled), args.seconds)
        retry = rate(retry_recipe(policy), args.seconds)
        print(f"| {name:<72} | {acceptance:>10.4%} | {1e6 / ours:>8.1f} | {ours:>9,.0f} "
              f"| {1e6 / retry:>9.1f} | {retry:>9,.0f} | {ours / retry:>7.0f}x |")  # fmt: skip
    # Counting is done once per distinct policy (then cached): what the first request pays.
    print("\n| policy | count table | states x places | first request ms |")
    print("|---|---|---|---|")
    for name, policy in {**POLICIES, **COMPILE_ONLY}.items():
        start = time.perf_counter()
        table = _compile(policy).table
        elapsed = (time.perf_counter() - start) * 1000
        print(f"| {name} | {type(table).__name__} | {table.size:,} | {elapsed:.1f} |")


if __name__ == "__main__":
    main()
