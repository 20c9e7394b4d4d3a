"""`kafka`: every broker listed (`kafka://k1:9092,k2:9092`) answers ApiVersions.

ApiVersions v0 is allowed before SASL; the broker echoes our correlation id, and even error 35
(unsupported version) proves a Kafka broker is there. The probe speaks plaintext: a listener
configured for SSL or SASL_SSL hangs up on it without a byte, and the message says so.
"""

from __future__ import annotations

from typing import Any

from envdoctor.kinds.service import HostVerdict, ServiceKind


class KafkaKind(ServiceKind):
    name = "kafka"
    protocol = "Kafka"
    summary = "Every Kafka broker of the URL answers ApiVersions."
    passes_when = (
        "an ApiVersions v0 request is answered with our correlation id (every broker listed)"
    )
    schemes = ("kafka",)
    probe_module = "envdoctor.probes.kafka"
    processes = ("java", "kafka")
    start_hints = ()
    docker_image = "apache/kafka:3.7.0"
    container_port = 9092

    async def transport_failure(
        self, exc: Any, endpoint: Any, host: str, port: int, spec: Any, ctx: Any
    ) -> HostVerdict:
        verdict = await super().transport_failure(exc, endpoint, host, port, spec, ctx)
        from envdoctor.probes.wire import Closed

        if isinstance(exc, Closed) and not exc.received and not verdict.foreign(self.processes):
            verdict.message += (
                "; a listener configured for SSL or SASL_SSL does this to a plaintext client"
            )
            verdict.fix = (
                f"check that port {port} is the broker's PLAINTEXT or SASL_PLAINTEXT listener "
                "(see listeners= in server.properties)"
            )
        return verdict


KIND = KafkaKind()
