"""The operator's handle on the MASH: `mash up`, `mash demo`, `mash topics`.

It starts servers and services as processes and talks to them over the wire;
it never imports a service.
"""
