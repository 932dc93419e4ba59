"""Sphinx configuration of the caslite documentation (builds offline)."""

from __future__ import annotations

import contextlib
import io
import os

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

import caslite
import caslite.cli
import caslite.features

project = "caslite"
author = "caslite developers"
copyright = "caslite developers"
release = caslite.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "myst_nb",  # MyST Markdown pages and the notebooks (myst_nb loads myst_parser itself)
]
# No sphinx.ext.intersphinx: the build must not need the network.

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
# docs/notebooks is a link to the repository's notebooks/ folder: the site renders them from there.
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
myst_heading_anchors = 3

# The notebooks are rendered with the outputs stored in them, never executed by the build
# (that would take many minutes): `python docs/execute_notebooks.py` runs them and stores the
# outputs. A notebook stored without outputs is rendered as code and text only.
nb_execution_mode = "off"
nb_merge_streams = True  # one block per cell for what its print() calls wrote

autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    # scikit-learn's metadata-routing setters, generated on every estimator subclass
    "exclude-members": "set_fit_request,set_predict_request,set_score_request",
}
autodoc_typehints = "none"  # the numpydoc parameter lists give the types
autosummary_generate = False  # numpydoc loads autosummary; nothing is generated into docs/
numpydoc_show_class_members = False  # members are documented by autodoc's :members:
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"caslite {release}"
html_theme_options = {
    "description": "Burglary risk per grid cell and police shift",
    "page_width": "1100px",
}


class CasliteHelp(SphinxDirective):
    """Insert the ``--help`` text of a ``caslite`` command, as the installed CLI prints it.

    ``.. caslite-help:: forecast`` (or no argument for ``caslite --help``).
    """

    optional_arguments = 1

    def run(self):
        """Run ``caslite ... --help`` and return its output as a literal block."""
        argv = [*self.arguments, "--help"]
        out = io.StringIO()
        previous = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal width
        try:
            with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
                caslite.cli.main(argv)
        finally:
            if previous is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = previous
        text = out.getvalue().rstrip()
        if not text:
            raise self.error(f"`caslite {' '.join(argv)}` printed nothing.")
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


class FeaturesTable(SphinxDirective):
    """Insert the table of features from the docstring of :mod:`caslite.features`.

    The table is the reStructuredText "simple table" of the module docstring (three rule
    lines of ``=``), so the documentation shows the features the code documents.
    """

    def run(self):
        """Parse the table of the module docstring and return its nodes."""
        lines = (caslite.features.__doc__ or "").splitlines()
        rules = [i for i, line in enumerate(lines) if line.startswith("====")]
        if len(rules) < 3:
            raise self.error("no table of features found in caslite.features.__doc__.")
        table = lines[rules[0] : rules[2] + 1]
        container = nodes.container()
        source = "caslite.features.__doc__"
        content = StringList(table, items=[(source, i) for i in range(rules[0], rules[2] + 1)])
        nested_parse_with_titles(self.state, content, container)
        return container.children


def setup(app):
    """Register the ``caslite-help`` and ``caslite-features-table`` directives."""
    app.add_directive("caslite-help", CasliteHelp)
    app.add_directive("caslite-features-table", FeaturesTable)
    return {"parallel_read_safe": True}
