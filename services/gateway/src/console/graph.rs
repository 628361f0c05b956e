//! A flow's graph laid out for SVG: nodes left to right by depth (the longest path from a trigger), one row per
//! node within a depth, edges as curves labelled with their conditions. Only numbers and escaped text reach the
//! template.

use std::collections::HashMap;

use serde_json::Value;

const NODE_W: i64 = 190;
const NODE_H: i64 = 52;
const GAP_X: i64 = 90;
const GAP_Y: i64 = 28;
const PAD: i64 = 20;
const LABEL_CHARS: usize = 24;

/// A laid-out graph.
pub struct Graph {
    /// Canvas width.
    pub width: i64,
    /// Canvas height.
    pub height: i64,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// The edges.
    pub edges: Vec<Edge>,
}

/// A node box.
pub struct Node {
    /// Left.
    pub x: i64,
    /// Top.
    pub y: i64,
    /// Width.
    pub w: i64,
    /// Height.
    pub h: i64,
    /// The name (or id), shortened to fit.
    pub label: String,
    /// `componentId.function`, shortened.
    pub kind: String,
    /// The tooltip: id, name, component, status.
    pub title: String,
    /// A status class: `succeeded`, `failed`, `running`, `queued`, `cancelled` or `none`.
    pub status: &'static str,
}

/// An edge.
pub struct Edge {
    /// The SVG path (numbers only).
    pub path: String,
    /// Its condition, shortened; empty when it has none.
    pub label: String,
    /// The full condition.
    pub title: String,
    /// Where the label goes.
    pub lx: i64,
    /// Where the label goes.
    pub ly: i64,
}

/// One of the known status classes; anything else is `none`.
pub fn status_class(status: &str) -> &'static str {
    match status {
        "succeeded" => "succeeded",
        "failed" => "failed",
        "running" => "running",
        "queued" => "queued",
        "cancelled" => "cancelled",
        _ => "none",
    }
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Depth of every node: the longest path from a node no edge enters, ignoring edges that close a cycle.
fn depths(ids: &[String], edges: &[(usize, usize)]) -> Vec<usize> {
    let n = ids.len();
    let mut out_edges = vec![Vec::new(); n];
    let mut has_in = vec![false; n];
    for &(s, t) in edges {
        out_edges[s].push(t);
        has_in[t] = true;
    }
    // Iterative DFS from the roots (then from anything unvisited) to find edges back into the current path.
    let mut state = vec![0u8; n]; // 0 new, 1 on the path, 2 done
    let mut order = Vec::with_capacity(n);
    let mut forward = vec![Vec::new(); n];
    let starts: Vec<usize> = (0..n).filter(|&i| !has_in[i]).chain(0..n).collect();
    for start in starts {
        if state[start] != 0 {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some(top) = stack.last_mut() {
            let node = top.0;
            if let Some(&t) = out_edges[node].get(top.1) {
                top.1 += 1;
                match state[t] {
                    0 => {
                        forward[node].push(t);
                        state[t] = 1;
                        stack.push((t, 0));
                    }
                    2 => forward[node].push(t),
                    _ => {} // closes a cycle: not used for depth
                }
            } else {
                state[node] = 2;
                order.push(node);
                stack.pop();
            }
        }
    }
    // `order` is a post-order: reversed, it is a topological order of the forward edges.
    let mut depth = vec![0usize; n];
    for &node in order.iter().rev() {
        for &t in &forward[node] {
            depth[t] = depth[t].max(depth[node] + 1);
        }
    }
    depth
}

/// Lays out `graph` (`{nodes, edges}` of a flow document); `statuses` maps node ids to their status in the
/// flow's last execution.
pub fn layout(graph: &Value, statuses: &HashMap<String, String>) -> Graph {
    let empty = Vec::new();
    let nodes = graph.get("nodes").and_then(Value::as_array).unwrap_or(&empty);
    let ids: Vec<String> = nodes.iter().map(|n| super::view::text(n, "id")).collect();
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let raw_edges = graph.get("edges").and_then(Value::as_array).unwrap_or(&empty);
    let edges: Vec<(usize, usize, String)> = raw_edges
        .iter()
        .filter_map(|e| {
            let s = *index.get(super::view::text(e, "source").as_str())?;
            let t = *index.get(super::view::text(e, "target").as_str())?;
            let cond = e.pointer("/config/condition").map(|c| match c {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            Some((s, t, cond.unwrap_or_default()))
        })
        .collect();
    let pairs: Vec<(usize, usize)> = edges.iter().map(|(s, t, _)| (*s, *t)).collect();
    let depth = depths(&ids, &pairs);
    let mut rows_used: HashMap<usize, i64> = HashMap::new();
    let mut pos = Vec::with_capacity(ids.len());
    for d in &depth {
        let row = rows_used.entry(*d).or_insert(0);
        pos.push((PAD + *d as i64 * (NODE_W + GAP_X), PAD + *row * (NODE_H + GAP_Y)));
        *row += 1;
    }
    let max_depth = depth.iter().copied().max().unwrap_or(0) as i64;
    let max_rows = rows_used.values().copied().max().unwrap_or(1);
    let boxes = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let (id, name) = (&ids[i], super::view::text(n, "name"));
            let kind = format!(
                "{}.{}",
                super::view::text(n, "componentId"),
                super::view::text(n, "function")
            );
            let status = status_class(statuses.get(id).map(String::as_str).unwrap_or(""));
            let label = if name.is_empty() { id.clone() } else { name.clone() };
            Node {
                x: pos[i].0,
                y: pos[i].1,
                w: NODE_W,
                h: NODE_H,
                label: short(&label, LABEL_CHARS),
                kind: short(&kind, LABEL_CHARS + 2),
                title: format!("{id} {name}\n{kind}\nlast run: {status}"),
                status,
            }
        })
        .collect();
    let lines = edges
        .iter()
        .map(|(s, t, cond)| edge(pos[*s], pos[*t], cond))
        .collect();
    Graph {
        width: 2 * PAD + (max_depth + 1) * NODE_W + max_depth * GAP_X,
        height: 2 * PAD + max_rows * NODE_H + (max_rows - 1) * GAP_Y + 24,
        nodes: boxes,
        edges: lines,
    }
}

fn edge((sx, sy): (i64, i64), (tx, ty): (i64, i64), cond: &str) -> Edge {
    let (x1, y1) = (sx + NODE_W, sy + NODE_H / 2);
    let (x2, y2) = (tx, ty + NODE_H / 2);
    let path = if x2 > x1 {
        let c = (x2 - x1) / 2;
        format!("M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}", x1 + c, x2 - c)
    } else {
        // Back (or same-column) edge: loop below both boxes.
        let below = sy.max(ty) + NODE_H + GAP_Y / 2 + 8;
        format!(
            "M{x1},{y1} C{},{y1} {},{below} {},{below} S{},{y2} {x2},{y2}",
            x1 + 40,
            x1 + 40,
            (x1 + x2) / 2,
            x2 - 40
        )
    };
    Edge {
        path,
        label: short(cond, 28),
        title: cond.to_owned(),
        lx: (x1 + x2) / 2,
        ly: (y1 + y2) / 2 - 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn graph(nodes: &[&str], edges: &[(&str, &str)]) -> Value {
        json!({
            "nodes": nodes.iter().map(|n| json!({"id": n, "componentId": "log", "function": "write"})).collect::<Vec<_>>(),
            "edges": edges.iter().map(|(s, t)| json!({"source": s, "target": t})).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn depth_is_the_longest_path_from_the_trigger() {
        // a → b → c, a → c: c sits after b, not next to it.
        let g = layout(
            &graph(&["a", "b", "c"], &[("a", "b"), ("b", "c"), ("a", "c")]),
            &HashMap::new(),
        );
        let xs: Vec<i64> = g.nodes.iter().map(|n| n.x).collect();
        assert!(xs[0] < xs[1] && xs[1] < xs[2], "{xs:?}");
    }

    #[test]
    fn nodes_of_one_depth_get_their_own_rows() {
        let g = layout(
            &graph(&["a", "b", "c"], &[("a", "b"), ("a", "c")]),
            &HashMap::new(),
        );
        assert_eq!(g.nodes[1].x, g.nodes[2].x);
        assert!(g.nodes[1].y < g.nodes[2].y);
    }

    #[test]
    fn a_cycle_ends_and_is_drawn() {
        let g = layout(&graph(&["a", "b"], &[("a", "b"), ("b", "a")]), &HashMap::new());
        assert_eq!(g.edges.len(), 2);
        assert!(g.nodes[0].x < g.nodes[1].x);
    }

    #[test]
    fn nodes_take_the_status_of_the_last_run_and_unknown_statuses_are_none() {
        let statuses = HashMap::from([
            ("a".to_owned(), "failed".to_owned()),
            ("b".to_owned(), "x\"y".to_owned()),
        ]);
        let g = layout(&graph(&["a", "b", "c"], &[("a", "b"), ("b", "c")]), &statuses);
        let s: Vec<&str> = g.nodes.iter().map(|n| n.status).collect();
        assert_eq!(s, ["failed", "none", "none"]);
    }

    #[test]
    fn long_names_are_shortened() {
        assert_eq!(short("abcdef", 4), "abc…");
        assert_eq!(short("abc", 4), "abc");
    }
}
