"""Lay a workflow run's DAG out for an SVG: columns by depth (longest path from a root), rows in order."""

from __future__ import annotations

from dataclasses import dataclass

from aqueue.workflows import NodeStatus

NODE_W = 170
NODE_H = 38
GAP_X = 56
GAP_Y = 14
MARGIN = 8
#: Larger runs are shown as the table only (an SVG of thousands of boxes helps nobody).
MAX_DRAWN = 400


@dataclass(frozen=True, slots=True)
class Box:
    """A node placed on the drawing."""

    node: NodeStatus
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class Edge:
    """A line from a parent's right side to a child's left side."""

    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True, slots=True)
class Layout:
    """The boxes, the edges and the drawing's size."""

    boxes: list[Box]
    edges: list[Edge]
    width: int
    height: int


def _depths(nodes: tuple[NodeStatus, ...]) -> dict[int, int]:
    """Return each node's column: 0 for roots, else one more than its deepest parent."""
    parents = {n.id: [p for p in n.parents if p != n.id] for n in nodes}
    depth: dict[int, int] = {}
    for _ in range(len(nodes)):  # relax until stable (a DAG settles within len(nodes) passes)
        changed = False
        for node_id, ps in parents.items():
            value = 1 + max((depth.get(p, 0) for p in ps if p in parents), default=-1)
            if depth.get(node_id) != value:
                depth[node_id], changed = value, True
        if not changed:
            break
    return depth


def layout(nodes: tuple[NodeStatus, ...]) -> Layout | None:
    """Return where to draw each node and edge, or None when the run is too large to draw."""
    if not nodes or len(nodes) > MAX_DRAWN:
        return None
    depth = _depths(nodes)
    rows: dict[int, int] = {}
    place: dict[int, tuple[int, int]] = {}
    for node in nodes:
        column = depth[node.id]
        row = rows.get(column, 0)
        rows[column] = row + 1
        place[node.id] = (MARGIN + column * (NODE_W + GAP_X), MARGIN + row * (NODE_H + GAP_Y))
    boxes = [Box(n, *place[n.id]) for n in nodes]
    edges = [
        Edge(place[p][0] + NODE_W, place[p][1] + NODE_H // 2, place[n.id][0], place[n.id][1] + NODE_H // 2)
        for n in nodes
        for p in n.parents
        if p in place
    ]
    width = MARGIN * 2 + (max(depth.values()) + 1) * (NODE_W + GAP_X) - GAP_X
    height = MARGIN * 2 + max(rows.values()) * (NODE_H + GAP_Y) - GAP_Y
    return Layout(boxes, edges, width, height)
