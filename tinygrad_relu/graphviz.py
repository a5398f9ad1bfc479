"""See the autograd graph: Graphviz DOT text and a plain-text tree (micrograd's draw_dot, without graphviz).

Every tensor made by an op remembers that op in ``_ctx``, and the op remembers its input
tensors in ``parents``: that chain *is* the graph ``Tensor.backward`` walks. Each node
here shows the op that made the tensor, its shape and, once backward has run, the norm
of its gradient.

``Tensor.backward`` frees the graph (``_ctx = None``) unless ``retain_graph=True``, and
keeps ``.grad`` only on leaves. So capture the graph first, then run backward::

    g = trace(loss, names={"x": x, "w": w})   # records the graph, asks for inner grads
    loss.backward()
    print(g.to_text())                        # op, shape, |grad| of every node
    open("graph.dot", "w").write(g.to_dot())  # dot -Tpng graph.dot -o graph.png

Traced after backward, a node with no gradient to show says why: the graph was freed (trace
before backward, or backward(retain_graph=True)), or an inner tensor did not keep its
gradient (trace before backward, or ``t.retain_grad()``). Leaves always show theirs.

In Jupyter a Graph shows itself: as an SVG drawing when Graphviz's ``dot`` program is on the
PATH (``apt install graphviz``, ``brew install graphviz``), as the text tree otherwise.
"""
import shutil
import subprocess

import numpy as np

from .tensor import Tensor

# What a node shows instead of |grad| when it has none, and why (true whenever it is shown).
LEAF_NO_GRAD = "|grad|=none (no backward has reached it)"
INNER_NO_GRAD = "|grad|=none (an inner tensor keeps it only from a backward run after trace)"
GRAPH_FREED = "graph freed by backward() (trace before backward, or backward(retain_graph=True))"

__all__ = ["trace", "Graph", "to_dot", "to_text"]


class Graph:
    """A snapshot of the graph below `root`: nodes in topological order (inputs first)."""

    def __init__(self, root, names=None):
        if not isinstance(root, Tensor):
            raise TypeError(f"graphviz.trace: expected a Tensor, got {type(root).__name__}")
        self.root = root
        self.names = {id(t): name for name, t in (names or {}).items()}
        self.nodes = []   # Tensors, every input before its consumers
        self.ops = {}     # id(tensor) -> the Function that made it
        self.inputs = {}  # id(tensor) -> its input tensors, in argument order
        self._collect()

    def _collect(self):
        seen = set()
        stack = [(self.root, False)]
        while stack:  # iterative depth-first search: deep graphs do not hit the recursion limit
            tensor, expanded = stack.pop()
            if expanded:
                self.nodes.append(tensor)
                continue
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            stack.append((tensor, True))
            ctx = tensor._ctx
            if ctx is not None:
                self.ops[id(tensor)] = ctx
                self.inputs[id(tensor)] = list(ctx.parents)
                for parent in reversed(ctx.parents):
                    if id(parent) not in seen:
                        stack.append((parent, False))

    def retain_grads(self):
        """Ask every inner tensor to keep its gradient, so the view can show it after backward."""
        for tensor in self.nodes:
            if id(tensor) in self.ops and tensor.requires_grad:
                tensor.retain_grad()
        return self

    # ---- labels ---------------------------------------------------------------------
    def op_name(self, tensor):
        ctx = self.ops.get(id(tensor))
        if ctx is not None:
            return type(ctx).__name__
        if self.freed(tensor):
            return "freed"
        return "leaf" if tensor.requires_grad else "const"

    @staticmethod
    def freed(tensor):
        """True for a tensor that an op made but whose graph backward() has since released."""
        return tensor._ctx is None and getattr(tensor, "_graph_freed", False)

    def label(self, tensor):
        """'name op shape=(..) [value] |grad|=..', the facts a node shows."""
        parts = []
        name = self.names.get(id(tensor))
        if name:
            parts.append(name)
        parts.append(self.op_name(tensor))
        parts.append(f"shape={tuple(tensor.shape)}")
        if tensor.size == 1:
            parts.append(f"value={tensor.data.item():.4g}")
        if tensor.grad is not None:
            parts.append(f"|grad|={float(np.linalg.norm(np.asarray(tensor.grad, dtype=np.float64))):.4g}")
        elif self.freed(tensor):
            parts.append(GRAPH_FREED)
        elif tensor.requires_grad:
            parts.append(INNER_NO_GRAD if id(tensor) in self.ops else LEAF_NO_GRAD)
        return " ".join(parts)

    # ---- views ----------------------------------------------------------------------
    def to_text(self):
        """The graph as an indented tree, output at the top; a shared input is expanded once."""
        lines, shown = [], set()
        stack = [(self.root, "", "", True)]
        while stack:
            tensor, prefix, branch, is_last = stack.pop()
            repeat = id(tensor) in shown
            lines.append(prefix + branch + self.label(tensor) + ("  (shared, shown above)" if repeat else ""))
            if repeat:
                continue
            shown.add(id(tensor))
            children = self.inputs.get(id(tensor), [])
            child_prefix = prefix + ("" if not branch else ("    " if is_last else "│   "))
            for i in reversed(range(len(children))):
                last = i == len(children) - 1
                stack.append((children[i], child_prefix, "└── " if last else "├── ", last))
        return "\n".join(lines)

    def _escape(self, text):
        return text.replace("\\", "\\\\").replace('"', r"\"")

    def to_dot(self, rankdir="LR"):
        """Graphviz DOT source: tensors are boxes, ops are ellipses between them."""
        out = ["digraph autograd {", f"  rankdir={rankdir};", '  node [fontname="monospace"];']
        number = {id(t): i for i, t in enumerate(self.nodes)}  # short, stable node ids
        for tensor in self.nodes:
            tid = f"t{number[id(tensor)]}"
            label = self._escape(self.label(tensor))
            colour = ', style=filled, fillcolor="#ffe9b3"' if tensor is self.root else ""
            out.append(f'  {tid} [shape=box, label="{label}"{colour}];')
            if id(tensor) in self.ops:
                oid = f"op{number[id(tensor)]}"
                out.append(f'  {oid} [shape=ellipse, label="{self._escape(self.op_name(tensor))}"];')
                out.append(f"  {oid} -> {tid};")
                for parent in self.inputs[id(tensor)]:
                    out.append(f"  t{number[id(parent)]} -> {oid};")
        out.append("}")
        return "\n".join(out)

    def __str__(self):
        return self.to_text()

    def to_svg(self, timeout=30):
        """The graph drawn by Graphviz's ``dot`` as SVG text, or None when ``dot`` is not installed or fails."""
        dot = shutil.which("dot")
        if dot is None:
            return None
        try:
            result = subprocess.run([dot, "-Tsvg"], input=self.to_dot(), capture_output=True, text=True,
                                    timeout=timeout, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout if result.returncode == 0 and "<svg" in result.stdout else None

    # Jupyter: the SVG drawing when dot is there (None makes it fall back), the text tree otherwise
    def _repr_svg_(self):
        return self.to_svg()

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.to_text())


def trace(root, names=None, retain_grads=True):
    """Capture the graph below `root` *before* backward frees it.

    `names` maps display names to tensors ({"x": x}). With `retain_grads` (default) every
    inner tensor keeps its gradient, so after ``root.backward()`` each node shows |grad|.
    """
    graph = Graph(root, names)
    return graph.retain_grads() if retain_grads else graph


def to_text(root, names=None):
    """Plain-text tree of the graph as it is now (before backward, or after retain_graph=True)."""
    return Graph(root, names).to_text()


def to_dot(root, names=None, rankdir="LR"):
    """Graphviz DOT text of the graph as it is now."""
    return Graph(root, names).to_dot(rankdir=rankdir)
