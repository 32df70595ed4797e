"""The configuration reference, generated from the pydantic models so it cannot fall behind the code.

``python -m servicelens.configdoc --write README.md`` refreshes the block between the reference markers;
a test fails when the README's block differs from what the models say.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from servicelens.config import ServicelensConfig

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _type_name(annotation: Any) -> str:
    if annotation is None or annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(repr(a).replace("'", '"') for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        key, value = typing.get_args(annotation) or (Any, Any)
        return f"map {_type_name(key)} → {_type_name(value)}"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default(info: FieldInfo) -> str:
    if info.default is not PydanticUndefined:
        value = info.default
    elif info.default_factory is not None:
        try:
            value = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    else:
        return "**required**"
    if isinstance(value, BaseModel):
        return "(section)"
    if value is None:
        return ""
    if isinstance(value, list | dict) and len(value) > 3:
        return f"({len(value)} entries)"
    text = repr(value.value if hasattr(value, "value") and not isinstance(value, bool | int) else value)
    return f"`{text}`".replace("|", "\\|")


def _kind_label(model: type[BaseModel]) -> str:
    kind = model.model_fields.get("kind")
    if kind is not None and typing.get_origin(kind.annotation) is typing.Literal:
        return f"kind={typing.get_args(kind.annotation)[0]}"
    return model.__name__


def _rows(
    model: type[BaseModel],
    prefix: str,
    seen: set[tuple[type[BaseModel], str]],
    skip: frozenset[str] = frozenset(),
) -> Iterator[str]:
    if (model, prefix) in seen:
        return
    seen.add((model, prefix))
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        path = f"{prefix}.{name}" if prefix else name
        nested = _models_in(info.annotation)
        description = (info.description or "").replace("|", "\\|").replace("\n", " ")
        type_name = "one of the kinds below" if len(nested) > 1 else _type_name(info.annotation)
        yield f"| `{path}` | {type_name} | {_default(info)} | {description} |"
        sub_prefix = f"{path}[]" if "list of" in _type_name(info.annotation) else path
        if len(nested) == 1:
            yield from _rows(nested[0], sub_prefix, seen)
        elif nested:
            # A tagged union: the fields every kind shares once, then what each kind adds.
            common = frozenset.intersection(*(frozenset(m.model_fields) for m in nested)) - {"kind"}
            yield from _rows(nested[0], sub_prefix, seen, skip=frozenset(nested[0].model_fields) - common)
            for sub in nested:
                yield from _rows(sub, f"{sub_prefix}({_kind_label(sub)})", seen, skip=common)


def reference() -> str:
    lines = ["| setting | type | default | meaning |", "|---|---|---|---|"]
    lines.extend(_rows(ServicelensConfig, "", set()))
    return "\n".join(lines)


def refresh(readme: Path) -> bool:
    """Rewrite the reference block; returns True when the file changed."""
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    new = f"{head}{START}\n{reference()}\n{END}{tail}"
    if new != text:
        readme.write_text(new, encoding="utf-8")
        return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description="Print or refresh the configuration reference.")
    parser.add_argument("--write", type=Path, help="README to refresh in place")
    args = parser.parse_args()
    if args.write:
        print("updated" if refresh(args.write) else "up to date")
    else:
        print(reference())


if __name__ == "__main__":
    main()
