//! Dependency graphs built from references (petgraph): evaluation order,
//! cycle reports and DOT output.
//!
//! Invariant: a graph that has a cycle never yields an order; the caller gets
//! every cycle's members instead.

use petgraph::algo::tarjan_scc;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};

/// A directed graph where an edge `a -> b` means "a depends on b".
#[derive(Debug, Clone)]
pub struct DepGraph<N> {
    graph: StableDiGraph<N, ()>,
}

impl<N> Default for DepGraph<N> {
    fn default() -> Self {
        DepGraph {
            graph: StableDiGraph::new(),
        }
    }
}

impl<N> DepGraph<N> {
    pub fn add_node(&mut self, node: N) -> NodeIndex {
        self.graph.add_node(node)
    }

    /// Records that `from` depends on `to` (once).
    pub fn add_dependency(&mut self, from: NodeIndex, to: NodeIndex) {
        if self.graph.find_edge(from, to).is_none() {
            self.graph.add_edge(from, to, ());
        }
    }

    pub fn node(&self, index: NodeIndex) -> &N {
        &self.graph[index]
    }

    pub fn node_indices(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph.node_indices()
    }

    pub fn dependencies(&self, index: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph.edges(index).map(|e| e.target())
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// Orders nodes so that every node comes after its dependencies, or returns
    /// the cycles (each a list of members in dependency order).
    pub fn evaluation_order(&self) -> Result<Vec<NodeIndex>, Vec<Vec<NodeIndex>>> {
        // tarjan_scc yields components in reverse topological order of the edge
        // direction, which for "depends on" edges is dependencies first.
        let components = tarjan_scc(&self.graph);
        let cycles: Vec<Vec<NodeIndex>> = components
            .iter()
            .filter(|c| c.len() > 1 || self.graph.find_edge(c[0], c[0]).is_some())
            .map(|c| self.cycle_path(c))
            .collect();
        if !cycles.is_empty() {
            return Err(cycles);
        }
        Ok(components.into_iter().map(|c| c[0]).collect())
    }

    /// Walks one cycle through the component, so it prints as a chain a -> b -> a.
    fn cycle_path(&self, component: &[NodeIndex]) -> Vec<NodeIndex> {
        let mut path = vec![component[0]];
        let mut current = component[0];
        loop {
            let next = self
                .dependencies(current)
                .filter(|n| component.contains(n))
                .find(|n| !path.contains(n) || *n == component[0]);
            match next {
                Some(n) if n == component[0] => return path,
                Some(n) => {
                    path.push(n);
                    current = n;
                }
                None => return path,
            }
        }
    }

    /// Writes the graph in DOT, labelling nodes with `label`.
    pub fn to_dot(&self, name: &str, label: impl Fn(&N) -> String) -> String {
        let mut out = format!(
            "digraph {} {{\n  rankdir = \"RL\";\n  node [shape = \"box\"];\n",
            dot_id(name)
        );
        let mut nodes: Vec<(String, NodeIndex)> = self
            .graph
            .node_indices()
            .map(|i| (label(&self.graph[i]), i))
            .collect();
        nodes.sort();
        for (text, _) in &nodes {
            out.push_str(&format!("  {};\n", dot_id(text)));
        }
        let mut edges: Vec<(String, String)> = self
            .graph
            .edge_references()
            .map(|e| {
                (
                    label(&self.graph[e.source()]),
                    label(&self.graph[e.target()]),
                )
            })
            .collect();
        edges.sort();
        for (from, to) in edges {
            out.push_str(&format!("  {} -> {};\n", dot_id(&from), dot_id(&to)));
        }
        out.push_str("}\n");
        out
    }
}

/// Quotes a DOT identifier.
fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_puts_dependencies_first() {
        let mut g = DepGraph::default();
        let a = g.add_node("a");
        let b = g.add_node("b");
        let c = g.add_node("c");
        g.add_dependency(a, b);
        g.add_dependency(b, c);
        let order: Vec<&str> = g
            .evaluation_order()
            .expect("acyclic")
            .into_iter()
            .map(|i| *g.node(i))
            .collect();
        assert_eq!(order, ["c", "b", "a"]);
    }

    #[test]
    fn cycles_are_reported_as_chains() {
        let mut g = DepGraph::default();
        let a = g.add_node("a");
        let b = g.add_node("b");
        let c = g.add_node("c");
        g.add_dependency(a, b);
        g.add_dependency(b, c);
        g.add_dependency(c, a);
        let cycles = g.evaluation_order().expect_err("has a cycle");
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].len(), 3);
    }

    #[test]
    fn dot_quotes_labels() {
        let mut g = DepGraph::default();
        let a = g.add_node("m[\"x\"]");
        let b = g.add_node("b");
        g.add_dependency(a, b);
        assert_eq!(
            g.to_dot("g", |n| n.to_string()),
            "digraph \"g\" {\n  rankdir = \"RL\";\n  node [shape = \"box\"];\n  \"b\";\n  \"m[\\\"x\\\"]\";\n  \"m[\\\"x\\\"]\" -> \"b\";\n}\n"
        );
    }
}
