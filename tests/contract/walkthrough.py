"""The README walk-through, driven by a client generated from FlowMate's own OpenAPI document.

tests/contract/run generates `flowmate_client` with openapi-python-client and runs this with it on the path:
log in, create a flow with a webhook trigger (one node carrying a field the schema does not list, sent through
the model's additional_properties, which must come back), start it, wait until it is active, send a webhook, then read the execution and its steps. No hand-written HTTP:
every call goes through the generated functions and models, and every answer is parsed into them.

Usage: walkthrough.py BASE_URL USERNAME PASSWORD
"""

import sys
import time

from flowmate_client import AuthenticatedClient, Client
from flowmate_client.api.auth import login
from flowmate_client.api.executions import get_execution
from flowmate_client.api.flows import create_flows, get_flow, start_flow
from flowmate_client.api.webhooks import trigger_webhook
from flowmate_client.models.trigger_webhook_json_body import TriggerWebhookJsonBody
from flowmate_client.models import (
    Edge,
    ExecutionEnvelope,
    FlowEnvelope,
    FlowInput,
    FlowStateEnvelope,
    Graph,
    LoginRequest,
    LoginResponse,
    Node,
    NodeFields,
    WebhookAccepted,
)


def expect(response, model, what):
    """The parsed answer, which must be `model` (the generated client parses every documented status)."""
    if not isinstance(response.parsed, model):
        sys.exit(f"walkthrough: {what}: HTTP {int(response.status_code)} {response.content[:300]!r}")
    return response.parsed


def wait_for(what, probe, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(0.2)
    sys.exit(f"walkthrough: timed out waiting for {what}")


def main(base, username, password):
    anonymous = Client(base_url=base, raise_on_unexpected_status=True)
    token = expect(
        login.sync_detailed(client=anonymous, body=LoginRequest(username=username, password=password)),
        LoginResponse,
        "login",
    ).token
    api = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)

    receive = Node(id="in", component_id="webhook", function="receive")
    receive.additional_properties["x-note"] = "kept by FlowMate"
    total = Node(
        id="sum",
        component_id="transform",
        function="map",
        fields=NodeFields.from_dict({"expression": '{"total": $sum(items.(price * qty))}'}),
    )
    flow_input = FlowInput(
        name="Orders in",
        graph=Graph(nodes=[receive, total], edges=[Edge(source="in", target="sum")]),
    )
    flow = expect(create_flows.sync_detailed(client=api, body=flow_input), FlowEnvelope, "create flow").data
    print(f"walkthrough: created flow {flow.id} ({flow.status.value}, version {flow.version})")
    if [n.id for n in flow.graph.nodes] != ["in", "sum"]:
        sys.exit(f"walkthrough: unexpected nodes {flow.graph.nodes}")
    kept = flow.graph.nodes[0].additional_properties.get("x-note")
    if kept != "kept by FlowMate":
        sys.exit(f"walkthrough: a node field outside the schema did not come back: {kept!r}")

    state = expect(start_flow.sync_detailed(flow.id, client=api), FlowStateEnvelope, "start flow").data
    print(f"walkthrough: start -> {state.status.value}")

    def active():
        current = expect(get_flow.sync_detailed(flow.id, client=api), FlowEnvelope, "get flow").data
        return current if current.status.value == "active" else None

    wait_for("the flow to be active", active)
    print("walkthrough: flow is active")

    receipt = expect(
        trigger_webhook.sync_detailed(
            flow.id, client=anonymous, body=TriggerWebhookJsonBody.from_dict({"items": [{"price": 3.5, "qty": 2}]})
        ),
        WebhookAccepted,
        "webhook",
    ).data
    print(f"walkthrough: webhook -> {receipt.message!r}, request {receipt.request_id}")

    def finished():
        response = get_execution.sync_detailed(receipt.request_id, client=api)
        if int(response.status_code) == 404:
            return None
        execution = expect(response, ExecutionEnvelope, "get execution").data
        return execution if execution.status in ("succeeded", "failed", "cancelled") else None

    execution = wait_for("the execution to finish", finished)
    steps = execution.steps or []
    print(f"walkthrough: execution {execution.id} {execution.status}, steps "
          + ", ".join(f"{s.step_id}={s.status}" for s in steps))
    if execution.status != "succeeded":
        sys.exit(f"walkthrough: the execution did not succeed: {execution.error}")
    outputs = {s.step_id: s.output for s in steps}
    if outputs.get("sum") != {"total": 7}:
        sys.exit(f"walkthrough: unexpected output of the sum step: {outputs.get('sum')!r}")
    print("walkthrough: 1 passed, 0 failed")


if __name__ == "__main__":
    main(*sys.argv[1:4])
