"""The safe filter language of --filter: same rows as pandas, and no way out of it."""

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

from caslite._filter import MAX_DEPTH, MAX_LENGTH, FilterError, filter_mask
from caslite.cli import main


@pytest.fixture()
def table():
    rng = np.random.default_rng(4)
    n = 200
    premises = rng.choice(["House", "Apartment", "Commercial", None], n)
    return pd.DataFrame(
        {
            "premises": pd.Series(premises, dtype=object),
            "hour": rng.integers(0, 24, n),
            "value": np.where(rng.random(n) < 0.1, np.nan, rng.normal(1000, 300, n)),
            "premises type": rng.choice(["a b", "c"], n),
            "flag": rng.random(n) < 0.5,
            # the columns of the documented command-line filters: an offence, a local time
            # (as the command line gives it to --filter) and a coordinate
            "offence": rng.choice(["Burglary", "Theft"], n),
            "OFFENCE": rng.choice(["Break and Enter", "Theft"], n),
            "t": pd.Timestamp("2018-06-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
            "x": rng.normal(628_000, 500, n),
        }
    )


# (filter, the same rows built directly with pandas)
SAME_AS_PANDAS = [
    ("premises == 'House'", lambda d: d["premises"] == "House"),
    ("premises != 'House'", lambda d: d["premises"] != "House"),
    ("hour >= 6 and hour < 18", lambda d: (d["hour"] >= 6) & (d["hour"] < 18)),
    ("hour >= 6 & premises == 'House'", lambda d: (d["hour"] >= 6) & (d["premises"] == "House")),
    ("hour < 6 | hour > 20", lambda d: (d["hour"] < 6) | (d["hour"] > 20)),
    ("6 <= hour < 18", lambda d: (d["hour"] >= 6) & (d["hour"] < 18)),
    ("not (hour > 3)", lambda d: ~(d["hour"] > 3)),
    ("~(premises == 'House')", lambda d: ~(d["premises"] == "House")),
    ("premises in ['House', 'Apartment']", lambda d: d["premises"].isin(["House", "Apartment"])),
    ("premises not in ('House',)", lambda d: ~d["premises"].isin(["House"])),
    ("hour in [1, 2, 3]", lambda d: d["hour"].isin([1, 2, 3])),
    ("value > 1000.5", lambda d: d["value"] > 1000.5),
    ("value > -5", lambda d: d["value"] > -5),
    ("value.isna()", lambda d: d["value"].isna()),
    ("value.notna() and hour == 3", lambda d: d["value"].notna() & (d["hour"] == 3)),
    ("premises.isnull() or premises.notnull()", lambda d: d["premises"].notna() | True),
    ("premises.str.contains('ous')", lambda d: d["premises"].str.contains("ous", na=False)),
    (
        "premises.str.contains('HOUSE', case=False)",
        lambda d: d["premises"].str.contains("HOUSE", case=False, na=False),
    ),
    ("premises.str.startswith('Apa')", lambda d: d["premises"].str.startswith("Apa", na=False)),
    ("premises.str.endswith(('ial', 'se'))",
     lambda d: d["premises"].str.endswith(("ial", "se"), na=False)),
    ("`premises type` == 'a b'", lambda d: d["premises type"] == "a b"),
    ("flag", lambda d: d["flag"]),
    ("flag == True and hour > 2", lambda d: d["flag"] & (d["hour"] > 2)),
    ("premises == 'a & b' or premises == 'x | y'",
     lambda d: d["premises"].isin(["a & b", "x | y"])),
]  # fmt: skip


@pytest.mark.parametrize(("expression", "reference"), SAME_AS_PANDAS)
def test_filter_gives_the_rows_pandas_gives(table, expression, reference):
    expected = reference(table).fillna(False).to_numpy(dtype=bool)
    assert expected.any() or expression.startswith("premises == 'a")
    np.testing.assert_array_equal(filter_mask(table, expression), expected)


def test_the_filters_of_the_cli_help_work(table):
    # caslite summary --help shows --filter "premises == 'House'"; --help of --filter the rest.
    for expression, reference in [
        ("premises == 'House'", lambda d: d["premises"] == "House"),
        ("premises == 'House' and hour >= 6",
         lambda d: (d["premises"] == "House") & (d["hour"] >= 6)),
    ]:  # fmt: skip
        np.testing.assert_array_equal(filter_mask(table, expression), reference(table))


ESCAPES = [
    ("@events.select.__globals__['os'].system('touch {marker}') == 0", "'@'"),
    ("__import__('os').system('touch {marker}')", "a call of .system()"),
    ("__import__('os') == 1", "a call of __import__"),
    ("().__class__.__base__.__subclasses__()", "not allowed"),
    ("premises.__class__", "an attribute"),
    ("premises.str.__class__ == 1", "an attribute"),
    ("open('{marker}', 'w')", "a call of open"),
    ("(lambda: 1)() == 1", "not allowed"),
    ("[x for x in premises] == 1", "a comprehension"),
    ("(x := 1) == 1", "an assignment"),
    ("f'{{premises}}' == 'a'", "an f-string"),
    ("premises[0] == 'House'", "a subscript"),
    ("hour + 1 > 2", "arithmetic"),
    ("premises.str.contains('x').sum() > 0", "a call of .sum()"),
    ("premises.apply(print)", "a call of .apply()"),
    ("__builtins__ == 1", "the name '__builtins__'"),
    ("nope == 1", "'nope' is not a column"),
    ("hour == None", "use col.isna()"),
    ("premises if hour else hour", "an if-else"),
    ("`premises == 'House'", "never closed"),
    ("hour ==", "not a valid condition"),
    ("1 == 1", "not a condition on the columns"),
    ("hour", "not a condition on the columns"),
]


@pytest.mark.parametrize(("expression", "message"), ESCAPES)
def test_filter_refuses_everything_outside_the_language(table, tmp_path, expression, message):
    marker = tmp_path / "escaped"
    with pytest.raises(FilterError) as error:
        filter_mask(table, expression.format(marker=marker))
    text = str(error.value)
    assert message in text
    assert "not allowed" not in text or "allowed: comparisons" in text  # lists what is allowed
    assert not marker.exists()


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 5_000 + "hour > 1" + ")" * 5_000,
        " or ".join(["hour > 1"] * 1_000),
        "not " * (MAX_DEPTH + 5) + "flag",
        "~" * 500 + "flag",
    ],
)
def test_long_or_deep_filters_are_refused_at_once(table, expression):
    with pytest.raises(FilterError, match="characters long|nested too deeply|not a valid"):
        filter_mask(table, expression)


def test_a_long_shallow_filter_within_the_limits_works(table):
    expression = " or ".join(f"hour == {h}" for h in range(24))
    assert len(expression) < MAX_LENGTH
    assert filter_mask(table, "(((" + expression + ")))").all()


def test_type_mismatch_names_the_column(table):
    with pytest.raises(FilterError, match=r"cannot compare column 'hour' \(int64\) < 'a'"):
        filter_mask(table, "hour < 'a'")
    with pytest.raises(FilterError, match="str.contains needs a text column, but 'hour'"):
        filter_mask(table, "hour.str.contains('1')")


def test_cli_filter_shell_escape_never_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "x"
    escape = "@events.select.__globals__['os'].system('touch x') == 0"
    argv = ["summary", "--sample", "synthetic", "--filter", escape, "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("caslite summary: error: --filter")
    assert "'@'" in err and "allowed:" in err
    assert not marker.exists()


def _documented_filters() -> list:
    """The --filter examples of docs/cli.md and of the command-line help."""
    import re
    from pathlib import Path

    from caslite import cli

    texts = [cli._EXAMPLES["summary"], cli.__doc__ or ""]
    docs = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
    if docs.exists():
        texts.append(docs.read_text())
    found = [m for text in texts for m in re.findall(r'--filter\s+"([^"]+)"', text)]
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        main(["summary", "--help"])
    help_text = " ".join(shown.getvalue().split())  # argparse wraps the help over lines
    found += re.findall(r'e\.g\. "([^"]+)"', help_text)
    return sorted(set(found))


def test_every_documented_filter_gives_the_rows_pandas_query_gives(table):
    filters = _documented_filters()
    assert "premises == 'House'" in filters and len(filters) >= 2
    for expression in filters:
        # pandas' own query (python engine) on a trusted test table is the reference
        expected = table.eval(expression, engine="python").fillna(False).to_numpy(dtype=bool)
        np.testing.assert_array_equal(filter_mask(table, expression), expected, expression)


@pytest.mark.parametrize("text_dtype", ["object", "str", "string", "category"])
@pytest.mark.parametrize("number_dtype", ["Int64", "float64"])
def test_missing_values_of_any_dtype_behave_as_numpy_nan(text_dtype, number_dtype):
    table = pd.DataFrame(
        {
            "p": pd.Series(["House", None, "Flat", "House"], dtype=text_dtype),
            "n": pd.Series([1, None, 3, 7], dtype=number_dtype),
        }
    )
    plain = table.astype({"p": object, "n": "float64"})  # NaN / None: unequal to everything
    for expression, reference in [
        ("p == 'House'", plain["p"] == "House"),
        ("p != 'House'", plain["p"] != "House"),
        ("n > 1", plain["n"] > 1),
        ("n != 1", plain["n"] != 1),
        ("not n > 1", ~(plain["n"] > 1)),
        ("p in ['Flat'] or n.isna()", plain["p"].isin(["Flat"]) | plain["n"].isna()),
    ]:
        np.testing.assert_array_equal(
            filter_mask(table, expression), reference.to_numpy(dtype=bool), expression
        )
