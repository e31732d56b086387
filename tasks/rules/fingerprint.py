"""Rule fingerprints: what every rule id means, pinned, so a rule never changes silently.

An edit row names the exact rule id that made it (``caption.credit-line/1``); that promise only
holds if the id's behaviour never changes. A rule's fingerprint is a hash of everything that
decides what it does:

* its own data: kind, pattern, screen, flags, word limits, caption side, publishers, params;
* the code of its kind (the pack's ``[code]`` table: ``kind = ["module:qualname", ...]``) and
  any ``code`` the rule lists itself: the functions' syntax trees without docstrings, so
  comments, docstrings and formatting do not count, any change to what runs does.

Descriptions and examples are documentation and do not count. Pack-wide settings (the
boilerplate ``caption_max_words``, the normalize ``protect`` list) are versioned by the pack's
``version``, which every run records.

``fingerprints.json`` beside the packs pins each id. ``tests/test_rules.py`` fails when a
rule's fingerprint differs from its pin: give the changed rule a new version (``/N+1``), keep
or drop the old one, then record the new id with::

    python -m newsclean.tasks.rules.fingerprint --add

which adds ids that are new and refuses to re-pin an id whose behaviour changed.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import inspect
import json
import sys
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

from newsclean.tasks.rules import PACKS, RULES_DIR, Rule, RulePack, pack

PINS = RULES_DIR / "fingerprints.json"


@cache
def code_tree(reference: str) -> str:
    """``module:qualname`` → its syntax tree without docstrings, as text."""
    module, _, qualname = reference.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    tree = ast.parse(textwrap.dedent(inspect.getsource(found)))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def _behaviour(rule: Rule) -> dict[str, Any]:
    return {
        "kind": rule.kind,
        "pattern": rule.pattern,
        "screen": rule.screen,
        "ignore_case": rule.ignore_case,
        "max_words": rule.max_words,
        "caption": rule.caption,
        "domains": list(rule.domains),
        "ends_with": rule.ends_with,
        "params": rule.params,
    }


def fingerprint(rule: Rule, rules_pack: RulePack) -> str:
    """The hash of what decides ``rule``'s behaviour (see the module doc)."""
    kind_code = rules_pack.settings.get("code", {}).get(rule.kind, [])
    code = [code_tree(ref) for ref in (*kind_code, *rule.code)]
    text = json.dumps({"rule": _behaviour(rule), "code": code}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def current() -> dict[str, str]:
    """The fingerprint of every rule (every version) of every shipped pack."""
    found = {}
    for name in PACKS:
        rules_pack = pack(name)
        for rule in rules_pack.rules:
            found[rule.id] = fingerprint(rule, rules_pack)
    return dict(sorted(found.items()))


def pinned(path: Path = PINS) -> dict[str, str]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def differences(now: dict[str, str], pins: dict[str, str]) -> tuple[list[str], list[str]]:
    """``(changed, new)``: ids whose behaviour differs from their pin, and ids never pinned."""
    changed = [rule_id for rule_id, value in now.items() if pins.get(rule_id, value) != value]
    new = [rule_id for rule_id in now if rule_id not in pins]
    return changed, new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check or extend the rule fingerprint pins.")
    parser.add_argument("--add", action="store_true", help="pin rule ids that are new")
    args = parser.parse_args(argv)
    now, pins = current(), pinned()
    changed, new = differences(now, pins)
    for rule_id in changed:
        print(f"changed without a new version: {rule_id} (give it /N+1)", file=sys.stderr)
    for rule_id in new:
        print(f"not pinned yet: {rule_id}", file=sys.stderr)
    if changed:
        return 1
    if args.add and new:
        pins.update({rule_id: now[rule_id] for rule_id in new})
        PINS.write_text(json.dumps(dict(sorted(pins.items())), indent=1) + "\n", encoding="utf-8")
        print(f"pinned {len(new)} new rule ids in {PINS}")
    return 1 if new and not args.add else 0


if __name__ == "__main__":
    raise SystemExit(main())
