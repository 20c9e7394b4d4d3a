"""Wire-protocol probes: bytes out, verdict in, no drivers.

A probe knows how an endpoint answers; it never decides what the answer means for readiness
(that is the kind's job) and never formats a report. Every probe takes a total deadline.
"""
