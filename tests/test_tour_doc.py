"""docs/tour.md: every example of the tour runs and prints what the page says."""

import doctest

from conftest import ROOT


def test_the_tour_runs_as_written(monkeypatch):
    monkeypatch.chdir(ROOT)  # the tour loads tasks/... from the project's top folder
    result = doctest.testfile(str(ROOT / "docs" / "tour.md"), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 30 and result.failed == 0


def test_the_interpreter_the_tour_quotes_is_the_engines_own_code():
    import re

    tour = (ROOT / "docs" / "tour.md").read_text()
    section = tour[tour.index("### What ran: the interpreter"):tour.index("## 3.")]
    quoted = re.findall(r"```\n(.*?)```", section, re.S)
    assert len(quoted) == 2  # the forward loop and the reverse loop
    engine = [line.strip() for line in (ROOT / "graphnet" / "engine" / "program.py").read_text().splitlines()]
    for block in quoted:
        lines = [line.strip() for line in block.strip().splitlines()]
        assert any(engine[i:i + len(lines)] == lines for i in range(len(engine))), block
