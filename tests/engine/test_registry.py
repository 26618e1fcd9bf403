"""Registries: classes by name, each kept as one instance, described by their docstring's first line."""

import pytest

from graphnet import Node, get_node, register_node
from graphnet.engine.registry import Registry
from graphnet.errors import GraphError, GraphnetError


def test_a_class_is_described_by_its_docstrings_first_line_as_words():
    shapes = Registry("shape", GraphnetError)

    @shapes.register("disc")
    class Disc:
        """A :class:`Circle` filled with ``fill``, `edge` drawn.

        More that the description leaves out.
        """

    @shapes.register("dot")
    class Dot:
        """Ignored: a description of its own wins."""

        description = "The smallest disc."

    assert shapes.get("disc").description == "A Circle filled with fill, edge drawn."
    assert shapes.get("dot").description == "The smallest disc."
    assert shapes.all() == {"disc": shapes.get("disc"), "dot": shapes.get("dot")}
    assert shapes.register("dot")(Dot) is Dot  # the same class again (a plugin loaded twice): nothing changes
    with pytest.raises(GraphnetError) as unknown:
        shapes.get("square")
    assert str(unknown.value) == "unknown shape 'square'; known shapes: disc, dot"
    shapes.unregister("dot")
    shapes.unregister("never registered")  # ignored
    assert list(shapes.all()) == ["disc"]


def test_a_name_taken_is_refused_naming_the_module_that_took_it():
    with pytest.raises(GraphError, match=r"^node type 'sigmoid' is already registered by graphnet\.engine\.nodes$"):
        @register_node("sigmoid")
        class Mine(Node):
            """Another sigmoid."""
    assert type(get_node("sigmoid")).__module__ == "graphnet.engine.nodes"


@pytest.mark.parametrize("cls, wrong", [
    (type("NotANode", (), {}), "expected a subclass of graphnet.Node"),
    (len, "expected a subclass of graphnet.Node"),
    (type("Guess", (Node,), {"stacking": "elementwise"}), "stacking = 'elementwise'; expected None or Stacking() "
                                                          "(Stacking(shared=(1,)) for an input that every member "
                                                          "shares)"),
])
def test_what_is_wrong_with_a_node_type_is_said_when_it_is_registered(cls, wrong):
    with pytest.raises(GraphError) as refused:
        register_node("test_wrong")(cls)
    assert str(refused.value) == f"node type 'test_wrong' ({cls.__module__}): {wrong}"
    with pytest.raises(GraphError, match="unknown node type 'test_wrong'"):
        get_node("test_wrong")
