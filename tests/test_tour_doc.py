"""docs/tour.md: every example of the tour runs and prints what the page says."""

import doctest

from conftest import ROOT


def test_the_tour_runs_as_written(monkeypatch):
    monkeypatch.chdir(ROOT)  # the tour loads tasks/... from the project's top folder
    result = doctest.testfile(str(ROOT / "docs" / "tour.md"), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 30 and result.failed == 0
