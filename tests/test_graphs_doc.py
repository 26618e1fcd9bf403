"""docs/graphs.md: graphs that are not the RNN (micrograd's expression, a neuron, an XOR network) run as written."""

import doctest
import re

from conftest import ROOT

PAGE = ROOT / "docs" / "graphs.md"


def test_the_page_runs_as_written_and_draws_its_pictures(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the page writes its pictures where it runs: here, not over docs/
    result = doctest.testfile(str(PAGE), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 40 and result.failed == 0
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", PAGE.read_text())
    assert shown == ["graphs-micrograd.svg", "graphs-neuron.svg", "graphs-xor.svg"]
    for name in shown:
        assert (ROOT / "docs" / name).is_file()  # the copy the page shows, made by the same lines
        assert "<svg" in (tmp_path / name).read_text()
