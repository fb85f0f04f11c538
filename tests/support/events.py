"""Events about an object, read the way tests need them: the operator sends events after the status
write that showed a change, so a test that has just seen the status must wait for them (bounded)."""

from __future__ import annotations

from kubernetes import client

from support.wait import wait_for


def event_reasons(core: client.CoreV1Api, namespace: str, name: str) -> list[str]:
    items = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return [e.reason for e in items]


def wait_events(
    core: client.CoreV1Api, namespace: str, name: str, *reasons: str, timeout: float = 15
) -> list[str]:
    """Wait until events with every one of ``reasons`` were recorded about ``name``; all its reasons."""
    wait_for(
        lambda: set(reasons) <= set(event_reasons(core, namespace, name)),
        timeout=timeout,
        what=f"events {', '.join(reasons)} about {name}",
        seen=lambda: event_reasons(core, namespace, name),
    )
    return event_reasons(core, namespace, name)
