"""A small, safe filter language for incident tables (private).

A filter is a condition on the columns of a table, written like a pandas query:
``"premises == 'House' and hour >= 6"``. It is parsed with :mod:`ast` and evaluated by the
walker below on the table's columns; nothing of it is ever run as Python code (no ``eval``,
``DataFrame.eval`` or ``DataFrame.query``), so a filter can only read columns.

The language
------------
- comparisons ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` between columns and literals,
  chained ones too (``0 <= hour < 6``);
- ``col in [...]`` and ``col not in (...)`` with a list or tuple of literals;
- ``and``, ``or``, ``not`` and their pandas spellings ``&``, ``|``, ``~`` (which, as in
  :meth:`pandas.DataFrame.query`, bind like ``and`` / ``or``: ``a == 1 & b == 2`` is
  ``(a == 1) and (b == 2)``); parentheses;
- literals: numbers (with a leading ``-``), strings, ``True``, ``False``;
- column names, and any column name in backticks (```premises type` == 'House'``);
- the tests ``col.isna()``, ``col.notna()`` (also ``isnull`` / ``notnull``),
  ``col.str.contains(pattern, case=True, regex=True)``, ``col.str.startswith(prefix)`` and
  ``col.str.endswith(suffix)`` (prefix / suffix: a string or a tuple of strings), with the
  defaults of pandas; a missing value never matches a string test.

A missing value compares unequal to everything (as in pandas); test for it with ``isna()``.
"""

from __future__ import annotations

import ast
import numbers
import operator

import numpy as np
import pandas as pd

__all__ = ["FilterError", "column_names", "filter_mask"]

#: Longest filter accepted, in characters.
MAX_LENGTH = 2_000
#: Deepest nesting of the parsed filter accepted.
MAX_DEPTH = 40

ALLOWED = (
    "comparisons (==, !=, <, <=, >, >=, chained ones too), 'in' / 'not in' with a list or "
    "tuple of literals, and / or / not (or &, |, ~), parentheses, numbers, strings, True, "
    "False, column names (in backticks if they have spaces), and the tests col.isna(), "
    "col.notna(), col.str.contains('text'), col.str.startswith('text'), "
    "col.str.endswith('text'); e.g. \"premises == 'House' and hour >= 6\""
)

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_SYMBOL = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_MISSING_TESTS = {"isna": "isna", "isnull": "isna", "notna": "notna", "notnull": "notna"}
_STRING_TESTS = {
    "contains": {"case", "regex"},
    "startswith": set(),
    "endswith": set(),
}


class FilterError(ValueError):
    """A filter that is not a condition of the filter language, or names no column."""


def filter_mask(frame: pd.DataFrame, expression: str, what: str = "filter") -> np.ndarray:
    """Return the rows of ``frame`` where ``expression`` is true, as a boolean array.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table whose columns the filter reads.
    expression : str
        The condition, in the language described in the module's documentation.
    what : str, default "filter"
        How the filter is named in error messages (e.g. ``"--filter"``).

    Returns
    -------
    ndarray of bool
        One value per row; rows where the condition is missing (NaN) are False.

    Raises
    ------
    FilterError
        If the expression is not in the language (naming the part that is not, and listing
        what is allowed), names a column that the table does not have, or is not a condition.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"premises": ["House", "Apartment", None], "hour": [3, 14, 9]})
    >>> filter_mask(table, "premises == 'House' or hour > 10")
    array([ True,  True, False])
    >>> filter_mask(table, "premises.str.startswith('Apa') | premises.isna()")
    array([False,  True,  True])
    >>> filter_mask(table, "__import__('os')")
    Traceback (most recent call last):
    ...
    caslite._filter.FilterError: filter "__import__('os')": a call of __import__ is not allowed ...
    """
    if not isinstance(expression, str):
        raise FilterError(f"{what} must be a string, got {type(expression).__name__}.")
    if len(expression) > MAX_LENGTH:
        raise FilterError(
            f"{what} is {len(expression):,} characters long; at most {MAX_LENGTH:,} are "
            "accepted. Shorten it (e.g. 'col in [...]' instead of many 'or's)."
        )
    names, source = _rewrite(expression, what)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise FilterError(
            f"{what} {expression!r} is not a valid condition ({exc.msg}); allowed: {ALLOWED}."
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise FilterError(f"{what} is nested too deeply; at most {MAX_DEPTH} levels.") from None
    _check_depth(tree.body, what)
    walker = _Walker(frame, names, expression, what)
    result = walker.value(tree.body)
    if not isinstance(result, pd.Series) or not pd.api.types.is_bool_dtype(result.dtype):
        raise FilterError(
            f"{what} {expression!r} is not a condition on the columns (true or false per "
            f"row), such as \"premises == 'House'\"; columns: {list(frame.columns)}."
        )
    return result.fillna(False).to_numpy(dtype=bool)


def column_names(expression: str) -> set:
    """Return the names a filter reads as columns (empty if it is not a valid filter).

    Examples
    --------
    >>> sorted(column_names("offence == 'Theft' and `start time` >= '2019-01-01'"))
    ['offence', 'start time']
    """
    try:
        names, source = _rewrite(expression, "filter")
        tree = ast.parse(source.strip(), mode="eval")
    except (FilterError, SyntaxError, RecursionError, MemoryError, ValueError):
        return set()
    return {names.get(node.id, node.id) for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _rewrite(expression: str, what: str) -> tuple[dict, str]:
    """Replace backticked names by placeholders and ``&`` / ``|`` by ``and`` / ``or``.

    Returns the placeholders (name -> column) and the rewritten source. Strings are left as
    they are.
    """
    names: dict = {}
    out = []
    i, n = 0, len(expression)
    while i < n:
        char = expression[i]
        if char in "'\"":
            j = i + 1
            while j < n and expression[j] != char:
                j += 2 if expression[j] == "\\" else 1
            out.append(expression[i : j + 1])
            i = j + 1
        elif char == "`":
            j = expression.find("`", i + 1)
            if j < 0:
                raise FilterError(
                    f"{what} {expression!r} opens a backtick at character {i + 1} that is "
                    "never closed; write column names with spaces as `my column`."
                )
            placeholder = f"BACKTICK{len(names)}x"
            names[placeholder] = expression[i + 1 : j]
            out.append(placeholder)
            i = j + 1
        elif char == "@":
            raise FilterError(
                f"{what} {expression!r}: '@' (a variable of the program, in pandas' query) is "
                f"not allowed in a filter; allowed: {ALLOWED}."
            )
        elif char in "&|":
            out.append(" and " if char == "&" else " or ")
            i += 1
        else:
            out.append(char)
            i += 1
    return names, "".join(out)


def _check_depth(node, what: str) -> None:
    stack = [(node, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FilterError(f"{what} is nested too deeply; at most {MAX_DEPTH} levels.")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(item))


class _Walker:
    """Evaluate a parsed filter on the columns of a table."""

    def __init__(self, frame, names, expression, what):
        self.frame = frame
        self.names = names
        self.expression = expression
        self.what = what

    def refuse(self, node, why: str):
        part = ast.get_source_segment(self._source(), node) if hasattr(node, "lineno") else None
        shown = f" (in {part!r})" if part else ""
        raise FilterError(
            f"{self.what} {self.expression!r}: {why} is not allowed in a filter{shown}; "
            f"allowed: {ALLOWED}."
        )

    def _source(self) -> str:
        return _rewrite(self.expression, self.what)[1].strip()

    # ------------------------------------------------------------------ values
    def value(self, node):
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(v) for v in node.values]
            combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            result = parts[0]
            for part in parts[1:]:
                result = combine(result, part)
            return result
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, (ast.Not, ast.Invert)):
                operand = self.condition(node.operand)
                return (not operand) if isinstance(operand, (bool, np.bool_)) else ~operand
            if isinstance(node.op, (ast.USub, ast.UAdd)) and _is_number(node.operand):
                value = node.operand.value
                return -value if isinstance(node.op, ast.USub) else value
            self.refuse(node, "this sign")
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Name):
            return self.column(node)
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, (bool, str)) or _is_number(node):
                return node.value
            self.refuse(node, f"the literal {node.value!r}")
        self.refuse(node, _describe(node))

    def condition(self, node):
        result = self.value(node)
        if isinstance(result, (bool, np.bool_)):
            return result
        if isinstance(result, pd.Series) and pd.api.types.is_bool_dtype(result.dtype):
            return result.fillna(False).astype(bool)  # a missing flag is not true
        self.refuse(node, "a value that is not a condition (true or false per row)")

    def column(self, node):
        name = self.names.get(node.id, node.id)
        if name.startswith("__"):
            self.refuse(node, f"the name {name!r}")
        if name not in self.frame.columns:
            raise FilterError(
                f"{self.what} {self.expression!r}: {name!r} is not a column; the columns are "
                f"{list(self.frame.columns)} (write names with spaces in backticks: `my col`)."
            )
        return self.frame[name]

    def literals(self, node) -> list:
        if not isinstance(node, (ast.List, ast.Tuple)):
            self.refuse(node, "'in' with something other than a list or tuple of literals")
        values = [self.value(element) for element in node.elts]
        if any(isinstance(v, pd.Series) for v in values):
            self.refuse(node, "a column inside an 'in' list")
        return values

    def compare(self, node):
        left = self.value(node.left)
        result = None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            symbol = _SYMBOL.get(type(op))
            if symbol is None:
                self.refuse(node, f"the comparison {type(op).__name__}")
            if isinstance(op, (ast.In, ast.NotIn)):
                values = self.literals(right_node)
                if not isinstance(left, pd.Series):
                    self.refuse(node, "'in' on something other than a column")
                part = left.isin(values)
                right = None
                if isinstance(op, ast.NotIn):
                    part = ~part
            else:
                right = self.value(right_node)
                if right is None or left is None:
                    self.refuse(node, "a comparison with None (use col.isna() / col.notna())")
                for side, side_node in ((left, node.left), (right, right_node)):
                    if isinstance(side, pd.Series) and pd.api.types.is_bool_dtype(side.dtype):
                        if not isinstance(side_node, ast.Name):
                            self.refuse(node, "a comparison of a condition")
                try:
                    part = _COMPARE[type(op)](left, right)
                except TypeError as exc:
                    raise FilterError(
                        f"{self.what} {self.expression!r}: cannot compare "
                        f"{_kind(left)} {symbol} {_kind(right)} ({exc}); compare a column with "
                        "a value of its own type (numbers unquoted, text in quotes)."
                    ) from None
                if isinstance(part, pd.Series):  # NA of nullable dtypes: as NaN in numpy
                    part = part.fillna(isinstance(op, ast.NotEq)).astype(bool)
            result = part if result is None else result & part
            left = right
        return result

    def call(self, node):
        func = node.func
        if not isinstance(func, ast.Attribute):
            name = func.id if isinstance(func, ast.Name) else _describe(func)
            self.refuse(node, f"a call of {name}")
        method = func.attr
        target = func.value
        if method in _MISSING_TESTS and isinstance(target, ast.Name):
            if node.args or node.keywords:
                self.refuse(node, f"arguments to {method}()")
            series = self.column(target)
            return series.isna() if _MISSING_TESTS[method] == "isna" else series.notna()
        if (
            method in _STRING_TESTS
            and isinstance(target, ast.Attribute)
            and target.attr == "str"
            and isinstance(target.value, ast.Name)
        ):
            series = self.column(target.value)
            if len(node.args) != 1:
                self.refuse(node, f"str.{method} without exactly one pattern")
            pattern = node.args[0]
            if isinstance(pattern, ast.Tuple) and method != "contains":
                values = self.literals(pattern)
            else:
                values = self.value(pattern)
            texts = values if isinstance(values, list) else [values]
            if not texts or not all(isinstance(v, str) for v in texts):
                self.refuse(node, f"str.{method} with a pattern that is not text")
            options = {}
            for keyword in node.keywords:
                if keyword.arg not in _STRING_TESTS[method]:
                    self.refuse(node, f"the option {keyword.arg}= of str.{method}")
                option = self.value(keyword.value)
                if not isinstance(option, bool):
                    self.refuse(node, f"{keyword.arg}= that is not True or False")
                options[keyword.arg] = option
            text = series.astype("object").where(series.notna(), None)
            is_text = text.map(lambda v: isinstance(v, str))
            if not is_text[series.notna()].all():
                raise FilterError(
                    f"{self.what} {self.expression!r}: str.{method} needs a text column, but "
                    f"{series.name!r} holds {series.dtype} values; compare it instead "
                    "(==, <, in [...])."
                )
            if method == "contains":
                found = text.str.contains(texts[0], na=False, **options)
            else:
                argument = tuple(texts) if isinstance(values, list) else texts[0]
                found = getattr(text.str, method)(argument, na=False)
            return found.astype(bool)
        self.refuse(node, f"a call of .{method}()")


def _is_number(node) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, numbers.Real)
        and not isinstance(node.value, bool)
    )


def _kind(value) -> str:
    if isinstance(value, pd.Series):
        return f"column {value.name!r} ({value.dtype})"
    return repr(value)


def _describe(node) -> str:
    kinds = {
        ast.Attribute: "an attribute",
        ast.Subscript: "a subscript",
        ast.Lambda: "a lambda",
        ast.ListComp: "a comprehension",
        ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.GeneratorExp: "a generator",
        ast.NamedExpr: "an assignment (:=)",
        ast.JoinedStr: "an f-string",
        ast.BinOp: "arithmetic",
        ast.IfExp: "an if-else",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.List: "a list outside 'in'",
        ast.Tuple: "a tuple outside 'in'",
        ast.Starred: "a starred expression",
        ast.Await: "await",
        ast.Yield: "yield",
        ast.YieldFrom: "yield",
    }
    return kinds.get(type(node), type(node).__name__)
