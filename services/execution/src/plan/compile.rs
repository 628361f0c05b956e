//! Checking a flow for running (API.md §3 "checked at start"): every component and function exists, exactly one
//! trigger node, every expression compiles, the cron parses.

use std::collections::{HashMap, HashSet};

use flowmate_domain::flow::{Flow, Graph, Node};
use serde_json::Value;

use super::{
    error::{edge_error, node_error},
    nodes::{check_templates, node_plan},
    EdgePlan, NodePlan, Plan, PlanError, SaveData,
};
use crate::{
    components::{self, Kind},
    credentials::StepCredential,
    expr,
};

impl Plan {
    /// Checks `flow` and prepares it; the error names the node and the problem.
    pub fn compile(flow: &Flow, started_by: &str) -> Result<Plan, PlanError> {
        let graph = &flow.body.graph;
        let trigger = trigger_of(graph)?;
        let mut nodes = HashMap::new();
        for node in &graph.nodes {
            let mut plan = plan_node(node, node.id == trigger.id)?;
            plan.credential = node
                .credentials_id
                .as_deref()
                .filter(|id| !id.trim().is_empty())
                .map(|id| StepCredential {
                    secret_id: id.to_owned(),
                    tenant: flow.body.tenant.to_string(),
                    user: started_by.to_owned(),
                });
            nodes.insert(node.id.clone(), plan);
        }
        check_cron(flow, trigger)?;
        let outgoing = edges(graph, &nodes)?;
        let save = save_data(&flow.body.flow_settings)?;
        let concurrency = concurrency(&flow.body.flow_settings)?;
        let long_running = nodes
            .values()
            .any(|n| n.kind.has_side_effects() || n.kind.waits() || n.retry.max_attempts > 1);
        let upstream = nodes
            .values()
            .filter(|n| n.kind == Kind::Merge)
            .map(|n| (n.node.id.clone(), ancestors(graph, &n.node.id)))
            .collect();
        let mut waits: Vec<String> = nodes
            .values()
            .filter(|n| n.kind == Kind::WaitEvent)
            .map(|n| n.node.id.clone())
            .collect();
        waits.sort();
        Ok(Plan {
            flow: flow.clone(),
            started_by: started_by.to_owned(),
            trigger: trigger.id.clone(),
            nodes,
            outgoing,
            save,
            long_running,
            upstream,
            waits,
            concurrency,
        })
    }
}

/// Every node from which `target` can be reached (not `target` itself, unless it is on a cycle).
fn ancestors(graph: &Graph, target: &str) -> HashSet<String> {
    let mut found = HashSet::new();
    let mut todo = vec![target.to_owned()];
    while let Some(node) = todo.pop() {
        for edge in graph.edges.iter().filter(|e| e.target == node) {
            if found.insert(edge.source.clone()) {
                todo.push(edge.source.clone());
            }
        }
    }
    found
}

/// The one node that is no edge's target.
fn trigger_of(graph: &Graph) -> Result<&Node, PlanError> {
    let targets: HashSet<&str> = graph.edges.iter().map(|e| e.target.as_str()).collect();
    let triggers: Vec<&Node> = graph
        .nodes
        .iter()
        .filter(|n| !targets.contains(n.id.as_str()))
        .collect();
    match triggers.as_slice() {
        [one] => Ok(one),
        [] => Err(PlanError::NoTrigger),
        many => Err(PlanError::SeveralTriggers(
            many.iter().map(|n| n.id.clone()).collect(),
        )),
    }
}

/// A node's component must exist, and be a trigger exactly when the node is the flow's first.
fn plan_node(node: &Node, is_trigger: bool) -> Result<NodePlan, PlanError> {
    let spec = components::find(&node.component_id, &node.function).ok_or_else(|| {
        node_error(
            &node.id,
            format!(
                "unknown component \"{}\" with function \"{}\"",
                node.component_id, node.function
            ),
        )
    })?;
    if is_trigger && spec.kind != Kind::Trigger {
        return Err(node_error(
            &node.id,
            format!(
                "\"{}\" cannot start a flow; the first node must be webhook, scheduler, manual or amqp.consume",
                node.component_id
            ),
        ));
    }
    if !is_trigger && spec.kind == Kind::Trigger {
        return Err(node_error(
            &node.id,
            format!(
                "the trigger \"{}\" can only be the flow's first node",
                node.component_id
            ),
        ));
    }
    node_plan(node, spec.kind)
}

/// A cron flow starts with the scheduler, whose cron parses; only a cron flow does.
fn check_cron(flow: &Flow, trigger: &Node) -> Result<(), PlanError> {
    match (&flow.body.cron, trigger.component_id.as_str()) {
        (Some(cron), "scheduler") => {
            flowmate_domain::cron::parse(cron).ok_or_else(|| PlanError::BadCron(cron.clone()))?;
            Ok(())
        }
        (None, "scheduler") => Err(node_error(
            &trigger.id,
            "the scheduler trigger needs the flow's cron",
        )),
        (Some(_), _) => Err(node_error(
            &trigger.id,
            "a flow with a cron must start with the scheduler trigger",
        )),
        (None, _) => Ok(()),
    }
}

/// Edges by source in document order, their conditions and mappers compiled.
fn edges(
    graph: &Graph,
    nodes: &HashMap<String, NodePlan>,
) -> Result<HashMap<String, Vec<EdgePlan>>, PlanError> {
    let mut outgoing: HashMap<String, Vec<EdgePlan>> = HashMap::new();
    for (i, edge) in graph.edges.iter().enumerate() {
        let name = edge.id.clone().unwrap_or_else(|| format!("#{i}"));
        if !nodes.contains_key(&edge.source) || !nodes.contains_key(&edge.target) {
            return Err(edge_error(&name, "source and target must name nodes"));
        }
        if let Some(c) = &edge.config.condition {
            expr::check(c).map_err(|e| edge_error(&name, format!("condition does not compile: {e}")))?;
        }
        match &edge.config.mapper {
            Some(Value::String(m)) => {
                expr::check(m).map_err(|e| edge_error(&name, format!("mapper does not compile: {e}")))?
            }
            Some(other) => check_templates(other).map_err(|p| edge_error(&name, format!("mapper: {p}")))?,
            None => {}
        }
        outgoing.entry(edge.source.clone()).or_default().push(EdgePlan {
            target: edge.target.clone(),
            condition: edge.config.condition.clone().filter(|c| !c.trim().is_empty()),
            mapper: edge.config.mapper.clone().filter(|m| !m.is_null()),
        });
    }
    Ok(outgoing)
}

/// `flowSettings.concurrency`: absent or null for unlimited, else a whole number from 1 to
/// [`flowmate_domain::flow::MAX_CONCURRENCY`] (a saved flow has been checked; this guards documents stored before).
fn concurrency(flow_settings: &Value) -> Result<Option<u32>, PlanError> {
    match flow_settings.get("concurrency") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n @ 1..=flowmate_domain::flow::MAX_CONCURRENCY) => Ok(Some(n as u32)),
            _ => Err(PlanError::BadConcurrency(v.to_string())),
        },
    }
}

/// `flowSettings.executions.saveData`.
fn save_data(flow_settings: &Value) -> Result<SaveData, PlanError> {
    match flow_settings
        .pointer("/executions/saveData")
        .and_then(Value::as_str)
    {
        None | Some("all") => Ok(SaveData::All),
        Some("errors") => Ok(SaveData::Errors),
        Some("none") => Ok(SaveData::None),
        Some(other) => Err(PlanError::BadSaveData(other.to_owned())),
    }
}
