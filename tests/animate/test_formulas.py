"""What the page says a node computes: a formula forward and backward for every built-in node type, with the
node's own inputs, and the code the engine runs."""

import inspect
import textwrap

from graphnet import registered_nodes
from graphnet.animate import formulas


def test_every_built_in_node_type_has_its_formulas():
    for name, node in registered_nodes().items():
        if type(node).__module__ != "graphnet.engine.nodes" or name in ("input", "parameter", "constant"):
            continue
        assert formulas.forward("y", name, ["a", "b"]) != f"y = {name}(a, b)", name  # not the fallback
        assert "∂L/∂" in formulas.backward("y", name, ["a", "b"]), name


def test_a_formula_names_the_nodes_inputs_in_their_order():
    assert formulas.forward("h_synapse_h[3]", "matmul", ["h[2]", "synapse_h"]) == "h_synapse_h[3] = h[2] @ synapse_h"
    assert formulas.backward("h_synapse_h[3]", "matmul", ["h[2]", "synapse_h"]) == (
        "∂L/∂h[2] = ∂L/∂h_synapse_h[3] @ synapse_hᵀ;   ∂L/∂synapse_h = h[2]ᵀ @ ∂L/∂h_synapse_h[3]")


def test_the_code_shown_is_the_node_types_own(node_type):
    from graphnet import Node

    @node_type("double")
    class Double(Node):
        """2x, elementwise."""

        def forward(self, ctx, x):
            return 2 * x

        def backward(self, ctx, grad):
            return (2 * grad,)

    code = formulas.code("double")
    assert code["description"] == "2x, elementwise." and "return 2 * x" in code["forward"]
    assert code["backward"] == textwrap.dedent(inspect.getsource(Double.backward))
    assert formulas.forward("y", "double", ["x"]) == "y = double(x)"  # a plugin's: named, not made up
    assert formulas.code("lstm") == {}  # a folded cell is no node type
