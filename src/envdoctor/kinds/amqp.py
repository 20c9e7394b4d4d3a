"""`amqp`: an AMQP 0-9-1 broker (RabbitMQ) answers the protocol header with Connection.Start.

Connection.Start carries the broker's product and version ("RabbitMQ 3.10.8"), reported on
success; a broker of another AMQP version (1.0: ActiveMQ Artemis, Qpid, Azure Service Bus)
answers with its own protocol header, and is named as such. With a user in the URL the probe
logs in and opens the URL's vhost (default `/`), so a wrong password (403 ACCESS_REFUSED) and a
missing vhost or missing permissions (530 NOT_ALLOWED) are told apart, the latter with the
`rabbitmqctl` commands that fix it.

The protocol is named "AMQP 0-9-1", not "AMQP": "AMQP 1.0 answered ..., not AMQP" would be
no help to anyone.
"""

from __future__ import annotations

from typing import Any

from envdoctor.kinds.service import ServiceKind


class AmqpKind(ServiceKind):
    name = "amqp"
    protocol = "AMQP 0-9-1"
    summary = (
        "An AMQP 0-9-1 broker (RabbitMQ) answers the protocol header with Connection.Start "
        "and accepts this login and vhost."
    )
    passes_when = (
        "the protocol header is answered with Connection.Start (product and version reported); "
        "with a user in the URL, the login is accepted and the vhost opens"
    )
    schemes = ("amqp", "amqps")
    probe_module = "envdoctor.probes.amqp"
    processes = ("beam.smp", "rabbitmq")
    start_hints = (
        ("linux", "sudo systemctl start rabbitmq-server"),
        ("darwin", "brew services start rabbitmq"),
    )
    docker_image = "rabbitmq:3"
    container_port = 5672

    def login_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        """530 NOT_ALLOWED: create the vhost and/or grant the user access to it."""
        import shlex

        if result.code != "530" or not endpoint.user:
            return None
        vhost = shlex.quote(endpoint.database or "/")
        user = shlex.quote(endpoint.user)
        grant = f"rabbitmqctl set_permissions -p {vhost} {user} '.*' '.*' '.*'"
        if "does not exist" in result.message:
            return f"rabbitmqctl add_vhost {vhost} && {grant}"
        return grant


KIND = AmqpKind()
